"""The training data streams of the CycleGAN trainer: endless unpaired (A, B) batches with random
time crops, the fixed held-out batches of the per-epoch validation pass, and the conversion of
either into what Keras fit() wants on the current backend.

Images come from data/<pair>.npz (float16 (N, H, W) stacks in [-1, 1]); batches leave as
float32 (batch, H, W, 1), the networks' input layout. Every stream is a pure function of its
seed and the global batch index, so a resumed run sees the batches an uninterrupted one would.

Usage:
    from spectrogan.training.batches import UnpairedBatches, backend_dataset
    stream = UnpairedBatches(train_A, train_B, batch_size=1, steps_per_epoch=113, seed=0,
                             crop_frames=64)
    model.fit(backend_dataset(stream, batch_size=1, image_shape=(260, 64, 1)), ...)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spectrogan.core.cli import import_keras
from spectrogan.audio.spectro import PAD_VALUE

keras = import_keras()


def as_batch(images: np.ndarray) -> np.ndarray:
    """float16 (b, H, W) stack -> float32 (b, H, W, 1), the networks' input layout."""
    return np.asarray(images, dtype=np.float32)[..., None]


class UnpairedBatches(keras.utils.PyDataset):
    """Endless stream of independent (A batch, B batch) pairs for fit().

    Batch k of the whole run belongs to epoch k // steps_per_epoch; within an epoch each
    domain is walked in an order shuffled from (seed, epoch, domain), the smaller domain
    reshuffled as often as needed, so a domain's images are seen about equally often and the
    A/B pairing changes every epoch. The stream is a pure function of the global batch index
    (offset by `first_epoch` when resuming), so prefetching threads, a resumed run and an
    uninterrupted run all see the same batches. Yields float32 (batch, H, W, 1) arrays.

    With `crop_frames` N > 0 every image is cut to a random N-column (time) slice, all rows
    (frequency bins) kept: W = N. The slice starts uniformly where it stays inside the clip's
    sound (`content_frames`: columns before the trailing padding), so crops of short clips
    are not mostly padding; a clip shorter than N gives its whole sound plus padding. Crops
    are drawn afresh for every batch, from (seed, global batch index, domain).
    """

    def __init__(self, images_A: np.ndarray, images_B: np.ndarray, *, batch_size: int,
                 steps_per_epoch: int, seed: int, first_epoch: int = 0,
                 crop_frames: int = 0) -> None:
        super().__init__()
        self.images = {"A": images_A, "B": images_B}
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.first_epoch = first_epoch
        self.crop_frames = int(crop_frames)
        if self.crop_frames and not 0 < self.crop_frames <= images_A.shape[2]:
            raise ValueError(f"crop_frames must be in 1..{images_A.shape[2]}, got {crop_frames}")
        self.content = {domain: content_frames(stack) for domain, stack in self.images.items()}
        self._orders: dict[int, dict[str, np.ndarray]] = {}

    @property
    def num_batches(self) -> None:  # endless; fit(steps_per_epoch=...) cuts the epochs
        return None

    def epoch_order(self, epoch: int) -> dict[str, np.ndarray]:
        """Image indices each domain uses in `epoch`, steps_per_epoch * batch_size each."""
        if epoch not in self._orders:
            needed = self.steps_per_epoch * self.batch_size
            order = {}
            for offset, (domain, stack) in enumerate(self.images.items()):
                rng = np.random.default_rng([self.seed, epoch, offset])
                passes = -(-needed // len(stack))
                order[domain] = np.concatenate(
                    [rng.permutation(len(stack)) for _ in range(passes)])[:needed]
            self._orders = {epoch: order}  # keep one epoch: memory stays flat
        return self._orders[epoch]

    def crop_starts(self, index: int, domain: str, picks: np.ndarray) -> np.ndarray:
        """First column of each picked image's crop in global batch `index` (ints >= 0)."""
        offset = DOMAIN_OFFSETS[domain]
        rng = np.random.default_rng([self.seed, self.first_epoch * self.steps_per_epoch + index,
                                     offset, 1])
        room = np.maximum(self.content[domain][picks] - self.crop_frames, 0)
        return rng.integers(0, room + 1)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, step = divmod(index, self.steps_per_epoch)
        order = self.epoch_order(self.first_epoch + epoch)
        window = slice(step * self.batch_size, (step + 1) * self.batch_size)
        batches = []
        for domain in ("A", "B"):
            picks = np.sort(order[domain][window])
            stack = self.images[domain][picks]
            if self.crop_frames:
                starts = self.crop_starts(index, domain, picks)
                stack = np.stack([image[:, start:start + self.crop_frames]
                                  for image, start in zip(stack, starts)])
            batches.append(as_batch(stack))
        return batches[0], batches[1]


DOMAIN_OFFSETS = {"A": 0, "B": 1}


def content_frames(images: np.ndarray) -> np.ndarray:
    """Columns of each (N, H, W) image up to and including its last one that is not all
    PAD_VALUE (the clip's sound; the rest is padding). int64 (N,), 0 for a silent image."""
    sounding = np.any(np.asarray(images) > PAD_VALUE, axis=1)  # (N, W)
    last = sounding.shape[1] - np.argmax(sounding[:, ::-1], axis=1)
    return np.where(sounding.any(axis=1), last, 0).astype(np.int64)


class HeldOutBatches(keras.utils.PyDataset):
    """Fixed (A batch, B batch) pairs of held-out images for the per-epoch validation pass."""

    def __init__(self, images_A: np.ndarray, images_B: np.ndarray, *, batch_size: int) -> None:
        super().__init__()
        self.images_A, self.images_B = images_A, images_B
        self.batch_size = batch_size

    def __len__(self) -> int:
        return min(len(self.images_A), len(self.images_B)) // self.batch_size

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return as_batch(self.images_A[window]), as_batch(self.images_B[window])


def backend_dataset(batches: keras.utils.PyDataset, *, batch_size: int,
                    image_shape: tuple[int, int, int]) -> Any:
    """What fit() should get for `batches` on the current backend (pass steps to fit()).

    JAX takes the PyDataset as it is. On TensorFlow it becomes an endless tf.data.Dataset
    (a finite PyDataset is repeated) with a static batch dimension: Keras' own conversion
    leaves the batch dimension unknown, and the history pool's per-image loop then gets a
    dynamic trip count; repeating keeps Keras' cached validation iterator (which it does not
    restart under tf.distribute) from running dry after the first epoch.
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import itertools

    import tensorflow as tf

    spec = tf.TensorSpec((batch_size, *image_shape), tf.float32)
    count = batches.num_batches

    def generate():
        for index in itertools.count() if count is None else range(count):
            yield batches[index]

    dataset = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))
    return (dataset if count is None else dataset.repeat()).prefetch(2)


def spread_indices(count: int, wanted: int) -> np.ndarray:
    """`wanted` indices spread evenly over range(count) (all of them when count <= wanted)."""
    if count <= wanted:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, wanted).round().astype(int))

"""The CycleGAN trainer of SpectroGAN (Keras 3): data streams, the fused training step,
callbacks that write the run folder, and `fit_run`, which train_cyclegan.py calls.

One `keras.Model` (CycleGAN below) holds both generators and both discriminators and updates
all four in one fused training step (least-squares GAN, cycle L1 x 10, identity L1 x 5,
discriminator loss halved, a history pool of 50 generated images per domain, Adam 2e-4 /
beta1 0.5), run through Keras `fit()` with its usual progress bar, on TensorFlow (XLA where
that is faster) and on JAX. The run folder's layout is runs.py's; the command line, settings
and presets are train_cyclegan.py's. This module imports Keras; nothing here parses arguments.

Usage:
    from cyclegan import build_cyclegan, compile_cyclegan, UnpairedBatches
    model = build_cyclegan((260, 260, 1), filters=16, res_blocks=6, crop_frames=64,
                           identity_start=True)
    compile_cyclegan(model, lr=2e-4)
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from cli import UserError, atomic_output, import_keras
from corpus import DOMAINS, npz_key
from runs import (CHECKPOINT_NAME, LOG_NAME, PRECISION_POLICIES, SAMPLES_DIR, SNAPSHOTS_DIR,
                  TENSORBOARD_DIR, epoch_dir, generator_path, remove_run_files, write_config)
from spectro import PAD_VALUE, crop_image, image_to_audio, plot_spectrograms, write_audio

keras = import_keras()
from keras import ops  # noqa: E402 - after the quiet import above

import models  # noqa: E402

SNAPSHOT_DTYPE = "float16"  # half-size files; outputs move by a few 1e-3 at most (models.py)
BETA_1 = 0.5  # Adam beta1 of the original (and of the CycleGAN paper)
SAMPLE_GRIFFIN_LIM_ITERS = 32
SAMPLE_PEAK = 0.9  # sample audio is peak-normalised: the npz keeps no absolute level


# --- Data ------------------------------------------------------------------------------------
def _as_batch(images: np.ndarray) -> np.ndarray:
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
            batches.append(_as_batch(stack))
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
        return _as_batch(self.images_A[window]), _as_batch(self.images_B[window])


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


# --- The model -------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="spectrogan")
class HistoryPool(keras.layers.Layer):
    """History of generated images (Shrivastava et al. 2017), as the original's image pool.

    Each call takes a batch of fresh fakes and returns the batch the discriminator trains
    on: while the pool is filling, the fresh image (which is also stored); afterwards, with
    probability 0.5 the fresh image, otherwise a random stored image, which the fresh one
    replaces. The pool lives in non-trainable variables and is updated with keras.ops inside
    the compiled training step, so it works on every backend, under tf.distribute and
    keras.distribution, and is saved with the model's weights (the random stream included).
    """

    def __init__(self, size: int, image_shape: Sequence[int], *, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int(size)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name=f"{self.name}_rng")
        # only_first_replica: under tf.distribute each replica proposes an update, one wins;
        # the stored images are history, not gradients, so any replica's is as good.
        self.images = self.add_weight(shape=(max(self.size, 1), *self.image_shape),
                                      initializer="zeros", dtype="float32", trainable=False,
                                      aggregation="only_first_replica", name="images")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, aggregation="only_first_replica",
                                     name="count")
        self.built = True

    def call(self, fakes):
        """float (b, H, W, C) fresh fakes -> float32 (b, H, W, C) images for the discriminator."""
        fakes = ops.stop_gradient(ops.cast(fakes, "float32"))  # history, not a gradient path
        if self.size == 0:
            return fakes
        batch = ops.shape(fakes)[0]  # a tensor when the batch dimension is unknown
        coins = keras.random.uniform((batch,), seed=self.seed_generator)
        picks = keras.random.randint((batch,), 0, self.size, seed=self.seed_generator)
        zero = ops.zeros((), "int32")

        def corner(index):
            return ops.stack([index, zero, zero, zero])

        def image(stack, index):
            # A gather, not ops.slice: TF's XLA bridge wants slice starts to be compile-time
            # constants and would recompile the whole step for every random slot.
            return ops.take(stack, ops.reshape(index, (1,)), axis=0)

        def admit(i, carry):
            # Sequential over the batch: image i may land in the slot image i+1 reads.
            pool, count, chosen = carry
            i = ops.cast(i, "int32")
            fresh = image(fakes, i)
            filling = ops.less(count, self.size)
            swap = ops.logical_and(ops.logical_not(filling),
                                   ops.greater_equal(ops.take(coins, i), 0.5))
            slot = ops.where(filling, count, ops.take(picks, i))
            stored = image(pool, slot)
            chosen = ops.slice_update(chosen, corner(i), ops.where(swap, stored, fresh))
            # Always write the slot (its old content when nothing changes): one dynamic
            # update of one image instead of a select over the whole pool.
            pool = ops.slice_update(pool, corner(slot),
                                    ops.where(ops.logical_or(filling, swap), fresh, stored))
            return pool, ops.minimum(count + 1, self.size), chosen

        pool, count, chosen = ops.fori_loop(
            0, batch, admit, (ops.convert_to_tensor(self.images),
                              ops.convert_to_tensor(self.count), ops.zeros_like(fakes)))
        self.images.assign(pool)
        self.count.assign(count)
        return chosen

    def compute_output_shape(self, input_shape):
        return input_shape

    # The seed generator's state is not a weight, so Keras would not save it; the pool's
    # random stream is part of the training state (exact resume), so store it too.
    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        store["rng"] = self.seed_generator.state

    def load_own_variables(self, store) -> None:
        keys = [key for key in store.keys() if key != "rng"]
        super().load_own_variables({key: store[key] for key in keys})
        if "rng" in store.keys():
            self.seed_generator.state.assign(np.asarray(store["rng"]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "image_shape": self.image_shape,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="spectrogan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate, then linear decay to 0 from `decay_start` to `total_steps`
    (the CycleGAN paper's schedule with decay_start = half of training)."""

    def __init__(self, initial: float, total_steps: int, decay_start: int) -> None:
        self.initial = float(initial)
        self.total_steps = int(total_steps)
        self.decay_start = int(decay_start)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        span = float(max(self.total_steps - self.decay_start, 1))
        fraction = ops.clip((self.total_steps - step) / span, 0.0, 1.0)
        return self.initial * fraction

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "total_steps": self.total_steps,
                "decay_start": self.decay_start}


def _mse(scores, target: float):
    return ops.mean(ops.square(ops.cast(scores, "float32") - target))


def _l1(real, rebuilt):
    return ops.mean(ops.abs(ops.cast(real, "float32") - ops.cast(rebuilt, "float32")))


class CycleGAN(keras.Model):
    """Two generators (A->B, B->A) and two PatchGAN discriminators trained by one fused step.

    Each training step, on a batch of A and an independent batch of B images:
      generators: fake_B = G_AB(A), fake_A = G_BA(B), cycled A = G_BA(fake_B),
        cycled B = G_AB(fake_A), identities G_BA(A), G_AB(B);
        loss = LSGAN(D_B(fake_B) -> 1) + LSGAN(D_A(fake_A) -> 1)
               + lambda_cycle * (L1 cycle A + L1 cycle B)
               + lambda_identity * (L1 identity A + L1 identity B);
      discriminators: 0.5 * (LSGAN(D(real) -> 1) + LSGAN(D(pooled fake) -> 0)) per domain,
        the fakes drawn through the HistoryPool.
    Both gradients are taken at the same weights and applied by one Adam, which is exactly
    two Adams with the same settings (Adam is per-parameter and both sets step every step).
    The original compiled three models per direction and called train_on_batch six times
    and predict twice per step; here every network pass happens once, in one compiled step.

    The step exists twice over one loss code path written with keras.ops: a GradientTape
    step for TensorFlow and a stateless step (jax.value_and_grad over StatelessScope) for
    JAX, as Keras 3's JAX trainer requires. `test_step` reports held-out cycle and identity
    L1 (val_cycle_l1 / val_identity_l1 in fit's logs).
    """

    def __init__(self, gen_AB: keras.Model, gen_BA: keras.Model, disc_A: keras.Model,
                 disc_B: keras.Model, *, lambda_cycle: float = 10.0,
                 lambda_identity: float = 5.0, pool_size: int = 50, seed: int = 0,
                 pool_shape: tuple[int, int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gen_AB, self.gen_BA = gen_AB, gen_BA
        self.disc_A, self.disc_B = disc_A, disc_B
        self.lambda_cycle = float(lambda_cycle)
        self.lambda_identity = float(lambda_identity)
        # The pool stores training images: crops when the networks take any width.
        image_shape = tuple(pool_shape or gen_AB.input_shape[1:])
        # float32 under any mixed-precision policy: the pool stores the generators' float32
        # outputs, and a mixed policy would have Keras cast its inputs to 16 bits.
        self.pool_A = HistoryPool(pool_size, image_shape, seed=seed, name="pool_A",
                                  dtype="float32")
        self.pool_B = HistoryPool(pool_size, image_shape, seed=seed + 1, name="pool_B",
                                  dtype="float32")
        # Completed epochs live in the weights file, so the checkpoint is one atomic file.
        self.completed_epochs = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                                trainable=False, name="completed_epochs",
                                                aggregation="only_first_replica")
        names = ["g_loss", "d_loss", "g_adv", "cycle_l1"]
        if self.lambda_identity > 0:
            names.append("identity_l1")
        self.train_trackers = [keras.metrics.Mean(name=name) for name in names]
        self.eval_trackers = [keras.metrics.Mean(name=f"heldout_{name}")
                              for name in ("cycle_l1", "identity_l1")]
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*self.train_trackers, *self.eval_trackers]

    @property
    def generator_variables(self) -> list:
        return [*self.gen_AB.trainable_variables, *self.gen_BA.trainable_variables]

    @property
    def discriminator_variables(self) -> list:
        return [*self.disc_A.trainable_variables, *self.disc_B.trainable_variables]

    def call(self, inputs, training: bool = False):
        """(A batch, B batch) -> (G_AB(A), G_BA(B))."""
        real_A, real_B = inputs
        return (self.gen_AB(real_A, training=training), self.gen_BA(real_B, training=training))

    # -- the loss, shared by both backends ------------------------------------------------
    def _generator_pass(self, real_A, real_B):
        """Generator objective and the fresh fakes. Returns (g_loss, fake_A, fake_B, logs)."""
        use_identity = self.lambda_identity > 0
        batch = _batch_size(real_A)
        # Same-generator passes share one call (instance norm is per image, so batching
        # changes nothing but speed): G_AB sees A (-> fake B) and B (-> identity B).
        if use_identity:
            out_AB = self.gen_AB(ops.concatenate([real_A, real_B], axis=0), training=True)
            out_BA = self.gen_BA(ops.concatenate([real_B, real_A], axis=0), training=True)
            fake_B, same_B = out_AB[:batch], out_AB[batch:]
            fake_A, same_A = out_BA[:batch], out_BA[batch:]
        else:
            fake_B = self.gen_AB(real_A, training=True)
            fake_A = self.gen_BA(real_B, training=True)
        cycled_A = self.gen_BA(fake_B, training=True)
        cycled_B = self.gen_AB(fake_A, training=True)
        adversarial = (_mse(self.disc_B(fake_B, training=True), 1.0)
                       + _mse(self.disc_A(fake_A, training=True), 1.0))
        cycle = _l1(real_A, cycled_A) + _l1(real_B, cycled_B)
        g_loss = adversarial + self.lambda_cycle * cycle
        logs = {"g_adv": adversarial / 2, "cycle_l1": cycle / 2}
        if use_identity:
            identity = _l1(real_A, same_A) + _l1(real_B, same_B)
            g_loss = g_loss + self.lambda_identity * identity
            logs["identity_l1"] = identity / 2
        logs["g_loss"] = g_loss
        return g_loss, fake_A, fake_B, logs

    def _discriminator_pass(self, real_A, real_B, pooled_A, pooled_B):
        """Halved least-squares loss of both discriminators on real and pooled fake images."""
        batch = _batch_size(real_A)
        loss = 0.0
        for disc, real, fake in ((self.disc_A, real_A, pooled_A),
                                 (self.disc_B, real_B, pooled_B)):
            scores = disc(ops.concatenate([ops.cast(real, "float32"), fake], axis=0),
                          training=True)
            loss = loss + 0.5 * (_mse(scores[:batch], 1.0) + _mse(scores[batch:], 0.0))
        return loss

    def _heldout_pass(self, real_A, real_B) -> dict[str, Any]:
        """Cycle and identity L1 of both directions, averaged (inference mode)."""
        batch = _batch_size(real_A)
        out_AB = self.gen_AB(ops.concatenate([real_A, real_B], axis=0), training=False)
        out_BA = self.gen_BA(ops.concatenate([real_B, real_A], axis=0), training=False)
        cycle = (_l1(real_A, self.gen_BA(out_AB[:batch], training=False))
                 + _l1(real_B, self.gen_AB(out_BA[:batch], training=False)))
        identity = _l1(real_A, out_BA[batch:]) + _l1(real_B, out_AB[batch:])
        return {"heldout_cycle_l1": cycle / 2, "heldout_identity_l1": identity / 2}

    @staticmethod
    def _unpack(data):
        real_A, real_B = data[0], data[1]
        return real_A, real_B

    def _log(self, trackers, values: dict[str, Any]) -> dict[str, Any]:
        logs = {}
        for tracker in trackers:
            if tracker.name in values:
                tracker.update_state(values[tracker.name])
                logs[tracker.name.removeprefix("heldout_")] = tracker.result()
        return logs

    # -- backend dispatch ------------------------------------------------------------------
    def train_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        return self._tf_train_step(*args)

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*args)
        real_A, real_B = self._unpack(args[0])
        return self._log(self.eval_trackers, self._heldout_pass(real_A, real_B))

    # -- TensorFlow: GradientTape ----------------------------------------------------------
    def _tf_train_step(self, data):
        import tensorflow as tf

        real_A, real_B = self._unpack(data)
        # tf.distribute sums replica gradients: scale each replica's mean loss accordingly.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=True) as tape:
            g_loss, fake_A, fake_B, logs = self._generator_pass(real_A, real_B)
            with tape.stop_recording():  # the pool's loop has no gradient, none is needed
                pooled_A, pooled_B = self.pool_A(fake_A), self.pool_B(fake_B)
            d_loss = self._discriminator_pass(real_A, real_B, pooled_A, pooled_B)
            g_scaled = self.optimizer.scale_loss(g_loss / replicas)
            d_scaled = self.optimizer.scale_loss(d_loss / replicas)
        g_vars, d_vars = self.generator_variables, self.discriminator_variables
        grads = tape.gradient(g_scaled, g_vars) + tape.gradient(d_scaled, d_vars)
        del tape
        self.optimizer.apply(grads, g_vars + d_vars)
        return self._log(self.train_trackers, {**logs, "d_loss": d_loss})

    # -- JAX: stateless ----------------------------------------------------------------------
    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metrics_values = state
        real_A, real_B = self._unpack(data)
        g_ids = {id(v) for v in self.generator_variables}
        is_generator = [id(v) in g_ids for v in self.trainable_variables]

        def losses(trainable_values, non_trainable_values):
            # Generator objective with the discriminators' weights held constant, the
            # discriminator loss with the (pooled, constant) fakes: one backward pass of the
            # sum gives each network exactly its own gradient.
            held = [value if gen else jax.lax.stop_gradient(value)
                    for value, gen in zip(trainable_values, is_generator)]
            mapping = [*zip(self.trainable_variables, held),
                       *zip(self.non_trainable_variables, non_trainable_values)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                g_loss, fake_A, fake_B, logs = self._generator_pass(real_A, real_B)
                pooled_A, pooled_B = self.pool_A(fake_A), self.pool_B(fake_B)
            updated = [_current(scope, var, value) for var, value
                       in zip(self.non_trainable_variables, non_trainable_values)]
            mapping = [*zip(self.trainable_variables, trainable_values),
                       *zip(self.non_trainable_variables, updated)]
            with keras.StatelessScope(state_mapping=mapping):
                d_loss = self._discriminator_pass(real_A, real_B, pooled_A, pooled_B)
            total = g_loss + d_loss
            with keras.StatelessScope(state_mapping=list(zip(self.optimizer.variables,
                                                             optimizer_values))):
                total = self.optimizer.scale_loss(total)
            return total, (updated, {**logs, "d_loss": d_loss})

        (_, (non_trainable, values)), grads = jax.value_and_grad(losses, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, grads, trainable)
        logs, metrics_values = self._jax_log(self.train_trackers, metrics_values, values)
        return logs, (trainable, non_trainable, optimizer_values, metrics_values)

    def _jax_test_step(self, state, data):
        trainable, non_trainable, metrics_values = state
        real_A, real_B = self._unpack(data)
        mapping = [*zip(self.trainable_variables, trainable),
                   *zip(self.non_trainable_variables, non_trainable)]
        with keras.StatelessScope(state_mapping=mapping):
            values = self._heldout_pass(real_A, real_B)
        logs, metrics_values = self._jax_log(self.eval_trackers, metrics_values, values)
        return logs, (trainable, non_trainable, metrics_values)

    def _jax_log(self, trackers, metrics_values, values):
        mapping = list(zip(self.metrics_variables, metrics_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._log(trackers, values)
        return logs, [_current(scope, var, value)
                      for var, value in zip(self.metrics_variables, metrics_values)]


def _batch_size(images):
    """The static batch size when known (so that slices keep static shapes)."""
    return images.shape[0] if images.shape[0] is not None else ops.shape(images)[0]


def _current(scope, variable, value):
    """A variable's value after a StatelessScope (its input value when it was not assigned)."""
    updated = scope.get_current_value(variable)
    return value if updated is None else updated


def build_cyclegan(image_shape: tuple[int, int, int], *, filters: int = 64,
                   res_blocks: int = 6, lambda_cycle: float = 10.0,
                   lambda_identity: float = 5.0, pool_size: int = 50,
                   seed: int = 0, crop_frames: int = 0,
                   identity_start: bool = False, envelope_coefficients: int = 0) -> CycleGAN:
    """Both generators (models.build_generator) and discriminators in one CycleGAN.

    `image_shape` is (H, W, 1) with H and W divisible by 4. With `crop_frames` N > 0 the
    networks take any width (they are fully convolutional: trained on (H, N) crops, they
    still convert whole (H, W) windows for the held-out pass and samples) and the history
    pool stores (H, N) crops. Not compiled: see `compile_cyclegan`.
    """
    height, width, channels = image_shape
    network_shape = (height, None, channels) if crop_frames else image_shape
    pool_shape = (height, crop_frames or width, channels)
    return CycleGAN(
        models.build_generator(network_shape, filters=filters, res_blocks=res_blocks,
                               identity_start=identity_start,
                               envelope_coefficients=envelope_coefficients,
                               name="generator_AtoB"),
        models.build_generator(network_shape, filters=filters, res_blocks=res_blocks,
                               identity_start=identity_start,
                               envelope_coefficients=envelope_coefficients,
                               name="generator_BtoA"),
        models.build_discriminator(network_shape, filters=filters, name="discriminator_A"),
        models.build_discriminator(network_shape, filters=filters, name="discriminator_B"),
        lambda_cycle=lambda_cycle, lambda_identity=lambda_identity, pool_size=pool_size,
        seed=seed, pool_shape=pool_shape, name="cyclegan")


def compile_cyclegan(model: CycleGAN, *, lr: float = 2e-4, total_steps: int | None = None,
                     decay_start: int | None = None, jit_compile: bool | str = "auto") -> None:
    """Compile with Adam(lr, beta_1=0.5), optionally decaying linearly from `decay_start` to 0
    at `total_steps` (both in optimizer steps), and build the optimizer state."""
    rate: Any = lr
    if total_steps is not None and decay_start is not None:
        rate = LinearDecay(lr, total_steps, decay_start)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate, beta_1=BETA_1),
                  jit_compile=jit_compile)
    # Built now so that a checkpoint's optimizer state can be loaded before fit().
    model.optimizer.build(model.trainable_variables)


# --- Devices ---------------------------------------------------------------------------------
def select_devices(spec: str) -> tuple[Any, int, str]:
    """Set up data parallelism for `--devices` ("1", "N" or "all").

    Returns (scope, replicas, description): build and compile the model inside `scope`
    (a tf.distribute.MirroredStrategy scope on TensorFlow; on JAX, keras.distribution's
    DataParallel is set globally and the scope is a no-op). One device: default placement.
    """
    import contextlib

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        devices = jax.devices()
        names = [f"{d.platform}:{d.id}" for d in devices]
    else:
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        names = [d.name for d in devices]
    if spec == "all":
        wanted = len(devices)
    else:
        try:
            wanted = int(spec)
        except ValueError:
            raise UserError(f"--devices must be a count or 'all', got {spec!r}") from None
        if not 1 <= wanted <= len(devices):
            raise UserError(f"--devices {spec}: {len(devices)} device(s) visible "
                            f"({', '.join(names)}); pass a count up to that or 'all'")
    if wanted == 1:
        return contextlib.nullcontext(), 1, names[0]
    chosen = names[:wanted]
    if backend == "jax":
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices()[:wanted]))
        return contextlib.nullcontext(), wanted, f"keras.distribution.DataParallel over {chosen}"
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(devices=chosen)
    return strategy.scope(), wanted, f"tf.distribute.MirroredStrategy over {chosen}"


def resolve_jit(xla: str, *, replicas: int) -> bool | str:
    """compile(jit_compile=...) for `--xla`. JAX always compiles. On TensorFlow, auto means
    XLA whenever one device trains: on this project's 2-core CPU XLA was the faster path for
    both presets (`python benchmark.py train --presets original fast --xla on|off`, quoted in
    README.md), as on GPUs; Keras does not XLA-compile a tf.distribute step as a whole, so
    several devices train without it."""
    if keras.backend.backend() == "jax":
        return "auto"
    if xla == "auto":
        return replicas == 1
    if xla == "on" and replicas > 1:
        raise UserError("--xla on works with one device only; pass --xla auto or off")
    return xla == "on"


# --- Callbacks -------------------------------------------------------------------------------
class SampleWriter(keras.callbacks.Callback):
    """Every `every` epochs (and after the last), write samples/epoch_NNNN/: for a few
    held-out clips per direction a PNG of input | converted | cycled-back spectrograms and
    Griffin-Lim wavs of the input and the converted image. The folder appears whole."""

    def __init__(self, out: Path, clips: dict[str, np.ndarray], *, every: int,
                 last_epoch: int, labels: dict[str, str]) -> None:
        super().__init__()
        self.out, self.clips, self.every, self.last_epoch = out, clips, every, last_epoch
        self.labels = labels

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        if not self.clips or not _due(number, every=self.every, last_epoch=self.last_epoch,
                                      model=self.model):
            return
        write_samples(self.model, self.clips, epoch_dir(self.out, SAMPLES_DIR, number),
                      labels=self.labels)


def _due(number: int, *, every: int, last_epoch: int, model: keras.Model | None = None) -> bool:
    """Whether 1-based epoch `number` gets a sample / snapshot folder / checkpoint: every
    `every` epochs (never when 0) and always after the run's last epoch, which is also the
    epoch in which the time budget ran out (TimeBudget sets model.stop_training)."""
    stopping = bool(model is not None and getattr(model, "stop_training", False))
    return number == last_epoch or stopping or bool(every and number % every == 0)


@contextlib.contextmanager
def stop_on_sigterm(budget: TimeBudget) -> Iterator[None]:
    """While the block runs, SIGTERM (what `timeout` and most job schedulers send first) asks
    `budget` to stop after the update under way, so the run saves what it has and exits
    cleanly instead of dying. Only in the main thread (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: budget.request_stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly as soon as `seconds` (counted from the start of fit) run out, or
    as soon as `request_stop` is called (train_cyclegan.py calls it on SIGTERM, which is what
    `timeout` sends), checked after every update: the epoch under way ends there, shortened if
    need be, and is saved like a last epoch (snapshot, samples, checkpoint), and train()
    returns normally. An epoch longer than the budget (a slow or busy machine, a GPU
    deadline) still leaves a model. Must come before the callbacks that save."""

    def __init__(self, seconds: float = math.inf) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.started = time.monotonic()
        self.stopped_after: int | None = None
        self.updates_in_last_epoch: int | None = None  # set when it stopped mid-epoch
        self.stop_requested = False
        self._epoch = 0

    def request_stop(self) -> None:
        """Stop after the update under way (safe to call from a signal handler)."""
        self.stop_requested = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.stopped_after is None and (self.stop_requested
                                           or time.monotonic() - self.started >= self.seconds):
            self.model.stop_training = True
            self.stopped_after = self._epoch + 1
            steps = self.params.get("steps") if self.params else None
            if steps is None or batch + 1 < steps:
                self.updates_in_last_epoch = batch + 1


def _write_folder(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Let `fill` write into a temporary folder beside `folder`, then rename it to `folder`,
    so the folder appears whole or not at all. A folder already there was left by an epoch
    that was re-run after a kill (same run, same epoch) and is replaced."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=_ensure_dir(folder.parent)))
    try:
        umask = os.umask(0)  # mkdtemp makes owner-only folders; give the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        fill(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def write_samples(model: CycleGAN, clips: dict[str, np.ndarray], folder: Path, *,
                  labels: dict[str, str]) -> Path:
    """Convert held-out `clips` ({"A": (n, IMAGE_SIZE, IMAGE_SIZE) images, "B": ...}) both
    ways; write <source>2<target>_<i>.png and _input.wav / _converted.wav into `folder`.

    The npz keeps no absolute level, so Griffin-Lim runs at reference 1 and the audio is
    peak-normalised to SAMPLE_PEAK.
    """
    def fill(tmp: Path) -> None:
        for domain, stack in clips.items():
            forward, backward = ((model.gen_AB, model.gen_BA) if domain == "A"
                                 else (model.gen_BA, model.gen_AB))
            source, target = (labels["A"], labels["B"]) if domain == "A" else \
                (labels["B"], labels["A"])
            for index, image in enumerate(stack):
                batch = _as_batch(image[None])
                converted = np.asarray(forward(batch, training=False), np.float32)
                cycled = np.asarray(backward(converted, training=False), np.float32)
                stem = f"{source}2{target}_{index}"
                plot_spectrograms(tmp / f"{stem}.png", [
                    (f"input ({source})", crop_image(image)),
                    (f"converted ({source} -> {target})", crop_image(converted[0, ..., 0])),
                    (f"cycled back ({target} -> {source})", crop_image(cycled[0, ..., 0]))])
                for name, picture in (("input", image), ("converted", converted[0, ..., 0])):
                    audio = image_to_audio(picture, ref=1.0, n_iter=SAMPLE_GRIFFIN_LIM_ITERS)
                    peak = float(np.max(np.abs(audio))) or 1.0
                    write_audio(tmp / f"{stem}_{name}.wav", audio * (SAMPLE_PEAK / peak))

    return _write_folder(folder, fill)


class SnapshotWriter(keras.callbacks.Callback):
    """Every `every` epochs and after the run's last epoch, write snapshots/epoch_NNNN/
    (see write_snapshot); no snapshot at all when `every` is 0.

    Runs before RunWriter's checkpoint: a kill between the two re-runs the epoch on
    --resume, which writes its snapshot again, so no completed epoch lacks its snapshot.
    """

    def __init__(self, out: Path, config: dict[str, Any], *, every: int,
                 last_epoch: int) -> None:
        super().__init__()
        self.out, self.config, self.every, self.last_epoch = out, config, every, last_epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        if self.every and _due(number, every=self.every, last_epoch=self.last_epoch,
                               model=self.model):
            write_snapshot(self.model.gen_AB, epoch_dir(self.out, SNAPSHOTS_DIR, number),
                           config={**self.config, "epoch": number})


def write_snapshot(generator: keras.Model, folder: Path, *, config: dict[str, Any]) -> Path:
    """Write a complete model folder for one epoch: `config` as config.json and `generator`
    (source -> target) as generator_AtoB.weights.h5 in SNAPSHOT_DTYPE (float16, half the
    size; models.load_generator reads it into a float32 network). The folder appears whole
    (see _write_folder). Returns `folder`."""
    def fill(tmp: Path) -> None:
        write_config(tmp, config)
        models.save_generator(generator, tmp, "AtoB", dtype=SNAPSHOT_DTYPE)

    return _write_folder(folder, fill)


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


class CsvLog(keras.callbacks.Callback):
    """One CSV row per completed epoch: epoch, losses, held-out L1s, learning rate, seconds,
    and the updates it made (fewer than the epoch's steps when a time budget or SIGTERM
    ended it early).

    Rows are appended (and flushed) before the epoch's checkpoint is written; on resume,
    rows of epochs after the checkpoint (re-run now) are dropped first, so every epoch
    appears once.
    """

    COLUMNS = ("epoch", "g_loss", "d_loss", "g_adv", "cycle_l1", "identity_l1",
               "val_cycle_l1", "val_identity_l1", "lr", "seconds", "updates")

    def __init__(self, path: Path, *, completed_epochs: int) -> None:
        super().__init__()
        self.path = path
        self._started = time.perf_counter()
        self._updates = 0
        rows = []
        if completed_epochs and path.is_file():
            with open(path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle)
                        if row.get("epoch", "").isdigit() and int(row["epoch"]) <= completed_epochs]
        with atomic_output(path) as tmp:
            with open(tmp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.COLUMNS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()
        self._updates = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._updates = batch + 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row = {key: f"{float(value):.6g}" for key, value in (logs or {}).items()
               if key in self.COLUMNS}
        row.update(epoch=epoch + 1, lr=f"{current_lr(self.model):.6g}",
                   seconds=f"{time.perf_counter() - self._started:.1f}",
                   updates=self._updates)
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.COLUMNS, extrasaction="ignore").writerow(row)
            handle.flush()
            os.fsync(handle.fileno())


class TensorBoardLog(keras.callbacks.Callback):
    """Per-epoch scalars for TensorBoard in logs/train and logs/validation, tagged
    epoch_<metric> as Keras' TensorBoard callback does. Written with TensorFlow's core summary
    ops (also under the JAX backend), so the tensorboard package is needed only to view them;
    Keras' own callback would require it just to train."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self._writers: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        try:
            import tensorflow as tf
            from tensorflow.core.framework import summary_pb2
        except ImportError:  # a JAX-only installation: the CSV log still has everything
            if not self._writers:
                print("note: tensorflow is not installed; no TensorBoard logs",
                      file=sys.stderr)
                self._writers["none"] = None
            return

        metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name="scalars")).SerializeToString()
        logs = {key: float(value) for key, value in (logs or {}).items()}
        splits = {"train": {**{k: v for k, v in logs.items() if not k.startswith("val_")},
                            "learning_rate": current_lr(self.model)},
                  "validation": {k[4:]: v for k, v in logs.items() if k.startswith("val_")}}
        for split, values in splits.items():
            if not values:
                continue
            if split not in self._writers:
                self._writers[split] = tf.summary.create_file_writer(str(self.folder / split))
            with self._writers[split].as_default():
                for name, value in values.items():
                    tf.summary.write(f"epoch_{name}", tf.constant(value, tf.float32), step=epoch,
                                     metadata=metadata)
            self._writers[split].flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            if writer is not None:
                writer.close()
        self._writers = {}


def current_lr(model: keras.Model) -> float:
    """The optimizer's learning rate at its current step (schedules evaluated)."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    rate = optimizer.learning_rate
    return float(np.asarray(rate))


class RunWriter(keras.callbacks.Callback):
    """After every `every`-th epoch and the last: both generators' inference files, then the
    resume checkpoint (all four networks, the optimizer, the pools with their random state,
    the epoch), each written to a temporary file and renamed, so a kill leaves the previous
    set intact (and --resume re-runs the epochs after it)."""

    def __init__(self, out: Path, *, every: int = 1, last_epoch: int | None = None) -> None:
        super().__init__()
        self.out, self.every, self.last_epoch = out, every, last_epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        model = self.model
        if not _due(epoch + 1, every=self.every, last_epoch=self.last_epoch or epoch + 1,
                    model=model):
            return
        model.completed_epochs.assign(epoch + 1)
        models.save_generator(model.gen_AB, self.out, "AtoB")
        models.save_generator(model.gen_BA, self.out, "BtoA")
        save_checkpoint(model, self.out / CHECKPOINT_NAME)


def save_checkpoint(model: CycleGAN, path: Path) -> Path:
    """Write the whole training state into one .weights.h5 atomically."""
    with atomic_output(path) as tmp:
        model.save_weights(str(tmp))
    return path


def load_checkpoint(model: CycleGAN, path: Path) -> int:
    """Restore a checkpoint written by save_checkpoint; returns the completed epochs."""
    try:
        model.load_weights(str(path))
    except Exception as exc:  # h5py/keras raise several types for a mismatched file
        raise UserError(f"{path}: cannot restore this checkpoint ({exc}); start over with "
                        "--force") from None
    return int(np.asarray(model.completed_epochs))


# --- Training a run ------------------------------------------------------------------------
def fit_run(out: Path, *, config: dict[str, Any], data: dict[str, Any], data_path: Path,
            stale: Sequence[Path] = (), quiet: bool = False,
            extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> CycleGAN:
    """Build, restore and fit the model of a checked run config (train_cyclegan.py makes it
    from the command line), writing the run folder `out`.

    `config["training"]` holds every resolved setting; `stale` are an old run's files that
    --force deletes once the new model is built and restored. Keras' global dtype policy and
    distribution are restored afterwards. Returns the trained model.
    """
    backend = keras.backend.backend()
    settings = config["training"]
    policy = keras.mixed_precision.dtype_policy()
    distribution = keras.distribution.distribution() if backend == "jax" else None
    try:
        keras.mixed_precision.set_dtype_policy(PRECISION_POLICIES[settings["mixed_precision"]])
        return _fit(out, config=config, data=data, data_path=data_path, stale=stale,
                    quiet=quiet, extra_callbacks=extra_callbacks)
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
        if backend == "jax":
            keras.distribution.set_distribution(distribution)


def _fit(out: Path, *, config: dict[str, Any], data: dict[str, Any], data_path: Path,
         stale: Sequence[Path], quiet: bool,
         extra_callbacks: Sequence[keras.callbacks.Callback]) -> CycleGAN:
    backend = keras.backend.backend()
    settings = config["training"]
    pair, source, target = config["pair"], config["source"], config["target"]
    images_A, images_B = data["train_A"], data["train_B"]
    image_shape = (*images_A.shape[1:], 1)
    batch_size, steps, epochs = (settings["batch_size"], settings["steps_per_epoch"],
                                 settings["epochs"])
    scope, replicas, device_text = select_devices(str(settings["devices"]))
    if batch_size % replicas:
        raise UserError(f"--batch-size {batch_size} does not split over {replicas} devices; "
                        f"use a multiple of {replicas}")
    jit = resolve_jit(settings["xla"], replicas=replicas)
    keras.utils.set_random_seed(settings["seed"])
    with scope:
        model = build_cyclegan(image_shape, filters=settings["filters"],
                               res_blocks=settings["res_blocks"],
                               lambda_cycle=settings["lambda_cycle"],
                               lambda_identity=settings["lambda_identity"],
                               pool_size=settings["pool_size"], seed=settings["seed"],
                               crop_frames=settings["crop_frames"],
                               identity_start=settings["identity_start"],
                               envelope_coefficients=settings.get("envelope_coefficients", 0))
        decay = (epochs * steps, (epochs // 2) * steps) if settings["lr_decay"] else (None, None)
        compile_cyclegan(model, lr=settings["lr"], total_steps=decay[0], decay_start=decay[1],
                         jit_compile=jit)
    completed = 0
    if (out / CHECKPOINT_NAME).is_file() and not stale:
        completed = load_checkpoint(model, out / CHECKPOINT_NAME)
    remove_run_files(stale)  # --force: the old run goes only now that the new one can start
    write_config(_ensure_dir(out), config)
    if completed >= epochs:
        print(f"{out}: already trained for {completed} of {epochs} epochs; pass a larger "
              "--epochs with --resume to train on")
        return model

    print(f"{pair}: {len(images_A)} {source} / {len(images_B)} {target} training images, "
          f"{steps} steps of batch {batch_size} per epoch, epochs {completed + 1}-{epochs}; "
          f"generators {count_params(model.gen_AB) / 1e6:.2f} M and discriminators "
          f"{count_params(model.disc_A) / 1e6:.2f} M parameters each; backend {backend}"
          f"{' (XLA)' if model.jit_compile is True and backend == 'tensorflow' else ''}, "
          f"{device_text}, precision {settings['mixed_precision']}, preset "
          f"{settings['preset']}"
          + (f", {settings['crop_frames']}-frame crops" if settings["crop_frames"] else "")
          + (", identity start" if settings["identity_start"] else "") + f"; writing to {out}")
    split = config["heldout_split"]
    if split == "val":
        print(f"held-out metrics and samples: validation actors {config['val_actors']} (test "
              f"actors {config['test_actors']} are left for evaluate.py)")
    else:
        print(f"note: {data_path} has no validation images; held-out metrics and samples use "
              f"its test actors {config['test_actors']}", file=sys.stderr)
    held_out = {domain: data[npz_key(split, domain)] for domain in DOMAINS}
    eval_count = settings["eval_images"]
    validation = HeldOutBatches(
        *(stack[spread_indices(len(stack), eval_count)] for stack in held_out.values()),
        batch_size=batch_size)
    validate = bool(eval_count and len(validation))
    if eval_count and not validate:
        print(f"note: fewer than {batch_size} held-out ({split}) images per domain in "
              f"{data_path}; no held-out metrics", file=sys.stderr)
    clips = {domain: stack[spread_indices(len(stack), settings["sample_clips"])]
             for domain, stack in held_out.items()}
    budget = TimeBudget(settings["time_budget"] or math.inf)
    callbacks = [
        budget,
        SampleWriter(out, {key: value for key, value in clips.items() if len(value)},
                     every=settings["sample_every"], last_epoch=epochs,
                     labels={"A": source, "B": target}),
        SnapshotWriter(out, config, every=settings["snapshot_every"], last_epoch=epochs),
        CsvLog(out / LOG_NAME, completed_epochs=completed),
        TensorBoardLog(out / TENSORBOARD_DIR),
        # last of the run's own: the checkpoint marks the epoch complete
        RunWriter(out, every=settings["checkpoint_every"], last_epoch=epochs),
        *extra_callbacks,
    ]
    crop = settings["crop_frames"]
    train_shape = (image_shape[0], crop or image_shape[1], image_shape[2])
    train_data = UnpairedBatches(images_A, images_B, batch_size=batch_size,
                                 steps_per_epoch=steps, seed=settings["seed"],
                                 first_epoch=completed, crop_frames=crop)
    with stop_on_sigterm(budget):
        model.fit(backend_dataset(train_data, batch_size=batch_size, image_shape=train_shape),
                  epochs=epochs, initial_epoch=completed, steps_per_epoch=steps, shuffle=False,
                  validation_data=(backend_dataset(validation, batch_size=batch_size,
                                                   image_shape=image_shape) if validate else None),
                  validation_steps=len(validation) if validate else None,
                  # A bar only on a terminal: redirected into a log it is carriage-return noise.
                  callbacks=callbacks, verbose=1 if not quiet and sys.stdout.isatty() else 2)
    if budget.stopped_after is not None and (
            budget.stopped_after < epochs or budget.updates_in_last_epoch is not None):
        epochs = budget.stopped_after
        partial = budget.updates_in_last_epoch
        where = (f"during epoch {epochs}, after {partial} of its {steps} updates (saved as "
                 f"epoch {epochs})" if partial is not None else f"after epoch {epochs}")
        why = ("asked to stop (SIGTERM)" if budget.stop_requested
               else f"time budget of {settings['time_budget']:g} s used up")
        print(f"{why}: stopped {where}; continue with --resume")
    print(f"done: {epochs} epochs; generators in {generator_path(out, 'AtoB')} "
          f"({source} -> {target}) and {generator_path(out, 'BtoA')}"
          + (f"; snapshots in {out / SNAPSHOTS_DIR}" if settings["snapshot_every"] else ""))
    return model


class _StepClock(keras.callbacks.Callback):
    """Records when each training step has finished (reading a loss waits for the device)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        float(next(iter((logs or {"x": 0.0}).values())))
        self.ends.append(time.perf_counter())


def time_training_steps(images_A: np.ndarray, images_B: np.ndarray, *,
                        settings: dict[str, Any], steps: int, warmup: int = 1) -> list[float]:
    """Seconds of each of `steps` fused training steps, after `warmup` untimed ones (tracing,
    compilation, allocation), run through fit() as a training run does (data pipeline
    included) with the networks, crops and precision of `settings` (runs.preset_settings).

    Args:
        images_A, images_B: (N, H, W) image stacks in [-1, 1] (N >= the batch size).
        settings: training settings; uses batch_size, filters, res_blocks, crop_frames,
            identity_start, lambda_cycle, lambda_identity, pool_size, seed, lr,
            mixed_precision and xla.
    Keras' global dtype policy is restored afterwards.
    """
    batch, total = int(settings["batch_size"]), warmup + steps
    shape = (*images_A.shape[1:], 1)
    crop = int(settings["crop_frames"])
    policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(PRECISION_POLICIES[settings["mixed_precision"]])
    try:
        model = build_cyclegan(shape, filters=settings["filters"],
                               res_blocks=settings["res_blocks"],
                               lambda_cycle=settings["lambda_cycle"],
                               lambda_identity=settings["lambda_identity"],
                               pool_size=settings["pool_size"], seed=settings["seed"],
                               crop_frames=crop, identity_start=settings["identity_start"],
                               envelope_coefficients=settings.get("envelope_coefficients", 0))
        compile_cyclegan(model, lr=settings["lr"],
                         jit_compile=resolve_jit(settings["xla"], replicas=1))
        stream = UnpairedBatches(images_A, images_B, batch_size=batch, steps_per_epoch=total,
                                 seed=settings["seed"], crop_frames=crop)
        clock = _StepClock()
        started = time.perf_counter()
        model.fit(backend_dataset(stream, batch_size=batch,
                                  image_shape=(shape[0], crop or shape[1], shape[2])),
                  epochs=1, steps_per_epoch=total, shuffle=False, verbose=0, callbacks=[clock])
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
    return [float(d) for d in np.diff([started, *clock.ends])[warmup:]]


def count_params(model: keras.Model) -> int:
    """Number of trainable parameters of a network."""
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))

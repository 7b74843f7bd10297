"""The trained generator's change, as a stage: the network's new spectrogram, or that change
applied to WORLD's spectral envelope.

Through Griffin-Lim the generator's output images are what is synthesised. Through WORLD its
change (output image minus input image, in dB per STFT bin and frame: `envelope_change_db`) is
kept smooth along frequency (`smoothing` DCT coefficients, spectro.envelope_projection) and
multiplies WORLD's envelope, so the harmonics and the pitch stay WORLD's own. Strength scales
the image change exactly for an identity-start generator (spectro.scale_change).

config.json's "inference" holds "envelope_change" (false: WORLD with the learned changes
alone) and "envelope_coefficients" (a post-hoc cut K built into the network when it is
loaded, tools/choose_cut.py); the smoothing is the cut's, else the generator's own
envelope_coefficients, else spectro.ENVELOPE_COEFFICIENTS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from spectrogan.audio.spectro import (ENVELOPE_COEFFICIENTS, IMAGE_SIZE, N_BINS, TOP_DB,
                                      envelope_projection, join_windows, n_frames_for,
                                      scale_change, utterance_to_windows)
from spectrogan.audio.vocoder import WorldFeatures, correct_envelope
from spectrogan.audio.vocoders import SpectrogramWindows
from spectrogan.core.errors import UserError
from spectrogan.core.strength import FULL_STRENGTH, check_strength
from spectrogan.stages.stage import DEFAULT_BATCH_SIZE, Stage, StageContext


def batch_sizes(count: int, batch_size: int) -> list[int]:
    """Split `count` windows into batches of `batch_size`, the remainder in powers of two.

    Every distinct batch shape costs the backend a new trace (TensorFlow) or compilation
    (JAX); powers of two bound the shapes to log2(batch_size) + 1 without computing padding.
    """
    sizes = [batch_size] * (count // batch_size)
    rest = count % batch_size
    while rest:
        size = 1 << (rest.bit_length() - 1)
        sizes.append(size)
        rest -= size
    return sizes


def run_generator(windows: np.ndarray, generator: Any, *,
                  batch_size: int = DEFAULT_BATCH_SIZE, out: np.ndarray | None = None,
                  strength: float = FULL_STRENGTH,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Pass spectrogram windows through the generator a batch at a time.

    Args:
        windows: float32 (N, IMAGE_SIZE, IMAGE_SIZE) images in [-1, 1].
        generator: a model mapping (b, IMAGE_SIZE, IMAGE_SIZE, 1) to the same shape.
        batch_size: windows per generator call; bounds activation memory, so long files
            never hold all windows' activations at once.
        out: optional float32 array of windows' shape to write into (may be `windows`).
        strength: how much of the generator's change to apply (spectro.scale_change): 0 the
            windows unchanged, 1 the generator's output, values between scale its
            correction; in [0, 1].
        progress: called with the number of windows done after each batch.
    Returns:
        float32 (N, IMAGE_SIZE, IMAGE_SIZE) generator output in [-1, 1].
    """
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"windows must have shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}), "
                         f"got {windows.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    check_strength(strength)
    if out is None:
        out = np.empty_like(windows)
    start = 0
    for size in batch_sizes(len(windows), batch_size):
        batch = windows[start:start + size, :, :, None]
        # predict_on_batch runs the backend's compiled predict step (a traced tf.function or a
        # jitted JAX function), several times faster than eager calls on CPU.
        result = np.asarray(generator.predict_on_batch(batch), dtype=np.float32)
        result = result.reshape(size, IMAGE_SIZE, IMAGE_SIZE)
        if strength != 1.0:
            result = scale_change(batch[..., 0], result, strength=strength)
        out[start:start + size] = result
        start += size
        if progress is not None:
            progress(start)
    return out


def envelope_change_db(audio: np.ndarray, generator: Any, *,
                       strength: float = FULL_STRENGTH,
                       batch_size: int = DEFAULT_BATCH_SIZE,
                       progress: Callable[[float], None] | None = None) -> np.ndarray:
    """The generator's change to an utterance's spectrogram, in dB per STFT bin and frame.

    Args:
        audio: mono float32 audio at SAMPLE_RATE, L >= 1 samples, finite.
        generator: takes (b, IMAGE_SIZE, IMAGE_SIZE, 1) images.
        strength: how much of its change (spectro.scale_change), in [0, 1].
        batch_size: windows per generator call.
        progress: called with the fraction of windows done.
    Returns:
        float32 (N_BINS, 1 + L // HOP_LENGTH): output image minus input image, in dB
        (TOP_DB / 2 per image unit), windows joined as spectro.join_windows does.
    """
    windows, _ = utterance_to_windows(audio)
    before = join_windows(windows, n_frames=n_frames_for(len(audio)))
    after = run_generator(windows, generator, batch_size=batch_size, out=windows,
                          strength=strength,
                          progress=(lambda done: progress(done / len(windows))) if progress
                          else None)
    return (join_windows(after, n_frames=n_frames_for(len(audio))) - before) * (TOP_DB / 2.0)


@dataclass(frozen=True)
class EnvelopeModel(Stage):
    """The generator's change. applied: False leaves it out (WORLD with the learned changes
    alone). cut: the post-hoc envelope cut K built into the network (0: none). smoothing: DCT
    coefficients keeping the change smooth along frequency on WORLD's envelope. strength: how
    much of the change, in [0, 1]."""

    applied: bool = True
    cut: int = 0
    smoothing: int = ENVELOPE_COEFFICIENTS
    strength: float = FULL_STRENGTH

    key: ClassVar[str] = "envelope_change"
    vocoders: ClassVar[tuple[str, ...]] = ("griffin-lim", "world")
    learned_by: ClassVar[str] = ("train_cyclegan.py (the epoch: evaluate.py --select-epoch; "
                                 "the cut: tools/choose_cut.py)")
    title: ClassVar[str] = "the model's envelope change"
    work: ClassVar[float] = 0.3

    def __post_init__(self) -> None:
        if not isinstance(self.applied, bool):
            raise ValueError(f"envelope_change must be true or false, got {self.applied!r}")
        for name in ("cut", "smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        check_strength(self.strength)

    @classmethod
    def read(cls, inference: dict[str, Any], *, config: dict[str, Any], where: str
             ) -> EnvelopeModel:
        size = config.get("image_size", IMAGE_SIZE)
        cut = inference.get("envelope_coefficients", 0)
        if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut <= size:
            raise UserError(f"{where}: inference.envelope_coefficients must be a whole number "
                            f"from 0 to the image size, got {cut!r}")
        applied = inference.get(cls.key, True)
        if not isinstance(applied, bool):
            raise UserError(f"{where}: inference.{cls.key} must be true or false, got "
                            f"{applied!r}")
        own = (config.get("generator") or {}).get("envelope_coefficients", 0)
        return cls(applied, cut, int(cut or own or ENVELOPE_COEFFICIENTS))

    def write(self) -> dict[str, Any]:
        return {**({} if self.applied else {self.key: False}),
                **({"envelope_coefficients": self.cut} if self.cut else {})}

    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        return (cls.key, "envelope_coefficients")

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> EnvelopeModel:
        if not isinstance(entry, bool):
            raise UserError(f"{where}: inference.{cls.key} must be true or false, got "
                            f"{entry!r}")
        return cls(applied=entry)

    def to_config(self) -> bool:
        return self.applied

    @property
    def is_identity(self) -> bool:
        return not self.applied or self.strength == 0

    def scaled(self, strength: float) -> EnvelopeModel:
        return dataclasses.replace(self, strength=self.strength * check_strength(strength))

    def describe(self) -> str:
        if not self.applied:
            return "no envelope change from the network (the learned changes alone)"
        if self.cut:
            return f"change smoothed along frequency ({self.cut} coefficients)"
        return ""

    def applied_words(self) -> str:
        return self.title if self.applied else ""

    def apply(self, signal: Any, context: StageContext) -> Any:
        if context.generator is None or self.is_identity:
            return signal
        if isinstance(signal, SpectrogramWindows):
            # The converted windows overwrite the input ones: one windows array for a
            # 10-minute file (about 200 x 260 x 260 float32 = 54 MB) instead of two.
            total = len(signal.windows)
            run_generator(signal.windows, context.generator, batch_size=context.batch_size,
                          out=signal.windows, strength=self.strength,
                          progress=lambda done: context.progress(done / total))
            return signal
        if isinstance(signal, WorldFeatures):
            change = envelope_change_db(context.source, context.generator,
                                        strength=self.strength, batch_size=context.batch_size,
                                        progress=context.progress)
            smooth = envelope_projection(N_BINS, coefficients=self.smoothing)
            return correct_envelope(signal, smooth @ change)
        raise TypeError(f"the envelope model changes spectrogram windows or WORLD features, "
                        f"not {type(signal).__name__}")

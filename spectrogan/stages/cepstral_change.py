"""The emotion's change of the voice's spectral statistics: how the mean and the spread over
time of each mel-cepstral coefficient of voiced speech move from a speaker's calm speech to the
target emotion; learned from the training actors, and the pure transform that applies it to
WORLD's envelope.

The spectral balance (spectral_balance.py) moves the long-term average spectrum only. Emotional
speech also changes how much the spectrum moves from frame to frame: happy and angry voices
swing their formants and their brightness further than calm ones, sad ones less. A
`CepstralChange` holds both, per coefficient c1..c{ORDER} of WORLD's coded envelope
(pyworld.code_spectral_envelope, a mel-scaled cepstrum) and c0 (the frame's level):

- `shift`: added to the utterance's mean coefficient over its voiced frames (c0's is 0: the
  loudness is not this change's job, every conversion ends at the input's speech level);
- `spread_ratio`: each voiced frame's deviation from that mean is multiplied by this, so the
  spectrum moves as much from sound to sound as the emotion's does (c0's ratio widens or narrows
  the level contour over the voiced frames).

Learned like the prosody change: per training actor, the statistics of their voiced speech
frames in the target emotion against those of their own calm speech (so the voice cancels),
averaged over actors (arithmetic for the shifts, geometric for the ratios). Applied to an
utterance relative to its own mean, so it transfers to voices it never heard. `scaled` follows
the strength (0: the identity) and `inverse` undoes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from spectrogan.audio.audio_files import load_audio
from spectrogan.data.corpus import measured_by_actor
from spectrogan.core.errors import UserError
from spectrogan.stages.prosody import MIN_VOICED_FRAMES, speech_frames
from spectrogan.audio.spectro import SAMPLE_RATE
from spectrogan.core.strength import scale_ratios, scale_shifts
from spectrogan.stages.stage import Stage, StageContext
from spectrogan.audio.vocoder import WorldFeatures, world_envelope, world_library

ORDER = 24  # c1..c24 beside c0: the smooth envelope, not the harmonics
DIMENSIONS = ORDER + 1
SHIFT_LIMIT = 5.0  # a shift larger than this (in coded-envelope units) is a config error
SPREAD_RANGE = (0.25, 4.0)


def _numbers(values: Any, low: float, high: float) -> bool:
    return isinstance(values, tuple) and len(values) == DIMENSIONS and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high
        for v in values)


@dataclass(frozen=True)
class CepstralChange(Stage):
    """Per-coefficient shifts and spread ratios (the identity by default)."""

    shift: tuple[float, ...] = (0.0,) * DIMENSIONS
    spread_ratio: tuple[float, ...] = (1.0,) * DIMENSIONS

    key: ClassVar[str] = "cepstral_change"
    vocoders: ClassVar[tuple[str, ...]] = ("world",)
    learned_by: ClassVar[str] = "tools/choose_prosody.py"
    title: ClassVar[str] = "the cepstral change"

    def __post_init__(self) -> None:
        if not _numbers(self.shift, -SHIFT_LIMIT, SHIFT_LIMIT) or self.shift[0] != 0:
            raise ValueError(f"shift must be {DIMENSIONS} numbers within +-{SHIFT_LIMIT:g}, the "
                             f"first (the level's) 0; got {self.shift!r}")
        if not _numbers(self.spread_ratio, *SPREAD_RANGE):
            raise ValueError(f"spread_ratio must be {DIMENSIONS} numbers from "
                             f"{SPREAD_RANGE[0]:g} to {SPREAD_RANGE[1]:g}, got "
                             f"{self.spread_ratio!r}")

    @property
    def is_identity(self) -> bool:
        """True when applying it changes nothing."""
        return self == CepstralChange()

    def scaled(self, strength: float) -> CepstralChange:
        """`strength` of the way (0: the identity, 1: itself): shifts times `strength`,
        ratios to the power `strength`."""
        return CepstralChange(scale_shifts(self.shift, strength),
                              scale_ratios(self.spread_ratio, strength))

    def inverse(self) -> CepstralChange:
        """The change that undoes this one."""
        return CepstralChange(tuple(-float(s) for s in self.shift),
                              tuple(1.0 / float(r) for r in self.spread_ratio))

    def describe(self) -> str:
        """In words: 'spectral movement x1.18, level contour x1.32 over voiced frames'."""
        ratios = np.asarray(self.spread_ratio)
        movement = math.exp(float(np.mean(np.log(ratios[1:]))))
        return (f"spectral movement x{movement:.2f} (mean over c1-c{ORDER}), level contour "
                f"x{ratios[0]:.2f} over voiced frames")

    def apply(self, signal: WorldFeatures, context: StageContext) -> WorldFeatures:
        """`apply_cepstral_change` of WORLD features."""
        return apply_cepstral_change(signal, self)

    def to_config(self) -> dict[str, list[float]]:
        """The config.json form ("inference": {"cepstral_change": {...}})."""
        return {"shift": [round(float(s), 4) for s in self.shift],
                "spread_ratio": [round(float(r), 4) for r in self.spread_ratio]}

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> CepstralChange:
        """Read a config.json "cepstral_change" entry; UserError naming `where` when it is
        malformed."""
        if not isinstance(entry, dict) or set(entry) != {"shift", "spread_ratio"} \
                or not all(isinstance(entry[k], list) for k in entry):
            raise UserError(f"{where}: inference.cepstral_change must be an object with the "
                            f"lists shift and spread_ratio; got {entry!r}")
        try:
            return cls(tuple(entry["shift"]), tuple(entry["spread_ratio"]))
        except ValueError as exc:
            raise UserError(f"{where}: inference.cepstral_change.{exc}") from None


def code_envelope(envelope: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """WORLD's coded envelope: float64 (T, DIMENSIONS) of a power envelope (T, B)."""
    pyworld = world_library()

    return pyworld.code_spectral_envelope(np.ascontiguousarray(envelope, dtype=np.float64),
                                          sample_rate, DIMENSIONS)


def decode_envelope(coded: np.ndarray, *, sample_rate: int, bins: int) -> np.ndarray:
    """Inverse of `code_envelope`: float64 (T, bins) power envelope (bins = fft_size/2 + 1)."""
    pyworld = world_library()

    return pyworld.decode_spectral_envelope(np.ascontiguousarray(coded, dtype=np.float64),
                                            sample_rate, (bins - 1) * 2)


@dataclass(frozen=True)
class CepstralMoments:
    """One clip's voiced speech frames: how many, the mean and the standard deviation of each
    coded-envelope coefficient (DIMENSIONS each)."""

    frames: int
    mean: np.ndarray
    std: np.ndarray


def utterance_moments(audio: np.ndarray) -> CepstralMoments | None:
    """The coded envelope's moments over one clip's voiced speech frames
    (prosody.speech_frames, WORLD analysis); None with fewer than prosody.MIN_VOICED_FRAMES."""

    f0, envelope = world_envelope(audio)
    speech = speech_frames(audio, f0)
    if speech.sum() < MIN_VOICED_FRAMES:
        return None
    coded = code_envelope(envelope[speech], sample_rate=SAMPLE_RATE)
    return CepstralMoments(int(speech.sum()), coded.mean(axis=0), coded.std(axis=0))


def pooled_moments(clips: Sequence[CepstralMoments]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) over all the frames of several clips, from each clip's moments."""
    weights = np.asarray([c.frames for c in clips], dtype=np.float64)[:, None]
    means = np.stack([c.mean for c in clips])
    squares = np.stack([c.std ** 2 + c.mean ** 2 for c in clips])
    mean = (weights * means).sum(axis=0) / weights.sum()
    second = (weights * squares).sum(axis=0) / weights.sum()
    return mean, np.sqrt(np.maximum(second - mean ** 2, 1e-12))


def apply_cepstral_change(features: Any, change: CepstralChange) -> Any:
    """vocoder.WorldFeatures with the voiced frames' coded envelope moved by `change` around
    its own mean over those frames (the envelope times the moved coding's decoded envelope over
    the original coding's); unvoiced frames and everything else unchanged (returned as
    is when `change` is the identity or fewer than two frames are voiced)."""

    voiced = features.f0 > 0
    if change.is_identity or voiced.sum() < 2:
        return features
    coded = code_envelope(features.envelope[voiced], sample_rate=SAMPLE_RATE)
    mean = coded.mean(axis=0)
    moved = mean + np.asarray(change.shift) + (coded - mean) * np.asarray(change.spread_ratio)
    # The envelope is multiplied by the change of the decoded coding, not replaced by it, so
    # the detail a 25-number coding leaves out is kept (and a small strength changes little).
    bins = features.envelope.shape[1]
    gain = decode_envelope(moved, sample_rate=SAMPLE_RATE, bins=bins) \
        / decode_envelope(coded, sample_rate=SAMPLE_RATE, bins=bins)
    envelope = features.envelope.copy()
    envelope[voiced] *= gain
    return WorldFeatures(features.f0, envelope, features.aperiodicity)


def learn_cepstral_change(files: Sequence[Any], *, source: str, target: str,
                          actors: Sequence[int], measure: Any = None
                          ) -> tuple[CepstralChange, dict[int, CepstralChange]]:
    """The average `source` -> `target` change of `actors` (a model's training actors, never
    the validation or test actors), each actor's frames of either emotion pooled.

    The arguments are corpus.measured_by_actor's; `measure` gives a path's CepstralMoments or
    None (default: load the file and `utterance_moments`; a cache can stand in). Returns (the
    average change, each actor's own), within the limits; UserError when no actor in `actors`
    has measurable clips of both emotions.
    """

    if measure is None:
        def measure(path: Any) -> CepstralMoments | None:
            return utterance_moments(load_audio(path))

    def change(shift: np.ndarray, log_ratio: np.ndarray) -> CepstralChange:
        shift = np.clip(shift, -SHIFT_LIMIT, SHIFT_LIMIT)
        shift[0] = 0.0
        ratio = np.clip(np.exp(log_ratio), *SPREAD_RANGE)
        return CepstralChange(tuple(float(s) for s in shift), tuple(float(r) for r in ratio))

    differences = {}
    for actor, sides in measured_by_actor(files, source=source, target=target, actors=actors,
                                          measure=measure).items():
        (calm_mean, calm_std), (target_mean, target_std) = map(pooled_moments, sides)
        differences[actor] = (target_mean - calm_mean, np.log(target_std / calm_std))
    per_actor = {actor: change(*d) for actor, d in differences.items()}
    shifts, log_ratios = zip(*differences.values())
    return change(np.mean(shifts, axis=0), np.mean(log_ratios, axis=0)), per_actor

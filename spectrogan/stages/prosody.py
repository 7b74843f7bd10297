"""Emotional prosody: how an emotion moves the pitch level, the pitch range and the speaking rate
of calm speech, learned from the training actors, and the pure transforms that apply it.

What carries happy, fearful, sad and surprised speech is mostly prosody, which a spectrogram
model that keeps the voice's harmonics (the envelope preset, the envelope cut) leaves alone.
A `ProsodyChange` is three numbers per emotion pair, each a change relative to the speaker's
own calm speech, so it transfers to speakers and sentences it never saw:

- `f0_shift_semitones`: the utterance's pitch level (median log-F0 over voiced frames) moves
  by this many semitones;
- `f0_spread_ratio`: the utterance's pitch range (log-F0 around that median) is multiplied by
  this, so a livelier contour keeps its own shape;
- `duration_ratio`: the utterance lasts this many times as long (< 1: spoken faster).

`learn_prosody_change` measures them on RAVDESS: per training actor, the target emotion's
clips against the same actor's calm clips (the actor's own voice cancels), then averaged over
actors. `map_f0` applies the pitch part to an F0 track and `ProsodyChange.inverse` undoes it;
vocoder.stretch_time applies the rate. Strength scales all three (`ProsodyChange.scaled`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from spectrogan.audio.audio_files import load_audio
from spectrogan.data.corpus import measured_by_actor
from spectrogan.core.errors import UserError
from spectrogan.audio.loudness import frame_energy_db
from spectrogan.audio.pitch import F0_MAX, F0_MIN
from spectrogan.audio.spectro import HOP_LENGTH, SAMPLE_RATE
from spectrogan.core.strength import scale_ratio, scale_shift
from spectrogan.audio.vocoder import (WORLD_FRAME_PERIOD_MS, WorldFeatures, stretch_time, with_f0,
                                     world_f0)
from spectrogan.stages.stage import Stage, StageContext

# What a config may ask for: a shift of an octave either way, the range a quarter to four
# times as wide, half to twice the duration.
F0_SHIFT_LIMIT_SEMITONES = 12.0
F0_SPREAD_RANGE = (0.25, 4.0)
DURATION_RANGE = (0.5, 2.0)
# The pitch range of an utterance: the 10th to 90th percentile of its voiced log-F0, which
# ignores the few octave errors any F0 tracker makes (a standard deviation does not).
SPREAD_PERCENTILES = (10.0, 90.0)
MIN_VOICED_FRAMES = 5  # fewer voiced frames than this: no pitch to measure or move
# A speech frame (for the duration) is voiced and within this of the clip's loudest frame:
# on RAVDESS, 30 dB keeps every syllable and drops the breaths a 40 dB span lets in.
SPAN_DB = 30.0


@dataclass(frozen=True)
class ProsodyChange(Stage):
    """A change of pitch level, pitch range and duration (the identity by default)."""

    f0_shift_semitones: float = 0.0
    f0_spread_ratio: float = 1.0
    duration_ratio: float = 1.0

    key: ClassVar[str] = "prosody"
    vocoders: ClassVar[tuple[str, ...]] = ("world",)
    learned_by: ClassVar[str] = "tools/choose_prosody.py"
    title: ClassVar[str] = "the prosody change"
    moves_prosody: ClassVar[bool] = True

    def __post_init__(self) -> None:
        checks = {"f0_shift_semitones": (-F0_SHIFT_LIMIT_SEMITONES, F0_SHIFT_LIMIT_SEMITONES),
                  "f0_spread_ratio": F0_SPREAD_RANGE, "duration_ratio": DURATION_RANGE}
        for name, (low, high) in checks.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low:g} to {high:g}, "
                                 f"got {value!r}")

    @property
    def is_identity(self) -> bool:
        """True when applying it changes nothing."""
        return self == ProsodyChange()

    def scaled(self, strength: float) -> ProsodyChange:
        """This change applied `strength` of the way (0: the identity, 1: itself): the shift
        times `strength`, the ratios to the power `strength`."""
        return ProsodyChange(scale_shift(self.f0_shift_semitones, strength),
                             scale_ratio(self.f0_spread_ratio, strength),
                             scale_ratio(self.duration_ratio, strength))

    def inverse(self) -> ProsodyChange:
        """The change that undoes this one (`map_f0` of a mapped track with it gives the
        original back, the output's median being the new centre)."""
        return ProsodyChange(-self.f0_shift_semitones, 1.0 / self.f0_spread_ratio,
                             1.0 / self.duration_ratio)

    def describe(self) -> str:
        """In words, for messages and the results page: '+5.9 semitones, range x1.6, ...'."""
        return (f"pitch {self.f0_shift_semitones:+.1f} semitones, pitch range "
                f"x{self.f0_spread_ratio:.2f}, duration x{self.duration_ratio:.2f}")

    def apply(self, signal: WorldFeatures, context: StageContext) -> WorldFeatures:
        """WORLD features with the F0 track mapped (`map_f0`) and the frames stretched to
        `duration_ratio` times as many (vocoder.stretch_time)."""
        if self.is_identity:
            return signal
        return stretch_time(with_f0(signal, map_f0(signal.f0, self)), self.duration_ratio)

    def to_config(self) -> dict[str, float]:
        """The config.json form ("inference": {"prosody": {...}})."""
        return {name: round(float(value), 4) for name, value in asdict(self).items()}

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> ProsodyChange:
        """Read a config.json "prosody" entry; UserError naming `where` when malformed."""
        if not isinstance(entry, dict) or not set(entry) <= set(cls.__dataclass_fields__):
            raise UserError(f"{where}: inference.prosody must be an object with "
                            f"{', '.join(cls.__dataclass_fields__)}; got {entry!r}")
        try:
            return cls(**entry)
        except ValueError as exc:
            raise UserError(f"{where}: inference.prosody.{exc}") from None


def centre_and_spread(log2_f0: np.ndarray) -> tuple[float, float]:
    """(median, 10th-90th percentile range) of a non-empty 1-D array of log2 F0 values (any
    reference): a contour's level and range as this change measures and moves them."""
    values = np.asarray(log2_f0, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"log2_f0 must be a non-empty 1-D array, got shape {values.shape}")
    low, high = np.percentile(values, SPREAD_PERCENTILES)
    return float(np.median(values)), float(high - low)


def log2_f0_centre_and_spread(f0: np.ndarray) -> tuple[float, float] | None:
    """`centre_and_spread` of log2 F0 over the voiced frames (f0 > 0), in octaves; None with
    fewer than MIN_VOICED_FRAMES voiced frames."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = np.log2(f0[f0 > 0])
    if voiced.size < MIN_VOICED_FRAMES:
        return None
    return centre_and_spread(voiced)


def map_f0(f0: np.ndarray, change: ProsodyChange) -> np.ndarray:
    """Move an F0 track's level and range by `change`, around its own median.

    log2 F0' = c + shift / 12 + (log2 F0 - c) * spread_ratio, c the median log2 F0 of the
    voiced frames; the result is clipped to pitch.F0_MIN..F0_MAX. Unvoiced frames (0) stay 0.
    The duration is not this function's (vocoder.stretch_time).

    Args:
        f0: float (T,) Hz, 0 where unvoiced.
        change: the ProsodyChange to apply.
    Returns:
        float64 (T,) Hz; `f0` unchanged when it has fewer than MIN_VOICED_FRAMES voiced frames.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    if f0.ndim != 1:
        raise ValueError(f"f0 must be 1-D, got shape {f0.shape}")
    stats = log2_f0_centre_and_spread(f0)
    if stats is None or (change.f0_shift_semitones == 0 and change.f0_spread_ratio == 1):
        return f0.copy()
    centre = stats[0]
    voiced = f0 > 0
    out = np.zeros_like(f0)
    moved = centre + change.f0_shift_semitones / 12.0 \
        + (np.log2(f0[voiced]) - centre) * change.f0_spread_ratio
    out[voiced] = np.clip(2.0 ** moved, F0_MIN, F0_MAX)
    return out


@dataclass(frozen=True)
class UtteranceProsody:
    """One clip's prosody: median log2 F0 and its range (octaves), and speech duration (s)."""

    centre_octaves: float
    spread_octaves: float
    duration_s: float


def speech_frames(audio: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Boolean (T,) mask of the WORLD frames of `f0` (vocoder.world_f0 of `audio`) that are
    speech: voiced and within SPAN_DB of the clip's loudest STFT frame."""

    energy = frame_energy_db(audio)
    on_world_grid = np.interp(np.arange(f0.size) * WORLD_FRAME_PERIOD_MS / 1000.0,
                              np.arange(energy.size) * HOP_LENGTH / SAMPLE_RATE, energy)
    return (np.asarray(f0) > 0) & (on_world_grid >= energy.max() - SPAN_DB)


def utterance_prosody(audio: np.ndarray) -> UtteranceProsody | None:
    """The prosody of one clip, with the conversion's own F0 tracker (vocoder.world_f0).

    The duration is the span from the first to the last `speech_frames` frame (voiced and
    within SPAN_DB of the clip's loudest frame): breaths and room noise before or after the
    sentence (RAVDESS has both) lengthen an energy span, and the F0 tracker calls some of
    them voiced. None when the clip has too little voicing to measure.
    """

    f0 = world_f0(audio)
    stats = log2_f0_centre_and_spread(f0)
    if stats is None:
        return None
    speech = np.flatnonzero(speech_frames(audio, f0))
    if speech.size == 0:
        return None
    duration = (int(speech[-1]) - int(speech[0]) + 1) * WORLD_FRAME_PERIOD_MS / 1000.0
    return UtteranceProsody(stats[0], stats[1], duration)


def prosody_change_between(source: Sequence[UtteranceProsody],
                           target: Sequence[UtteranceProsody]) -> ProsodyChange:
    """The change that takes one speaker's `source` clips to their `target` clips: the
    difference of mean centres (semitones) and the ratios of mean spreads and durations."""
    if not source or not target:
        raise ValueError("prosody_change_between needs clips on both sides")

    def mean(clips: Sequence[UtteranceProsody], name: str) -> float:
        return float(np.mean([getattr(c, name) for c in clips]))

    shift = 12.0 * (mean(target, "centre_octaves") - mean(source, "centre_octaves"))
    # One speaker's extreme is kept at the allowed limit rather than refused: the average
    # over speakers is what a model applies.
    return ProsodyChange(
        float(np.clip(shift, -F0_SHIFT_LIMIT_SEMITONES, F0_SHIFT_LIMIT_SEMITONES)),
        float(np.clip(mean(target, "spread_octaves") / mean(source, "spread_octaves"),
                      *F0_SPREAD_RANGE)),
        float(np.clip(mean(target, "duration_s") / mean(source, "duration_s"),
                      *DURATION_RANGE)))


def average_changes(changes: Sequence[ProsodyChange]) -> ProsodyChange:
    """The mean of several speakers' changes: arithmetic for the shift, geometric for the
    ratios, each kept within the allowed ranges."""
    if not changes:
        raise ValueError("average_changes needs at least one change")

    def geometric(name: str, bounds: tuple[float, float]) -> float:
        value = math.exp(float(np.mean([math.log(getattr(c, name)) for c in changes])))
        return float(np.clip(value, *bounds))

    shift = float(np.mean([c.f0_shift_semitones for c in changes]))
    return ProsodyChange(float(np.clip(shift, -F0_SHIFT_LIMIT_SEMITONES, F0_SHIFT_LIMIT_SEMITONES)),
                         geometric("f0_spread_ratio", F0_SPREAD_RANGE),
                         geometric("duration_ratio", DURATION_RANGE))


def learn_prosody_change(files: Sequence[Any], *, source: str, target: str,
                         actors: Sequence[int], measure: Any = None
                         ) -> tuple[ProsodyChange, dict[int, ProsodyChange]]:
    """The average `source` -> `target` prosody change of `actors` (a model's training actors).

    Args:
        files: corpus.RavdessFile records (path, emotion, actor), e.g. corpus.scan_ravdess.
        source, target: emotion names as the records spell them.
        actors: whose clips count; never the validation or test actors.
        measure: called with a path, returns its UtteranceProsody or None (default: load the
            file and `utterance_prosody`); a cache can stand in.
    Returns:
        (the average change, each actor's own change).
    Raises:
        UserError when no actor in `actors` has measurable clips of both emotions.
    """

    if measure is None:
        def measure(path: Any) -> UtteranceProsody | None:
            return utterance_prosody(load_audio(path))

    per_actor = {actor: prosody_change_between(*sides) for actor, sides in measured_by_actor(
        files, source=source, target=target, actors=actors, measure=measure).items()}
    return average_changes(list(per_actor.values())), per_actor

"""The WORLD vocoder path: analysis into F0, spectral envelope and aperiodicity, the changes a
conversion makes to them, and one synthesis.

Griffin-Lim (spectro.py) rebuilds audio from a magnitude image, so the pitch and timing it
gives back are the input's. WORLD (Morise et al. 2016, the pyworld package) separates them:
`world_analyse` gives the F0 track, the smooth spectral envelope and the aperiodicity on a
WORLD_FRAME_PERIOD_MS grid; the image model's envelope correction (`correct_envelope`), the
pitch change (prosody.map_f0) and the speaking-rate change (`stretch_time`) then act on those,
and `world_synthesise` makes the audio once. Changing the envelope and the prosody in one pass
keeps the words: a second analysis of an already vocoded clip costs them.

Pure functions: float audio and arrays in, new arrays out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np

from spectrogan.audio.pitch import F0_MAX, F0_MIN
from spectrogan.audio.spectro import HOP_LENGTH, N_BINS, SAMPLE_RATE

WORLD_FRAME_PERIOD_MS = 5.0  # WORLD's analysis hop: finer than the STFT's 16 ms, for the contour
FRAME_SAMPLES = int(SAMPLE_RATE * WORLD_FRAME_PERIOD_MS / 1000)
# Harvest runs once over the whole signal, the slow part of a long file's analysis: inputs
# longer than one piece plus its margins are tracked piece by piece (each with a margin of
# context on both sides, wider than Harvest's longest window), so a progress bar moves and a
# clip of ordinary length is analysed exactly as in one call.
F0_PIECE_S = 8.0
F0_MARGIN_S = 1.0


@dataclass(frozen=True)
class WorldFeatures:
    """One utterance in WORLD's terms, on a WORLD_FRAME_PERIOD_MS grid of T frames.

    f0: float64 (T,) Hz, 0 where unvoiced. envelope: float64 (T, B) power spectral envelope
    (B = fft_size // 2 + 1 bins from 0 Hz to SAMPLE_RATE / 2). aperiodicity: float64 (T, B)
    in [0, 1].
    """

    f0: np.ndarray
    envelope: np.ndarray
    aperiodicity: np.ndarray

    def __post_init__(self) -> None:
        frames = self.f0.shape[0]
        if self.f0.ndim != 1 or self.envelope.ndim != 2 or self.envelope.shape[0] != frames \
                or self.aperiodicity.shape != self.envelope.shape:
            raise ValueError(f"WorldFeatures need f0 (T,), envelope and aperiodicity (T, B) of "
                             f"one T; got {self.f0.shape}, {self.envelope.shape}, "
                             f"{self.aperiodicity.shape}")


def world_library() -> ModuleType:
    """The pyworld module, imported on first use (a conversion that never reaches WORLD does
    not pay for it). pyworld 0.3 imports setuptools' pkg_resources, whose deprecation warning
    says nothing to a user of this program: it is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                                category=UserWarning)
        import pyworld
    return pyworld


def _as_float64(audio: np.ndarray) -> np.ndarray:
    audio = np.ascontiguousarray(audio, dtype=np.float64)
    if audio.ndim != 1 or audio.shape[0] < 1:
        raise ValueError(f"audio must be non-empty mono 1-D, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio holds NaN or infinite samples")
    return audio


F0_TRACKERS = ("harvest", "dio")
F0_RANGES = ("fixed", "speaker")
# A speaker's calm speech stays within about an octave of its median F0; tracking in that band
# keeps Harvest and DIO from the octave jumps (half or double the true F0) that a 60-600 Hz
# search makes on low male or breathy voices, and that cost words after synthesis.
SPEAKER_OCTAVES_BELOW = 1.0
SPEAKER_OCTAVES_ABOVE = 1.0
DIO_ALLOWED_RANGE = 0.1  # WORLD's default voicing tolerance of DIO
MIN_VOICED_FRAMES = 20  # fewer voiced frames than this in the first pass: keep the fixed range
# CheapTrick's FFT size follows from the lowest F0 it must resolve; fixed at pitch.F0_MIN's so
# that the envelope's resolution (and the bins the learned changes act on) never depends on
# the range the tracker searched.
ENVELOPE_FFT_SIZE = 1024


@dataclass(frozen=True)
class WorldAnalysis:
    """How `world_analyse` tracks F0 and estimates aperiodicity.

    f0_tracker: 'harvest' (Morise 2017: robust voicing, slow) or 'dio' (Morise 2009, refined
        by StoneMask: about ten times faster). f0_range: 'fixed' searches pitch.F0_MIN..F0_MAX;
        'speaker' first tracks with DIO over that range, then searches the octave band around
        the clip's median voiced F0 (SPEAKER_OCTAVES_BELOW/ABOVE, clamped to F0_MIN..F0_MAX).
        aperiodicity_threshold: D4C's voicing threshold in [0, 1] (0 keeps every frame the
        tracker voiced; WORLD's default 0.85 unvoices frames that look aperiodic).
        dio_allowed_range: DIO's voicing tolerance (> 0; WORLD's default 0.1): how far its
        F0 candidates may disagree and the frame still count as voiced. At 0.1 DIO leaves
        most of a noisy recording's voiced frames unvoiced; Harvest ignores it.
    """

    f0_tracker: str = "harvest"
    f0_range: str = "fixed"
    aperiodicity_threshold: float = 0.85
    dio_allowed_range: float = DIO_ALLOWED_RANGE

    def __post_init__(self) -> None:
        if self.f0_tracker not in F0_TRACKERS:
            raise ValueError(f"f0_tracker must be one of {F0_TRACKERS}, got {self.f0_tracker!r}")
        if self.f0_range not in F0_RANGES:
            raise ValueError(f"f0_range must be one of {F0_RANGES}, got {self.f0_range!r}")
        if not 0.0 <= self.aperiodicity_threshold <= 1.0:
            raise ValueError("aperiodicity_threshold must be in [0, 1], got "
                             f"{self.aperiodicity_threshold}")
        if not 0.0 < self.dio_allowed_range <= 1.0:
            raise ValueError(f"dio_allowed_range must be in (0, 1], got {self.dio_allowed_range}")

    @property
    def options(self) -> str:
        """The options in words, e.g. 'dio, speaker range, D4C 0.85'."""
        tracker = self.f0_tracker
        if tracker == "dio" and self.dio_allowed_range != DIO_ALLOWED_RANGE:
            tracker += f" (voicing {self.dio_allowed_range:g})"
        return f"{tracker}, {self.f0_range} range, D4C {self.aperiodicity_threshold:g}"

    @property
    def name(self) -> str:
        """Short label, e.g. 'WORLD (dio, speaker range, D4C 0.85)'."""
        return f"WORLD ({self.options})"

    def record(self) -> dict[str, object]:
        """The options as a JSON-ready dict (metrics.json's record of the vocoder)."""
        return {"f0_tracker": self.f0_tracker, "f0_range": self.f0_range,
                "aperiodicity_threshold": self.aperiodicity_threshold,
                "dio_allowed_range": self.dio_allowed_range}


# The analysis every conversion uses, chosen on both corpora's validation actors by
# tools/choose_vocoder.py (docs/performance.md): against WORLD's defaults (Harvest over
# 60-600 Hz, D4C 0.85) the speaker's own range lost fewer words (open word error over the
# input's 0.06 instead of 0.12 on CREMA-D, 0.07 instead of 0.10 on RAVDESS) and CREMA-D's
# naturalness (0.00 instead of -0.08); DIO, four times as fast, lost half of CREMA-D's voiced
# frames.
SHIPPED_ANALYSIS = WorldAnalysis("harvest", "speaker", 0.0)


def _track(audio: np.ndarray, tracker: str, f0_floor: float, f0_ceil: float,
           allowed_range: float = DIO_ALLOWED_RANGE) -> np.ndarray:
    pyworld = world_library()

    if tracker == "harvest":
        f0, _ = pyworld.harvest(audio, SAMPLE_RATE, f0_floor=f0_floor, f0_ceil=f0_ceil,
                                frame_period=WORLD_FRAME_PERIOD_MS)
        return f0
    f0, times = pyworld.dio(audio, SAMPLE_RATE, f0_floor=f0_floor, f0_ceil=f0_ceil,
                            frame_period=WORLD_FRAME_PERIOD_MS, allowed_range=allowed_range)
    return pyworld.stonemask(audio, f0, times, SAMPLE_RATE)


def f0_search_range(audio: np.ndarray, *, analysis: WorldAnalysis = SHIPPED_ANALYSIS
                    ) -> tuple[float, float]:
    """(floor, ceiling) in Hz that `world_f0` searches for this clip (see WorldAnalysis)."""
    if analysis.f0_range == "fixed":
        return F0_MIN, F0_MAX
    first = _track(_as_float64(audio), "dio", F0_MIN, F0_MAX)
    voiced = first[first > 0]
    if voiced.size < MIN_VOICED_FRAMES:
        return F0_MIN, F0_MAX
    median = float(np.median(voiced))
    return (max(F0_MIN, median * 2.0 ** -SPEAKER_OCTAVES_BELOW),
            min(F0_MAX, median * 2.0 ** SPEAKER_OCTAVES_ABOVE))


def world_f0(audio: np.ndarray, *, analysis: WorldAnalysis = SHIPPED_ANALYSIS,
             progress: Callable[[float], None] | None = None) -> np.ndarray:
    """WORLD's F0 track (`analysis`'s tracker and range): float64 (T,) Hz, 0 where unvoiced,
    one frame per WORLD_FRAME_PERIOD_MS (T = L // FRAME_SAMPLES + 1 for L samples).

    A signal longer than F0_PIECE_S + 2 F0_MARGIN_S is tracked in pieces of F0_PIECE_S,
    each read with F0_MARGIN_S of context either side (one search range for the whole
    signal); `progress` is called with the fraction done after each piece."""
    audio = _as_float64(audio)
    floor, ceiling = f0_search_range(audio, analysis=analysis)
    piece, margin = (int(seconds * SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES
                     for seconds in (F0_PIECE_S, F0_MARGIN_S))
    if audio.shape[0] <= piece + 2 * margin:
        f0 = _track(audio, analysis.f0_tracker, floor, ceiling, analysis.dio_allowed_range)
        if progress is not None:
            progress(1.0)
        return f0
    frames = audio.shape[0] // FRAME_SAMPLES + 1
    f0 = np.zeros(frames)
    for start in range(0, audio.shape[0], piece):
        begin = max(0, start - margin)
        local = _track(audio[begin:start + piece + margin], analysis.f0_tracker, floor, ceiling,
                       analysis.dio_allowed_range)
        # The last piece runs to the signal's last frame, whatever its rounding.
        first = start // FRAME_SAMPLES
        last = frames if start + piece >= audio.shape[0] else (start + piece) // FRAME_SAMPLES
        offset = begin // FRAME_SAMPLES
        f0[first:last] = local[first - offset:last - offset]
        if progress is not None:
            progress(min(1.0, (start + piece) / audio.shape[0]))
    return f0


def world_envelope(audio: np.ndarray, *, analysis: WorldAnalysis = SHIPPED_ANALYSIS,
                   progress: Callable[[float], None] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(F0 (T,) Hz, CheapTrick power envelope (T, B), B = ENVELOPE_FFT_SIZE // 2 + 1) of mono
    audio at SAMPLE_RATE: `world_analyse` without the aperiodicity, for measuring;
    `analysis` and `progress` as `world_f0`'s."""
    pyworld = world_library()

    audio = _as_float64(audio)
    f0 = world_f0(audio, analysis=analysis, progress=progress)
    return f0, pyworld.cheaptrick(audio, f0, _frame_times(f0), SAMPLE_RATE,
                                  fft_size=ENVELOPE_FFT_SIZE)


def _frame_times(f0: np.ndarray) -> np.ndarray:
    return np.arange(f0.size) * WORLD_FRAME_PERIOD_MS / 1000.0


def world_analyse(audio: np.ndarray, *, analysis: WorldAnalysis = SHIPPED_ANALYSIS,
                  progress: Callable[[float], None] | None = None) -> WorldFeatures:
    """Analyse mono audio at SAMPLE_RATE: F0 (`analysis`'s tracker), CheapTrick envelope, D4C
    aperiodicity. `progress` is called with the fraction of the F0 tracking done (the slow
    part)."""
    pyworld = world_library()

    f0, envelope = world_envelope(audio, analysis=analysis, progress=progress)
    aperiodicity = pyworld.d4c(_as_float64(audio), f0, _frame_times(f0), SAMPLE_RATE,
                               threshold=analysis.aperiodicity_threshold,
                               fft_size=ENVELOPE_FFT_SIZE)
    return WorldFeatures(f0, envelope, aperiodicity)


def world_synthesise(features: WorldFeatures) -> np.ndarray:
    """Inverse of `world_analyse`: float32 mono audio at SAMPLE_RATE (about T frames long)."""
    pyworld = world_library()

    audio = pyworld.synthesize(np.ascontiguousarray(features.f0),
                               np.ascontiguousarray(features.envelope),
                               np.ascontiguousarray(features.aperiodicity), SAMPLE_RATE,
                               frame_period=WORLD_FRAME_PERIOD_MS)
    return np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def with_f0(features: WorldFeatures, f0: np.ndarray) -> WorldFeatures:
    """`features` with another F0 track of the same length."""
    return WorldFeatures(np.asarray(f0, dtype=np.float64), features.envelope,
                         features.aperiodicity)


def stretch_time(features: WorldFeatures, ratio: float) -> WorldFeatures:
    """Make the utterance `ratio` times as long (< 1: faster), pitch and envelope kept
    (`warp_time` with every new frame i reading the old track at i / ratio). `ratio` 1 returns
    `features` itself."""
    if not 0.25 <= ratio <= 4.0:
        raise ValueError(f"ratio must be in [0.25, 4], got {ratio}")
    if ratio == 1.0:
        return features
    count = max(1, int(round(features.f0.shape[0] * ratio)))
    return warp_time(features, np.arange(count) / ratio)


def warp_time(features: WorldFeatures, positions: np.ndarray) -> WorldFeatures:
    """New frames read from the old track at `positions` (float (T',) frame indices, clipped
    to the track): the envelope (in log) and the aperiodicity interpolated linearly, F0
    interpolated in log between voiced neighbours and taken from the nearer frame at a voicing
    boundary. The timing of an utterance changes; its pitch and envelope do not."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 1 or positions.size < 1 or not np.all(np.isfinite(positions)):
        raise ValueError(f"positions must be a non-empty finite 1-D array, got shape "
                         f"{positions.shape}")
    frames = features.f0.shape[0]
    position = np.clip(positions, 0.0, frames - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, frames - 1)
    weight = (position - low)[:, None]

    def blend(track: np.ndarray) -> np.ndarray:
        return track[low] * (1.0 - weight) + track[high] * weight

    envelope = np.exp(blend(np.log(np.maximum(features.envelope, 1e-300))))
    aperiodicity = np.clip(blend(features.aperiodicity), 0.0, 1.0)
    f0 = features.f0
    nearer = np.where(weight[:, 0] < 0.5, low, high)
    both = (f0[low] > 0) & (f0[high] > 0)
    new_f0 = f0[nearer].copy()
    new_f0[both] = np.exp(np.log(f0[low[both]]) * (1.0 - weight[both, 0])
                          + np.log(f0[high[both]]) * weight[both, 0])
    return WorldFeatures(new_f0, envelope, aperiodicity)


def correct_envelope(features: WorldFeatures, correction_db: np.ndarray) -> WorldFeatures:
    """Apply an image model's spectral change to WORLD's envelope.

    Args:
        features: the input's analysis (T frames on the WORLD grid, B bins).
        correction_db: float (N_BINS, F) change in dB per STFT bin and STFT frame of the same
            input (frame j centred at j * HOP_LENGTH samples), e.g. the model's output image
            minus its input image, in dB. It is interpolated linearly onto WORLD's bins and
            frames (held constant past either end).
    Returns:
        the features with envelope * 10 ** (correction / 10) (a power envelope).
    """
    correction_db = np.asarray(correction_db, dtype=np.float64)
    if correction_db.ndim != 2 or correction_db.shape[0] != N_BINS:
        raise ValueError(f"correction_db must have shape ({N_BINS}, F), got "
                         f"{correction_db.shape}")
    frames, bins = features.envelope.shape
    stft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_BINS)
    world_hz = np.linspace(0.0, SAMPLE_RATE / 2, bins)
    on_bins = np.stack([np.interp(world_hz, stft_hz, column) for column in correction_db.T])
    stft_frame_s = np.arange(correction_db.shape[1]) * HOP_LENGTH / SAMPLE_RATE
    world_frame_s = np.arange(frames) * WORLD_FRAME_PERIOD_MS / 1000.0
    on_grid = np.stack([np.interp(world_frame_s, stft_frame_s, row) for row in on_bins.T],
                       axis=1)
    return WorldFeatures(features.f0, features.envelope * 10.0 ** (on_grid / 10.0),
                         features.aperiodicity)

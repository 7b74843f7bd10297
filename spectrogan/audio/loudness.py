"""Loudness: how loud speech is, keeping a conversion at its input's loudness, changing it on
request, and a peak limiter so nothing clips.

A conversion must not change how loud a recording is: a user's recording has no headroom to be
made louder, and a listener at a fixed volume hears a louder clip as louder, not as angrier.
`keep_loudness` brings a converted clip's integrated loudness (ITU-R BS.1770, `loudness_db`,
measured by pyloudnorm: what a listener and a broadcast meter hear) back to the input's, plus
an optional change the user asks for, and
`limit_peaks` holds every sample below full scale by lowering only the few milliseconds around
a peak (a scale-down of the whole clip would cost the level); where that cannot reach the level
(peaks every few milliseconds), `soft_knee` rounds them off instead.

All functions are pure: float audio in, float32 audio (or a number) out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from spectrogan.audio.spectro import SAMPLE_RATE, frames_of

TRIM_DB = 40.0  # frames this far below the clip's loudest are silence, not speech
OUTPUT_PEAK = 0.99  # the highest sample magnitude a converted result may reach (-0.09 dB FS)
LIMITER_WINDOW_S = 0.005  # the limiter's gain moves over 5 ms: short enough to spare the level
MAKEUP_ROUNDS = 12  # make-up gain steps before the limiter (keep_loudness)
MAKEUP_STEP_LIMIT_DB = 12.0  # the largest of those steps
SOFT_KNEE_FRACTION = 0.5  # soft_knee leaves samples below half the ceiling alone
SOFT_KNEE_SHORTFALL_DB = 0.5  # the limiter alone falling this short calls for the soft knee
MAKEUP_TOLERANCE_DB = 0.1  # speech this close to the wanted level needs no more make-up gain
# A level change may raise a clip until all but its loudest 0.1% of samples reach the ceiling:
# the limiter shapes those few peaks unheard, while raising the loud parts past full scale
# would flatten every syllable into a square wave.
HEADROOM_QUANTILE = 0.999


def frame_energy_db(audio: np.ndarray) -> np.ndarray:
    """Frame RMS in dB full scale (a full-scale sine is -3 dB), float64 (T,), on the STFT
    frames of the project (N_FFT window, HOP_LENGTH hop, centred: spectro.frames_of)."""
    frames = frames_of(np.asarray(audio, dtype=np.float32))
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def active_frames(energy_db: np.ndarray, *, top_db: float = TRIM_DB) -> np.ndarray:
    """Boolean mask of the frames within `top_db` of the loudest (speech, not silence).

    The frame energies are median-filtered over 5 frames (80 ms) first, so an isolated click
    (e.g. one bad sample at the end of a Griffin-Lim output) neither counts as speech nor
    sets the reference level.
    """
    from scipy.ndimage import median_filter

    energy_db = np.asarray(energy_db, dtype=np.float64)
    # Pad with the quietest level: a click in the last two frames must not fill the window.
    smooth = median_filter(energy_db, size=min(5, energy_db.shape[0]), mode="constant",
                           cval=float(energy_db.min()))
    return smooth >= smooth.max() - top_db


def speech_level_db(audio: np.ndarray) -> float:
    """A clip's speech level: mean frame energy (dB FS) over its active frames. The same
    change in dB as a gain applied to the clip (the active frames do not move with gain)."""
    energy = frame_energy_db(audio)
    active = active_frames(energy)
    return float(energy[active].mean() if active.sum() >= 2 else energy.mean())


BS1770_BLOCK_S = 0.4  # BS.1770's gating block: a clip must be longer to have a loudness


@functools.lru_cache(maxsize=1)
def _meter() -> object:
    import pyloudnorm

    return pyloudnorm.Meter(SAMPLE_RATE)  # BS.1770-4: K-weighting, 400-ms blocks, gating


def loudness_db(audio: np.ndarray) -> float:
    """Integrated loudness of mono audio at SAMPLE_RATE, ITU-R BS.1770-4 (pyloudnorm), in LUFS;
    -inf when every block falls under BS.1770's absolute gate (-70 LUFS) or the clip is no
    longer than one 400-ms block (see `keep_loudness` for what stands in then)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.shape[0] <= int(BS1770_BLOCK_S * SAMPLE_RATE) or not np.any(audio):
        return -math.inf
    return float(_meter().integrated_loudness(audio))


def loudness_measure(*clips: np.ndarray) -> Callable[[np.ndarray], float]:
    """The measure that compares `clips` (and gains of them): `loudness_db` where each has a
    BS.1770 loudness, else `speech_level_db` (a clip under 0.4 s, or one quieter than
    -70 LUFS). Either moves dB for dB with gain."""
    if all(math.isfinite(loudness_db(clip)) for clip in clips):
        return loudness_db
    return speech_level_db


def at_speech_level(audio: np.ndarray, *, level_db: float) -> np.ndarray:
    """`audio` scaled so its speech level (`speech_level_db`) is `level_db` dB FS.

    Args:
        audio: mono float (L,), any level; all-zero audio is returned unchanged.
        level_db: the wanted speech level, dB FS.
    Returns:
        float32 (L,); may exceed full scale (a level for analysis: nothing is limited).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if not np.any(audio):
        return audio
    gain_db = level_db - speech_level_db(audio)
    return (audio.astype(np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def limit_peaks(audio: np.ndarray, *, ceiling: float = OUTPUT_PEAK,
                window_s: float = LIMITER_WINDOW_S) -> np.ndarray:
    """A look-ahead peak limiter: every |sample| <= `ceiling`, with the gain lowered only
    around the samples that would pass it and moving smoothly (no clipping, no click).

    The gain each sample needs, min(1, ceiling / local peak), is taken as the minimum over
    two windows and then averaged over one, so the smoothed gain never exceeds what any
    sample in reach needs: the ceiling holds exactly.

    Args:
        audio: float (L,), any level.
        ceiling: the highest magnitude allowed, > 0.
        window_s: the attack and release time in seconds, > 0.
    Returns:
        float32 (L,); `audio` unchanged (as float32) when it is already within the ceiling.
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

    if not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    if not window_s > 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    audio = np.asarray(audio, dtype=np.float32)
    if not np.size(audio) or float(np.max(np.abs(audio))) <= ceiling:
        return audio
    width = max(1, int(round(window_s * SAMPLE_RATE)))
    magnitude = np.abs(audio.astype(np.float64))
    needed = np.minimum(1.0, ceiling / np.maximum(maximum_filter1d(magnitude, 2 * width + 1),
                                                  1e-12))
    gain = uniform_filter1d(minimum_filter1d(needed, 2 * width + 1), width + 1 - width % 2)
    limited = audio.astype(np.float64) * np.minimum(gain, needed)
    return np.clip(limited, -ceiling, ceiling).astype(np.float32)


def soft_knee(audio: np.ndarray, *, ceiling: float = OUTPUT_PEAK) -> np.ndarray:
    """Round off every sample above half the ceiling: a tanh curve from there that meets
    the line y = x with the same slope and never reaches `ceiling`. float32 (L,)."""
    if not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    audio = np.asarray(audio, dtype=np.float64)
    knee = SOFT_KNEE_FRACTION * ceiling
    magnitude = np.abs(audio)
    room = ceiling - knee
    rounded = np.where(magnitude > knee, knee + room * np.tanh((magnitude - knee) / room),
                       magnitude)
    return (np.sign(audio) * rounded).astype(np.float32)


def _make_up(level: np.ndarray, target_db: float,
             shape: Callable[[np.ndarray], np.ndarray],
             measure: Callable[[np.ndarray], float]) -> np.ndarray:
    """`shape(level * gain)` with the gain raised until its `measure`d level reaches
    `target_db` (within MAKEUP_TOLERANCE_DB, at most MAKEUP_ROUNDS steps). Shaping peaks
    lowers the level, and the level rises more slowly than the gain, so each step follows the
    slope of the last two (secant) and the target is approached from below."""
    shaped = shape(level)
    gain_db, reached_db, slope = 0.0, measure(shaped), 1.0
    for _ in range(MAKEUP_ROUNDS):
        shortfall_db = target_db - reached_db
        if shortfall_db <= MAKEUP_TOLERANCE_DB or slope <= 0.0:
            break
        step_db = min(shortfall_db / max(slope, 0.05), MAKEUP_STEP_LIMIT_DB)
        shaped = shape(level * np.float32(10.0 ** ((gain_db + step_db) / 20.0)))
        new_reached_db = measure(shaped)
        slope = (new_reached_db - reached_db) / step_db
        gain_db, reached_db = gain_db + step_db, new_reached_db
    return shaped


def headroom_db(audio: np.ndarray, *, ceiling: float = OUTPUT_PEAK) -> float:
    """How many dB `audio` may be raised before its loud parts (all samples but the loudest
    1 - HEADROOM_QUANTILE) pass `ceiling`: >= 0, inf for silence. `audio`: float (L,)."""
    if not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    magnitude = np.abs(np.asarray(audio, dtype=np.float64))
    loud = float(np.quantile(magnitude, HEADROOM_QUANTILE)) if magnitude.size else 0.0
    if loud <= 0.0:
        return math.inf
    return max(0.0, 20.0 * math.log10(ceiling / loud))


def level_change_reached_db(result: np.ndarray, reference: np.ndarray, *,
                            ceiling: float = OUTPUT_PEAK) -> float:
    """The level change `keep_loudness` reached: `result`'s loudness over that of `reference`
    (scaled to fit `ceiling` when it peaks above it), in dB (LU); 0 for silence."""
    reference = np.asarray(reference, dtype=np.float32)
    if not np.any(result) or not np.any(reference):
        return 0.0
    measure = loudness_measure(result, reference)
    return measure(result) - (measure(reference) - _excess_db(reference, ceiling))


def _excess_db(reference: np.ndarray, ceiling: float) -> float:
    """How far a (float) input peaks above `ceiling`, in dB (0 when it does not): its
    loudness counts as scaled down to fit, the most a file can hold."""
    return 20.0 * math.log10(max(float(np.max(np.abs(reference))) / ceiling, 1.0))


LEVEL_SHORTFALL_DB = 0.5  # a level change this far short of the one asked is reported


def level_change_note(asked_db: float, reached_db: float) -> str | None:
    """The sentence that tells a user their level change was held back, or None when what
    was asked is (within LEVEL_SHORTFALL_DB) what was reached."""
    if asked_db - reached_db <= LEVEL_SHORTFALL_DB:
        return None
    reached_db = round(reached_db, 1) + 0.0  # no "-0.0 dB"
    return (f"level changed {reached_db:+.1f} dB of the {asked_db:+.1f} dB asked: the clip's "
            "loud parts reach full scale there, and more would flatten them into distortion")


def keep_loudness(converted: np.ndarray, reference: np.ndarray, *, change_db: float = 0.0,
                  ceiling: float = OUTPUT_PEAK) -> np.ndarray:
    """`converted` at the integrated loudness (BS.1770) of `reference`, the input it was made
    from, plus `change_db`, peak-limited below `ceiling`. A reference peaking above `ceiling`
    counts as scaled down to it; clips without a BS.1770 loudness (`loudness_measure`) are
    matched by speech level instead.

    Args:
        converted: float (L,) audio made from `reference`, any length.
        reference: float (M,) the input recording; its loudness is the target.
        change_db: a change of loudness on top, in dB (0: the input's own); finite. A rise is
            held to the clip's `headroom_db` at the input's loudness, so a loud clip is not
            flattened into distortion (`level_change_reached_db` says how much was applied).
        ceiling: the highest sample magnitude of the result (`limit_peaks`).
    Returns:
        float32 audio of `converted`'s length; silent input or output is returned as it is.
    """
    if not math.isfinite(change_db):
        raise ValueError(f"change_db must be finite, got {change_db}")
    converted = np.asarray(converted, dtype=np.float32)
    if not np.any(converted) or not np.any(reference):
        return converted
    measure = loudness_measure(converted, reference)
    target_db = measure(reference) - _excess_db(reference, ceiling)
    level = _gained(converted, target_db - measure(converted))
    if change_db > 0.0:
        change_db = min(change_db, headroom_db(level, ceiling=ceiling))
    target_db += change_db
    level = _gained(converted, target_db - measure(converted))
    limited = _make_up(level, target_db, lambda audio: limit_peaks(audio, ceiling=ceiling),
                       measure)
    if target_db - measure(limited) > SOFT_KNEE_SHORTFALL_DB:
        # A clip whose peaks crowd every few milliseconds (a noisy or very bright result of
        # an input with no headroom) saturates the limiter below the target: round the
        # peaks off smoothly instead, which costs some distortion but neither level nor
        # a hard clip.
        limited = _make_up(level, target_db, lambda audio: limit_peaks(
            soft_knee(audio, ceiling=ceiling), ceiling=ceiling), measure)
    return limited


def _gained(audio: np.ndarray, gain_db: float) -> np.ndarray:
    return (np.asarray(audio, dtype=np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)

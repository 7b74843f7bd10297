"""Pitch tracking and the pitch shift that keeps the words: a voice's F0 moved, its formants kept.

Emotional speech is spoken higher than calm, and a spectrogram model that keeps the voice's
harmonic fine structure (the envelope preset, the envelope cut) leaves the pitch where it was. `shift_pitch` moves it after
the vocoder by pitch-synchronous overlap-add (TD-PSOLA): two-period grains of the waveform, cut
at one mark per glottal period, are laid down again at marks `ratio` times closer together.
Each grain keeps its own spectral envelope (the formants, hence the words) and only the
spacing of the pulses, the pitch, changes; unvoiced sounds (s, f, t) are passed through as they
were. A phase vocoder, by contrast, smears every frame's phase and moves the formants with the
harmonics, which costs the words (results/pitch_shift.md measures both).

`track_pitch` is the F0 and voicing estimate the shift needs: YIN's period per STFT hop, voiced
where the frame is loud and repeats itself at that period. It is fast, so that converting
long files stays cheap; the evaluation's slower pYIN (metrics.f0_contour) measures the result.
"""

from __future__ import annotations

import numpy as np

from spectrogan.audio.spectro import HOP_LENGTH, SAMPLE_RATE

# The voice's F0 search range and analysis frame, here and for the evaluation's pYIN
# (metrics.f0_contour).
F0_MIN, F0_MAX = 60.0, 600.0  # Hz: low male to high female shouting
F0_FRAME = 1024  # samples (64 ms at 16 kHz) per frame: two periods of F0_MIN
VOICED_CORRELATION = 0.45  # a frame is voiced when it repeats itself at its period this well
VOICED_FLOOR_DB = 40.0  # ... and is no more than this far below the clip's loudest frame
UNVOICED_STEP = 128  # samples between the marks of unvoiced stretches (8 ms)
SNAP_REACH = 0.25  # a voiced mark moves to the waveform peak within this share of a period


def track_pitch(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F0 and voicing per STFT hop (frames centred on multiples of HOP_LENGTH, as spectro.stft).

    Args:
        audio: float (L,) mono audio at SAMPLE_RATE, finite.
    Returns:
        (f0, voiced): float64 (T,) in Hz (YIN's estimate on every frame, F0_MIN..F0_MAX) and
        bool (T,), T = 1 + L // HOP_LENGTH. A frame is voiced when its normalised
        autocorrelation at the YIN period is at least VOICED_CORRELATION and its energy is
        within VOICED_FLOOR_DB of the loudest frame; voiced or unvoiced runs shorter than three
        frames take their neighbours' state.
    """
    import librosa
    from scipy.ndimage import median_filter

    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono 1-D, got shape {audio.shape}")
    n_frames = 1 + len(audio) // HOP_LENGTH
    padded = np.pad(audio, (F0_FRAME // 2, F0_FRAME // 2 + HOP_LENGTH * n_frames))
    frames = np.lib.stride_tricks.sliding_window_view(padded, F0_FRAME)[::HOP_LENGTH][:n_frames]
    f0 = librosa.yin(padded, fmin=F0_MIN, fmax=F0_MAX, sr=SAMPLE_RATE,
                     frame_length=F0_FRAME, hop_length=HOP_LENGTH, center=False)
    f0 = np.resize(np.asarray(f0, dtype=np.float64), n_frames)
    energy = np.einsum("ti,ti->t", frames, frames)
    loud = 10.0 * np.log10(np.maximum(energy, 1e-20)) >= (
        10.0 * np.log10(max(float(energy.max()), 1e-20)) - VOICED_FLOOR_DB)
    correlation = np.zeros(n_frames)
    for t in np.flatnonzero(loud):
        lag = int(round(SAMPLE_RATE / f0[t]))
        head, tail = frames[t, :-lag], frames[t, lag:]
        norm = np.sqrt(head @ head * (tail @ tail))
        correlation[t] = head @ tail / norm if norm > 0 else 0.0
    voiced = loud & (correlation >= VOICED_CORRELATION)
    voiced = median_filter(voiced.astype(np.uint8), size=5, mode="nearest").astype(bool)
    return f0, voiced


def _analysis_marks(audio: np.ndarray, f0: np.ndarray, voiced: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One mark per glottal period where voiced (on the waveform's peak near the predicted
    place), one every UNVOICED_STEP samples elsewhere: (positions, periods in samples, voiced)."""
    positions, periods, flags = [], [], []
    position = 0.0
    last = len(audio) - 1
    while position <= last:
        frame = min(int(round(position / HOP_LENGTH)), len(f0) - 1)
        if voiced[frame]:
            period = SAMPLE_RATE / f0[frame]
            reach = int(period * SNAP_REACH)
            low = max(int(position) - reach, 0)
            if positions:  # never closer than half a period to the mark before
                low = max(low, int(positions[-1] + period / 2))
            high = min(int(position) + reach, last)
            if low <= high:
                position = float(low + int(np.argmax(audio[low:high + 1])))
        else:
            period = float(UNVOICED_STEP)
        positions.append(position)
        periods.append(period)
        flags.append(bool(voiced[frame]))
        position += period
    return np.asarray(positions), np.asarray(periods), np.asarray(flags)


def shift_pitch(audio: np.ndarray, *, ratio: float) -> np.ndarray:
    """Move a voice's pitch by `ratio` and keep its formants and timing (TD-PSOLA).

    Every voiced grain (a Hann-windowed two periods of the input around one analysis mark) is
    laid down at synthesis marks one period / `ratio` apart, each taking the grain of the
    nearest analysis mark (so grains repeat when the pitch goes up and are skipped when it goes
    down, and the duration stays); unvoiced stretches are cut and laid down at the same places.
    The sum is divided by the windows' sum where that exceeds one, and its short-time power is
    then brought back to the input's, so a higher voice is neither louder nor softer. The
    inverse is `shift_pitch(out, ratio=1 / ratio)`, up to the grains' mixing.

    Args:
        audio: float (L,) mono audio at SAMPLE_RATE, finite, any level.
        ratio: frequency factor, 0.5..2.0 (1.0 returns a copy of the input).
    Returns:
        float32 (L,) audio: F0 times `ratio` where voiced, the rest as it was.
    """
    if not 0.5 <= ratio <= 2.0:
        raise ValueError(f"ratio must be in 0.5..2.0, got {ratio}")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono 1-D, got shape {audio.shape}")
    f0, voiced = (track_pitch(audio) if ratio != 1.0 and np.any(audio)
                  else (None, np.zeros(0, bool)))
    if not voiced.any():
        return audio.copy()
    marks, periods, marks_voiced = _analysis_marks(audio, f0, voiced)
    widest = int(np.ceil(periods.max())) + 1
    padded = np.pad(audio.astype(np.float64), widest)
    total = np.zeros(len(padded))
    weight = np.zeros(len(padded))
    windows: dict[int, np.ndarray] = {}
    nearest = 0
    place = marks[0]
    while place <= len(audio) - 1:
        while nearest + 1 < len(marks) and abs(marks[nearest + 1] - place) <= abs(
                marks[nearest] - place):
            nearest += 1
        half = int(round(periods[nearest]))
        window = windows.get(half)
        if window is None:
            window = windows[half] = np.hanning(2 * half + 3)[1:-1]
        if not marks_voiced[nearest]:  # unvoiced: the grain goes back where it was cut
            place = marks[nearest]
        source = int(round(marks[nearest])) + widest
        target = int(round(place)) + widest
        total[target - half:target + half + 1] += padded[source - half:source + half + 1] * window
        weight[target - half:target + half + 1] += window
        place += periods[nearest] / (ratio if marks_voiced[nearest] else 1.0)
    out = (total / np.maximum(weight, 1.0))[widest:widest + len(audio)]
    return _match_power(out, audio).astype(np.float32)


def _match_power(audio: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`audio` with its short-time power (Hann frames of 2 hops, one per HOP_LENGTH) brought to
    `reference`'s, gain interpolated between frame centres: overlapping grains add out of
    phase, so a shifted voice comes out a few dB softer than it went in without this."""
    window = np.hanning(2 * HOP_LENGTH + 1)[:-1]

    def power(signal: np.ndarray) -> np.ndarray:
        padded = np.pad(np.asarray(signal, dtype=np.float64), (HOP_LENGTH, 2 * HOP_LENGTH))
        frames = np.lib.stride_tricks.sliding_window_view(padded, len(window))[::HOP_LENGTH]
        return frames[:1 + len(signal) // HOP_LENGTH] ** 2 @ window

    wanted, got = power(reference), power(audio)
    floor = 1e-8 * max(float(wanted.max()), 1e-20)
    gain = np.clip(np.sqrt((wanted + floor) / (got + floor)), 0.25, 4.0)
    centres = np.arange(len(gain)) * HOP_LENGTH
    return audio * np.interp(np.arange(len(audio)), centres, gain)

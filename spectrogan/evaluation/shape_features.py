"""Where in the sentence pitch and loudness move, and the spectrum's shape: the features of the
second emotion judge (judges.py), made from what metrics.clip_features has already computed.

The first judge reads utterance averages (MFCC, spectral and F0 statistics). These read the
course of the sentence instead: the pitch contour's slope, curvature, late rise and excursion
rate (surprise rises late, sadness falls and narrows, happiness makes larger excursions), the
loudness contour's slope and rhythm, and the long-term spectrum's shape relative to its own
mean (tilt, alpha ratio, Hammarberg index). None reads the absolute level or pitch height, so a
louder or higher voice is not a different emotion: spectral and loudness figures are dB
differences within the clip, pitch figures semitones re the clip's own median.
"""

from __future__ import annotations

import numpy as np

from spectrogan.audio.spectro import HOP_LENGTH, SAMPLE_RATE

SHAPE_BANDS = 24  # mel bands of the long-term spectrum shape
FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH


def _names() -> tuple[str, ...]:
    names = [f"band{i}_shape" for i in range(SHAPE_BANDS)]
    names += [f"band{i}_std" for i in range(SHAPE_BANDS)]
    names += ["tilt_per_khz", "alpha_ratio", "hammarberg"]
    names += ["f0_slope_st", "f0_curvature_st", "f0_late_rise_st", "f0_late_peak_st",
              "f0_range_st", "f0_excursion_st_per_s", "f0_rising_share", "f0_peaks_per_s"]
    names += ["energy_slope", "energy_late", "energy_peaks_per_s", "pause_share"]
    return tuple(names)


SHAPE_NAMES = _names()


def shape_features(mel_db: np.ndarray, band_hz: np.ndarray, active: np.ndarray,
                   f0_hz: np.ndarray, energy_db: np.ndarray) -> np.ndarray:
    """The contour and spectral-shape features of one clip.

    Args:
        mel_db: float (SHAPE_BANDS, T) log mel power in dB (any reference: only differences
            between bands and frames are read).
        band_hz: float (SHAPE_BANDS,) centre frequency of each band, Hz, rising.
        active: bool (T,) speech frames (within the clip's trim range of its loudest frame).
        f0_hz: float (<= T,) F0 per frame, NaN where unvoiced (missing frames at the end
            count as unvoiced).
        energy_db: float (T,) frame energy in dB.
    Returns:
        float32 (len(SHAPE_NAMES),), finite; contour figures are 0 for a clip with fewer than
        four voiced (or active) frames.
    """
    mel_db = np.asarray(mel_db, dtype=np.float64)
    if mel_db.shape[0] != SHAPE_BANDS or mel_db.ndim != 2:
        raise ValueError(f"mel_db must be ({SHAPE_BANDS}, T), got {mel_db.shape}")
    frames = mel_db.shape[1]
    active = np.asarray(active, dtype=bool)[:frames]
    f0_hz = np.asarray(f0_hz, dtype=np.float64)[:frames]
    f0_hz = np.pad(f0_hz, (0, frames - f0_hz.size), constant_values=np.nan)
    energy_db = np.asarray(energy_db, dtype=np.float64)[:frames]
    if active.sum() < 2:
        active = np.ones(frames, dtype=bool)
    spectrum = mel_db[:, active]
    average = spectrum.mean(axis=1)
    values = list(average - average.mean()) + list(spectrum.std(axis=1))
    values += _spectral_balance(average, np.asarray(band_hz, dtype=np.float64))
    values += _pitch_contour(f0_hz, active)
    values += _loudness_contour(energy_db, active)
    features = np.asarray(values, dtype=np.float32)
    return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)


def _spectral_balance(average_db: np.ndarray, band_hz: np.ndarray) -> list[float]:
    """Tilt (dB per kHz, least squares), alpha ratio (mean dB 1-5 kHz minus 50 Hz-1 kHz) and
    Hammarberg index (loudest band below 2 kHz minus loudest 2-5 kHz)."""
    tilt = float(np.polyfit(band_hz / 1000.0, average_db, 1)[0])
    low, high = band_hz < 1000.0, (band_hz >= 1000.0) & (band_hz < 5000.0)
    alpha = float(average_db[high].mean() - average_db[low].mean())
    below, above = band_hz < 2000.0, (band_hz >= 2000.0) & (band_hz < 5000.0)
    hammarberg = float(average_db[below].max() - average_db[above].max())
    return [tilt, alpha, hammarberg]


def _peaks_per_second(series: np.ndarray, span_frames: int) -> float:
    """Local maxima of a 5-frame smoothed series that stand above its median, per second."""
    if series.size < 5:
        return 0.0
    smooth = np.convolve(series, np.ones(5) / 5.0, mode="same")
    inner = smooth[1:-1]
    peaks = (inner > smooth[:-2]) & (inner >= smooth[2:]) & (inner > np.median(smooth))
    return float(peaks.sum() / max(span_frames / FRAMES_PER_SECOND, 1e-3))


def _pitch_contour(f0_hz: np.ndarray, active: np.ndarray) -> list[float]:
    """F0 contour shape in semitones re the clip's own median, over the active span."""
    span = np.flatnonzero(active)
    first, last = span[0], span[-1] + 1
    f0 = f0_hz[first:last]
    voiced = np.isfinite(f0) & (f0 > 0)
    if voiced.sum() < 4:
        return [0.0] * 8
    semitones = 12.0 * np.log2(f0[voiced] / np.median(f0[voiced]))
    where = np.flatnonzero(voiced) / max(last - first - 1, 1)  # 0 .. 1 along the sentence
    slope, curvature = (float(np.polyfit(where, semitones, 1)[0]),
                        float(np.polyfit(where, semitones, 2)[0]))
    late = where >= 0.75
    late_rise = float(semitones[late].mean() - semitones[~late].mean()) \
        if late.any() and (~late).any() else 0.0
    late_peak = float(semitones[late].max()) if late.any() else 0.0
    spread = float(np.percentile(semitones, 90) - np.percentile(semitones, 10))
    # Steps between neighbouring voiced frames only: a jump across a pause is not a movement.
    neighbours = np.diff(np.flatnonzero(voiced)) == 1
    steps = np.diff(semitones)[neighbours]
    excursion = float(np.abs(steps).mean() * FRAMES_PER_SECOND) if steps.size else 0.0
    rising = float(np.mean(steps > 0)) if steps.size else 0.0
    peaks = _peaks_per_second(semitones, last - first)
    return [slope, curvature, late_rise, late_peak, spread, excursion, rising, peaks]


def _loudness_contour(energy_db: np.ndarray, active: np.ndarray) -> list[float]:
    """Loudness slope and late level (dB re the clip's active mean), syllable-like energy
    peaks per second and the share of pauses between the first and last speech frame."""
    span = np.flatnonzero(active)
    first, last = span[0], span[-1] + 1
    energy = energy_db[first:last]
    speech = active[first:last]
    if speech.sum() < 4:
        return [0.0] * 4
    level = energy[speech] - energy[speech].mean()
    where = np.flatnonzero(speech) / max(last - first - 1, 1)
    slope = float(np.polyfit(where, level, 1)[0])
    late = float(level[where >= 0.75].mean()) if np.any(where >= 0.75) else 0.0
    peaks = _peaks_per_second(energy, last - first)
    return [slope, late, peaks, float(1.0 - speech.mean())]

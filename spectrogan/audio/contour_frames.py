"""Frame-level prosody of one utterance, the material the contour model learns from.

On WORLD's grid (vocoder.WORLD_FRAME_PERIOD_MS, T = L // FRAME_SAMPLES + 1 frames for L
samples) an utterance is its F0 track (the shipped analysis, vocoder.SHIPPED_ANALYSIS), its
frame energy and its MFCCs; the MFCCs carry what was said, so two takes of one sentence can be
aligned by dynamic time warping on them, words to words and pauses to pauses, whatever the
emotion did to pitch and timing.

Pure functions: float audio in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectrogan.audio.spectro import SAMPLE_RATE
from spectrogan.audio.vocoder import FRAME_SAMPLES, SHIPPED_ANALYSIS, WorldAnalysis, world_f0

ENERGY_WINDOW = 400  # samples (25 ms) of the frame energy, centred on each WORLD frame
MFCC_COUNT = 20
MFCC_FFT = 512
MFCC_MELS = 40
ENERGY_FLOOR_DB = -100.0  # digital silence


@dataclass(frozen=True)
class FrameProsody:
    """One utterance on WORLD's grid of T frames.

    f0: float32 (T,) Hz, 0 where unvoiced. energy_db: float32 (T,) frame RMS in dBFS (at least
    ENERGY_FLOOR_DB). mfcc: float32 (T, MFCC_COUNT).
    """

    f0: np.ndarray
    energy_db: np.ndarray
    mfcc: np.ndarray

    def __post_init__(self) -> None:
        frames = self.f0.shape[0]
        if self.f0.ndim != 1 or self.energy_db.shape != (frames,) \
                or self.mfcc.shape != (frames, MFCC_COUNT):
            raise ValueError(f"FrameProsody needs f0 and energy_db (T,) and mfcc (T, "
                             f"{MFCC_COUNT}) of one T; got {self.f0.shape}, "
                             f"{self.energy_db.shape}, {self.mfcc.shape}")


def frame_energy_on_world_grid(audio: np.ndarray) -> np.ndarray:
    """float32 (T,) RMS level in dBFS of ENERGY_WINDOW samples centred on each WORLD frame of
    `audio` (1-D float, roughly [-1, 1])."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size < 1:
        raise ValueError(f"audio must be non-empty mono 1-D, got shape {audio.shape}")
    frames = audio.size // FRAME_SAMPLES + 1
    padded = np.pad(audio, (ENERGY_WINDOW // 2, ENERGY_WINDOW // 2 + FRAME_SAMPLES))
    starts = np.arange(frames) * FRAME_SAMPLES
    windows = padded[starts[:, None] + np.arange(ENERGY_WINDOW)[None, :]]
    power = np.mean(windows.astype(np.float64) ** 2, axis=1)
    level = 10.0 * np.log10(np.maximum(power, 10.0 ** (ENERGY_FLOOR_DB / 10.0)))
    return level.astype(np.float32)


def mfcc_on_world_grid(audio: np.ndarray) -> np.ndarray:
    """float32 (T, MFCC_COUNT) MFCCs of `audio`, one row per WORLD frame."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    frames = audio.size // FRAME_SAMPLES + 1
    mfcc = librosa.feature.mfcc(y=audio, sr=SAMPLE_RATE, n_mfcc=MFCC_COUNT, n_fft=MFCC_FFT,
                                hop_length=FRAME_SAMPLES, n_mels=MFCC_MELS, center=True)
    mfcc = mfcc.T[:frames]
    if mfcc.shape[0] < frames:
        mfcc = np.pad(mfcc, ((0, frames - mfcc.shape[0]), (0, 0)), mode="edge")
    return mfcc.astype(np.float32)


def frame_prosody(audio: np.ndarray, *, analysis: WorldAnalysis = SHIPPED_ANALYSIS
                  ) -> FrameProsody:
    """F0, energy and MFCCs of `audio` (1-D float at spectro.SAMPLE_RATE) on WORLD's grid."""
    f0 = world_f0(audio, analysis=analysis).astype(np.float32)
    return FrameProsody(f0=f0, energy_db=frame_energy_on_world_grid(audio),
                        mfcc=mfcc_on_world_grid(audio))

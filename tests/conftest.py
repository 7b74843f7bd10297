"""Shared test set-up: quiet TensorFlow, synthetic audio makers, the RAVDESS location."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RAVDESS_DIR = REPO.parent / "shared" / "data" / "ravdess"
needs_ravdess = pytest.mark.skipif(not RAVDESS_DIR.is_dir(),
                                   reason=f"RAVDESS not found at {RAVDESS_DIR}")


def chirp(seconds: float, *, sr: int = 16000, f0: float = 150.0, f1: float = 3000.0,
          amplitude: float = 0.5) -> np.ndarray:
    """Linear chirp from f0 to f1 Hz over `seconds`, float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    phase = 2 * np.pi * (f0 * t + (f1 - f0) / (2 * max(seconds, 1e-9)) * t ** 2)
    return (amplitude * np.sin(phase)).astype(np.float32)


def tone(seconds: float, freq: float = 220.0, *, sr: int = 16000,
         amplitude: float = 0.5) -> np.ndarray:
    """Harmonic-rich tone (fundamental + 3 harmonics) at `freq` Hz, float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 5))
    return (amplitude * wave / 2.1).astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)

"""Shared test set-up: quiet TensorFlow, synthetic audio makers, the RAVDESS location."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# The tests train tiny models for a step or two, so compiling the step costs far more than
# running it: under XLA (JAX always, TensorFlow where asked) let LLVM spend the least time
# optimising the code it generates. Tests check what the code computes, not how fast.
FAST_COMPILE_XLA_FLAGS = ("--xla_backend_optimization_level=0"
                          " --xla_llvm_disable_expensive_passes=true")
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE_XLA_FLAGS}".strip()
# Each test process keeps its own numba cache (librosa's compiled loops): test processes
# compiling the same function into one shared cache at once can leave it half written, after
# which every process loading it crashes (numba issue 10128), as happened on a fresh install.
# Set in every pytest process (a worker inherits its controller's environment).
_NUMBA_CACHE = tempfile.mkdtemp(prefix="spectrogan-numba-")
os.environ["NUMBA_CACHE_DIR"] = _NUMBA_CACHE
atexit.register(shutil.rmtree, _NUMBA_CACHE, ignore_errors=True)
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RAVDESS_DIR = REPO.parent / "shared" / "data" / "ravdess"
needs_ravdess = pytest.mark.skipif(not RAVDESS_DIR.is_dir(),
                                   reason=f"RAVDESS not found at {RAVDESS_DIR}")
CREMA_DIR = REPO.parent / "shared" / "data" / "crema"
needs_crema = pytest.mark.skipif(not CREMA_DIR.is_dir(),
                                 reason=f"CREMA-D not found at {CREMA_DIR}")


def load_tool(name: str) -> types.ModuleType:
    """tools/<name>.py as a module (the tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # registered first, as an import would: dataclasses look their module up by name
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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


def vowel(seconds: float, f0: float, *, sr: int = 16000) -> np.ndarray:
    """A steady vowel-like voice: every harmonic of `f0` below 7.5 kHz, weighted by two formant
    resonances (700 and 1800 Hz) on a falling tilt. float32, peak 0.3."""
    t = np.arange(int(seconds * sr)) / sr

    def envelope(freq: float) -> float:
        return (np.exp(-0.5 * ((freq - 700) / 150) ** 2)
                + 0.6 * np.exp(-0.5 * ((freq - 1800) / 200) ** 2) + 0.05 * 500 / (500 + freq))

    wave = sum(envelope(k * f0) * np.sin(2 * np.pi * k * f0 * t)
               for k in range(1, int(7500 / f0) + 1))
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --- Shared tiny training runs ------------------------------------------------------------------
# Each training run costs a model build and the tracing of its training step (seconds even at
# tiny sizes), so tests that only need "a run as train_cyclegan.py leaves it" share one per
# test process and copy it before changing it.
@pytest.fixture(scope="session")
def tiny_fast_data(tmp_path_factory) -> Path:
    """calm2anger.npz with 4 + 4 training, 2 + 2 validation and 2 + 2 test images."""
    from helpers import write_training_data

    return write_training_data(tmp_path_factory.mktemp("fast_data"), {
        ("train", "A"): 4, ("train", "B"): 4, ("val", "A"): 2, ("val", "B"): 2,
        ("test", "A"): 2, ("test", "B"): 2})


@pytest.fixture
def data_dir(tiny_fast_data) -> Path:
    """The shared tiny calm2anger.npz (`tiny_fast_data`), under the name the tests use (a
    module may define its own)."""
    return tiny_fast_data


@pytest.fixture(scope="session")
def fast_tiny_run(tiny_fast_data, tmp_path_factory) -> tuple[Path, str]:
    """(run folder, everything it printed) of one epoch of the tiny fast-preset run, started the
    way a newcomer starts one: no --preset named, not --quiet, output not a terminal."""
    import contextlib
    import io

    import train_cyclegan as tc
    from helpers import FAST_TINY

    out = tmp_path_factory.mktemp("fast_run") / "run"
    argv = [a for a in FAST_TINY if a != "--quiet"]
    argv = argv[:argv.index("--preset")] + argv[argv.index("--preset") + 2:]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = tc.main([*argv, "--data-dir", str(tiny_fast_data), "--out", str(out),
                        "--epochs", "1"])
    assert code == 0, printed.getvalue()
    return out, printed.getvalue()

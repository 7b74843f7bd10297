"""Predicted naturalness (a mean opinion score, 1-5) of speech: Distill-MOS, optional.

Distill-MOS (Stahl and Gamper 2025, PyPI `distillmos`, MIT) is a small convolutional
transformer distilled from an XLS-R quality predictor; its weights ship inside the wheel, so
nothing is downloaded. It needs PyTorch, which only the evaluation uses: install it with
`pip install -r requirements-eval.txt`. Conversion, training and the tests never import it;
without it the evaluation leaves the naturalness column empty.

Leading and trailing silence moves its score (a long pause reads as a less natural clip), so
every clip is scored on its speech span (metrics.trim_silence), the real recordings too.
Compare sets by their paired differences: the score varies more between sentences and
speakers than between systems.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io

import numpy as np

from spectrogan.evaluation.metrics import trim_silence
from spectrogan.audio.spectro import SAMPLE_RATE

NATURALNESS_PACKAGE = "distillmos"
INSTALL_HINT = "pip install -r requirements-eval.txt"


def naturalness_available() -> bool:
    """True when Distill-MOS and PyTorch are installed (the evaluation's optional extra)."""
    return all(importlib.util.find_spec(name) is not None
               for name in (NATURALNESS_PACKAGE, "torch"))


class NaturalnessPredictor:
    """Distill-MOS, loaded once; `score` rates one clip.

    Raises ImportError (with INSTALL_HINT) when the optional extra is not installed."""

    def __init__(self) -> None:
        if not naturalness_available():
            raise ImportError(f"naturalness needs Distill-MOS and PyTorch: {INSTALL_HINT}")
        import distillmos
        import torch

        self._torch = torch
        with contextlib.redirect_stdout(io.StringIO()):  # it prints where its weights are
            self._model = distillmos.ConvTransformerSQAModel()
        self._model.eval()
        version = getattr(distillmos, "__version__", None)
        self.description = f"Distill-MOS{' ' + version if version else ''}, speech span"

    def score(self, audio: np.ndarray) -> float:
        """Predicted MOS (about 1-5) of mono float audio at SAMPLE_RATE (16 kHz, the model's
        own rate), its leading and trailing silence trimmed; at least 0.1 s of audio."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1 or audio.shape[0] < SAMPLE_RATE // 10:
            raise ValueError(f"naturalness needs mono audio of at least 0.1 s, got shape "
                             f"{audio.shape}")
        speech = trim_silence(audio)
        with self._torch.no_grad():
            return float(self._model(self._torch.from_numpy(speech.copy())[None]).item())

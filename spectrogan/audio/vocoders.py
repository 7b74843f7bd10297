"""The two vocoders as objects: how a conversion turns audio into what its stages change, and
back (conversion/pipeline.py).

- `GriffinLim` (the original project's): the spectrogram images of audio/spectro.py, rebuilt by
  fast Griffin-Lim from the input's own STFT phase (or a random one); its stages change the
  images, so pitch and timing stay the input's.
- `World` (Morise et al. 2016): F0, spectral envelope and aperiodicity (audio/vocoder.py), so
  its stages can move pitch and timing as well as the envelope, in one synthesis.

Each holds its own options; `VOCODERS` names them as config.json's "inference": {"vocoder": ...}
does.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from spectrogan.audio.spectro import (GRIFFIN_LIM_ITERS, PHASES, n_frames_for, stft,
                                      utterance_to_windows, windows_to_utterance)
from spectrogan.audio.vocoder import (SHIPPED_ANALYSIS, WorldAnalysis, WorldFeatures,
                                      world_analyse, world_synthesise)

Progress = Callable[[float], None]


@dataclass(frozen=True)
class SpectrogramWindows:
    """Griffin-Lim's analysis of L samples: windows float32 (N, IMAGE_SIZE, IMAGE_SIZE) in
    [-1, 1] (spectro.utterance_to_windows), their dB reference `ref`, and the phase Griffin-Lim
    starts from (float (N_BINS, 1 + L // HOP_LENGTH) radians, or None: random)."""

    windows: np.ndarray
    ref: float
    phase: np.ndarray | None


class Vocoder(ABC):
    """Analysis into the features stages change, and synthesis back to audio."""

    name: ClassVar[str]  # as config.json's "inference": {"vocoder": name}
    # Shares of a conversion's time (with the stages' `work`), only to move progress bars.
    analysis_work: ClassVar[float]
    synthesis_work: ClassVar[float]

    @abstractmethod
    def analyse(self, audio: np.ndarray, progress: Progress) -> Any:
        """The features of float32 (L,) audio at spectro.SAMPLE_RATE."""

    @abstractmethod
    def synthesise(self, features: Any, *, length: int, progress: Progress) -> np.ndarray:
        """float32 audio of exactly `length` samples from `features`."""

    @property
    @abstractmethod
    def label(self) -> str:
        """The vocoder in words, e.g. 'WORLD (harvest, speaker range, D4C 0)'."""

    def with_options(self, **options: Any) -> Vocoder:
        """This vocoder with those of `options` that are its own set (the rest ignored): the
        one way a caller's Griffin-Lim or WORLD options reach whichever vocoder converts."""
        own = {field.name for field in dataclasses.fields(self)}
        return dataclasses.replace(self, **{k: v for k, v in options.items() if k in own})


@dataclass(frozen=True)
class GriffinLim(Vocoder):
    """n_iter: Griffin-Lim iterations (0 keeps the initial phase). phase: 'source' starts from
    the input's STFT phase, 'random' from one drawn with `seed`."""

    n_iter: int = GRIFFIN_LIM_ITERS
    phase: str = "source"
    seed: int = 0

    name: ClassVar[str] = "griffin-lim"
    analysis_work: ClassVar[float] = 0.0
    synthesis_work: ClassVar[float] = 0.05

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {self.phase!r}")
        if self.n_iter < 0:
            raise ValueError(f"n_iter must be >= 0, got {self.n_iter}")

    def analyse(self, audio: np.ndarray, progress: Progress) -> SpectrogramWindows:
        windows, ref = utterance_to_windows(audio)
        phase = np.angle(stft(audio)) if self.phase == "source" else None
        return SpectrogramWindows(windows, ref, phase)

    def synthesise(self, features: SpectrogramWindows, *, length: int, progress: Progress
                   ) -> np.ndarray:
        frames = n_frames_for(length)
        return windows_to_utterance(features.windows, ref=features.ref, length=length,
                                    n_iter=self.n_iter, init_phase=features.phase,
                                    seed=self.seed, progress=lambda done: progress(done / frames))

    @property
    def label(self) -> str:
        return "Griffin-Lim"


@dataclass(frozen=True)
class World(Vocoder):
    """analysis: how F0 is tracked and aperiodicity estimated (vocoder.WorldAnalysis)."""

    analysis: WorldAnalysis = SHIPPED_ANALYSIS

    name: ClassVar[str] = "world"
    # From a 55-s file on a 2-core CPU: F0 tracking takes most of a conversion, the network
    # about a third, envelope, aperiodicity and synthesis the rest.
    analysis_work: ClassVar[float] = 0.62
    synthesis_work: ClassVar[float] = 0.08

    def analyse(self, audio: np.ndarray, progress: Progress) -> WorldFeatures:
        return world_analyse(audio, analysis=self.analysis, progress=progress)

    def synthesise(self, features: WorldFeatures, *, length: int, progress: Progress
                   ) -> np.ndarray:
        # WORLD's frame grid rounds the length: give back exactly `length` samples.
        audio = world_synthesise(features)[:length]
        progress(1.0)
        return np.pad(audio, (0, length - len(audio))).astype(np.float32)

    @property
    def label(self) -> str:
        return self.analysis.name


VOCODERS: dict[str, type[Vocoder]] = {kind.name: kind for kind in (GriffinLim, World)}
DEFAULT_VOCODER = GriffinLim.name  # what a config without "vocoder" was made with


def vocoder_named(name: str) -> Vocoder:
    """The vocoder called `name` (a key of VOCODERS) with its default options."""
    if name not in VOCODERS:
        raise ValueError(f"vocoder must be one of {tuple(VOCODERS)}, got {name!r}")
    return VOCODERS[name]()

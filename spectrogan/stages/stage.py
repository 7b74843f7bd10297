"""The stage protocol: one change a conversion applies, as one object.

A conversion is the vocoder's analysis, then its stages in order, then the vocoder's
synthesis (then any stage that acts on the synthesised audio), then the loudness step
(conversion/pipeline.py). Every change is a `Stage` subclass, a frozen dataclass holding
what was learned, and says:

- where it lives in config.json's "inference" (`key`, `read` and `write`, built on
  `from_config` and `to_config` of its one entry);
- which vocoders it works with (`vocoders`: names of audio/vocoders.py's VOCODERS) and
  whether it acts after synthesis (`after_synthesis`);
- whether it moves pitch or timing (`moves_prosody`: what convert.py --no-prosody and the
  page's prosody box leave out) and by what duration ratio (`duration_ratio`);
- how strength scales it (`scaled`, through core/strength.py's two rules);
- how it applies (`apply`), what learns it (`learned_by`) and how it describes itself.

stages/registry.py lists the kinds in the order they apply: a new change is one module with
its Stage subclass and one line there.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

DEFAULT_BATCH_SIZE = 8  # windows per generator call, unless the caller says otherwise


def _no_progress(fraction: float) -> None:
    return None


@dataclass(frozen=True)
class StageContext:
    """What a stage may read besides the signal it changes.

    source: float32 (L,) the input audio at spectro.SAMPLE_RATE. generator: the model's
    network (NumpyGenerator or keras.Model mapping (b, IMAGE_SIZE, IMAGE_SIZE, 1) images in
    [-1, 1] to the same shape), or None for a conversion with learned changes alone.
    batch_size: windows per generator call. progress: called with this stage's fraction done.
    analysis: the vocoder's analysis of the input before any stage changed it (the pipeline
    sets it), or None.
    """

    source: np.ndarray
    generator: Any = None
    batch_size: int = DEFAULT_BATCH_SIZE
    progress: Callable[[float], None] = _no_progress
    analysis: Any = None

    def analysed(self, features: Any) -> StageContext:
        """The same context with the input's analysis `features`."""
        return dataclasses.replace(self, analysis=features)

    def reporting(self, progress: Callable[[float], None]) -> StageContext:
        """The same context reporting to `progress`."""
        return dataclasses.replace(self, progress=progress)


class Stage(ABC):
    """One change of a conversion (see the module's docstring); subclasses are frozen
    dataclasses, so equal settings compare equal."""

    key: ClassVar[str]  # its entry in config.json's "inference"
    vocoders: ClassVar[tuple[str, ...]]  # the vocoders it works with
    learned_by: ClassVar[str]  # the command that learns or chooses it
    title: ClassVar[str]  # 'the prosody change': how a sentence names it
    moves_prosody: ClassVar[bool] = False
    after_synthesis: ClassVar[bool] = False
    excludes: ClassVar[tuple[str, ...]] = ()  # keys of stages it cannot run beside
    # Its share of a conversion's time (relative to the vocoder's analysis and synthesis,
    # audio/vocoders.py), only to move progress bars evenly.
    work: ClassVar[float] = 0.0
    # How many times as long the output is (1: timing kept); a stage that changes the timing
    # holds its own as a field.
    duration_ratio: float = 1.0

    @classmethod
    def read(cls, inference: dict[str, Any], *, config: dict[str, Any], where: str
             ) -> Stage | None:
        """This stage as a config's "inference" section asks for it (None: not asked for);
        `config` is the whole config.json, `where` names it in a UserError."""
        entry = inference.get(cls.key)
        return None if entry is None else cls.from_config(entry, where=where)

    def write(self) -> dict[str, Any]:
        """Its entries of config.json's "inference"."""
        return {self.key: self.to_config()}

    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        """Every "inference" key this kind of stage reads and writes."""
        return (cls.key,)

    @classmethod
    @abstractmethod
    def from_config(cls, entry: Any, *, where: str) -> Stage:
        """Read its config.json entry; UserError naming `where` when malformed."""

    @abstractmethod
    def to_config(self) -> Any:
        """Its config.json entry (JSON-ready)."""

    @property
    @abstractmethod
    def is_identity(self) -> bool:
        """True when applying it changes nothing."""

    @abstractmethod
    def scaled(self, strength: float) -> Stage:
        """This change applied `strength` of the way (0: the identity, 1: itself)."""

    @abstractmethod
    def describe(self) -> str:
        """In words, for messages and the results page ('' when there is nothing to say)."""

    @abstractmethod
    def apply(self, signal: Any, context: StageContext) -> Any:
        """The changed signal: the vocoder's features (audio/vocoders.py), or float32 audio
        for a stage `after_synthesis`."""

    def timing_ratio(self, before: Any, after: Any) -> float:
        """How many times as long the output became, given the signal before and after
        `apply` (a stage whose timing depends on the clip measures it here)."""
        return self.duration_ratio

    def applied_words(self) -> str:
        """'the prosody change (pitch +6.5 semitones, ...)'; '' when it changes nothing."""
        return "" if self.is_identity else f"{self.title} ({self.describe()})"

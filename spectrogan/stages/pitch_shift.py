"""The Griffin-Lim path's pitch shift, as a stage: after synthesis, the whole clip's pitch moved
by one ratio with its formants kept (TD-PSOLA, audio/pitch.shift_pitch).

config.json's "inference": {"pitch_ratio": r}, chosen on the validation actors by
tools/choose_cut.py. The WORLD vocoder moves pitch with its prosody change instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spectrogan.audio.pitch import shift_pitch
from spectrogan.core.errors import UserError
from spectrogan.core.strength import scale_ratio
from spectrogan.stages.stage import Stage, StageContext

PITCH_RATIO_RANGE = (0.5, 2.0)  # pitch.shift_pitch's useful range


@dataclass(frozen=True)
class PitchShift(Stage):
    """The pitch times `ratio` (1: unchanged)."""

    ratio: float = 1.0

    key: ClassVar[str] = "pitch_ratio"
    vocoders: ClassVar[tuple[str, ...]] = ("griffin-lim",)
    learned_by: ClassVar[str] = "tools/choose_cut.py"
    title: ClassVar[str] = "the pitch shift"
    moves_prosody: ClassVar[bool] = False  # the page's prosody box is WORLD's
    after_synthesis: ClassVar[bool] = True

    def __post_init__(self) -> None:
        low, high = PITCH_RATIO_RANGE
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, (int, float)) \
                or not low <= self.ratio <= high:
            raise ValueError(f"pitch_ratio must be a number from {low:g} to {high:g}, got "
                             f"{self.ratio!r}")

    @classmethod
    def read(cls, inference: dict[str, Any], *, config: dict[str, Any], where: str
             ) -> PitchShift | None:
        entry = inference.get(cls.key, 1.0)
        shift = cls.from_config(entry, where=where)
        return None if shift.is_identity else shift

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> PitchShift:
        try:
            return cls(entry)
        except ValueError as exc:
            raise UserError(f"{where}: inference.{exc}") from None

    def to_config(self) -> float:
        return float(self.ratio)

    @property
    def is_identity(self) -> bool:
        return self.ratio == 1.0

    def scaled(self, strength: float) -> PitchShift:
        return PitchShift(scale_ratio(self.ratio, strength))

    def describe(self) -> str:
        return "" if self.is_identity else f"pitch x{self.ratio:g}"

    def apply(self, signal: np.ndarray, context: StageContext) -> np.ndarray:
        return shift_pitch(signal, ratio=self.ratio)

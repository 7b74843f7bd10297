"""What a model folder asks to be applied at conversion: a vocoder and an ordered tuple of
stages, read from config.json's "inference" section in one place.

    {"vocoder": "griffin-lim" | "world",      # audio/vocoders.py
     "level_change_db": g,                    # the training actors' loudness difference;
                                              # applied only when the user asks for it
     ...one entry per stage (stages/registry.py): "envelope_change", "envelope_coefficients",
     "cepstral_change", "spectral_balance", "prosody", "contour_prosody", "pitch_ratio"}

`ConversionSettings.from_config` is the one reader (defaults for what is absent, so a model
shipped before a key existed converts as it did; one clear UserError for a bad value) and
`to_inference` the one writer of the section.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spectrogan.audio.vocoders import (DEFAULT_VOCODER, VOCODERS, GriffinLim, Vocoder,
                                       vocoder_named)
from spectrogan.core.errors import UserError
from spectrogan.stages.envelope_model import EnvelopeModel
from spectrogan.stages.registry import STAGE_KINDS
from spectrogan.stages.stage import Stage

# A level change larger than this is a config error (RAVDESS's loudest emotion, angry, is
# about 20 dB above calm).
LEVEL_CHANGE_LIMIT_DB = 30.0

StageKind = TypeVar("StageKind", bound=Stage)
# Every "inference" key that is a setting; the section's other keys record how they were chosen.
SETTINGS_KEYS = frozenset({"vocoder", "level_change_db"}.union(
    *(kind.config_keys() for kind in STAGE_KINDS)))


@dataclass(frozen=True)
class ConversionSettings:
    """The vocoder, the stages it runs in order, and the model's learned level change (applied
    only when a user asks: convert.py --level-change model). The default is Griffin-Lim with
    the generator's change: what a config without "inference" converts with."""

    vocoder: Vocoder = field(default_factory=GriffinLim)
    stages: tuple[Stage, ...] = (EnvelopeModel(),)
    level_change_db: float = 0.0

    def __post_init__(self) -> None:
        kinds = [type(stage) for stage in self.stages]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"each kind of stage may come once, got {kinds}")
        keys = {stage.key for stage in self.stages}
        for stage in self.stages:
            if keys & set(stage.excludes):
                raise ValueError(f"{stage.key} cannot run beside "
                                 f"{', '.join(sorted(keys & set(stage.excludes)))}")
            if self.vocoder.name not in stage.vocoders:
                raise ValueError(f"{stage.key} needs the {' or '.join(stage.vocoders)} vocoder, "
                                 f"not {self.vocoder.name}")
        envelope = self.stage(EnvelopeModel)
        if self.vocoder.name != "world" and (envelope is None or not envelope.applied):
            raise ValueError("envelope_change false needs the world vocoder: Griffin-Lim "
                             "synthesises the generator's images")
        if not -LEVEL_CHANGE_LIMIT_DB <= self.level_change_db <= LEVEL_CHANGE_LIMIT_DB:
            raise ValueError(f"level_change_db must be a number from {-LEVEL_CHANGE_LIMIT_DB:g} "
                             f"to {LEVEL_CHANGE_LIMIT_DB:g}, got {self.level_change_db!r}")

    @classmethod
    def of(cls, vocoder: str | Vocoder = DEFAULT_VOCODER, *stages: Stage,
           level_change_db: float = 0.0) -> ConversionSettings:
        """Settings of `vocoder` (a name or a Vocoder) with the generator's change and
        `stages`, put in the registry's order (a stage of the generator's change among them
        replaces the default one)."""
        vocoder = vocoder_named(vocoder) if isinstance(vocoder, str) else vocoder
        given = {type(stage): stage for stage in stages}
        given.setdefault(EnvelopeModel, EnvelopeModel())
        return cls(vocoder, tuple(given[kind] for kind in STAGE_KINDS if kind in given),
                   level_change_db)

    def stage(self, kind: type[StageKind]) -> StageKind | None:
        """The stage of `kind` these settings run, or None."""
        return next((stage for stage in self.stages if isinstance(stage, kind)), None)

    def with_stage(self, stage: Stage) -> ConversionSettings:
        """The same settings with `stage` added, or replacing the one of its kind."""
        others = [s for s in self.stages if type(s) is not type(stage)]
        return ConversionSettings.of(self.vocoder, *others, stage,
                                     level_change_db=self.level_change_db)

    def without(self, kind: type[Stage]) -> ConversionSettings:
        """The same settings without the stage of `kind`."""
        return dataclasses.replace(self, stages=tuple(s for s in self.stages
                                                      if not isinstance(s, kind)))

    def with_vocoder(self, vocoder: str | Vocoder) -> ConversionSettings:
        """The same conversion through another vocoder: the stages it can run kept, the
        generator's change applied (the other vocoder may need it)."""
        vocoder = vocoder_named(vocoder) if isinstance(vocoder, str) else vocoder
        kept = [dataclasses.replace(s, applied=True) if isinstance(s, EnvelopeModel) else s
                for s in self.stages if vocoder.name in s.vocoders]
        return ConversionSettings.of(vocoder, *kept, level_change_db=self.level_change_db)

    @property
    def envelope_cut(self) -> int:
        """The post-hoc envelope cut K to build into the network (0: none)."""
        envelope = self.stage(EnvelopeModel)
        return envelope.cut if envelope is not None else 0

    @property
    def moves_prosody(self) -> bool:
        """True when converting changes the pitch or the timing."""
        return any(stage.moves_prosody and not stage.is_identity for stage in self.stages)

    @property
    def converts_without_generator(self) -> bool:
        """True when these settings change a voice with no network: any stage but the
        generator's that changes something."""
        return any(not isinstance(stage, EnvelopeModel) and not stage.is_identity
                   for stage in self.stages)

    def without_prosody(self) -> ConversionSettings:
        """The same conversion with the input's pitch and timing (convert.py --no-prosody):
        every stage that moves prosody left out, the others kept."""
        return dataclasses.replace(self, stages=tuple(s for s in self.stages
                                                      if not s.moves_prosody))

    def scaled(self, strength: float) -> ConversionSettings:
        """Every stage applied `strength` of the way (core/strength.py's rules)."""
        return dataclasses.replace(self, stages=tuple(s.scaled(strength) for s in self.stages))

    def world_changes(self) -> str:
        """What the one synthesis applies, in words: 'the model's envelope change, the
        prosody change (pitch +6.5 semitones, ...), ...'; 'no change' when nothing is."""
        return ", ".join(words for words in (s.applied_words() for s in self.stages)
                         if words) or "no change"

    def describe(self, *, prosody: bool = True, level_change: bool = True) -> str:
        """The post-processing in words ('' when there is none); without the stages that move
        prosody when `prosody` is False (a conversion asked to keep pitch and timing), without
        the learned level change and how to ask for it when `level_change` is False."""
        words = [] if self.vocoder.name == DEFAULT_VOCODER else [
            f"{self.vocoder.name.upper()} vocoder"]
        words += [stage.describe() for stage in self.stages
                  if prosody or not stage.moves_prosody]
        if self.level_change_db and level_change:
            words.append(f"learned level change {self.level_change_db:+.1f} dB (applied only "
                         "when asked: convert.py --level-change model)")
        return ", ".join(word for word in words if word)

    def updated_inference(self, inference: dict[str, Any] | None) -> dict[str, Any]:
        """A config's "inference" section with these settings in place of whatever settings
        it held; its other entries (how each was chosen: "prosody_chosen_on", ...) kept."""
        kept = {key: value for key, value in (inference or {}).items()
                if key not in SETTINGS_KEYS}
        return {**kept, **self.to_inference()}

    def to_inference(self) -> dict[str, Any]:
        """These settings as config.json's "inference" section (what `from_config` reads)."""
        inference: dict[str, Any] = {"vocoder": self.vocoder.name}
        if self.level_change_db:
            inference["level_change_db"] = round(float(self.level_change_db), 2)
        for stage in self.stages:
            inference.update(stage.write())
        return inference

    def record(self) -> dict[str, Any]:
        """A JSON-ready record of what made a figure (metrics.json): the "inference" form plus
        the vocoder's label and what its synthesis applies, in words."""
        return {**self.to_inference(), "vocoder_label": self.vocoder.label,
                "changes": self.world_changes()}

    @classmethod
    def from_config(cls, config: dict[str, Any], *, where: str) -> ConversionSettings:
        """Read and check a config's "inference" section; UserError naming `where`."""
        inference = config.get("inference") or {}
        if not isinstance(inference, dict):
            raise UserError(f"{where}: inference must be an object, got {inference!r}")
        vocoder = inference.get("vocoder", DEFAULT_VOCODER)
        if vocoder not in VOCODERS:
            raise UserError(f"{where}: inference.vocoder must be one of "
                            f"{', '.join(VOCODERS)}, got {vocoder!r}")
        level = inference.get("level_change_db", 0.0)
        if isinstance(level, bool) or not isinstance(level, (int, float)) \
                or not -LEVEL_CHANGE_LIMIT_DB <= level <= LEVEL_CHANGE_LIMIT_DB:
            raise UserError(f"{where}: inference.level_change_db must be a number from "
                            f"{-LEVEL_CHANGE_LIMIT_DB:g} to {LEVEL_CHANGE_LIMIT_DB:g}, "
                            f"got {level!r}")
        stages = [kind.read(inference, config=config, where=where) for kind in STAGE_KINDS]
        try:
            return cls(vocoder_named(vocoder), tuple(s for s in stages if s is not None),
                       float(level))
        except ValueError as exc:
            raise UserError(f"{where}: inference: {exc}") from None

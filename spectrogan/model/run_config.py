"""A run folder's config.json, typed: the network, the training settings, what converting
applies, and where the model came from.

config.json keeps its layout (older model folders read as they always did); `RunConfig` is its
one typed form: `generator` (what model_files rebuilds the network from), `training` (the
resolved settings.TrainingSettings), `inference` (stages/conversion_settings.ConversionSettings,
read by its one reader), `choices` (the records in the "inference" section of how each of those
settings was chosen: "prosody_chosen_on", ...) and `provenance` (everything else: the pair and
its emotions, the STFT, the actors of each split, the data set, the backend, the epoch and how
it was selected). runs.read_run_config and runs.write_run_config are its one reader and writer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from spectrogan.core.errors import UserError
from spectrogan.stages.conversion_settings import SETTINGS_KEYS, ConversionSettings

SECTIONS = ("generator", "training", "inference")


@dataclass(frozen=True)
class RunConfig:
    """config.json in its parts (see the module's docstring)."""

    generator: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    inference: ConversionSettings = field(default_factory=ConversionSettings)
    choices: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, config: dict[str, Any], *, where: str) -> RunConfig:
        """Split a config.json object into its parts; UserError naming `where` when its
        "inference" section does not read."""
        if not isinstance(config.get("generator"), dict):
            raise UserError(f"{where}: model config lacks its generator section")
        section = config.get("inference") or {}
        return cls(generator=dict(config["generator"]),
                   training=dict(config.get("training") or {}),
                   inference=ConversionSettings.from_config(config, where=where),
                   choices={k: v for k, v in section.items() if k not in SETTINGS_KEYS},
                   provenance={k: v for k, v in config.items() if k not in SECTIONS})

    def to_json(self) -> dict[str, Any]:
        """The config.json object: provenance keys at the top, the three sections beside them
        (an "inference" section only where there is something to say)."""
        config = {**self.provenance, "generator": dict(self.generator)}
        if self.training:
            config["training"] = dict(self.training)
        if self.choices or self.inference != ConversionSettings():
            config["inference"] = {**self.choices, **self.inference.to_inference()}
        return config

    def with_settings(self, settings: ConversionSettings, *,
                      records: dict[str, Any] | None = None,
                      drop_records: tuple[str, ...] = ()) -> RunConfig:
        """The same run converting with `settings`, `records` of how they were chosen added
        and `drop_records` removed (the other records kept)."""
        choices = {k: v for k, v in self.choices.items() if k not in drop_records}
        return dataclasses.replace(self, inference=settings,
                                   choices={**choices, **(records or {})})

    def with_provenance(self, **entries: Any) -> RunConfig:
        """The same run with provenance `entries` set ("epoch", "selected_on", ...)."""
        return dataclasses.replace(self, provenance={**self.provenance, **entries})

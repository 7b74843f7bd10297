"""Training settings: one typed object that knows every setting's default, the presets, the
allowed ranges and which settings may change when a run is resumed.

`TrainingSettings` is what config.json's "training" record holds (`as_dict` / `from_dict`),
what train_cyclegan.py resolves from its flags (`resolve`) and checks (`check`), and what the
trainer builds the CycleGAN from (cyclegan.build_from_settings). Standard library only (no
Keras), so scripts answer --help and reject bad values before the slow import.

Usage:
    from spectrogan.model.settings import TrainingSettings
    settings = TrainingSettings.for_preset("envelope")       # the preset's values
    settings.epochs = 200
    settings.check()                                         # UserError on a bad value
    config["training"] = settings.as_dict()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from spectrogan.data.corpus import DATA_DIR
from spectrogan.core.errors import UserError
from spectrogan.audio.spectro import ENVELOPE_COEFFICIENTS, IMAGE_SIZE

# Arithmetic of a network ("mixed_precision" in config.json; convert.py --precision) -> the
# Keras dtype policy. bfloat16 runs the convolutions about 1.7x faster on CPUs with
# AVX512-BF16 or AMX (and on GPUs), at about 0.3 dB mean deviation in a generated spectrogram;
# on CPUs without bfloat16 units it is slower.
PRECISION_POLICIES = {"none": "float32", "float32": "float32", "bfloat16": "mixed_bfloat16",
                      "float16": "mixed_float16"}
TRAIN_PRECISIONS = ("none", "bfloat16", "float16")  # train_cyclegan.py --mixed-precision
INFERENCE_PRECISIONS = ("float32", "bfloat16")  # convert.py --precision (opt-in bfloat16)

# The preset a run gets when none is named: the one that gives a usable model on a laptop CPU
# in about two hours. A stored run that records no preset predates presets: it was "original".
DEFAULT_PRESET = "fast"
LEGACY_PRESET = "original"

# Named bundles of settings; a flag given on the command line overrides its preset's value.
# "original": the 2020 project (whole 260x260 windows, 64 filters, 6 blocks, a generator
# that draws a new image): 1.37 TFLOP per update. "fast": random 64-frame time crops (all
# 257 bins), an identity-start generator (output = input + a correction that starts at zero,
# so the words are kept from the first step) and 16 filters, the narrowest of the widths
# timed on a 2-core CPU (README.md, "Training on a CPU"); it trained the shipped calm2anger.
# "envelope": fast, with the correction kept to the spectral envelope (its first 24 DCT
# coefficients along frequency in every frame), so the harmonics and voicing of the input
# survive (issue 26; results/ablation_envelope_calm2anger.md).
FAST_SETTINGS = {"crop_frames": 64, "identity_start": True, "filters": 16, "res_blocks": 6}
PRESETS: dict[str, dict[str, Any]] = {
    "original": {},
    "fast": FAST_SETTINGS,
    "envelope": {**FAST_SETTINGS, "envelope_coefficients": ENVELOPE_COEFFICIENTS},
}

# Whole-number ranges of what a stored model's config.json may say about its network
# (runs.read_config checks them before anything is built from them): wider or deeper than
# this is a typo, and would exhaust memory.
NETWORK_RANGES = {"filters": (1, 512), "res_blocks": (0, 64), "image_size": (4, 4096),
                  "envelope_coefficients": (0, 4096)}


def _setting(default: Any, *, resumable: bool = False, low: float | None = None,
             high: float | None = None, above: float | None = None) -> Any:
    """A dataclass field with its rules: `resumable` settings may change on --resume; a number
    must be >= `low`, <= `high` and > `above` where those are given (None passes)."""
    return field(default=default, metadata={"resumable": resumable, "low": low, "high": high,
                                            "above": above})


@dataclass
class TrainingSettings:
    """Every setting of a training run, as config.json's "training" record stores it."""

    preset: str = DEFAULT_PRESET
    data_dir: str = _setting(str(DATA_DIR), resumable=True)
    epochs: int = _setting(100, resumable=True, low=1)
    steps_per_epoch: int | None = _setting(None, low=1)  # None: one pass over the larger domain
    batch_size: int = _setting(1, low=1)
    res_blocks: int = _setting(6, low=0, high=NETWORK_RANGES["res_blocks"][1])
    filters: int = _setting(64, low=1, high=NETWORK_RANGES["filters"][1])
    lr: float = _setting(2e-4, above=0.0)
    lr_decay: bool = False
    lambda_cycle: float = _setting(10.0, low=0.0)
    lambda_identity: float = _setting(5.0, low=0.0)
    pool_size: int = _setting(50, low=0)
    crop_frames: int = 0  # 0: whole IMAGE_SIZE-frame windows, as the original
    identity_start: bool = False
    envelope_coefficients: int = _setting(0, low=0, high=IMAGE_SIZE)  # 0: unconstrained
    seed: int = 0
    sample_every: int = _setting(5, resumable=True, low=0)
    snapshot_every: int = _setting(10, resumable=True, low=0)
    sample_clips: int = _setting(3, resumable=True, low=0)
    eval_images: int = _setting(16, resumable=True, low=0)
    devices: str = _setting("1", resumable=True)
    mixed_precision: str = "none"
    xla: str = _setting("auto", resumable=True)
    time_budget: float | None = _setting(None, resumable=True, above=0.0)  # None: all epochs
    checkpoint_every: int = _setting(1, resumable=True, low=1)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every setting's name, in the order above."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def resumable(cls, name: str) -> bool:
        """Whether setting `name` may differ when a run is resumed."""
        return bool({f.name: f for f in dataclasses.fields(cls)}[name].metadata.get("resumable"))

    @classmethod
    def for_preset(cls, preset: str = DEFAULT_PRESET) -> TrainingSettings:
        """The defaults with preset `preset`'s values (ValueError for an unknown name)."""
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
        return cls(**{**PRESETS[preset], "preset": preset})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingSettings:
        """Settings from a config.json "training" record. Keys it lacks (runs made before a
        setting existed) take the defaults; keys that are not settings (beta_1) are ignored."""
        return cls(**{name: values[name] for name in cls.names() if name in values})

    @classmethod
    def resolve(cls, given: Mapping[str, Any], stored: Mapping[str, Any] | None, *,
                where: Any) -> TrainingSettings:
        """Settings for a run: `given` (flag values, None = not given) override the resumed
        run's `stored` "training" record, which overrides the preset's values.

        A given value that changes a setting fixed for the run (anything not resumable) is
        a UserError naming the flag; so is another --preset than the stored run's. `where`
        (the run folder) is named in those messages.
        """
        previous = dict(stored or {})
        stored_preset = previous.get("preset", LEGACY_PRESET) if previous else None
        preset = given.get("preset") or stored_preset or DEFAULT_PRESET
        if stored_preset is not None and given.get("preset") not in (None, stored_preset):
            raise UserError(f"{where}: the run there used --preset {stored_preset}, not "
                            f"{given['preset']}; resume it with the same preset, or start over "
                            "with --force")
        defaults = cls.for_preset(preset).as_dict()
        values = {}
        for name in cls.names():
            value = given.get(name)
            if name in previous:
                if value is not None and not cls.resumable(name) and value != previous[name]:
                    raise UserError(f"{where}: the run there used {_flag(name)} "
                                    f"{previous[name]}, not {value}; resume it with the same "
                                    "setting, or start over with --force")
                values[name] = previous[name] if value is None else value
            else:
                values[name] = defaults[name] if value is None else value
        values["preset"] = preset
        return cls(**values)

    # -- use ---------------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """The record config.json stores (plain JSON values)."""
        return dataclasses.asdict(self)

    def check(self) -> None:
        """One-line UserErrors for out-of-range values, naming the flag."""
        for spec in dataclasses.fields(self):
            value, rules = getattr(self, spec.name), spec.metadata
            if value is None or not rules:
                continue
            if rules.get("low") is not None and value < rules["low"]:
                raise UserError(f"{_flag(spec.name)} must be >= {rules['low']:g}, got {value}")
            if rules.get("above") is not None and not value > rules["above"]:
                raise UserError(f"{_flag(spec.name)} must be > {rules['above']:g}, got {value}")
            if rules.get("high") is not None and value > rules["high"]:
                raise UserError(f"{_flag(spec.name)} must be from {rules['low']:g} to "
                                f"{rules['high']:g}, got {value}")
        crop = self.crop_frames
        if crop and (crop % 4 or not 4 <= crop <= IMAGE_SIZE):
            raise UserError(f"--crop-frames must be 0 (whole windows) or a multiple of 4 from 4 "
                            f"to {IMAGE_SIZE}, got {crop}")
        if self.envelope_coefficients and not self.identity_start:
            raise UserError(f"--envelope-coefficients {self.envelope_coefficients} needs "
                            "--identity-start (it constrains the identity-start generator's "
                            "correction)")

    def generator_config(self) -> dict[str, Any]:
        """config.json's "generator" record: what inference rebuilds the network from."""
        return {"filters": self.filters, "res_blocks": self.res_blocks,
                "identity_start": bool(self.identity_start),
                "envelope_coefficients": int(self.envelope_coefficients)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")

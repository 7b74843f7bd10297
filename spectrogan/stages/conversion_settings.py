"""What a model folder asks to be applied at conversion, read and checked in one place.

config.json's "inference" section (written by the tools that choose each value on the
validation actors) holds the post-processing of a trained generator:

    {"envelope_coefficients": K,      # the post-hoc envelope cut, built into the network
     "pitch_ratio": r,                # TD-PSOLA shift after Griffin-Lim (pitch.shift_pitch)
     "level_change_db": g,            # the training actors' loudness difference; applied only
                                      # when the user asks for it (convert.py --level-change)
     "vocoder": "griffin-lim" | "world",
     "prosody": {"f0_shift_semitones": s, "f0_spread_ratio": k, "duration_ratio": d},
     "spectral_balance": {"band_hz": [...], "gains_db": [...]},   # WORLD only
     "cepstral_change": {"shift": [...], "spread_ratio": [...]},  # WORLD only
     "envelope_change": true | false}  # false: WORLD with the learned changes alone

`ConversionSettings.from_config` is the one reader: defaults for what is absent (a model
shipped before a key existed converts as it did), one clear UserError for a bad value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from spectrogan.core.errors import UserError
from spectrogan.stages.cepstral_change import CepstralChange
from spectrogan.stages.prosody import ProsodyChange
from spectrogan.stages.spectral_balance import SpectralBalance
from spectrogan.audio.spectro import ENVELOPE_COEFFICIENTS, IMAGE_SIZE

VOCODERS = ("griffin-lim", "world")  # Griffin-Lim: the original's; WORLD: moves prosody too
DEFAULT_VOCODER = "griffin-lim"  # what a config without "vocoder" was made with
PITCH_RATIO_RANGE = (0.5, 2.0)  # pitch.shift_pitch's useful range
# A level change larger than this is a config error (RAVDESS's loudest emotion, angry, is
# about 20 dB above calm).
LEVEL_CHANGE_LIMIT_DB = 30.0


@dataclass(frozen=True)
class ConversionSettings:
    """Everything applied around the generator when a model converts (the identity when a
    config has no "inference" section)."""

    envelope_coefficients: int = 0  # post-hoc cut K (0: none); model_files builds it in
    pitch_ratio: float = 1.0
    level_change_db: float = 0.0  # the model's learned amount; off unless the user asks
    vocoder: str = DEFAULT_VOCODER
    prosody: ProsodyChange | None = None  # WORLD vocoder only
    # DCT coefficients that keep the model's change frequency-smooth when it is applied to
    # WORLD's envelope: the cut's, else the envelope preset's, else spectro's default.
    smoothing_coefficients: int = ENVELOPE_COEFFICIENTS
    # False: the generator's envelope change is left out (the learned changes alone measured
    # better on the validation actors); WORLD vocoder only.
    envelope_change: bool = True
    # The emotion's learned change of spectral balance (spectral_balance.py); WORLD only.
    spectral_balance: SpectralBalance | None = None
    # The emotion's learned change of the spectrum's statistics (cepstral_change.py); WORLD only.
    cepstral_change: CepstralChange | None = None

    def __post_init__(self) -> None:
        if self.vocoder not in VOCODERS:
            raise ValueError(f"vocoder must be one of {VOCODERS}, got {self.vocoder!r}")
        if self.prosody is not None and self.vocoder != "world":
            raise ValueError("a prosody change needs the world vocoder")
        if self.spectral_balance is not None and self.vocoder != "world":
            raise ValueError("a spectral balance change needs the world vocoder")
        if self.cepstral_change is not None and self.vocoder != "world":
            raise ValueError("a cepstral change needs the world vocoder")
        if not self.envelope_change and self.vocoder != "world":
            raise ValueError("envelope_change false needs the world vocoder")
        if self.pitch_ratio != 1.0 and self.vocoder != "griffin-lim":
            raise ValueError("pitch_ratio is the Griffin-Lim path's shift; the world vocoder "
                             "moves pitch with its prosody change")

    @property
    def moves_prosody(self) -> bool:
        """True when converting changes the pitch or the timing."""
        return self.prosody is not None and not self.prosody.is_identity

    @property
    def converts_without_generator(self) -> bool:
        """True when these settings change a voice with no network: a prosody change, a
        spectral balance or a cepstral change."""
        return self.moves_prosody or self.spectral_balance is not None \
            or self.cepstral_change is not None

    def without_prosody(self) -> ConversionSettings:
        """The same conversion with the prosody left as the input's (convert.py
        --no-prosody): the vocoder, the envelope change, the spectral balance and the cepstral
        change stay."""
        return dataclasses.replace(self, prosody=None)

    def world_changes(self) -> str:
        """What the one WORLD synthesis applies, in words: 'the model's envelope change, the
        prosody change (pitch +6.5 semitones, ...), the cepstral change (...)'; 'no change'
        when nothing is applied."""
        words = ["the model's envelope change"] if self.envelope_change else []
        if self.moves_prosody:
            words.append(f"the prosody change ({self.prosody.describe()})")
        if self.spectral_balance is not None and not self.spectral_balance.is_identity:
            words.append(f"the {self.spectral_balance.describe()}")
        if self.cepstral_change is not None and not self.cepstral_change.is_identity:
            words.append(f"the cepstral change ({self.cepstral_change.describe()})")
        return ", ".join(words) or "no change"

    def describe(self, *, prosody: bool = True, level_change: bool = True) -> str:
        """The post-processing in words ('' when there is none); without the prosody change
        when `prosody` is False (a conversion asked to keep pitch and timing), without the
        learned level change and how to ask for it when `level_change` is False."""
        words = []
        if self.envelope_coefficients:
            words.append(f"change smoothed along frequency ({self.envelope_coefficients} "
                         "coefficients)")
        if self.pitch_ratio != 1.0:
            words.append(f"pitch x{self.pitch_ratio:g}")
        if self.vocoder != DEFAULT_VOCODER:
            words.append(f"{self.vocoder.upper()} vocoder")
        if not self.envelope_change:
            words.append("no envelope change from the network (the learned changes alone)")
        if self.moves_prosody and prosody:
            words.append(self.prosody.describe())
        if self.spectral_balance is not None and not self.spectral_balance.is_identity:
            words.append(self.spectral_balance.describe())
        if self.cepstral_change is not None and not self.cepstral_change.is_identity:
            words.append(self.cepstral_change.describe())
        if self.level_change_db and level_change:
            words.append(f"learned level change {self.level_change_db:+.1f} dB (applied only "
                         "when asked: convert.py --level-change model)")
        return ", ".join(words)

    @classmethod
    def from_config(cls, config: dict[str, Any], *, where: str) -> ConversionSettings:
        """Read and check a config's "inference" section; UserError naming `where`."""
        inference = config.get("inference") or {}
        if not isinstance(inference, dict):
            raise UserError(f"{where}: inference must be an object, got {inference!r}")
        size = config.get("image_size", IMAGE_SIZE)
        cut = inference.get("envelope_coefficients", 0)
        if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut <= size:
            raise UserError(f"{where}: inference.envelope_coefficients must be a whole number "
                            f"from 0 to the image size, got {cut!r}")
        ratio = inference.get("pitch_ratio", 1.0)
        low, high = PITCH_RATIO_RANGE
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) \
                or not low <= ratio <= high:
            raise UserError(f"{where}: inference.pitch_ratio must be a number from {low:g} to "
                            f"{high:g}, got {ratio!r}")
        level = inference.get("level_change_db", 0.0)
        if isinstance(level, bool) or not isinstance(level, (int, float)) \
                or not -LEVEL_CHANGE_LIMIT_DB <= level <= LEVEL_CHANGE_LIMIT_DB:
            raise UserError(f"{where}: inference.level_change_db must be a number from "
                            f"{-LEVEL_CHANGE_LIMIT_DB:g} to {LEVEL_CHANGE_LIMIT_DB:g}, "
                            f"got {level!r}")
        vocoder = inference.get("vocoder", DEFAULT_VOCODER)
        if vocoder not in VOCODERS:
            raise UserError(f"{where}: inference.vocoder must be one of "
                            f"{', '.join(VOCODERS)}, got {vocoder!r}")
        envelope_change = inference.get("envelope_change", True)
        if not isinstance(envelope_change, bool):
            raise UserError(f"{where}: inference.envelope_change must be true or false, got "
                            f"{envelope_change!r}")
        prosody = inference.get("prosody")
        if prosody is not None:
            prosody = ProsodyChange.from_config(prosody, where=where)
        balance = inference.get("spectral_balance")
        if balance is not None:
            balance = SpectralBalance.from_config(balance, where=where)
        cepstral = inference.get("cepstral_change")
        if cepstral is not None:
            cepstral = CepstralChange.from_config(cepstral, where=where)
        generator_k = (config.get("generator") or {}).get("envelope_coefficients", 0)
        smoothing = cut or generator_k or ENVELOPE_COEFFICIENTS
        try:
            return cls(cut, float(ratio), float(level), vocoder, prosody, int(smoothing),
                       envelope_change, balance, cepstral)
        except ValueError as exc:
            raise UserError(f"{where}: inference: {exc}") from None


def conversion_record(settings: ConversionSettings) -> dict[str, Any]:
    """`settings` as a JSON-ready dict (metrics.json records what made each figure)."""
    record = asdict(settings)
    if settings.prosody is not None:
        record["prosody"] = settings.prosody.to_config()
    if settings.spectral_balance is not None:
        record["spectral_balance"] = settings.spectral_balance.to_config()
    if settings.cepstral_change is not None:
        record["cepstral_change"] = settings.cepstral_change.to_config()
    return record

"""The stage protocol: every registered change reads, writes, scales and applies the same way,
and a change defined outside the package runs in the pipeline with nothing else touched."""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from spectrogan.audio.vocoder import WorldFeatures
from spectrogan.audio.vocoders import VOCODERS, GriffinLim, World
from spectrogan.conversion import inference
from spectrogan.core.errors import UserError
from spectrogan.core.strength import scale_shift
from spectrogan.stages.cepstral_change import DIMENSIONS, CepstralChange
from spectrogan.stages.contour_prosody import ContourProsody
from spectrogan.stages.conversion_settings import SETTINGS_KEYS, ConversionSettings
from spectrogan.stages.envelope_model import EnvelopeModel
from spectrogan.stages.pitch_shift import PitchShift
from spectrogan.stages.prosody import ProsodyChange
from spectrogan.stages.registry import STAGE_KINDS
from spectrogan.stages.spectral_balance import BAND_COUNT, SpectralBalance
from spectrogan.stages.stage import Stage, StageContext

from conftest import vowel
from helpers import save_tiny_contour_model

MODELS = Path(tempfile.mkdtemp(prefix="spectrogan-stages-"))
atexit.register(shutil.rmtree, MODELS, ignore_errors=True)
# Where a pair's config.json would be: the contour model is named relative to its folder.
CONFIG_PATH = str(MODELS / "calm2happy" / "config.json")
# One learned, non-identity example of every registered kind.
EXAMPLES = {
    ContourProsody: ContourProsody("happy", "../contour_model",
                                   save_tiny_contour_model(MODELS / "contour_model", rise=0.3,
                                                           log2_rate=-0.2)),
    EnvelopeModel: EnvelopeModel(applied=False),
    CepstralChange: CepstralChange(spread_ratio=(1.2,) * DIMENSIONS),
    SpectralBalance: SpectralBalance((1.5,) * BAND_COUNT),
    ProsodyChange: ProsodyChange(4.0, 1.3, 0.9),
    PitchShift: PitchShift(1.2),
}


def test_every_registered_kind_has_an_example_and_keys_of_its_own():
    assert set(EXAMPLES) == set(STAGE_KINDS)
    keys = [key for kind in STAGE_KINDS for key in kind.config_keys()]
    assert len(keys) == len(set(keys))  # no two kinds share a config key
    assert set(keys) <= SETTINGS_KEYS
    for kind in STAGE_KINDS:
        assert set(kind.vocoders) <= set(VOCODERS), kind
        assert kind.learned_by and kind.title, kind


@pytest.mark.parametrize("kind", STAGE_KINDS, ids=lambda kind: kind.__name__)
def test_a_stage_reads_back_what_it_writes_and_strength_zero_is_the_identity(kind):
    stage = EXAMPLES[kind]
    vocoder = kind.vocoders[-1]
    inference_section = ConversionSettings.of(vocoder, stage).to_inference()
    read = ConversionSettings.from_config({"inference": inference_section}, where=CONFIG_PATH)
    assert read.stage(kind) == stage
    assert not stage.is_identity or kind is EnvelopeModel  # the model left out is not applied
    assert stage.scaled(0.0).is_identity and stage.scaled(1.0) == stage
    with pytest.raises(ValueError, match="strength"):
        stage.scaled(1.5)


def test_settings_refuse_a_stage_its_vocoder_cannot_run_and_two_of_a_kind():
    with pytest.raises(ValueError, match="prosody needs the world vocoder"):
        ConversionSettings(GriffinLim(), (EnvelopeModel(), ProsodyChange(2.0)))
    with pytest.raises(ValueError, match="pitch_ratio needs the griffin-lim vocoder"):
        ConversionSettings.of("world", PitchShift(1.1))
    with pytest.raises(ValueError, match="once"):
        ConversionSettings(World(), (ProsodyChange(1.0), ProsodyChange(2.0)))
    with pytest.raises(UserError, match="inference: prosody needs the world vocoder"):
        ConversionSettings.from_config({"inference": {"prosody": {"f0_shift_semitones": 1.0}}},
                                       where="here")


def test_the_writer_replaces_the_settings_and_keeps_the_records_of_how_they_were_chosen():
    old = {"vocoder": "world", "prosody": ProsodyChange(3.0).to_config(),
           "spectral_balance": EXAMPLES[SpectralBalance].to_config(),
           "prosody_chosen_on": {"arm": "world, prosody"}, "level_change_db": 4.0}
    new = ConversionSettings.of("world", EXAMPLES[CepstralChange]).updated_inference(old)
    assert new["prosody_chosen_on"] == {"arm": "world, prosody"}
    assert "prosody" not in new and "spectral_balance" not in new
    assert "level_change_db" not in new  # a setting too: the new settings have none
    assert ConversionSettings.from_config({"inference": new}, where="here") \
        == ConversionSettings.of("world", EXAMPLES[CepstralChange])


@dataclass(frozen=True)
class Whisper(Stage):
    """A change written outside the package: the voiced frames made unvoiced, `amount` of them
    (from the start), as a test of what a new stage costs."""

    amount: float = 1.0

    key: ClassVar[str] = "whisper"
    vocoders: ClassVar[tuple[str, ...]] = ("world",)
    learned_by: ClassVar[str] = "this test"
    title: ClassVar[str] = "the whisper"

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> Whisper:
        return cls(float(entry))

    def to_config(self) -> float:
        return self.amount

    @property
    def is_identity(self) -> bool:
        return self.amount == 0.0

    def scaled(self, strength: float) -> Whisper:
        return Whisper(scale_shift(self.amount, strength))

    def describe(self) -> str:
        return f"whisper {100 * self.amount:.0f}%"

    def apply(self, signal: WorldFeatures, context: StageContext) -> WorldFeatures:
        f0 = signal.f0.copy()
        f0[: int(round(self.amount * f0.size))] = 0.0
        return dataclasses.replace(signal, f0=f0)


def test_a_new_stage_is_one_class_and_runs_in_the_pipeline_with_nothing_else_changed():
    voice = vowel(0.6, 140.0)
    settings = ConversionSettings(World(), (EnvelopeModel(), Whisper()))
    whispered = inference.convert_audio(voice, None, settings=settings)
    alone = inference.vocoder_only(voice, vocoder="world")
    assert len(whispered) == len(voice)
    assert not np.allclose(whispered, alone, atol=1e-3)
    np.testing.assert_array_equal(inference.convert_audio(voice, None, settings=settings,
                                                          strength=0.0), alone)
    assert settings.world_changes() == "the model's envelope change, the whisper (whisper 100%)"
    assert settings.to_inference() == {"vocoder": "world", "whisper": 1.0}

"""inference.py: a model opened as a Converter and what its config asks at conversion (the
post-hoc envelope cut, the pitch shift, the learned level change, the WORLD path), and an
untrained identity-start model converting as the vocoder alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from spectrogan.evaluation import catalogue
from spectrogan.conversion import inference
from spectrogan.evaluation import metrics
from spectrogan.model import model_files
from spectrogan.model import models
from spectrogan.model import runs
from spectrogan.audio import spectro
from spectrogan.core.errors import UserError
from spectrogan.audio.loudness import loudness_db
from spectrogan.audio.spectro import IMAGE_SIZE
from spectrogan.stages.pitch_shift import PitchShift

from conftest import tone, vowel
from helpers import save_tiny_model, smearing_generator


# --- A model's conversion settings: the cut, the pitch shift, the level change, WORLD ------------
def _model_folder(folder: Path, *, inference_config: dict | None = None) -> Path:
    extra = {} if inference_config is None else {"inference": inference_config}
    return save_tiny_model(folder, identity_start=True, randomise=3, directions=("AtoB",),
                           dtype="float16", **extra)


def _loaded_with(tmp_path: Path, inference_config: dict
                 ) -> tuple[inference.Converter, inference.Converter, Path]:
    """(the tiny model as trained, the same weights with `inference_config` in its config.json,
    that folder), both opened as convert.py opens them."""
    plain_folder = _model_folder(tmp_path / "plain" / "calm2anger")
    folder = tmp_path / "variant" / "calm2anger"
    runs.write_config(folder, {**runs.read_config(plain_folder), "inference": inference_config})
    shutil.copyfile(runs.generator_path(plain_folder), runs.generator_path(folder))
    return inference.open_converter(plain_folder), inference.open_converter(folder), folder


def test_a_converter_applies_the_cut_its_config_records(tmp_path):
    plain, cut, _ = _loaded_with(tmp_path, {"envelope_coefficients": 24})
    plain, cut = plain.generator, cut.generator
    images = np.random.default_rng(1).uniform(-0.9, 0.9, (1, IMAGE_SIZE, IMAGE_SIZE, 1))
    images = images.astype(np.float32)
    change = np.asarray(plain(images)) - images
    projection = spectro.envelope_projection(IMAGE_SIZE, coefficients=24)
    expected = np.clip(images + np.einsum("fg,bgtc->bftc", projection, change), -1, 1)
    np.testing.assert_allclose(np.asarray(cut(images)), expected, atol=1e-4)
    assert np.abs(np.asarray(cut(images)) - np.asarray(plain(images))).max() > 0.01


@pytest.mark.parametrize("key, value", [
    *(("envelope_coefficients", v) for v in (-1, 261, 2.5, True, "24")),
    *(("pitch_ratio", v) for v in (0.3, 3, "high", True)),
    *(("level_change_db", v) for v in (-31, 40, "loud", True)),
])
def test_a_bad_inference_value_in_config_is_a_clear_error(tmp_path, key, value):
    folder = _model_folder(tmp_path / "calm2anger", inference_config={key: value})
    with pytest.raises(UserError, match=f"inference.{key}"):
        inference.open_converter(folder)


def test_a_model_with_a_pitch_ratio_converts_higher_and_strength_scales_it(tmp_path):
    plain, higher, folder = _loaded_with(tmp_path, {"pitch_ratio": 1.25})
    assert plain.settings.stage(PitchShift) is None
    assert higher.settings.stage(PitchShift) == PitchShift(1.25)
    assert "pitch x1.25" in catalogue.model_method(runs.read_config(folder), folder)
    voice = vowel(1.0, 150.0)
    before = plain.convert(voice)
    after = higher.convert(voice)
    f0_before = np.nanmedian(metrics.f0_contour(before))
    assert np.nanmedian(metrics.f0_contour(after)) == pytest.approx(1.25 * f0_before, rel=0.03)
    half = higher.convert(voice, strength=0.5)  # x1.25 ** 0.5
    assert np.nanmedian(metrics.f0_contour(half)) == pytest.approx(1.25 ** 0.5 * f0_before,
                                                                   rel=0.03)
    # Strength 0 is the vocoder alone: no model, no shift.
    np.testing.assert_allclose(higher.convert(voice, strength=0.0),
                               plain.convert(voice, strength=0.0), atol=1e-7)
    # Another way of applying the same model: its settings changed.
    asked = higher.with_settings(higher.settings.without(PitchShift))
    np.testing.assert_allclose(asked.convert(voice), before, atol=1e-7)


def test_a_learned_level_change_is_applied_only_when_asked(tmp_path):
    plain, louder, folder = _loaded_with(tmp_path, {"level_change_db": 12.0})
    assert plain.settings.level_change_db == 0.0 and louder.settings.level_change_db == 12.0
    assert "+12.0 dB" in catalogue.model_method(runs.read_config(folder), folder)
    voice = 0.05 * vowel(1.0, 150.0)  # far below full scale: room for the whole rise
    level = loudness_db(voice)
    # By default the model's learned change is not applied: the input's loudness is kept.
    assert loudness_db(louder.convert(voice)) == pytest.approx(level, abs=0.5)
    asked = louder.convert(voice, level_change_db=12.0)
    assert loudness_db(asked) == pytest.approx(level + 12.0, abs=0.5)
    softer = plain.convert(voice, level_change_db=-6.0)
    assert loudness_db(softer) == pytest.approx(level - 6.0, abs=0.5)


def test_the_cut_keeps_a_low_voice_voiced_where_the_smear_does_not(tmp_path):
    """End to end through convert's path: a 94 Hz voice (harmonics 3 bins apart) stays voiced
    through the cut model and loses its voicing through the smearing one."""
    root = tmp_path / "models"
    smear = root / "calm2anger"
    runs.write_config(smear, {"pair": "calm2anger", "image_size": IMAGE_SIZE,
                              "generator": {"filters": 4, "res_blocks": 1}})
    voice = tone(1.5, 94.0) * np.hanning(24000).astype(np.float32) ** 0.25
    generator = smearing_generator()
    smeared = inference.convert_audio(voice, generator)
    kept = inference.convert_audio(voice, models.with_envelope_cut(generator, coefficients=24))
    vocoded = spectro.round_trip(voice)

    def voiced(audio):
        return metrics.prosody_from_features(metrics.clip_features(audio))["voiced_fraction"]

    assert voiced(vocoded) > 0.8
    assert voiced(kept) > voiced(vocoded) - 0.1
    assert voiced(smeared) < voiced(kept) - 0.2


def test_a_world_model_applies_its_envelope_change_and_can_leave_it_out(tmp_path):
    prosody = {"f0_shift_semitones": 3.0, "f0_spread_ratio": 1.2, "duration_ratio": 0.9}
    _, with_model, _ = _loaded_with(tmp_path / "a", {"vocoder": "world", "prosody": prosody})
    _, alone, folder = _loaded_with(tmp_path / "b", {"vocoder": "world", "prosody": prosody,
                                                     "envelope_change": False})
    assert "learned changes alone" in catalogue.model_method(runs.read_config(folder), folder)
    voice = vowel(0.8, 140.0)
    without = inference.convert_audio(voice, None, settings=alone.settings)
    np.testing.assert_array_equal(alone.convert(voice), without)
    changed = with_model.convert(voice)
    assert len(changed) == len(without) == round(0.9 * len(voice))
    assert np.abs(changed - without).max() > 1e-3  # the model's envelope change is heard
    assert loudness_db(changed) == pytest.approx(loudness_db(voice), abs=1.0)


def test_the_progress_of_a_long_world_conversion_moves_with_the_work(tmp_path, monkeypatch):
    """Issue 56.5: the F0 tracking of a long file, the slowest part, moves the bar too; it
    once stood at 0% until the analysis was over."""
    from spectrogan.audio import vocoder

    _, converter, _ = _loaded_with(tmp_path / "a", {"vocoder": "world"})
    events: list[tuple[str, float]] = []
    real_track = vocoder._track
    # Each piece is one call of the shipped tracker (a first pass may find the speaker's range).
    monkeypatch.setattr(vocoder, "_track", lambda *args: (
        args[1] == vocoder.SHIPPED_ANALYSIS.f0_tracker and events.append(("f0", -1.0)),
        real_track(*args))[1])
    long_clip = np.tile(vowel(1.0, 140.0), 22)  # 22 s: three pieces of F0 tracking
    converter.convert(long_clip, progress=lambda f: events.append(("progress", f)))
    fractions = [value for kind, value in events if kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] >= 0.0
    pieces = [i for i, (kind, _) in enumerate(events) if kind == "f0"]
    assert len(pieces) == 3
    # Before the last piece is tracked, the bar has moved past a fifth.
    assert max(value for kind, value in events[:pieces[-1]] if kind == "progress") > 0.2
    # A signal that ends exactly on a piece's end keeps its last frame (pieces of 1 s here).
    monkeypatch.setattr(vocoder, "F0_PIECE_S", 1.0)
    monkeypatch.setattr(vocoder, "F0_MARGIN_S", 0.25)
    three = vowel(3.0, 140.0)  # 48,000 samples: three whole pieces
    fixed = vocoder.WorldAnalysis("harvest", "fixed")

    def in_one_call(audio):
        return real_track(audio.astype(np.float64), "harvest", vocoder.F0_MIN, vocoder.F0_MAX)

    whole = in_one_call(three)
    assert whole[-1] > 0
    np.testing.assert_allclose(vocoder.world_f0(three, analysis=fixed)[-3:], whole[-3:],
                               rtol=1e-6)
    monkeypatch.undo()
    # An ordinary clip is tracked in one piece, exactly as before.
    voice = vowel(2.0, 140.0)
    np.testing.assert_array_equal(vocoder.world_f0(voice, analysis=fixed), in_one_call(voice))


# --- An untrained identity-start model is the vocoder --------------------------------------------
def test_converting_with_a_fresh_identity_start_model_is_the_vocoder_only_result(tmp_path):
    run = tmp_path / "calm2anger"
    runs.write_config(run, {"pair": "calm2anger", "image_size": IMAGE_SIZE,
                              "generator": {"filters": 4, "res_blocks": 1,
                                            "identity_start": True}})
    model_files.save_generator(models.build_generator((IMAGE_SIZE, IMAGE_SIZE, 1), filters=4,
                                                 res_blocks=1, identity_start=True),
                          run, "AtoB", dtype="float16")
    generator = model_files.load_generator(run)  # the path convert.py uses
    audio = tone(1.5, 180.0)
    converted = inference.convert_audio(audio, generator)
    vocoded = spectro.round_trip(audio)
    assert metrics.mcd_dtw(vocoded, converted) < 0.1

"""Keeping the voice (issue 26): the envelope projection, the envelope-constrained generator,
the post-hoc envelope cut of an unconstrained model, the voicing guard of the epoch selection
and the voice-keeping goal (tiny models and synthetic audio throughout)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

import keras

import inference
import metrics
import model_files
import models
import reports
import runs
import audio_files
import spectro
import train_cyclegan as tc
from errors import UserError
from loudness import speech_level_db
from conftest import tone, vowel
from settings import PRESETS
from spectro import IMAGE_SIZE

from helpers import FAST_TINY, randomised as _randomised, save_tiny_model


def _comb(n_bins: int, period: int) -> np.ndarray:
    """A harmonic-like ripple along frequency: +1 on every `period`-th row, else 0."""
    ripple = np.zeros(n_bins, np.float32)
    ripple[::period] = 1.0
    return ripple - ripple.mean()


# --- The projection -------------------------------------------------------------------------
def test_envelope_projection_is_an_orthogonal_projection_onto_smooth_columns():
    projection = spectro.envelope_projection(IMAGE_SIZE, coefficients=24)
    assert projection.shape == (IMAGE_SIZE, IMAGE_SIZE) and projection.dtype == np.float32
    np.testing.assert_allclose(projection, projection.T, atol=1e-6)
    np.testing.assert_allclose(projection @ projection, projection, atol=1e-5)
    assert np.trace(projection) == pytest.approx(24, abs=1e-3)  # its rank
    rows = np.arange(IMAGE_SIZE)
    level_and_tilt = 0.3 - 0.002 * rows  # a level change and a spectral tilt: kept
    np.testing.assert_allclose(projection @ level_and_tilt, level_and_tilt, atol=5e-3)
    formant = np.exp(-0.5 * ((rows - 40) / 12.0) ** 2)  # a broad formant bump: kept
    assert np.abs(projection @ formant - formant).max() < 0.05
    harmonics = _comb(IMAGE_SIZE, 3)  # a 94 Hz voice's harmonics, 3 bins apart: dropped
    assert np.linalg.norm(projection @ harmonics) < 0.03 * np.linalg.norm(harmonics)
    np.testing.assert_allclose(spectro.envelope_projection(16, coefficients=16), np.eye(16),
                               atol=1e-5)


@pytest.mark.parametrize("n_bins, coefficients", [(0, 1), (10, 0), (10, 11)])
def test_envelope_projection_rejects_bad_sizes(n_bins, coefficients):
    with pytest.raises(ValueError, match=str(coefficients) if n_bins else "n_bins"):
        spectro.envelope_projection(n_bins, coefficients=coefficients)


# --- The envelope-constrained generator -----------------------------------------------------
def test_an_envelope_generator_starts_as_the_identity_and_corrects_only_the_envelope():
    images = np.random.default_rng(0).uniform(-0.95, 0.95, (2, 32, 24, 1)).astype(np.float32)
    generator = models.build_generator((32, None, 1), filters=4, res_blocks=1,
                                       identity_start=True, envelope_coefficients=4)
    np.testing.assert_allclose(np.asarray(generator(images)), images,
                               atol=2 * models.IDENTITY_EPSILON)
    _randomised(generator)
    output = np.asarray(generator(images))
    correction = np.arctanh(np.clip(output, -0.9999, 0.9999)) \
        - np.arctanh(np.clip(images, -0.9999, 0.9999))
    assert np.abs(correction).max() > 0.05  # it does change the image...
    projection = spectro.envelope_projection(32, coefficients=4)
    smooth = np.einsum("fg,bgtc->bftc", projection, correction)
    np.testing.assert_allclose(correction, smooth, atol=2e-3)  # ...only along the envelope
    # The unconstrained generator with the same weights changes the fine structure too.
    free = _randomised(models.build_generator((32, None, 1), filters=4, res_blocks=1,
                                              identity_start=True))
    free_correction = np.arctanh(np.clip(np.asarray(free(images)), -0.9999, 0.9999)) \
        - np.arctanh(np.clip(images, -0.9999, 0.9999))
    rough = free_correction - np.einsum("fg,bgtc->bftc", projection, free_correction)
    assert np.abs(rough).max() > 0.05


def test_envelope_generator_needs_identity_start_and_a_known_height():
    with pytest.raises(ValueError, match="identity_start"):
        models.build_generator((32, 32, 1), filters=4, res_blocks=1, envelope_coefficients=4)
    with pytest.raises(ValueError, match="envelope_coefficients"):
        models.build_generator((None, None, 1), filters=4, res_blocks=1, identity_start=True,
                               envelope_coefficients=4)
    with pytest.raises(ValueError, match="envelope_coefficients"):
        models.build_generator((32, 32, 1), filters=4, res_blocks=1, identity_start=True,
                               envelope_coefficients=33)


@pytest.mark.slow
def test_envelope_preset_trains_records_and_reloads_a_constrained_model(data_dir, tmp_path,  # noqa: F811
                                                                       capsys):
    out = tmp_path / "run"
    argv = [*FAST_TINY, "--preset", "envelope", "--data-dir", str(data_dir), "--out", str(out),
            "--epochs", "1"]
    assert tc.main(argv) == 0
    config = runs.read_config(out)
    assert config["training"]["preset"] == "envelope"
    assert config["generator"]["envelope_coefficients"] == \
        PRESETS["envelope"]["envelope_coefficients"]
    generator = model_files.load_generator(out)
    assert generator.get_layer("out_envelope").coefficients == config["generator"][
        "envelope_coefficients"]
    # A setting fixed for the run cannot change on resume.
    assert tc.main([*argv[:-2], "--epochs", "2", "--resume", "--envelope-coefficients",
                    "12"]) == 2
    assert "used --envelope-coefficients 24, not 12" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--preset", "original", "--envelope-coefficients", "24"], "needs --identity-start"),
    (["--preset", "fast", "--envelope-coefficients", "261"], "from 0 to 260"),
])
def test_bad_envelope_flags_are_one_line_usage_errors(data_dir, tmp_path, capsys, flags,  # noqa: F811
                                                      message):
    assert tc.main(["--pair", "calm2anger", "--data-dir", str(data_dir), "--out",
                    str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "run").exists()


# --- The post-hoc envelope cut --------------------------------------------------------------
def _smearing_generator(n_bins: int = IMAGE_SIZE) -> keras.Model:
    """A stand-in for a model that smears the harmonics: it raises the image by a smooth tilt
    (an envelope change) and fills the valleys between harmonics (a 9-bin running maximum
    along frequency: the broadband smear)."""
    inputs = keras.Input((n_bins, n_bins, 1))
    smeared = keras.layers.MaxPooling2D((9, 1), strides=1, padding="same")(inputs)
    tilt = np.linspace(0.15, -0.05, n_bins, dtype=np.float32)[None, :, None, None]
    outputs = keras.layers.Lambda(lambda x: keras.ops.clip(x + tilt, -1.0, 1.0))(smeared)
    return keras.Model(inputs, outputs)


def test_the_cut_keeps_the_models_envelope_change_and_drops_its_smear():
    rng = np.random.default_rng(4)
    images = np.clip(rng.uniform(-0.8, -0.2, (1, 32, 32, 1))
                     + 0.5 * _comb(32, 4)[None, :, None, None], -1, 1).astype(np.float32)
    generator = _smearing_generator(32)
    cut = models.with_envelope_cut(generator, coefficients=6)
    change = np.asarray(generator(images)) - images
    projection = spectro.envelope_projection(32, coefficients=6)
    expected = np.clip(images + np.einsum("fg,bgtc->bftc", projection, change), -1, 1)
    np.testing.assert_allclose(np.asarray(cut(images)), expected, atol=1e-5)
    # The harmonic ripple of every frame survives the cut and not the smear.
    ripple = _comb(32, 4)
    def strength(x):  # noqa: E306
        return float(np.mean(np.einsum("f,btf->bt", ripple, x[..., 0].transpose(0, 2, 1))))
    assert strength(np.asarray(cut(images))) > 0.8 * strength(images)
    assert strength(np.asarray(generator(images))) < 0.5 * strength(images)


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


@pytest.mark.parametrize("value", [-1, 261, 2.5, True, "24"])
def test_a_bad_cut_in_config_is_a_clear_error(tmp_path, value):
    folder = _model_folder(tmp_path / "calm2anger", inference_config={"envelope_coefficients":
                                                                      value})
    with pytest.raises(UserError, match="inference.envelope_coefficients"):
        inference.open_converter(folder)


# --- The pitch shift at conversion (pitch.py's own tests: tests/test_pitch.py) -------------
def test_a_model_with_a_pitch_ratio_converts_higher_and_strength_scales_it(tmp_path):
    plain, higher, folder = _loaded_with(tmp_path, {"pitch_ratio": 1.25})
    assert plain.settings.pitch_ratio == 1.0 and higher.settings.pitch_ratio == 1.25
    assert "pitch x1.25" in inference.model_method(runs.read_config(folder))
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
    asked = higher.with_settings(dataclasses.replace(higher.settings, pitch_ratio=1.0))
    np.testing.assert_allclose(asked.convert(voice), before, atol=1e-7)


@pytest.mark.parametrize("value", [0.3, 3, "high", True])
def test_a_bad_pitch_ratio_in_config_is_a_clear_error(tmp_path, value):
    folder = _model_folder(tmp_path / "calm2anger", inference_config={"pitch_ratio": value})
    with pytest.raises(UserError, match="inference.pitch_ratio"):
        inference.open_converter(folder)


# --- The level change: the user's choice, off by default -----------------------------------
def test_a_learned_level_change_is_applied_only_when_asked(tmp_path):
    plain, louder, folder = _loaded_with(tmp_path, {"level_change_db": 12.0})
    assert plain.settings.level_change_db == 0.0 and louder.settings.level_change_db == 12.0
    assert "+12.0 dB" in inference.model_method(runs.read_config(folder))
    voice = 0.05 * vowel(1.0, 150.0)  # far below full scale: room for the whole rise
    level = speech_level_db(voice)
    # By default the model's learned change is not applied: the input's loudness is kept.
    assert speech_level_db(louder.convert(voice)) == pytest.approx(level,
                                                                                    abs=0.5)
    asked = louder.convert(voice, level_change_db=12.0)
    assert speech_level_db(asked) == pytest.approx(level + 12.0, abs=0.5)
    softer = plain.convert(voice, level_change_db=-6.0)
    assert speech_level_db(softer) == pytest.approx(level - 6.0, abs=0.5)


@pytest.mark.parametrize("value", [-31, 40, "loud", True])
def test_a_bad_level_change_in_config_is_a_clear_error(tmp_path, value):
    folder = _model_folder(tmp_path / "calm2anger", inference_config={"level_change_db": value})
    with pytest.raises(UserError, match="inference.level_change_db"):
        inference.open_converter(folder)


def test_level_difference_is_the_mean_over_actors_of_each_actors_difference(tmp_path):
    from corpus import RavdessFile

    def clip(name: str, amplitude: float) -> Path:
        path = tmp_path / f"{name}.wav"
        audio_files.write_audio(path, amplitude * tone(0.5, 180.0))
        return path

    files = []
    for actor, (calm, angry) in {1: (0.05, 0.1), 2: (0.02, 0.2), 3: (0.3, 0.3)}.items():
        for emotion, amplitude in (("calm", calm), ("angry", angry)):
            files.append(RavdessFile(path=clip(f"{emotion}{actor}", amplitude), emotion=emotion,
                                     intensity="normal", statement=1, repetition=1,
                                     actor=actor, sex="male"))
    # Actor 1: twice as loud (+6.02 dB); actor 2: ten times (+20 dB); actor 3 is not counted.
    difference = metrics.level_difference_db(files, source="calm", target="angry",
                                             actors=[1, 2])
    assert difference == pytest.approx((6.02 + 20.0) / 2, abs=0.05)
    assert metrics.speech_level_db(0.5 * tone(0.5, 180.0)) == pytest.approx(
        metrics.speech_level_db(0.05 * tone(0.5, 180.0)) + 20.0, abs=1e-3)
    with pytest.raises(UserError, match="no clips of both calm and angry"):
        metrics.level_difference_db(files, source="calm", target="angry", actors=[9])


def test_the_cut_keeps_a_low_voice_voiced_where_the_smear_does_not(tmp_path):
    """End to end through convert's path: a 94 Hz voice (harmonics 3 bins apart) stays voiced
    through the cut model and loses its voicing through the smearing one."""
    root = tmp_path / "models"
    smear = root / "calm2anger"
    runs.write_config(smear, {"pair": "calm2anger", "image_size": IMAGE_SIZE,
                              "generator": {"filters": 4, "res_blocks": 1}})
    voice = tone(1.5, 94.0) * np.hanning(24000).astype(np.float32) ** 0.25
    generator = _smearing_generator()
    smeared = inference.convert_audio(voice, generator)
    kept = inference.convert_audio(voice, models.with_envelope_cut(generator, coefficients=24))
    vocoded = spectro.round_trip(voice)

    def voiced(audio):
        return metrics.prosody_from_features(metrics.clip_features(audio))["voiced_fraction"]

    assert voiced(vocoded) > 0.8
    assert voiced(kept) > voiced(vocoded) - 0.1
    assert voiced(smeared) < voiced(kept) - 0.2


# --- The voicing guard and the goal ---------------------------------------------------------
def test_choose_epoch_voicing_guard():
    rows = [{"epoch": 10, "judged_target": 0.2, "target_over_source": 0.5, "mcd_to_target": 7.0,
             "voiced_fraction": 0.80},
            {"epoch": 20, "judged_target": 0.6, "target_over_source": 0.9, "mcd_to_target": 7.0,
             "voiced_fraction": 0.40}]
    assert runs.choose_epoch(rows, 7.5)["epoch"] == 20  # no voicing guard: the higher share
    choice = runs.choose_epoch(rows, 7.5, voiced_reference=0.62)
    assert choice["epoch"] == 10 and choice["passing"] == [10]
    assert choice["voiced_limit"] == pytest.approx(0.57)
    assert runs.choose_epoch(rows, 7.5, voiced_reference=0.62, voiced_margin=0.3)["epoch"] == 20
    assert "voiced" in runs.selection_rule_text()


def _row(judged: float, voiced: float, wer: float | None) -> dict:
    return {"judged_target": judged, "voiced_fraction": voiced, "word_error_rate": wer}


def test_voice_goal_checks_each_bar_against_the_vocoder_and_the_real_target():
    systems = {"vocoder": _row(0.0, 0.88, 0.47), "target": _row(0.69, 0.62, 0.51)}
    met = reports.voice_goal({**systems, "converted": _row(0.42, 0.58, 0.57)})
    assert met["met"] and met["voiced"]["bar"] == pytest.approx(0.57)
    assert met["word_error"]["bar"] == pytest.approx(0.57)
    assert met["judged"]["bar"] == pytest.approx(0.414)
    smeared = reports.voice_goal({**systems, "converted": _row(0.9, 0.40, 0.59)})
    assert not smeared["met"] and smeared["judged"]["met"]
    assert not smeared["voiced"]["met"] and not smeared["word_error"]["met"]
    no_asr = reports.voice_goal({"vocoder": _row(0.0, 0.88, None),
                                 "target": _row(0.69, 0.62, None),
                                 "converted": _row(0.5, 0.7, None)})
    assert no_asr["met"] and "word_error" not in no_asr
    assert reports.voice_goal(systems) is None
    text = reports.voice_goal_text({**systems, "converted": _row(0.9, 0.40, 0.59)}, "angry")
    assert "MISSED" in text and "does not meet" in text


# --- The WORLD path with a model --------------------------------------------------------------
def test_a_world_model_applies_its_envelope_change_and_can_leave_it_out(tmp_path):
    prosody = {"f0_shift_semitones": 3.0, "f0_spread_ratio": 1.2, "duration_ratio": 0.9}
    _, with_model, _ = _loaded_with(tmp_path / "a", {"vocoder": "world", "prosody": prosody})
    _, alone, folder = _loaded_with(tmp_path / "b", {"vocoder": "world", "prosody": prosody,
                                                     "envelope_change": False})
    assert "prosody change alone" in inference.model_method(runs.read_config(folder))
    voice = vowel(0.8, 140.0)
    without = inference.convert_audio(voice, None, settings=alone.settings)
    np.testing.assert_array_equal(alone.convert(voice), without)
    changed = with_model.convert(voice)
    assert len(changed) == len(without) == round(0.9 * len(voice))
    assert np.abs(changed - without).max() > 1e-3  # the model's envelope change is heard
    assert speech_level_db(changed) == pytest.approx(speech_level_db(voice), abs=1.0)

"""What a newcomer trips over (issue 32): models found from any folder, the default preset, a
--resume with nothing to resume, advice that works, inputs checked before the model loads,
one exit-code rule, quiet recordings, resampling said aloud, logs without carriage returns."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

import convert
import evaluate
import runs
import train_cyclegan as tc
from conftest import REPO
from settings import DEFAULT_PRESET
from loudness import speech_level_db
from audio_files import load_audio
from spectro import SAMPLE_RATE

from helpers import run_convert as _run, save_tiny_model, speech as _speech, speech_wav as _wav


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    save_tiny_model(root / "calm2anger", seed=0)
    return root


# --- Blocking -------------------------------------------------------------------------------
def test_the_shipped_models_are_found_from_any_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = convert._build_parser().parse_args(["speech.wav", "--emotion", "anger"])
    assert runs.find_model_dir(args.models, "calm", "angry") == REPO / "results" / "calm2anger"
    assert evaluate.build_parser().parse_args(["--all"]).models == REPO / "results"
    assert runs.RESULTS_DIR.is_absolute()
    # Records keep paths inside the project relative, so no machine's folders are committed.
    assert runs.recorded_path(REPO / "results" / "calm2anger") == "results/calm2anger"
    assert runs.recorded_path(tmp_path / "models") == str(tmp_path / "models")


@pytest.mark.slow
def test_a_new_run_gets_the_fast_preset_and_a_log_without_carriage_returns(fast_tiny_run):
    out, printed = fast_tiny_run  # FAST_TINY with no preset named, not --quiet
    training = runs.read_config(out)["training"]
    assert training["preset"] == DEFAULT_PRESET == "fast"
    assert training["identity_start"] is True
    assert "\r" not in printed  # not a terminal: one line per epoch


def test_a_run_stored_before_presets_resumes_with_the_original_settings(tmp_path):
    args = tc.build_parser().parse_args(["--pair", "calm2anger", "--resume", "--out",
                                         str(tmp_path)])
    settings = tc.resolve_settings(args, {"training": {"epochs": 5, "filters": 64}}).as_dict()
    assert settings["preset"] == "original" and settings["crop_frames"] == 0
    assert settings["identity_start"] is False


def test_resume_with_nothing_to_resume_starts_nothing(data_dir, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "typo"
    assert tc.main(["--pair", "calm2anger", "--data-dir", str(data_dir), "--out", str(out),
                    "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run to resume" in err[0] and "drop --resume" in err[0]
    assert not out.exists()


# --- Advice that works ----------------------------------------------------------------------
def test_a_missing_pair_is_advised_with_data_prep_and_the_default_preset(models_root, capsys,
                                                                         tmp_path):
    code, _, err = _run(capsys, _wav(tmp_path / "a.wav", 0.5), "--emotion", "surprised",
                        "--models", models_root)
    assert code == 2
    assert "python data_prep.py --ravdess DIR --pair calm2surprised" in err
    assert "python train_cyclegan.py --pair calm2surprised" in err and "--preset" not in err
    assert "--time-budget" in err


def test_the_reverse_direction_without_its_generator_says_so(tmp_path, capsys):
    root = tmp_path / "shipped"
    run = save_tiny_model(root / "calm2anger", seed=0)
    runs.generator_path(run, "BtoA").unlink()  # as shipped: only calm -> angry
    code, _, err = _run(capsys, _wav(tmp_path / "angry.wav", 0.5), "--source", "anger",
                        "--emotion", "calm", "--models", root)
    assert code == 2
    assert "holds only the calm -> angry generator" in err
    assert "--pair anger2calm" in err


def test_a_smoke_run_folder_of_any_name_is_a_model_folder(models_root, tmp_path, capsys):
    smoke = tmp_path / "smoke"
    shutil.copytree(models_root / "calm2anger", smoke)
    assert runs.find_model_dir(smoke, "calm", "anger") == smoke
    code, _, err = _run(capsys, _wav(tmp_path / "a.wav", 0.5), "--emotion", "sad",
                        "--models", smoke)
    assert code == 2 and "run folder of another model (calm2anger), not of calm2sad" in err


def test_evaluate_suggests_a_download_command_that_exists(tmp_path, capsys):
    assert evaluate.main(["--pair", "calm2anger", "--ravdess", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "python data_prep.py --download ravdess" in err


# --- One rule, inputs first -----------------------------------------------------------------
def test_a_missing_input_is_reported_before_any_model_is_looked_for(tmp_path, capsys):
    code, _, err = _run(capsys, tmp_path / "missing.wav", "--emotion", "anger", "--models",
                        tmp_path / "no_models")
    assert code == 2
    assert "missing.wav: no such file" in err and "no model" not in err


def test_normalize_and_the_resampling_note(models_root, tmp_path, capsys):
    quiet = tmp_path / "quiet.wav"
    rate = 44100
    stereo = np.stack([_speech(1.0 * rate / SAMPLE_RATE)] * 2, axis=1) * 0.01
    soundfile.write(str(quiet), stereo, rate, subtype="PCM_16")
    code, out, err = _run(capsys, quiet, "--emotion", "anger", "--models", models_root,
                          "--normalize", "--iters", 2)
    assert code == 0, err
    assert "from 44100 Hz stereo, resampled to 16000 Hz and mixed to mono" in out
    written, written_rate = soundfile.read(str(tmp_path / "quiet_angry.wav"))
    assert written_rate == SAMPLE_RATE
    # --normalize converts the input brought to a -1 dBFS peak, and the result keeps that
    # loudness (its speech level), peaks limited below full scale.
    loaded = load_audio(quiet)
    normalized = loaded * (10 ** (-1 / 20) / np.abs(loaded).max())
    assert speech_level_db(written) == pytest.approx(speech_level_db(normalized), abs=1.0)
    assert np.abs(written).max() < 1.0

"""The developer tools (tools/): pack_ravdess.py, ablation.py, choose_cut.py, the prosody and
pitch checks, choose_prosody.py; and examples/."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spectrogan.audio.audio_files import load_audio
from spectrogan.data.corpus import scan_ravdess
from spectrogan.core.errors import UserError
from spectrogan.audio.spectro import SAMPLE_RATE
from spectrogan.stages.pitch_shift import PitchShift

from conftest import REPO, chirp, load_tool, tone
from helpers import save_tiny_model

pack_ravdess = load_tool("pack_ravdess")


@pytest.fixture()
def wav_tree(tmp_path) -> Path:
    """Two actors, one mono and one stereo file each, plus a stray file that is not RAVDESS."""
    root = tmp_path / "ravdess"
    for actor in (1, 2):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        mono = 0.5 * chirp(0.4)
        stereo = np.stack([0.3 * tone(0.3, 200.0 * actor), 0.2 * tone(0.3, 330.0)], axis=1)
        soundfile.write(folder / f"03-01-02-01-01-01-{actor:02d}.wav", mono, SAMPLE_RATE,
                        subtype="PCM_16")
        soundfile.write(folder / f"03-01-05-02-02-01-{actor:02d}.wav", stereo, 22050,
                        subtype="PCM_16")
    (root / "notes.txt").write_text("not audio")
    return root


def test_pack_is_lossless_and_readable_as_ravdess(wav_tree, tmp_path, capsys):
    out = tmp_path / "packed"
    assert pack_ravdess.main(["--ravdess", str(wav_tree), "--out", str(out)]) == 0
    assert "4 files" in capsys.readouterr().out
    originals = scan_ravdess(wav_tree)
    packed = scan_ravdess(out)
    assert [(r.actor, r.emotion, r.intensity, r.statement) for r in packed] == \
        [(r.actor, r.emotion, r.intensity, r.statement) for r in originals]
    for original, copy in zip(originals, packed):
        assert copy.path.suffix == ".flac"
        wav, wav_rate = soundfile.read(original.path, dtype="int16")
        flac, flac_rate = soundfile.read(copy.path, dtype="int16")
        assert flac_rate == wav_rate and np.array_equal(flac, wav)  # same samples, channels
        np.testing.assert_array_equal(load_audio(copy.path), load_audio(original.path))


def test_pack_keeps_existing_files_and_filters_actors(wav_tree, tmp_path):
    out = tmp_path / "packed"
    assert pack_ravdess.main(["--ravdess", str(wav_tree), "--out", str(out),
                              "--actors", "2"]) == 0
    assert sorted(p.parent.name for p in out.rglob("*.flac")) == ["Actor_02", "Actor_02"]
    kept = next(out.rglob("*.flac"))
    before = kept.stat().st_mtime_ns
    assert pack_ravdess.main(["--ravdess", str(wav_tree), "--out", str(out)]) == 0
    assert kept.stat().st_mtime_ns == before
    assert len(list(out.rglob("*.flac"))) == 4


def test_pack_errors_are_one_line(tmp_path, capsys):
    assert pack_ravdess.main(["--ravdess", str(tmp_path / "missing"),
                              "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        pack_ravdess.main(["--ravdess", str(tmp_path), "--actors", "one"])
    assert exit_info.value.code == 2


def test_the_shipped_example_clip_is_calm_ravdess_speech_with_attribution():
    clip = REPO / "examples" / "calm_speech.wav"
    info = soundfile.info(clip)
    assert info.samplerate == SAMPLE_RATE and info.channels == 1
    assert 2.0 < info.duration < 6.0
    audio = load_audio(clip)
    # RAVDESS is recorded quietly (the file peaks near -37 dBFS); the shipped copy is
    # normalised to a -1 dBFS peak so that a newcomer hears it, and its README says so.
    peak_dbfs = 20 * np.log10(np.abs(audio).max())
    assert -1.5 < peak_dbfs <= -0.9
    notes = (REPO / "examples" / "README.md").read_text()
    for needed in ("03-01-02-01-01-01-19", "Livingstone", "CC BY-NC-SA 4.0", "-1 dBFS peak"):
        assert needed in notes


ablation = load_tool("ablation")


def _scored_row(judged: float, mcd_to_source: float) -> dict:
    return {"judged_target": judged, "target_over_source": 0.5, "mcd_to_target": 7.0,
            "mcd_to_target_std": 0.5, "mcd_to_source": mcd_to_source, "mcd_to_source_std": 0.1,
            "f0_mean_hz": 180.0, "voiced_fraction": 0.6, "word_error_rate": 0.4,
            "envelope_correlation": 0.9}


def _selection(epochs: dict[int, float], val_actors=(15, 16)) -> dict:
    return {"pair": "calm2anger", "source": "calm", "target": "angry",
            "val_actors": list(val_actors), "n_clips": 16,
            "classifier": {"train_actors": list(range(1, 15))},
            "reference": {"source": _scored_row(0.0, 0.0), "target": _scored_row(0.75, 6.0)},
            "epochs": [{"epoch": epoch, **_scored_row(judged, 1.0)}
                       for epoch, judged in epochs.items()]}


def test_ablation_table_has_one_row_per_arm_from_its_last_epoch():
    from spectrogan.evaluation.reports import ablation_table

    arms = [{"label": "original settings", "updates": 70, "seconds": 1234.4,
             "selection": _selection({1: 0.5})},
            {"label": "fast preset", "updates": 2034, "seconds": 1201.0,
             # the last epoch is the arm's row, not the best one
             "selection": _selection({18: 0.25, 9: 0.8})}]
    lines = ablation_table(arms).splitlines()
    assert lines[0].startswith("| training | updates | seconds | judged angry | angry over calm")
    assert len(lines) == 2 + 1 + len(arms) + 1  # header, rule, zero effort, arms, real target
    assert lines[2].startswith("| none: calm (zero effort) | 0 | 0 | 0% |")
    assert lines[3].startswith("| original settings (epoch 1) | 70 | 1,234 | 50% | 50% |")
    assert lines[4].startswith("| fast preset (epoch 18) | 2,034 | 1,201 | 25% |")
    assert lines[5].startswith("| angry (real) |  |  | 75% |")
    with pytest.raises(ValueError, match="validation"):
        ablation_table([arms[0], {**arms[1], "selection": _selection({1: 0.5}, (3, 4))}])


def test_ablation_reads_updates_and_seconds_from_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"epoch": 3, "training": {"steps_per_epoch": 20}, '
                                     '"generator": {"filters": 16, "res_blocks": 6}}')
    (run / "log.csv").write_text("epoch,g_loss,seconds\n1,1.0,80.5\n2,0.9,81.0\n3,0.8,79.5\n")
    assert ablation.training_record(run) == (60, 241.0)
    # Newer logs count the updates of an epoch a time budget cut short.
    (run / "log.csv").write_text("epoch,seconds,updates\n1,80.5,20\n2,81.0,20\n3,30.0,7\n"
                                 "4,80.0,20\n")
    assert ablation.training_record(run) == (47, 191.5)  # up to the chosen epoch, 3


def test_ablation_without_training_data_is_a_one_line_usage_error(tmp_path, capsys):
    code = ablation.main(["--pair", "calm2neutral", "--budget", "10", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: data/calm2neutral.npz not found") and "data_prep.py" in err
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


choose_cut = load_tool("choose_cut")


def _model_folder(folder: Path) -> Path:
    from spectrogan.model import runs

    runs.write_config(folder, {"pair": "calm2anger", "image_size": 260, "val_actors": [15, 16],
                               "generator": {"filters": 4, "res_blocks": 1,
                                             "identity_start": True}})
    runs.generator_path(folder).write_bytes(b"weights of the shipped model")
    return folder


def _scored(model: Path, out: Path, candidates: dict, option: str, judged: dict[int, float],
            chosen: int) -> dict:
    """A selection of `candidates` as choose_cut writes it after scoring them."""
    from spectrogan.data.downloads import file_digest
    from spectrogan.model import runs

    selection = {**_selection(judged), "chosen_epoch": chosen, "guard_held": True,
                 "option": option, "candidates": candidates,
                 "generator_sha256": file_digest(runs.generator_path(model))}
    choose_cut.write_selection(out / "selection.json", selection)
    return json.loads((out / "selection.json").read_text())


def test_choose_cut_candidates_are_the_model_opened_with_each_value(tmp_path):
    from spectrogan.model import runs

    model = save_tiny_model(tmp_path / "models" / "calm2anger", identity_start=True,
                            directions=("AtoB",), inference={"level_change_db": 3.0})
    candidates = choose_cut.cut_candidates(model, {0: 0, 24: 24})
    assert [c.number for c in candidates] == [0, 24]
    assert not list((tmp_path / "models").rglob("epoch_*"))  # nothing staged
    converter = candidates[1].open()
    assert converter.settings.envelope_cut == 24
    assert converter.settings.level_change_db == 3.0  # the rest of "inference" kept
    assert converter.folder == model and runs.read_config(model)["inference"] == {
        "level_change_db": 3.0}
    pitched = choose_cut.cut_candidates(model, {100: 1.0, 115: 1.15}, option=choose_cut.PITCH)
    assert pitched[1].open().settings.stage(PitchShift) == PitchShift(1.15)
    # A pitch shift cannot follow WORLD: one line, not a traceback.
    world = save_tiny_model(tmp_path / "world" / "calm2anger", identity_start=True,
                            directions=("AtoB",), inference={"vocoder": "world"})
    with pytest.raises(UserError, match="pitch_ratio 1.15 does not fit this model"):
        choose_cut.cut_candidates(world, {115: 1.15}, option=choose_cut.PITCH)


def test_choose_cut_reuses_its_scores_and_installs_only_the_chosen_value(tmp_path):
    from spectrogan.model import runs

    model = _model_folder(tmp_path / "models" / "calm2anger")
    out = tmp_path / "out" / "calm2anger"
    cuts = {0: 0, 12: 12, 24: 24}
    selection = _scored(model, out, cuts, choose_cut.CUT, {0: 0.75, 12: 0.4, 24: 0.55}, 24)
    assert choose_cut.scored_already(model, out / "selection.json", cuts)
    assert not choose_cut.scored_already(model, out / "selection.json", {0: 0, 24: 24})
    assert not choose_cut.scored_already(model, out / "selection.json", cuts,
                                         option=choose_cut.PITCH)
    before = runs.read_config(model)
    assert choose_cut.install_cut(model, selection, cuts) == 24
    after = runs.read_config(model)
    assert after["inference"]["envelope_coefficients"] == 24
    assert after["inference"]["chosen_on"]["val_actors"] == [15, 16]
    assert {k: v for k, v in after.items() if k != "inference"} == before
    # A pitch shift is chosen the same way, on top of the recorded cut, and kept beside it.
    ratios = {100: 1.0, 115: 1.15}
    pitch_selection = _scored(model, tmp_path / "pitched", ratios, choose_cut.PITCH,
                              {100: 0.5, 115: 0.6}, 115)
    assert choose_cut.install_cut(model, pitch_selection, ratios,
                                  option=choose_cut.PITCH) == 1.15
    inference = runs.read_config(model)["inference"]
    assert inference["pitch_ratio"] == 1.15 and inference["envelope_coefficients"] == 24
    assert inference["pitch_ratio_chosen_on"]["candidates"] == [1.0, 1.15]
    # A level change likewise, its candidates named by their fraction of the training
    # actors' difference, and recorded with what they were derived from.
    levels = {0: 0.0, 50: 9.9, 100: 19.8}
    leveled = tmp_path / "leveled"
    level_selection = _scored(model, leveled, levels, choose_cut.LEVEL,
                              {0: 0.2, 50: 0.4, 100: 0.3}, 50)
    assert choose_cut.scored_already(model, leveled / "selection.json", levels,
                                     option=choose_cut.LEVEL)
    # Same numbers, other values (the training actors' difference changed): scored afresh.
    assert not choose_cut.scored_already(model, leveled / "selection.json",
                                         {0: 0.0, 50: 5.0, 100: 10.0}, option=choose_cut.LEVEL)
    basis = {"training_level_difference_db": 19.8}
    assert choose_cut.install_cut(model, level_selection, levels, option=choose_cut.LEVEL,
                                  basis=basis) == 9.9
    inference = runs.read_config(model)["inference"]
    assert inference["level_change_db"] == 9.9 and inference["pitch_ratio"] == 1.15
    assert inference["level_change_db_chosen_on"]["training_level_difference_db"] == 19.8
    # A new cut drops the pitch shift chosen on the old one and keeps everything else.
    runs.write_config(model, {**runs.read_config(model),
                              "inference": {**inference, "prosody_chosen_on": {"arm": "a"}}})
    choose_cut.install_cut(model, selection, cuts)
    inference = runs.read_config(model)["inference"]
    assert "pitch_ratio" not in inference and "pitch_ratio_chosen_on" not in inference
    assert inference["prosody_chosen_on"] == {"arm": "a"} and inference["level_change_db"] == 9.9
    runs.generator_path(model).write_bytes(b"retrained since")
    assert not choose_cut.scored_already(model, out / "selection.json", cuts)
    with pytest.raises(Exception, match="changed since"):
        choose_cut.install_cut(model, selection, cuts)


def test_choose_cut_refuses_two_kinds_of_candidate_at_once(tmp_path, capsys):
    code = choose_cut.main(["--pair", "calm2anger", "--pitch-ratios", "1.1",
                            "--level-fractions", "0.5", "--out", str(tmp_path)])
    assert code == 2 and "pass one" in capsys.readouterr().err
    code = choose_cut.main(["--pair", "calm2anger", "--level-fractions", "2",
                            "--out", str(tmp_path)])
    assert code == 2 and "--level-fractions must be from 0 to 1.5" in capsys.readouterr().err


def test_pitch_vocoder_check_moves_f0_by_the_ratio_and_keeps_the_voicing():
    from spectrogan.evaluation.metrics import FEATURE_NAMES, clip_features

    check = load_tool("pitch_vocoder_check")
    makers = check.audio_makers(1.25)
    assert len(makers) == 5
    voice = np.concatenate([np.zeros(1600, np.float32), tone(1.0, 160.0),
                            np.zeros(1600, np.float32)])
    voiced_at, f0_at = FEATURE_NAMES.index("voiced_fraction"), FEATURE_NAMES.index("f0_mean_hz")
    plain = clip_features(makers["vocoder alone"](voice))
    shifted = clip_features(makers["vocoder, then shift 1.25 (as convert.py)"](voice))
    assert plain[f0_at] == pytest.approx(160.0, rel=0.03)
    assert shifted[f0_at] == pytest.approx(200.0, rel=0.03)
    assert shifted[voiced_at] >= plain[voiced_at] - 0.05 > 0.5


def test_pitch_vocoder_check_refuses_what_it_cannot_score(tmp_path, capsys):
    check = load_tool("pitch_vocoder_check")
    assert check.main(["--ravdess", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        check.main(["--ratio", "3"])
    assert exit_info.value.code == 2


def test_prosody_check_takes_the_mean_of_each_actors_log_f0_difference(capsys):
    check = load_tool("prosody_check")
    # Actor 1 speaks the target twice as high, actor 2 at the same pitch (one clip unvoiced).
    features = {"calm": np.array([[100.0], [100.0], [200.0]]),
                "target": np.array([[200.0], [200.0], [0.0]])}
    actors = {"calm": np.array([1, 1, 2]), "target": np.array([1, 2, 2])}
    features["target"][1, 0] = 200.0
    assert check.mean_log_f0_ratio(features, actors, index=0) == pytest.approx(np.sqrt(2.0))
    makers = check.audio_makers(level_db=6.0, ratio=1.2)
    voice = 0.05 * tone(0.5, 150.0)
    plain, louder = makers["vocoder alone"](voice), makers["level +6.0 dB"](voice)
    np.testing.assert_allclose(louder, plain * 10 ** (6 / 20), rtol=1e-5)
    assert check.main(["--emotions", "calm"]) == 2
    assert "calm is the source" in capsys.readouterr().err


# --- choose_prosody.py: the arms, the report and what --install writes ------------------------
choose_prosody = load_tool("choose_prosody")


def _prosody_record(pair: str, chosen: str) -> dict:
    from spectrogan.stages.conversion_settings import ConversionSettings

    figures = {"judged_target": 0.25, "target_over_source": 0.5, "voiced_fraction": 0.8,
               "word_error_rate": 0.4, "mcd_to_target": 7.0}
    arms = [{"epoch": i, "arm": arm.name, "passes_guard": True, "chosen": arm.name == chosen,
             "conversion": arm.settings(ConversionSettings(), *_learned()).record(), **figures}
            for i, arm in enumerate(choose_prosody.ARMS)]
    return {"pair": pair, "source": "calm", "target": pair[6:], "train_actors": [1, 2],
            "val_actors": [15, 16], "test_actors": [17, 18, 19, 20],
            "prosody_change": {"f0_shift_semitones": 6.0, "f0_spread_ratio": 1.7,
                               "duration_ratio": 0.9},
            "reference": {"source": figures, "target": figures}, "arms": arms,
            "chosen": chosen, "guard_held": True,
            "limits": {"mcd_limit_db": 8.0, "wer_limit": 0.5, "voiced_limit": 0.7}}


def _learned() -> tuple:
    from spectrogan.stages.cepstral_change import DIMENSIONS, CepstralChange
    from spectrogan.stages.prosody import ProsodyChange
    from spectrogan.stages.spectral_balance import BAND_COUNT, SpectralBalance

    return (ProsodyChange(6.0, 1.7, 0.9),
            SpectralBalance((-2.0,) * (BAND_COUNT // 2) + (2.0,) * (BAND_COUNT // 2)),
            CepstralChange(spread_ratio=(1.3,) * DIMENSIONS))


def test_choose_prosody_arms_apply_what_their_names_say():
    from spectrogan.stages.cepstral_change import CepstralChange
    from spectrogan.stages.conversion_settings import ConversionSettings
    from spectrogan.stages.envelope_model import EnvelopeModel
    from spectrogan.stages.pitch_shift import PitchShift
    from spectrogan.stages.prosody import ProsodyChange
    from spectrogan.stages.spectral_balance import SpectralBalance

    base = ConversionSettings.of("griffin-lim", EnvelopeModel(cut=24, smoothing=24),
                                 PitchShift(1.2), level_change_db=3.0)
    change, balance, cepstral = _learned()
    arms = {arm.name: arm.settings(base, change) for arm in choose_prosody.ARMS}
    assert arms["griffin-lim, model"] == base  # the model as shipped before
    assert arms["world, model"].vocoder.name == "world"
    assert arms["world, model"].stage(ProsodyChange) is None
    assert arms["world, prosody"].stage(ProsodyChange) == change
    assert arms["world, model + pitch level"].stage(ProsodyChange) == ProsodyChange(6.0)
    assert arms["world, model + level, range"].stage(ProsodyChange) == ProsodyChange(6.0, 1.7)
    assert arms["world, model + prosody"].stage(ProsodyChange) == change
    for arm in choose_prosody.ARMS:
        settings = arm.settings(base, change, balance, cepstral)
        assert ("model" in arm.name) == arm.model and ("balance" in arm.name) == arm.balance
        assert ("cepstra" in arm.name) == arm.cepstra
        assert (settings.stage(SpectralBalance) == balance) == arm.balance, arm
        assert (settings.stage(CepstralChange) == cepstral) == arm.cepstra, arm
        assert settings.stage(EnvelopeModel).applied == arm.model, arm
        assert settings.envelope_cut == 24 and settings.level_change_db == 3.0, arm
        if arm.vocoder == "world":
            assert settings.stage(PitchShift) is None, arm
    for name in ("world, cepstra + level, rate", "world, model + cepstra + level, rate"):
        settings = choose_prosody.ARM_NAMES[name].settings(base, change, balance, cepstral)
        assert settings.stage(ProsodyChange) == ProsodyChange(6.0, 1.0, 0.9), name


def test_choose_prosody_report_and_install_keep_every_other_key(tmp_path):
    from spectrogan.model import runs
    from spectrogan.stages.cepstral_change import CepstralChange
    from spectrogan.stages.prosody import ProsodyChange
    from spectrogan.stages.spectral_balance import SpectralBalance

    out = tmp_path / "out"
    out.mkdir()
    for pair, chosen in (("calm2happy", "world, model + prosody"),
                         ("calm2sad", "griffin-lim, model")):
        (out / f"{pair}_prosody.json").write_text(json.dumps(_prosody_record(pair, chosen)))
    text = choose_prosody.write_report(out).read_text()
    assert "calm2happy" in text and "calm2sad" in text
    assert "**world, model + prosody**" in text and "**griffin-lim, model**" in text
    model = tmp_path / "models" / "calm2happy"
    runs.write_config(model, {"pair": "calm2happy", "generator": {"filters": 4, "res_blocks": 1},
                              "inference": {"envelope_coefficients": 24,
                                            "level_change_db": 14.8,
                                            "chosen_on": {"tool": "tools/choose_cut.py"}}})
    base = runs.read_settings(model)
    for name in ("world, model + prosody + balance", "world, model + cepstra + prosody",
                 "world, model + prosody"):
        arm = choose_prosody.ARM_NAMES[name]
        record = _prosody_record("calm2happy", name)
        chosen = next(entry for entry in record["arms"] if entry["chosen"])
        choose_prosody.install(model, arm.settings(base, *_learned()), chosen, record)
        inference = runs.read_config(model)["inference"]
        assert inference["envelope_coefficients"] == 24 and inference["level_change_db"] == 14.8
        assert inference["chosen_on"] == {"tool": "tools/choose_cut.py"}  # earlier record kept
        assert inference["vocoder"] == "world"
        assert inference["prosody_chosen_on"]["arm"] == name
        settings = runs.read_settings(model)
        assert settings.stage(ProsodyChange) == _learned()[0]
        # The balance is installed with its arm and removed when a later choice has none.
        assert (settings.stage(SpectralBalance) is not None) == arm.balance
        assert (settings.stage(CepstralChange) is not None) == arm.cepstra


def test_choose_prosody_installs_the_prosody_alone_without_the_envelope_change(tmp_path):
    from spectrogan.model import runs

    model = tmp_path / "calm2surprised"
    runs.write_config(model, {"pair": "calm2surprised",
                              "generator": {"filters": 4, "res_blocks": 1}})
    record = _prosody_record("calm2surprised", "world, prosody")
    chosen = next(arm for arm in record["arms"] if arm["chosen"])
    arm = choose_prosody.ARM_NAMES["world, prosody"]
    choose_prosody.install(model, arm.settings(runs.read_settings(model), *_learned()), chosen,
                           record)
    settings = runs.read_settings(model)
    assert settings.vocoder.name == "world"
    assert "learned changes alone" in settings.describe()


# --- validation_actors.py: which actors can tell a conversion apart --------------------------
def test_validation_actors_gives_each_actor_s_unconverted_and_real_target_share(capsys):
    check = load_tool("validation_actors")
    judged = ["disgust", "disgust", "calm", "disgust", "sad", "calm", "disgust", "calm"]
    actors = [16, 16, 16, 16, 15, 15, 15, 15]
    emotions = ["calm", "calm", "disgust", "disgust", "calm", "calm", "disgust", "disgust"]
    table = check.actor_verdicts(judged, actors, emotions, source="calm", target="disgust")
    # Actor 16's calm is already heard as disgust: whatever converts it scores the same there.
    assert table == {15: (0.0, 0.5), 16: (1.0, 0.5)}
    only_calm = check.actor_verdicts(["calm"], [3], ["calm"], source="calm", target="disgust")
    assert only_calm[3][0] == 0.0 and np.isnan(only_calm[3][1])
    with pytest.raises(ValueError, match="2 verdicts for 1 actors"):
        check.actor_verdicts(["calm", "calm"], [3], ["calm"], source="calm", target="disgust")
    assert check.main(["--pair", "calm2disgust", "--actors", "16,17"]) == 2
    assert "the test actors are not judged" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        check.main(["--pair", "calm2disgust", "--actors", "seven"])
    assert usage.value.code == 2 and "not a comma-separated list" in capsys.readouterr().err

"""data_prep.py: RAVDESS names, pair building, the three-way speaker split (train / val /
test), windows, idempotence, atomic writes, bad input, the original-format conversion and both
downloads (no network)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spectrogan.data import corpus
import data_prep
from spectrogan.data import original_data
from spectrogan.data import downloads
import urllib.error
import zipfile
from data_prep import build_pair, build_pairs, main
from spectrogan.core.errors import UserError
from spectrogan.audio.spectro import (IMAGE_SIZE, N_BINS, N_FRAMES, SAMPLE_RATE, n_frames_for,
                                      window_starts)

from conftest import RAVDESS_DIR, needs_ravdess, tone

EMOTION_CODES = {"calm": 2, "angry": 5, "fearful": 6}
ACTORS = (1, 2, 3, 4, 5)
TEST_ACTORS = (3, 4)  # 3 male, 4 female
VAL_ACTORS = (5,)  # male; 1 and 2 train
SPLIT_ARGS = ["--test-actors", "3,4", "--val-actors", "5"]
SILENCE_S = 0.3  # digital silence before and after every tone (trimmed away)
TONE_S = 0.8
LONG_S = 5.0  # one clip longer than a window (257 frames = 4.1 s)
LONG_FILE = "Actor_02/03-01-05-01-02-02-02.wav"
STEREO_FILE = "Actor_01/03-01-05-01-01-01-01.wav"
CORRUPT_FILE = "Actor_01/03-01-02-02-01-01-01.wav"  # an extra calm file of a training actor


def _name(emotion: str, statement: int, repetition: int, actor: int, intensity: int = 1) -> str:
    return (f"Actor_{actor:02d}/03-01-{EMOTION_CODES[emotion]:02d}-{intensity:02d}-"
            f"{statement:02d}-{repetition:02d}-{actor:02d}.wav")


def _write(path: Path, seconds: float, freq: float, *, sr: int, channels: int = 1) -> None:
    """Tone with silence either side, resampled by writing at `sr` (tone() makes it at sr)."""
    pad = np.zeros(int(SILENCE_S * sr), np.float32)
    audio = np.concatenate([pad, tone(seconds, freq, sr=sr), pad])
    if channels == 2:
        audio = np.stack([audio, 0.5 * audio], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, sr, subtype="PCM_16")


def make_tree(root: Path) -> Path:
    """A small RAVDESS-named tree: 5 actors x {calm, angry, fearful} x 2 files, mixed 16/48 kHz,
    one stereo file, one long file, one corrupt file and three files outside the scheme."""
    for actor in ACTORS:
        for e_index, emotion in enumerate(EMOTION_CODES):
            for statement in (1, 2):
                name = _name(emotion, statement, 2 if emotion == "angry" and statement == 2
                             and actor == 2 else 1, actor)
                sr = 48000 if (actor + statement) % 2 else SAMPLE_RATE
                seconds = LONG_S if name == LONG_FILE else TONE_S
                _write(root / name, seconds, 150.0 + 40 * e_index + 10 * actor, sr=sr,
                       channels=2 if name == STEREO_FILE else 1)
    (root / CORRUPT_FILE).write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    (root / "Actor_01" / "notes.txt").write_text("not audio")
    _write(root / "Actor_01" / "03-02-02-01-01-01-01.wav", 0.2, 200.0, sr=SAMPLE_RATE)  # song
    _write(root / "Actor_02" / "03-01-02-01-01-01-05.wav", 0.2, 200.0, sr=SAMPLE_RATE)  # folder
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "ravdess")


def _build(tree: Path, out: Path, pair: str = "calm2anger", **options) -> dict:
    options.setdefault("test_actors", TEST_ACTORS)
    options.setdefault("val_actors", VAL_ACTORS)
    return build_pair(tree, pair, out_dir=out, **options)


def _expected_windows(seconds: float) -> int:
    return len(window_starts(n_frames_for(int(round(seconds * SAMPLE_RATE)))))


# --- Names and scanning -----------------------------------------------------------------------
def test_parse_ravdess_name_decodes_every_field():
    record = corpus.parse_ravdess_name("Actor_12/03-01-06-02-01-02-12.wav")
    assert (record.emotion, record.intensity, record.statement, record.repetition,
            record.actor, record.sex) == ("fearful", "strong", 1, 2, 12, "female")
    assert record.text == "Kids are talking by the door"
    assert corpus.parse_ravdess_name("x/03-01-08-01-02-01-07.WAV").sex == "male"


@pytest.mark.parametrize("name, reason", [
    ("Actor_01/notes.txt", "not an audio file"),
    ("Actor_01/03-01-02-01-01-01.wav", "name is not"),
    ("Actor_01/03-02-02-01-01-01-01.wav", "song"),
    ("Actor_01/01-01-02-01-01-01-01.wav", "audio-only"),
    ("Actor_01/03-01-09-01-01-01-01.wav", "emotion code 09"),
    ("Actor_01/03-01-02-03-01-01-01.wav", "01 or 02"),
    ("Actor_02/03-01-02-01-01-01-01.wav", "folder is Actor_02"),
])
def test_parse_ravdess_name_rejects_other_names(name, reason):
    with pytest.raises(ValueError, match=reason):
        corpus.parse_ravdess_name(name)


def test_scan_counts_skipped_files(tree):
    skipped = []
    files = corpus.scan_ravdess(tree, skipped=skipped)
    assert len(files) == len(ACTORS) * len(EMOTION_CODES) * 2 + 1  # + the corrupt one
    assert sorted(name for name, _ in skipped) == [
        "Actor_01/03-02-02-01-01-01-01.wav", "Actor_01/notes.txt",
        "Actor_02/03-01-02-01-01-01-05.wav"]
    assert all(reason for _, reason in skipped)


# --- Building ---------------------------------------------------------------------------------
def test_build_pair_is_speaker_disjoint_with_expected_counts(tree, tmp_path):
    summary = _build(tree, tmp_path / "out")
    assert summary["status"] == "built"
    data = corpus.load_pair_npz(summary["path"])
    assert (data["pair"], data["source"], data["target"]) == ("calm2anger", "calm", "angry")
    for domain in "AB":
        train, val, test = (set(data[f"{part}_{domain}_actors"])
                            for part in ("train", "val", "test"))
        assert train == {1, 2} and val == set(VAL_ACTORS) and test == set(TEST_ACTORS)
        held_out = {f"Actor_{a:02d}" for a in TEST_ACTORS + VAL_ACTORS}
        assert not {Path(f).parent.name for f in data[f"train_{domain}_files"]} & held_out
        assert {Path(f).parent.name for f in data[f"val_{domain}_files"]} == {"Actor_05"}
    assert list(data["test_actors"]) == list(TEST_ACTORS)
    assert list(data["val_actors"]) == list(VAL_ACTORS)
    assert list(data["train_actors"]) == [1, 2]
    assert (summary["test_actors"], summary["val_actors"], summary["train_actors"]) == (
        list(TEST_ACTORS), list(VAL_ACTORS), [1, 2])
    # Actor 5 has two calm and two angry one-window clips.
    assert summary["files"]["val_A"] == summary["files"]["val_B"] == 2
    assert summary["windows"]["val_A"] == summary["windows"]["val_B"] == 2
    assert len(data["val_A"]) == len(data["val_B"]) == 2
    # calm: 4 training files, but the corrupt one is skipped and reported.
    assert summary["files"]["train_A"] == 5 and summary["windows"]["train_A"] == 4
    assert [name for name, _ in summary["unreadable"]] == [CORRUPT_FILE]
    assert any(CORRUPT_FILE in entry for entry in data["unreadable_files"])
    # angry: the long clip gives several overlapping windows, every other clip one.
    n_long = _expected_windows(LONG_S)
    assert n_long > 1
    assert len(data["train_B"]) == 3 + n_long
    assert list(data["train_B_files"]).count(LONG_FILE) == n_long
    assert len(data["test_A"]) == len(data["test_B"]) == 4
    for key in ("train_A", "train_B", "val_A", "val_B", "test_A", "test_B"):
        stack = data[key]
        assert stack.dtype == np.float16 and stack.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE)
        assert stack.min() >= -1 and stack.max() <= 1
        assert len(data[f"{key}_files"]) == len(data[f"{key}_actors"]) == len(stack)
        assert np.all(stack[:, N_BINS:, :] == -1)  # padding rows
    assert str(data["windows"]) == "all" and str(data["intensity"]) == "both"


def test_silence_is_trimmed(tree, tmp_path):
    data = corpus.load_pair_npz(_build(tree, tmp_path / "out")["path"])
    short = data["test_A"][0].astype(np.float32)[:N_BINS]
    # Without trimming the first 0.3 s (~18 frames) would be digital silence (-1).
    assert short[:, 2].max() > 0
    # The tone lasts 0.8 s = 50 frames; after it the window is padding.
    tone_frames = n_frames_for(int(TONE_S * SAMPLE_RATE))
    assert np.all(short[:, tone_frames + 4:] == -1)
    assert short[:, tone_frames - 4].max() > 0


def test_center_windows_give_one_full_crop_per_clip(tree, tmp_path):
    summary = _build(tree, tmp_path / "out", windows="center")
    data = corpus.load_pair_npz(summary["path"])
    assert len(data["train_B"]) == 4 and str(data["windows"]) == "center"
    long_window = data["train_B"][list(data["train_B_files"]).index(LONG_FILE)]
    assert long_window[:N_BINS, N_FRAMES - 1].max() > 0  # the crop is all signal, no padding


def test_clip_to_windows_matches_window_counts(rng):
    audio = tone(7.0, 200.0)
    assert len(data_prep.clip_to_windows(audio, windows="all")) == _expected_windows(7.0)
    assert data_prep.clip_to_windows(audio, windows="center").shape == (1, IMAGE_SIZE,
                                                                         IMAGE_SIZE)
    with pytest.raises(UserError, match="silent"):
        data_prep.clip_to_windows(np.zeros(SAMPLE_RATE, np.float32))


def test_aliases_name_the_same_pair(tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--ravdess", str(tree), "--pair", "calm2angry", "--out", str(out),
                 *SPLIT_ARGS]) == 0
    assert (out / "calm2anger.npz").is_file()
    assert "up to date" in _run_ok(["--ravdess", str(tree), "--pair", "calm2anger", "--out",
                                    str(out), *SPLIT_ARGS], capsys)
    summary = _build(tree, out, "fear2anger")
    assert Path(summary["path"]).name == "fearful2anger.npz"
    assert (summary["source"], summary["target"]) == ("fearful", "angry")


def _run_ok(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_intensity_filter(tree, tmp_path):
    # Every synthetic file is normal intensity: a strong-only build has nothing to use.
    with pytest.raises(UserError, match="too few files"):
        _build(tree, tmp_path / "out", intensity="strong")
    assert _build(tree, tmp_path / "out", intensity="normal")["status"] == "built"


def test_several_pairs_read_each_file_once(tree, tmp_path, monkeypatch):
    calls = []
    real = data_prep.file_to_windows

    def counting(path, **kwargs):
        calls.append(Path(path))
        return real(path, **kwargs)

    monkeypatch.setattr(data_prep, "file_to_windows", counting)
    summaries = build_pairs(tree, ["calm2anger", "calm2fearful", "fearful2anger"],
                            out_dir=tmp_path / "out", test_actors=TEST_ACTORS,
                            val_actors=VAL_ACTORS)
    assert [s["status"] for s in summaries] == ["built"] * 3
    assert len(calls) == len(set(calls)) == len(corpus.scan_ravdess(tree))


# --- The validation split --------------------------------------------------------------------
def test_summary_shows_the_three_way_split(tree, tmp_path, capsys):
    text = _run_ok(["--ravdess", str(tree), *SPLIT_ARGS, "--out", str(tmp_path / "out")],
                   capsys)
    assert "val files/windows" in text
    assert ("split by speaker: test actors 03,04 (1 male, 1 female), validation actors 05 "
            "(1 male, 0 female), train actors 01,02") in text


def test_val_and_test_actors_must_not_overlap(tree, tmp_path, monkeypatch, capsys):
    def no_download(*args, **kwargs):
        raise AssertionError("the overlap must be reported before any download")

    monkeypatch.setattr(downloads, "_download_url", no_download)
    out = tmp_path / "out"
    for extra in ([], ["--download", "ravdess"]):
        err = _run_error(["--ravdess", str(tree), "--test-actors", "3,4", "--val-actors",
                          "4,5", "--out", str(out), *extra], capsys)
        assert "actor(s) 04 are in both --val-actors (04,05) and --test-actors (03,04)" in err
    assert not out.exists()
    with pytest.raises(UserError, match="actor.s. 03,04 are in both"):
        _build(tree, out, val_actors=(4, 3))
    records = corpus.scan_ravdess(tree)
    with pytest.raises(UserError, match="in both"):
        corpus.split_by_actor(records, (3, 4), (3,))
    split = corpus.split_by_actor(records, (3, 4), (5,))
    assert {part: {f.actor for f in files} for part, files in split.items()} == {
        "train": {1, 2}, "val": {5}, "test": {3, 4}}
    # The two-way call of before still works: no validation actors, an empty val list.
    assert corpus.split_by_actor(records, (3, 4))["val"] == []


@pytest.mark.parametrize("value", ["none", ""])
def test_no_validation_actors_gives_an_empty_val_split(tree, tmp_path, capsys, value):
    out = tmp_path / "out"
    text = _run_ok(["--ravdess", str(tree), "--test-actors", "3,4", "--val-actors", value,
                    "--out", str(out)], capsys)
    assert "validation actors none, train actors 01,02,05" in text
    data = corpus.load_pair_npz(out / "calm2anger.npz")
    for domain in "AB":
        assert data[f"val_{domain}"].shape == (0, IMAGE_SIZE, IMAGE_SIZE)
        assert len(data[f"val_{domain}_files"]) == len(data[f"val_{domain}_actors"]) == 0
        assert set(data[f"train_{domain}_actors"]) == {1, 2, 5}
    assert list(data["val_actors"]) == [] and list(data["train_actors"]) == [1, 2, 5]


def test_bad_val_actors_value_is_a_usage_error(tree, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--ravdess", str(tree), "--val-actors", "15,x"])
    assert exc.value.code == 2
    assert "'15,x' is not a comma-separated list of actor numbers" in capsys.readouterr().err


def test_other_val_actors_rebuild_the_data_set(tree, tmp_path):
    out = tmp_path / "out"
    assert _build(tree, out)["status"] == "built"
    assert _build(tree, out, val_actors=())["status"] == "built"
    assert _build(tree, out, val_actors=())["status"] == "up to date"
    assert _build(tree, out)["status"] == "built"


def test_data_set_without_val_split_is_refused_then_rebuilt(tree, tmp_path, capsys):
    out = tmp_path / "out"
    path = Path(_build(tree, out)["path"])
    with np.load(path) as npz:  # what data_prep.py wrote before the validation split
        arrays = {name: npz[name] for name in npz.files if not name.startswith("val_")}
    arrays.update(fingerprint=np.array("made by data_prep version 1"),
                  format_version=np.array(1))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(UserError) as error:
        corpus.load_pair_npz(path)
    message = str(error.value)
    assert "made before the validation split" in message and "\n" not in message
    assert "rebuild it with `python data_prep.py --ravdess DIR --pair calm2anger`" in message
    # Our own older file: re-running the command rebuilds it, no --force needed.
    _run_ok(["--ravdess", str(tree), *SPLIT_ARGS, "--out", str(out)], capsys)
    assert len(corpus.load_pair_npz(path)["val_A"]) == 2


def test_save_pair_npz_without_val_stores_an_empty_split(tmp_path, rng):
    groups = [(split, domain) for split in ("train", "test") for domain in "AB"]
    images = {g: rng.uniform(-1, 1, (2, IMAGE_SIZE, IMAGE_SIZE)) for g in groups}
    path = corpus.save_pair_npz(tmp_path / "calm2anger.npz", pair="calm2anger",
                                   images=images, files={g: ["a.wav", "b.wav"] for g in groups},
                                   actors={g: [1, 2] for g in groups})
    data = corpus.load_pair_npz(path)
    assert data["val_A"].shape == data["val_B"].shape == (0, IMAGE_SIZE, IMAGE_SIZE)
    assert data["val_A"].dtype == np.float16 and len(data["val_B_actors"]) == 0
    assert int(data["format_version"]) == corpus.FORMAT_VERSION == 2


# --- Idempotence and safe writing -------------------------------------------------------------
def test_up_to_date_data_is_not_rebuilt(tree, tmp_path):
    out = tmp_path / "out"
    path = Path(_build(tree, out)["path"])
    stamp = path.stat().st_mtime_ns
    again = _build(tree, out)
    assert again["status"] == "up to date" and path.stat().st_mtime_ns == stamp
    assert again["windows"]["train_B"] == 3 + _expected_windows(LONG_S)
    assert _build(tree, out, force=True)["status"] == "built"
    assert _build(tree, out, windows="center")["status"] == "built"  # other options
    assert _build(tree, out, windows="center")["status"] == "up to date"
    touched = tree / _name("calm", 1, 1, 1)
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert _build(tree, out, windows="center")["status"] == "built"  # changed input


def test_foreign_file_is_not_replaced_without_force(tree, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "calm2anger.npz").write_bytes(b"my own notes")
    with pytest.raises(UserError, match="--force"):
        _build(tree, out)
    assert (out / "calm2anger.npz").read_bytes() == b"my own notes"
    assert _build(tree, out, force=True)["status"] == "built"


def test_crash_while_writing_leaves_no_half_file(tree, tmp_path, monkeypatch):
    out = tmp_path / "out"
    good = Path(_build(tree, out)["path"])
    before = good.read_bytes()

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half an npz")
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        _build(tree, out, force=True)
    with pytest.raises(RuntimeError, match="disk full"):
        _build(tree, out, "calm2fearful")
    assert good.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["calm2anger.npz"]


def test_other_stft_settings_are_an_error_then_rebuilt(tree, tmp_path):
    out = tmp_path / "out"
    path = Path(_build(tree, out)["path"])
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["n_fft"] = np.array(1024)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(UserError, match="n_fft=1024"):
        corpus.load_pair_npz(path)
    assert _build(tree, out)["status"] == "built"  # our own file, other settings: rebuilt
    assert int(corpus.load_pair_npz(path)["n_fft"]) == 512


# --- Bad input --------------------------------------------------------------------------------
def _run_error(argv: list[str], capsys, *, code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_empty_and_non_ravdess_folders(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # so no corpus is found at its default place either
    out = ["--out", str(tmp_path / "out")]
    assert "no such folder" in _run_error(["--ravdess", str(tmp_path / "nope")] + out, capsys)
    (tmp_path / "empty").mkdir()
    assert "empty" in _run_error(["--ravdess", str(tmp_path / "empty")] + out, capsys)
    other = tmp_path / "other"
    other.mkdir()
    (other / "song.wav").write_bytes(b"x")
    assert "no RAVDESS speech files" in _run_error(["--ravdess", str(other)] + out, capsys)
    assert "--ravdess DIR" in _run_error(out, capsys)
    assert not (tmp_path / "out").exists()


def test_unknown_pair_is_rejected(tree, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--ravdess", str(tree), "--pair", "calm2bored"])
    assert exc.value.code == 2
    assert "unknown emotion 'bored'" in capsys.readouterr().err
    with pytest.raises(UserError, match="into itself"):
        corpus.parse_pair("anger2angry")


def test_too_few_files_for_the_split(tree, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    err = _run_error(["--ravdess", str(tree), "--test-actors", "9", "--val-actors", "5"] + out,
                     capsys)
    assert "too few files" in err and "test calm" in err
    err = _run_error(["--ravdess", str(tree), "--pair", "calm2sad", *SPLIT_ARGS] + out, capsys)
    assert "train sad" in err
    # The default validation actors 15, 16 are not in this tree.
    err = _run_error(["--ravdess", str(tree), "--test-actors", "3,4"] + out, capsys)
    assert "val calm" in err and "validation actors 15,16" in err and "--val-actors" in err
    assert not (tmp_path / "out").exists()


def test_corrupt_file_is_skipped_and_reported(tree, tmp_path, capsys):
    text = _run_ok(["--ravdess", str(tree), *SPLIT_ARGS, "--out", str(tmp_path / "out")],
                   capsys)
    assert f"skipped unreadable file {CORRUPT_FILE}: not audio, or in a format that cannot be read" in text
    assert "skipped 3 file(s) outside the corpora's naming schemes" in text


def test_all_builds_what_it_can_and_fails_the_rest(tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--ravdess", str(tree), "--all", *SPLIT_ARGS, "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["calm2anger.npz", "calm2fearful.npz"]
    assert "calm2happy (calm -> happy): FAILED" in text
    assert "2 built, 0 up to date, 5 failed" in text


def test_every_group_unreadable_fails(tmp_path, capsys):
    root = tmp_path / "ravdess"
    for actor in (1, 2):
        for emotion in ("calm", "angry"):
            path = root / _name(emotion, 1, 1, actor)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"garbage")
    err = _run_error(["--ravdess", str(root), "--test-actors", "2", "--val-actors", "none",
                      "--out", str(tmp_path / "out")], capsys)
    assert "no readable files" in err


def test_help_documents_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps where the width says
    assert "RAVDESS 17-20, CREMA-D 1039-1044" in text and "calm2anger" in text
    assert "top_db=40" in text and "--corpus LIST" in text
    assert "--val-actors LIST" in text and "(default: RAVDESS 15,16, CREMA-D 1033-1038)" in text


# --- The original's npz (--download seed) -----------------------------------------------------
def _original_npz(path: Path, rng, n_a: int = 6, n_b: int = 4) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, 256, size=(n_a, IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.uint8)
    b = rng.integers(0, 256, size=(n_b, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float64)
    np.savez(path, a, b)  # positional arrays are stored as arr_0, arr_1, as the original's
    return a[..., 0].astype(np.float32), b


def test_convert_original_npz(tmp_path, rng):
    source = tmp_path / "calm2anger.original.npz"
    a, b = _original_npz(source, rng)
    summary = original_data.convert_original_npz(source, "calm2anger", out_dir=tmp_path / "out",
                                             test_fraction=0.2)
    data = corpus.load_pair_npz(summary["path"])
    assert (len(data["train_A"]), len(data["test_A"])) == (5, 1)  # round(6 * 0.2) = 1
    assert (len(data["train_B"]), len(data["test_B"])) == (3, 1)
    converted = np.concatenate([data["train_A"], data["test_A"]]).astype(np.float32)
    np.testing.assert_allclose(converted, a / 127.5 - 1, atol=1e-3)
    np.testing.assert_allclose(data["test_B"][0].astype(np.float32), b[-1] / 127.5 - 1,
                               atol=1e-3)
    assert set(data["train_A_actors"]) == {-1} and str(data["origin"]) == "seed"
    assert len(data["val_A"]) == len(data["val_B"]) == 0  # speakers unknown: no val split
    again = original_data.convert_original_npz(source, "calm2anger", out_dir=tmp_path / "out",
                                           test_fraction=0.2)
    assert again["status"] == "up to date" and again["windows"] == summary["windows"]


def test_original_to_images_shapes_and_ranges():
    unpadded = np.full((2, N_BINS, N_FRAMES), 255.0)
    images = original_data.original_to_images(unpadded)
    assert images.shape == (2, IMAGE_SIZE, IMAGE_SIZE)
    assert np.all(images[:, :N_BINS, :N_FRAMES] == 1) and np.all(images[:, N_BINS:] == -1)
    grey = np.repeat(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1)), 3, axis=3)
    assert np.all(original_data.original_to_images(grey) == -1)
    colour = grey.copy()
    colour[..., 1] = 7
    with pytest.raises(UserError, match="colour"):
        original_data.original_to_images(colour)
    with pytest.raises(UserError, match="values span"):
        original_data.original_to_images(np.full((1, IMAGE_SIZE, IMAGE_SIZE), 300.0))
    with pytest.raises(UserError, match="expected 260x260"):
        original_data.original_to_images(np.zeros((1, 64, 64)))


def test_download_seed_with_a_patched_fetch(tmp_path, rng, monkeypatch, capsys):
    original = tmp_path / "drive_file.npz"
    _original_npz(original, rng)
    fetched = []

    def fake_fetch(file_id: str, output: Path) -> None:
        fetched.append(file_id)
        shutil.copyfile(original, output)

    monkeypatch.setattr(downloads, "_gdrive_download", fake_fetch)
    out = tmp_path / "out"
    # A wrong known checksum: refused, and the download never gets its final name.
    monkeypatch.setitem(downloads.SEED_FILES, "calm2anger",
                        downloads.SeedFile("14q4aZseMCQO_xbbmX-JRsbRSlGX9bB3E", sha256="0" * 64))
    assert "sha256" in _run_error(["--download", "seed", "--out", str(out)], capsys)
    assert not (out / "seed" / "calm2anger.original.npz").exists()
    sha = hashlib.sha256(original.read_bytes()).hexdigest()
    monkeypatch.setitem(downloads.SEED_FILES, "calm2anger", downloads.SeedFile(
        "14q4aZseMCQO_xbbmX-JRsbRSlGX9bB3E", size=original.stat().st_size, sha256=sha))
    text = _run_ok(["--download", "seed", "--pair", "calm2anger", "--out", str(out)], capsys)
    assert "wrote" in text and fetched == ["14q4aZseMCQO_xbbmX-JRsbRSlGX9bB3E"] * 2
    assert len(corpus.load_pair_npz(out / "calm2anger.npz")["test_A"]) == 1
    # The second run reuses the checked download and the up-to-date conversion.
    assert "up to date" in _run_ok(["--download", "seed", "--out", str(out)], capsys)
    assert len(fetched) == 2
    (out / "seed" / "calm2anger.original.npz").write_bytes(b"damaged")  # fetched again
    assert "up to date" in _run_ok(["--download", "seed", "--out", str(out)], capsys)
    assert len(fetched) == 3
    assert "no data for calm2neutral" in _run_error(
        ["--download", "seed", "--pair", "calm2neutral", "--out", str(out)], capsys)


def test_download_seed_rejects_a_non_npz(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(downloads, "_gdrive_download",
                        lambda file_id, output: output.write_text("<html>quota exceeded</html>"))
    err = _run_error(["--download", "seed", "--out", str(tmp_path / "out")], capsys)
    assert "not a loadable npz" in err
    assert not list((tmp_path / "out" / "seed").iterdir())


def test_offline_downloads_fail_with_one_line(tmp_path, monkeypatch, capsys):
    import gdown

    def no_network(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'drive.google.com'")

    monkeypatch.setattr(gdown, "download", no_network)
    err = _run_error(["--download", "seed", "--out", str(tmp_path / "out")], capsys)
    assert "could not download" in err and "--ravdess DIR" in err

    def no_route(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(downloads.urllib.request, "urlopen", no_route)
    err = _run_error(["--download", "ravdess", "--out", str(tmp_path / "out")], capsys)
    assert "could not download" in err and "--ravdess DIR" in err
    assert not (tmp_path / "out" / downloads.RAVDESS_ZIP_NAME).exists()


# --- RAVDESS zip (--download ravdess) ---------------------------------------------------------
def _zip_tree(tree: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(tree.rglob("*.wav")):
            archive.write(file, file.relative_to(tree).as_posix())
    return path


def test_download_ravdess_with_a_patched_fetch(tree, tmp_path, monkeypatch, capsys):
    local_zip = _zip_tree(tree, tmp_path / "local.zip")
    monkeypatch.setattr(downloads, "_download_url",
                        lambda url, output, **kw: shutil.copyfile(local_zip, output))
    out = tmp_path / "out"
    assert "md5" in _run_error(["--download", "ravdess", "--out", str(out)], capsys)
    assert not (out / downloads.RAVDESS_ZIP_NAME).exists()
    monkeypatch.setattr(downloads, "RAVDESS_ZIP_MD5",
                        hashlib.md5(local_zip.read_bytes()).hexdigest())
    text = _run_ok(["--download", "ravdess", "--out", str(out), *SPLIT_ARGS], capsys)
    assert (out / downloads.RAVDESS_ZIP_NAME).is_file()
    assert (out / "ravdess" / LONG_FILE).read_bytes() == (tree / LONG_FILE).read_bytes()
    assert "wrote" in text and (out / "calm2anger.npz").is_file()


@pytest.mark.parametrize("member", ["../escape.wav", "/abs/escape.wav", "a/../../escape.wav",
                                    "C:/escape.wav", "link"])
def test_safe_extract_refuses_escaping_members(tmp_path, member):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Actor_01/fine.wav", b"ok")
        info = zipfile.ZipInfo(member)
        if member == "link":
            info.external_attr = 0o120777 << 16  # a symbolic link to anywhere
        archive.writestr(info, b"../../etc/passwd" if member == "link" else b"bad")
    target = tmp_path / "target"
    with pytest.raises(UserError, match="refusing"):
        downloads.safe_extract(path, target)
    assert not target.exists() and not (tmp_path / "escape.wav").exists()


def test_safe_extract_resumes_and_reports_bad_zip(tmp_path):
    path = tmp_path / "ok.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Actor_01/a.wav", b"one")
        archive.writestr("Actor_01/b.wav", b"two")
    assert downloads.safe_extract(path, tmp_path / "t") == 2
    assert downloads.safe_extract(path, tmp_path / "t") == 0
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable zip"):
        downloads.safe_extract(tmp_path / "broken.zip", tmp_path / "t")


# --- The real RAVDESS copy --------------------------------------------------------------------
@needs_ravdess
def test_real_ravdess_calm2anger(tmp_path):
    summary = build_pair(RAVDESS_DIR, "calm2anger", out_dir=tmp_path)
    data = corpus.load_pair_npz(summary["path"])
    records = corpus.scan_ravdess(RAVDESS_DIR)
    actors = sorted({r.actor for r in records})
    held_out = set(corpus.DEFAULT_TEST_ACTORS) | set(corpus.DEFAULT_VAL_ACTORS)
    for domain, emotion in (("A", "calm"), ("B", "angry")):
        split = corpus.split_by_actor(corpus.select_files(records, emotion),
                                         corpus.DEFAULT_TEST_ACTORS,
                                         corpus.DEFAULT_VAL_ACTORS)
        for part in ("train", "val", "test"):
            key = f"{part}_{domain}"
            assert summary["files"][key] == len(split[part])
            assert len(data[key]) >= len(split[part])
            assert set(data[f"{key}_files"]) == {
                r.path.relative_to(RAVDESS_DIR).as_posix() for r in split[part]}
        assert set(data[f"test_{domain}_actors"]) == set(corpus.SPEAKER_SPLIT["ravdess"]["test"])
        assert set(data[f"val_{domain}_actors"]) == set(corpus.SPEAKER_SPLIT["ravdess"]["val"])
        assert set(data[f"train_{domain}_actors"]) == set(actors) - held_out
    assert summary["unreadable"] == []


# --- Symlinked actor folders ---------------------------------------------------------------------
def test_symlinked_actor_folders_are_found(tmp_path):
    import soundfile

    real = tmp_path / "real"
    for actor in (1, 2):
        folder = real / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        soundfile.write(str(folder / f"03-01-02-01-01-01-{actor:02d}.wav"), tone(0.5), 16000)
    linked = tmp_path / "linked"
    linked.mkdir()
    for actor in (1, 2):
        (linked / f"Actor_{actor:02d}").symlink_to(real / f"Actor_{actor:02d}")
    (linked / "loop").symlink_to(linked)  # walked once, not forever
    assert sorted(f.actor for f in corpus.scan_ravdess(linked)) == [1, 2]

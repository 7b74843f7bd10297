"""CREMA-D beside RAVDESS: its file names, the one speaker split over both corpora, and
data_prep.py building a pair from both (CREMA-D's neutral standing in for calm)."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spectrogan.data import corpus
from spectrogan.data import crema
from data_prep import build_pair, main
from spectrogan.audio.spectro import SAMPLE_RATE

from conftest import CREMA_DIR, needs_crema, tone

RAVDESS_CODES = {"calm": 2, "angry": 5, "surprised": 8}
CREMA_CODES = {"neutral": "NEU", "angry": "ANG", "sad": "SAD"}
RAVDESS_ACTORS = (1, 2, 3)  # 1 trains, 2 validates, 3 tests
CREMA_ACTORS = (1001, 1002, 1003)  # likewise
TEST_ACTORS, VAL_ACTORS = (3, 1003), (2, 1002)


def _write(path: Path, freq: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone(0.6, freq), SAMPLE_RATE, subtype="PCM_16")


@pytest.fixture
def corpora(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny RAVDESS tree (calm, angry, surprised) and a tiny CREMA-D tree (neutral, angry,
    sad; sentence IEO at all three levels, DFA unspecified, one file outside the scheme)."""
    ravdess, crema_root = tmp_path / "ravdess", tmp_path / "crema"
    for actor in RAVDESS_ACTORS:
        for emotion, code in RAVDESS_CODES.items():
            _write(ravdess / f"Actor_{actor:02d}" / f"03-01-{code:02d}-01-01-01-{actor:02d}.wav",
                   180.0 + 20 * code)
    for actor in CREMA_ACTORS:
        for emotion, code in CREMA_CODES.items():
            levels = ("XX",) if emotion == "neutral" else ("LO", "MD", "HI")
            for level in levels:
                _write(crema_root / str(actor) / f"{actor}_IEO_{code}_{level}.flac", 300.0)
            _write(crema_root / str(actor) / f"{actor}_DFA_{code}_XX.flac", 320.0)
    (crema_root / "1001" / "readme.txt").write_text("not audio")
    return ravdess, crema_root


def test_parse_crema_name_decodes_every_field():
    record = crema.parse_crema_name("1042/1042_IEO_FEA_HI.flac")
    assert (record.actor, record.statement, record.emotion, record.intensity, record.corpus) == (
        1042, "IEO", "fearful", "strong", "crema")
    assert record.text == "It's eleven o'clock"
    assert crema.parse_crema_name("1001_DFA_NEU_XX.wav").intensity == "normal"


@pytest.mark.parametrize("name, reason", [
    ("1001/notes.txt", "not an audio file"),
    ("1001/1001_DFA_NEU.flac", "name is not"),
    ("1001/0999_DFA_NEU_XX.flac", "outside CREMA-D"),
    ("1001/1001_XYZ_NEU_XX.flac", "sentence code XYZ"),
    ("1001/1001_DFA_CAL_XX.flac", "emotion code CAL"),
    ("1001/1001_DFA_NEU_ZZ.flac", "level code ZZ"),
    ("1002/1001_DFA_NEU_XX.flac", "folder is 1002"),
])
def test_parse_crema_name_rejects_other_names(name, reason):
    with pytest.raises(ValueError, match=reason):
        crema.parse_crema_name(name)


def test_scan_crema_reports_skipped_and_refuses_empty(corpora, tmp_path):
    skipped: list = []
    files = crema.scan_crema(corpora[1], skipped=skipped)
    assert len(files) == 3 * (1 + 1 + 2 * 4) and skipped == [("1001/readme.txt",
                                                              "not an audio file")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(corpus.UserError, match="no CREMA-D recordings"):
        crema.scan_crema(tmp_path / "empty")
    with pytest.raises(corpus.UserError, match="no such folder"):
        crema.scan_crema(tmp_path / "nope")


def test_one_split_over_both_corpora():
    for name, split in corpus.SPEAKER_SPLIT.items():
        assert not set(split["val"]) & set(split["test"])
        assert {corpus.corpus_of_actor(a) for a in split["val"] + split["test"]} == {name}
    assert set(corpus.DEFAULT_TEST_ACTORS) == {a for s in corpus.SPEAKER_SPLIT.values()
                                               for a in s["test"]}
    assert corpus.emotions_in_corpus("crema", "calm", "angry") == ("neutral", "angry")
    assert corpus.emotions_in_corpus("crema", "calm", "surprised") is None
    assert corpus.emotions_in_corpus("ravdess", "calm", "surprised") == ("calm", "surprised")
    assert corpus.parse_actors("17,1040") == (17, 1040)
    assert corpus.split_actors("val", ["ravdess"]) == (15, 16)
    assert corpus.split_actors("test") == corpus.DEFAULT_TEST_ACTORS
    records = [types.SimpleNamespace(actor=a) for a in (1, 2, 15, 17, 1001, 1033, 1044)]
    assert corpus.split_training_actors(records) == (1, 2, 1001)
    assert corpus.split_training_actors(records, held_out=[2]) == (1, 1001)
    roots = {"ravdess": Path("/data/r"), "crema": Path("/data/c")}
    assert corpus.path_clip_name(Path("/data/c/1001/1001_DFA_NEU_XX.flac"), roots) == (
        "crema/1001/1001_DFA_NEU_XX.flac")
    assert corpus.path_clip_name(Path("/data/r/Actor_01/a.wav"), roots) == "Actor_01/a.wav"
    with pytest.raises(ValueError, match="none of the corpus folders"):
        corpus.path_clip_name(Path("/elsewhere/a.wav"), roots)


def test_pair_from_both_corpora(corpora, tmp_path):
    ravdess, crema_root = corpora
    summary = build_pair(ravdess, "calm2anger", crema_dir=crema_root, out_dir=tmp_path / "out",
                         test_actors=TEST_ACTORS, val_actors=VAL_ACTORS)
    assert summary["status"] == "built" and summary["corpora"] == ["ravdess", "crema"]
    data = corpus.load_pair_npz(summary["path"])
    for split, actors in (("train", (1, 1001)), ("val", (2, 1002)), ("test", (3, 1003))):
        for domain in "AB":
            assert sorted(set(data[f"{split}_{domain}_actors"].tolist())) == list(actors)
    names = set(data["train_A_files"].tolist())
    # CREMA-D's neutral is domain A beside RAVDESS's calm; its low-intensity takes are left out.
    assert names == {"Actor_01/03-01-02-01-01-01-01.wav", "crema/1001/1001_IEO_NEU_XX.flac",
                     "crema/1001/1001_DFA_NEU_XX.flac"}
    assert not any("_LO." in name for name in data["train_B_files"].tolist())
    assert len(data["train_B_files"]) == 1 + 3  # RAVDESS angry; CREMA-D IEO MD, HI and DFA
    assert list(data["corpora"]) == ["ravdess", "crema"]


def test_surprised_comes_from_ravdess_alone(corpora, tmp_path):
    ravdess, crema_root = corpora
    summary = build_pair(ravdess, "calm2surprised", crema_dir=crema_root,
                         out_dir=tmp_path / "out", test_actors=TEST_ACTORS,
                         val_actors=VAL_ACTORS)
    assert summary["corpora"] == ["ravdess"]
    data = corpus.load_pair_npz(summary["path"])
    assert not any(name.startswith("crema/") for name in data["train_A_files"].tolist())


def test_ravdess_only_data_set_keeps_its_fingerprint(corpora, tmp_path):
    """Adding the second corpus must not make every RAVDESS-only data set look stale."""
    ravdess, _ = corpora
    options = dict(out_dir=tmp_path / "out", test_actors=TEST_ACTORS, val_actors=VAL_ACTORS)
    assert build_pair(ravdess, "calm2anger", **options)["status"] == "built"
    assert build_pair(ravdess, "calm2anger", **options)["status"] == "up to date"
    with np.load(tmp_path / "out" / "calm2anger.npz") as npz:
        assert list(npz["corpora"]) == ["ravdess"]


def test_cli_corpus_flag(corpora, tmp_path, capsys):
    ravdess, crema_root = corpora
    split = ["--test-actors", "3,1003", "--val-actors", "2,1002"]
    assert main(["--crema", str(crema_root), "--pair", "neutral2sad", "--out",
                 str(tmp_path / "out"), *split]) == 0
    assert "from crema" in capsys.readouterr().out
    # --corpus names the corpora; a named one whose folder is not given comes from its default
    assert main(["--ravdess", str(ravdess), "--crema", str(crema_root), "--corpus", "crema",
                 "--pair", "calm2anger", "--out", str(tmp_path / "out2"), *split]) == 0
    with np.load(tmp_path / "out2" / "calm2anger.npz") as npz:
        assert list(npz["corpora"]) == ["crema"]
    with pytest.raises(SystemExit) as stop:
        main(["--corpus", "timit", "--out", str(tmp_path / "out3")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "--corpus" in err and "unknown corpus timit" in err
    assert not (tmp_path / "out3").exists()


@needs_crema
def test_real_crema_holds_the_split():
    files = crema.scan_crema(CREMA_DIR)
    actors = {f.actor for f in files}
    split = corpus.SPEAKER_SPLIT["crema"]
    assert set(split["val"]) <= actors and set(split["test"]) <= actors
    for emotion in corpus.CORPUS_EMOTIONS["crema"]:
        assert any(f.emotion == emotion for f in files)
    assert all(f.text for f in files)


def test_changes_are_learned_from_both_corpora(corpora):
    """The prosody, balance and cepstral learners measure each actor against their own
    source: RAVDESS's calm, CREMA-D's neutral; a corpus without the target is left out."""
    ravdess, crema_root = corpora
    files = corpus.scan_ravdess(ravdess) + crema.scan_crema(crema_root)

    def measure(path):
        return path.name

    sides = corpus.measured_by_actor(files, source="calm", target="angry", actors=(1, 1001),
                                     measure=measure)
    assert sorted(sides) == [1, 1001]
    assert all("_NEU_" in name for name in sides[1001][0])
    assert all("_ANG_" in name for name in sides[1001][1])
    surprised = corpus.measured_by_actor(files, source="calm", target="surprised",
                                         actors=(1, 1001), measure=measure)
    assert sorted(surprised) == [1]


@pytest.mark.slow
def test_world_balance_tool_learns_on_training_actors_of_both_corpora(corpora, tmp_path,
                                                                      capsys):
    import json

    from conftest import load_tool

    ravdess, crema_root = corpora
    run = tmp_path / "calm2anger"
    snapshot = run / "snapshots" / "epoch_0001"
    snapshot.mkdir(parents=True)
    config = {"pair": "calm2anger", "train_actors": [1, 1001], "val_actors": [2, 1002],
              "test_actors": [3, 1003], "generator": {"filters": 4, "res_blocks": 1},
              "inference": {"envelope_coefficients": 24}}
    for folder in (run, snapshot):
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "generator_AtoB.weights.h5").write_bytes(b"weights")
    tool = load_tool("world_balance")
    assert tool.main(["--run", str(run), "--ravdess", str(ravdess), "--crema",
                      str(crema_root)]) == 0
    assert "learned on 2 actors" in capsys.readouterr().out
    for folder in (run, snapshot):
        written = json.loads((folder / "config.json").read_text())
        assert written["generator"] == {"filters": 4, "res_blocks": 1}  # the rest is kept
        inference = written["inference"]
        assert inference["vocoder"] == "world" and len(inference["spectral_balance"][
            "gains_db"]) == 20
        assert inference["envelope_coefficients"] == 24  # what it had is kept
        assert inference["balance_learned_on"] == {"actors": [1, 1001],
                                                   "corpora": ["crema", "ravdess"]}
    (run / "config.json").write_text(json.dumps({**config, "train_actors": [1, 2]}))
    assert tool.main(["--run", str(run), "--ravdess", str(ravdess)]) == 2
    assert "validation or test actors" in capsys.readouterr().err

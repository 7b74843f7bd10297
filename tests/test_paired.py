"""Two evaluations of one pair compared clip by clip (evaluation/paired.py and
tools/compare_evaluations.py)."""

from __future__ import annotations

import json

import pytest

from spectrogan.evaluation.paired import exact_sign_test, paired_judgements

from conftest import load_tool


def _entry(verdicts: dict[str, list[str]], target: str = "fearful") -> dict:
    """A pair's metrics entry whose clip i each judge names verdicts[judge][i]."""
    count = len(next(iter(verdicts.values())))
    return {"target": target, "competence": {"counted": ["functionals"]}, "clips": [
        {"source": f"calm_{i}.wav", "target": f"{target}_{i}.wav",
         "judged_by": {judge: {"converted": names[i]} for judge, names in verdicts.items()}}
        for i in range(count)]}


def test_the_sign_test_is_exact_and_two_sided():
    assert exact_sign_test(0, 0) == 1.0
    assert exact_sign_test(3, 3) == 1.0
    assert exact_sign_test(6, 0) == pytest.approx(2 / 64)
    assert exact_sign_test(0, 6) == exact_sign_test(6, 0)
    assert exact_sign_test(12, 3) == pytest.approx(2 * sum(
        [1, 15, 105, 455]) / 2 ** 15)
    with pytest.raises(ValueError, match="non-negative"):
        exact_sign_test(-1, 2)


def test_clips_are_matched_by_recording_and_the_discordant_ones_counted():
    first = _entry({"functionals": ["fearful", "fearful", "calm", "calm", "sad"],
                    "contours": ["calm"] * 5})
    second = _entry({"functionals": ["fearful", "calm", "fearful", "fearful", "sad"],
                     "contours": ["calm"] * 4 + ["fearful"]})
    second["clips"].reverse()  # the order the clips were scored in does not matter
    second["clips"][0]["judged_by"]["functionals"]["converted"] = "sad"
    functionals, contours = paired_judgements(first, second, judges=("functionals",
                                                                     "contours"))
    assert (functionals.clips, functionals.first, functionals.second) == (5, 2, 3)
    assert (functionals.first_only, functionals.second_only) == (1, 2)
    assert (contours.first, contours.second, contours.second_only) == (0, 1, 1)
    with pytest.raises(ValueError, match="different emotions"):
        paired_judgements(first, _entry({"functionals": ["sad"]}, "sad"),
                          judges=("functionals",))
    with pytest.raises(ValueError, match="no 'contours' verdicts"):
        paired_judgements(first, _entry({"functionals": ["sad"]}), judges=("contours",))


def test_the_tool_prints_each_corpus_and_says_what_is_missing(tmp_path, capsys):
    tool = load_tool("compare_evaluations")
    ours = _entry({"functionals": ["fearful"] * 6 + ["calm"] * 2,
                   "contours": ["calm"] * 8})
    theirs = _entry({"functionals": ["calm"] * 8, "contours": ["calm"] * 8})
    for name, entry in (("a", ours), ("b", theirs)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(
            {"version": 1, "pairs": {}, "corpora": {"crema": {"pairs": {
                "calm2fearful": entry}}}}))
    assert tool.main([str(tmp_path / "a"), str(tmp_path / "b" / "metrics.json"),
                      "--pair", "calm2fearful"]) == 0
    out = capsys.readouterr().out
    assert "CREMA-D test actors (8 clips)" in out and "RAVDESS" not in out
    assert "| functionals | 75% (6) | 0% (0) | 6 | 0 | 0.03 |" in out
    assert "contours (does not count)" in out
    assert tool.main([str(tmp_path / "a"), str(tmp_path / "b"), "--pair", "calm2sad"]) == 2
    assert "evaluate.py --pair calm2sad" in capsys.readouterr().err
    assert tool.main([str(tmp_path / "none"), str(tmp_path / "b"),
                      "--pair", "calm2fearful"]) == 2
    assert "no such metrics file" in capsys.readouterr().err


def test_a_file_that_is_not_a_metrics_file_is_one_clear_error(tmp_path, capsys):
    tool = load_tool("compare_evaluations")
    (tmp_path / "notes.json").write_text("[1, 2]")
    assert tool.main([str(tmp_path / "notes.json"), str(tmp_path / "notes.json"),
                      "--pair", "calm2fearful"]) == 2
    assert "not a metrics.json written by evaluate.py" in capsys.readouterr().err

"""WORLD's analysis options, the vocoder-alone report and its choice rule, the naturalness
score's optional extra."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogan.evaluation import naturalness
from spectrogan.audio import vocoder
from spectrogan.evaluation import vocoder_report
from spectrogan.evaluation.metrics import FeatureCache
from spectrogan.audio.spectro import HOP_LENGTH

from conftest import vowel


@pytest.mark.parametrize("tracker", vocoder.F0_TRACKERS)
def test_each_tracker_finds_a_steady_voice_s_pitch(tracker):
    voice = vowel(1.0, 140.0)
    f0 = vocoder.world_f0(voice, analysis=vocoder.WorldAnalysis(tracker, "fixed"))
    assert f0.shape == (len(voice) // vocoder.FRAME_SAMPLES + 1,)
    voiced = f0[f0 > 0]
    assert voiced.size > 0.6 * f0.size
    assert abs(np.median(voiced) - 140.0) < 5.0


def test_the_speaker_range_is_an_octave_either_side_of_the_clip_s_own_pitch():
    voice = vowel(1.0, 200.0)
    floor, ceiling = vocoder.f0_search_range(voice, analysis=vocoder.WorldAnalysis(
        "harvest", "speaker"))
    assert floor == pytest.approx(100.0, rel=0.05) and ceiling == pytest.approx(400.0, rel=0.05)
    assert vocoder.f0_search_range(voice, analysis=vocoder.WorldAnalysis()) == (
        vocoder.F0_MIN, vocoder.F0_MAX)
    # No voicing to say where the speaker is: the fixed range.
    silence = np.zeros(16000, np.float32)
    assert vocoder.f0_search_range(silence, analysis=vocoder.WorldAnalysis(
        "dio", "speaker")) == (vocoder.F0_MIN, vocoder.F0_MAX)


def test_speaker_range_tracking_keeps_the_pieces_of_a_long_clip_in_one_band():
    long = np.tile(vowel(1.0, 180.0), 12)  # longer than one piece and its margins
    analysis = vocoder.WorldAnalysis("dio", "speaker")
    f0 = vocoder.world_f0(long, analysis=analysis)
    floor, ceiling = vocoder.f0_search_range(long, analysis=analysis)
    voiced = f0[f0 > 0]
    assert voiced.size > 0.6 * f0.size
    assert floor * 0.95 <= voiced.min() and voiced.max() <= ceiling * 1.05


def test_the_analysis_options_are_checked_and_named():
    with pytest.raises(ValueError, match="f0_tracker"):
        vocoder.WorldAnalysis("crepe")
    with pytest.raises(ValueError, match="f0_range"):
        vocoder.WorldAnalysis("dio", "wide")
    with pytest.raises(ValueError, match="threshold"):
        vocoder.WorldAnalysis("dio", "fixed", 1.5)
    analysis = vocoder.WorldAnalysis("dio", "speaker", 0.0)
    assert analysis.name == "WORLD (dio, speaker range, D4C 0)"
    assert analysis.record() == {"f0_tracker": "dio", "f0_range": "speaker",
                                 "aperiodicity_threshold": 0.0, "dio_allowed_range": 0.1}
    assert vocoder.WorldAnalysis(**analysis.record()) == analysis
    assert vocoder.WorldAnalysis("dio", dio_allowed_range=0.3).options == (
        "dio (voicing 0.3), fixed range, D4C 0.85")
    with pytest.raises(ValueError, match="dio_allowed_range"):
        vocoder.WorldAnalysis("dio", dio_allowed_range=0.0)
    assert vocoder.SHIPPED_ANALYSIS in vocoder_report.CANDIDATE_ANALYSES


def test_a_wider_dio_tolerance_voices_more_of_a_noisy_voice():
    rng = np.random.default_rng(3)
    voice = vowel(1.5, 130.0)
    noisy = voice + rng.normal(0, 0.5 * np.std(voice), voice.size).astype(np.float32)
    strict, wide = (vocoder.world_f0(noisy, analysis=vocoder.WorldAnalysis(
        "dio", "fixed", dio_allowed_range=tolerance)) for tolerance in (0.1, 0.3))
    assert np.mean(wide > 0) > np.mean(strict > 0)


def test_a_threshold_of_zero_keeps_every_tracked_frame_periodic():
    voice = vowel(0.8, 150.0)
    strict = vocoder.world_analyse(voice, analysis=vocoder.WorldAnalysis("dio", "fixed", 0.99))
    kept = vocoder.world_analyse(voice, analysis=vocoder.WorldAnalysis("dio", "fixed", 0.0))
    np.testing.assert_array_equal(strict.f0, kept.f0)
    voiced = kept.f0 > 0
    # D4C marks a frame it judges aperiodic wholly aperiodic (1 everywhere); at 0 it never does.
    assert not np.any(np.all(kept.aperiodicity[voiced] > 0.999, axis=1))
    assert kept.envelope.shape[1] == vocoder.ENVELOPE_FFT_SIZE // 2 + 1


@pytest.mark.parametrize("analysis", [vocoder.SHIPPED_ANALYSIS, vocoder.WorldAnalysis(
    "dio", "speaker", 0.0, dio_allowed_range=0.3)], ids=lambda a: a.name)
def test_a_vocoder_path_gives_back_the_clip_s_length_and_loudness(analysis):
    from spectrogan.audio.loudness import loudness_db

    voice = vowel(1.2, 160.0)
    out = vocoder_report.VocoderPath("world", analysis)(voice)
    assert out.dtype == np.float32 and out.shape == voice.shape
    assert abs(loudness_db(out) - loudness_db(voice)) < 1.0


def _row(wer, voiced, mos, speed=10.0):
    return {"word_error_rate": wer, "voiced_fraction": voiced, "naturalness": mos,
            "real_time": speed, "judged_source": {}}


def _report(**corpora):
    return {"corpora": {name: {"paths": paths} for name, paths in corpora.items()}}


def test_the_choice_takes_the_least_word_error_on_the_worse_corpus_among_those_keeping_voicing():
    inputs = _row(0.20, 0.80, 3.8)
    report = _report(
        ravdess={"input": inputs, "a": _row(0.22, 0.80, 3.5), "b": _row(0.21, 0.70, 3.6),
                 "c": _row(0.30, 0.81, 3.7)},
        crema={"input": inputs, "a": _row(0.25, 0.79, 3.4), "b": _row(0.20, 0.80, 3.6),
               "c": _row(0.23, 0.80, 3.7)})
    choice = vocoder_report.choose_path(report, ["a", "b", "c"])
    # b loses 10 points of voicing on RAVDESS; a costs 0.05 words on CREMA-D, c 0.10 on RAVDESS.
    assert choice["chosen"] == "a"
    assert choice["rows"]["b"]["voiced_ok"] is False
    assert choice["rows"]["c"]["cost"] == pytest.approx(0.10)


def test_word_error_within_the_tie_is_decided_by_naturalness_then_speed():
    inputs = _row(0.20, 0.80, 3.8)
    report = _report(ravdess={"input": inputs, "a": _row(0.225, 0.8, 3.4, 5.0),
                              "b": _row(0.23, 0.8, 3.6, 4.0), "c": _row(0.23, 0.8, 3.6, 20.0)})
    assert vocoder_report.choose_path(report, ["a", "b", "c"])["chosen"] == "c"


def test_the_vocoder_table_gives_every_column_and_a_dash_where_nothing_was_measured():
    row = {**_row(0.31, 0.86, 3.40, 12.0), "judged_source": {"functionals": 0.9, "contours": 0.8},
           "naturalness_vs_input": -0.4, "naturalness_vs_input_se": 0.05}
    unmeasured = {**_row(None, 0.9, None, None), "judged_source": {"functionals": 1.0,
                                                                   "contours": 1.0},
                  "naturalness_vs_input": None, "naturalness_vs_input_se": None}
    report = {"actors": [17, 1039], "judges": ["functionals", "contours"],
              "corpora": {"crema": {"clips": 6, "source": "neutral",
                                    "paths": {"input": unmeasured, "world-0": row}}}}
    table = vocoder_report.vocoder_table(report, labels={"world-0": "WORLD as shipped"})
    assert "CREMA-D**, 6 neutral clips of actors 1039" in table and "17" not in table
    assert "| WORLD as shipped | 0.31 | 86% | 90% | 80% | 3.40 | -0.40 ± 0.05 | 12.0 |" in table
    assert "| input | — | 90% | 100% | 100% | — | — | — |" in table


def test_naturalness_is_optional_and_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(naturalness.importlib.util, "find_spec", lambda name: None)
    assert not naturalness.naturalness_available()
    with pytest.raises(ImportError, match="requirements-eval.txt"):
        naturalness.NaturalnessPredictor()


def test_the_feature_cache_keeps_naturalness_scores(tmp_path):
    cache = FeatureCache(tmp_path / "cache.npz")
    cache.add_naturalness("abc|Distill-MOS", 3.25)
    cache.save()
    assert FeatureCache(tmp_path / "cache.npz").naturalness == {"abc|Distill-MOS": 3.25}


@pytest.mark.skipif(not naturalness.naturalness_available(),
                    reason="the evaluation extra (requirements-eval.txt) is not installed")
def test_distill_mos_rates_a_noisier_voice_lower_and_ignores_leading_silence():
    predictor = naturalness.NaturalnessPredictor()
    voice = vowel(1.5, 150.0)
    hiss = np.random.default_rng(1).normal(0, np.std(voice), voice.size).astype(np.float32)
    slightly, heavily = (predictor.score(voice + hiss * 10 ** (-snr / 20)) for snr in (20, 0))
    assert 1.0 <= heavily < slightly <= 5.0
    # Silence a whole number of STFT hops long on both sides is trimmed exactly.
    silence = np.zeros(60 * HOP_LENGTH, np.float32)
    padded = np.concatenate([silence, voice, silence])
    assert predictor.score(padded) == pytest.approx(predictor.score(voice), abs=0.01)


def test_the_results_page_shows_the_vocoder_report_with_the_shipped_path_marked(tmp_path):
    import json

    import make_results_page as page
    from spectrogan.core.errors import UserError

    assert page.vocoder_section(tmp_path) == []  # not measured: no section
    paths = {"world-0": vocoder_report.VocoderPath("world", vocoder.SHIPPED_ANALYSIS),
             "griffin-lim": vocoder_report.VocoderPath("griffin-lim")}
    row = {**_row(0.3, 0.9, 3.4), "judged_source": {"functionals": 1.0},
           "naturalness_vs_input": 0.1, "naturalness_vs_input_se": 0.02}
    report = {"actors": [17], "judges": ["functionals"],
              "paths": {label: path.record() for label, path in paths.items()},
              "corpora": {"ravdess": {"clips": 1, "source": "calm",
                                      "paths": {"input": row, **{label: row for label in paths}}}}}
    (tmp_path / vocoder_report.VOCODERS_JSON).write_text(json.dumps(report))
    text = "\n".join(page.vocoder_section(tmp_path))
    assert f"| {vocoder.SHIPPED_ANALYSIS.name} (shipped) | 0.30 |" in text
    assert "| Griffin-Lim | 0.30 |" in text
    (tmp_path / vocoder_report.VOCODERS_JSON).write_text("{}")
    with pytest.raises(UserError, match="evaluate.py --vocoders"):
        page.vocoder_section(tmp_path)


def test_choose_vocoder_explains_itself_and_refuses_bad_input(capsys, tmp_path):
    from conftest import load_tool

    tool = load_tool("choose_vocoder")
    with pytest.raises(SystemExit) as done:
        tool.main(["--help"])
    assert done.value.code == 0 and "validation actors" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        tool.main(["--limit", "0"])
    assert done.value.code == 2
    assert tool.main(["--crema", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err

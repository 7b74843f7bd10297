"""evaluate.py and make_results_page.py: metrics with known answers, the classifier pipeline,
the command lines on a tiny synthetic RAVDESS tree, and their errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spectrogan.audio import audio_files
from spectrogan.data import corpus
import evaluate
import evaluate as ev
import make_results_page as page
from spectrogan.evaluation import judges
from spectrogan.evaluation import metrics
from spectrogan.evaluation import reports
from spectrogan.model import runs
from spectrogan.evaluation import scoring
from spectrogan.audio import spectro
from spectrogan.audio.audio_files import load_audio
from spectrogan.core.errors import UserError
from spectrogan.audio.spectro import HOP_LENGTH, SAMPLE_RATE

from conftest import RAVDESS_DIR, REPO, chirp, needs_ravdess, tone
from helpers import save_tiny_model, synthetic_emotion, toy_emotion_features

SR = SAMPLE_RATE


def semitones(ratio: float) -> float:
    return 12.0 * np.log2(ratio)


# --- Mel-cepstrum and MCD -------------------------------------------------------------------
def test_mcd_of_identical_clips_is_zero():
    clip = tone(1.0, 180.0) + 0.3 * chirp(1.0)
    assert metrics.mcd_dtw(clip, clip) == pytest.approx(0.0, abs=1e-9)


def test_mcd_ignores_level_but_not_spectral_shape(rng):
    clip = tone(1.0, 180.0) + 0.01 * rng.standard_normal(SR).astype(np.float32)
    # c0 (level) is excluded, so a quieter copy has no distortion ...
    assert metrics.mcd_dtw(clip, 0.2 * clip) < 0.05
    # ... while another timbre (other harmonics) does, and more when the change is larger.
    brighter = clip + 0.3 * tone(1.0, 1800.0)
    much_brighter = clip + 1.0 * tone(1.0, 1800.0)
    assert 0.5 < metrics.mcd_dtw(clip, brighter) < metrics.mcd_dtw(clip, much_brighter)


def test_mcd_is_symmetric(rng):
    a = tone(0.8, 150.0)
    b = chirp(1.1) + 0.01 * rng.standard_normal(int(1.1 * SR)).astype(np.float32)
    assert metrics.mcd_dtw(a, b) == pytest.approx(metrics.mcd_dtw(b, a), rel=1e-9)


def first_order_impulse(r: float, *, position: int = 16 * HOP_LENGTH) -> np.ndarray:
    """Impulse response of 1 - r z^-1 at the centre of STFT frame `position / HOP_LENGTH`."""
    audio = np.zeros(32 * HOP_LENGTH, dtype=np.float32)
    audio[position], audio[position + 1] = 1.0, -r
    return audio


def test_plain_cepstrum_of_first_order_filter_has_known_coefficients():
    # log|1 - r e^{-jw}| = sum_m -r^m / m cos(m w): the one-sided cepstrum, exactly what
    # MCD's 10 sqrt(2) / ln 10 constant assumes.
    r = 0.5
    cepstrum = metrics.mel_cepstrum(first_order_impulse(r), order=8, alpha=0.0)[:, 16]
    m = np.arange(1, 9)
    # The Hann window weighs the two taps 1 and 0.99996: a negligible error.
    np.testing.assert_allclose(cepstrum[1:], -r ** m / m, atol=2e-3)


def test_mel_cepstrum_rebuilds_the_log_spectrum_on_the_warped_axis():
    r = 0.6
    order, alpha = 40, metrics.MCEP_ALPHA
    c = metrics.mel_cepstrum(first_order_impulse(r), order=order, alpha=alpha)[:, 16]
    omega = np.linspace(0.0, np.pi, 50)
    beta = omega + 2.0 * np.arctan(alpha * np.sin(omega) / (1.0 - alpha * np.cos(omega)))
    rebuilt = np.cos(np.outer(beta, np.arange(order + 1))) @ c
    expected = np.log(np.abs(1.0 - r * np.exp(-1j * omega)))
    # The impulse frame has window gain hann(256)^2... = 1 at the centre: no level offset.
    np.testing.assert_allclose(rebuilt, expected, atol=0.02)


def test_dtw_aligns_a_time_stretched_copy():
    short, stretched = chirp(1.0, f0=200.0, f1=4000.0), chirp(1.5, f0=200.0, f1=4000.0)
    ref = metrics.mel_cepstrum(short)[1:]
    est = metrics.mel_cepstrum(stretched)[1:]
    path = metrics.dtw_path(ref, est)
    assert tuple(path[0]) == (0, 0)
    assert tuple(path[-1]) == (ref.shape[1] - 1, est.shape[1] - 1)
    assert np.all(np.diff(path, axis=0) >= 0)
    # Frame i of the 1 s chirp sounds like frame 1.5 i of the 1.5 s one.
    inner = (path[:, 0] > 3) & (path[:, 0] < ref.shape[1] - 4)
    error = np.abs(path[inner, 1] - 1.5 * path[inner, 0])
    assert np.median(error) <= 1.5
    # After alignment the stretched copy is close; a reversed (falling) chirp is far.
    falling = chirp(1.0, f0=4000.0, f1=200.0)
    assert metrics.mcd_dtw(short, stretched, trim=False) \
        < 0.3 * metrics.mcd_dtw(short, falling, trim=False)


def test_trim_ignores_an_isolated_click():
    audio = np.concatenate([np.zeros(SR // 2), tone(0.5, 200.0), np.zeros(SR // 2)])
    audio = audio.astype(np.float32)
    start, stop = metrics.speech_span(audio)
    assert abs(start - SR // 2) <= 2 * HOP_LENGTH and abs(stop - SR) <= 2 * HOP_LENGTH
    clicked = audio.copy()
    clicked[-1] = 0.9  # one bad sample at the very end, louder than the speech
    assert metrics.speech_span(clicked) == (start, stop)


# --- Prosody ----------------------------------------------------------------------------------
def voiced_mean(audio: np.ndarray) -> float:
    f0 = metrics.f0_contour(audio)
    return float(np.nanmean(f0))


def test_f0_of_a_tone_and_of_a_pitch_shifted_copy():
    import librosa

    base = tone(1.0, 200.0)
    assert voiced_mean(base) == pytest.approx(200.0, rel=0.02)
    assert semitones(voiced_mean(tone(1.0, 200.0 * 2 ** (5 / 12))) / 200.0) \
        == pytest.approx(5.0, abs=0.2)
    shifted = librosa.effects.pitch_shift(base, sr=SR, n_steps=-3.0)
    assert semitones(voiced_mean(shifted) / voiced_mean(base)) == pytest.approx(-3.0, abs=0.3)


def test_noise_is_unvoiced_and_prosody_reads_features(rng):
    noise = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    prosody = metrics.prosody_from_features(metrics.clip_features(noise))
    assert prosody["voiced_fraction"] < 0.5  # pYIN calls a few noise frames voiced
    voiced = metrics.prosody_from_features(metrics.clip_features(tone(1.0, 150.0)))
    assert voiced["voiced_fraction"] > 0.8
    assert voiced["f0_mean_hz"] == pytest.approx(150.0, rel=0.02)
    assert voiced["f0_std_hz"] < 3.0


def test_energy_of_a_sine_and_of_a_quieter_copy():
    t = np.arange(SR) / SR
    sine = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    energy = metrics.frame_energy_db(sine)[5:-5]
    np.testing.assert_allclose(energy, 20 * np.log10(0.5 / np.sqrt(2)), atol=0.05)
    assert metrics.speech_level_db(sine) - metrics.speech_level_db(0.1 * sine) == \
        pytest.approx(20.0, abs=0.1)


def test_features_are_finite_for_short_and_silent_clips(rng):
    for audio in (np.zeros(SR // 2, np.float32), tone(0.04, 300.0),
                  (0.01 * rng.standard_normal(700)).astype(np.float32)):
        features = metrics.clip_features(audio)
        assert features.shape == (len(metrics.FEATURE_NAMES),)
        assert np.all(np.isfinite(features))


# --- Classifier --------------------------------------------------------------------------------
def test_classifier_pipeline_on_a_tiny_synthetic_set():
    features, labels, actors = toy_emotion_features()
    train, test = actors <= 4, actors > 4
    model = judges.train_emotion_classifier(features[train], labels[train])
    assert sorted(model.classes_) == ["angry", "calm", "sad"]
    assert np.mean(model.predict(features[test]) == labels[test]) >= 0.9
    angry = judges.judged_shares(model, features[test & (labels == "angry")], source="calm",
                                 target="angry")
    calm = judges.judged_shares(model, features[test & (labels == "calm")], source="calm",
                                target="angry")
    assert angry["judged_target"] >= 0.75 and angry["target_over_source"] == 1.0
    assert calm["judged_target"] == 0.0 and calm["target_over_source"] == 0.0
    probabilities = judges.class_probabilities(model, features[test])
    np.testing.assert_allclose(sum(probabilities.values()), 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="two emotions"):
        judges.train_emotion_classifier(features[:3], ["calm"] * 3)


def test_feature_cache_round_trip_skips_recomputation(tmp_path, monkeypatch):
    paths = []
    for index, freq in enumerate((150.0, 220.0)):
        path = tmp_path / f"clip{index}.wav"
        soundfile.write(path, tone(0.5, freq), SR, subtype="FLOAT")
        paths.append(path)
    cache = metrics.FeatureCache(tmp_path / "cache" / "features.npz")
    first = metrics.features_of_files(paths, cache)
    assert first.shape == (2, len(metrics.FEATURE_NAMES))
    in_processes = metrics.features_of_files(paths, metrics.FeatureCache(tmp_path / "other.npz"),
                                             jobs=2)
    np.testing.assert_array_equal(in_processes, first)
    cache.add_recognised("abc", True)
    cache.add_word_error("abc|1", 0.5)
    cache.save()
    reloaded = metrics.FeatureCache(tmp_path / "cache" / "features.npz")
    assert reloaded.recognised == {"abc": True} and reloaded.word_errors == {"abc|1": 0.5}

    def no_work(audio):
        raise AssertionError("features were recomputed despite the cache")

    monkeypatch.setattr(metrics, "clip_features", no_work)
    np.testing.assert_array_equal(metrics.features_of_files(paths, reloaded), first)
    # A changed file is a new fingerprint: recomputed (here: the patched function is hit).
    soundfile.write(paths[0], tone(0.5, 300.0), SR, subtype="FLOAT")
    with pytest.raises(AssertionError, match="recomputed"):
        metrics.features_of_files(paths, reloaded)


def test_a_broken_cache_is_ignored(tmp_path):
    path = tmp_path / "features.npz"
    path.write_bytes(b"not a zip file")
    assert metrics.FeatureCache(path).features == {}


# --- Command line on a synthetic RAVDESS tree ---------------------------------------------
EMOTION_CODES = {"calm": 2, "angry": 5, "sad": 4}


@pytest.fixture(scope="module")
def ravdess_tree(tmp_path_factory) -> Path:
    """Actors 1-6, emotions calm/angry/sad, both statements, one repetition, normal."""
    root = tmp_path_factory.mktemp("ravdess")
    for actor in range(1, 7):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion, code in EMOTION_CODES.items():
            for statement in (1, 2):
                audio = synthetic_emotion(emotion, actor, statement)
                padded = np.concatenate([np.zeros(2000, np.float32), audio,
                                         np.zeros(2000, np.float32)])
                name = f"03-01-{code:02d}-01-{statement:02d}-01-{actor:02d}.wav"
                soundfile.write(folder / name, padded, SR, subtype="PCM_16")
    return root


def base_args(ravdess: Path, out: Path) -> list[str]:
    return ["--ravdess", str(ravdess), "--out", str(out), "--test-actors", "5,6", "--no-asr"]


@pytest.mark.slow
def test_baselines_only_run_writes_metrics_and_table(ravdess_tree, tmp_path, capsys,
                                                      monkeypatch):
    out = tmp_path / "results"
    assert ev.main(["--pair", "calm2anger", "--baselines-only", *base_args(ravdess_tree, out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    entry = metrics["pairs"]["calm2anger"]
    assert entry["test_actors"] == [5, 6] and entry["n_clips"] == 4
    assert entry["model"] is None and entry["systems"]["converted"] is None
    assert entry["classifier"]["train_actors"] == [1, 2, 3, 4]
    systems = entry["systems"]
    assert systems["source"]["mcd_to_source"] == 0.0 and systems["target"]["mcd_to_target"] == 0.0
    zero_effort = systems["source"]["mcd_to_target"]
    assert systems["target"]["mcd_to_source"] == pytest.approx(zero_effort)
    # The vocoder alone barely changes a clip; the real target is far from the source.
    assert systems["vocoder"]["mcd_to_source"] < 0.2 * zero_effort
    assert systems["target_resynth"]["mcd_to_target"] < 0.2 * zero_effort
    assert systems["target"]["f0_mean_hz"] > 1.5 * systems["source"]["f0_mean_hz"]
    assert systems["target"]["energy_db"] > systems["source"]["energy_db"] + 10
    assert systems["target"]["judged_target"] >= 0.75 and systems["source"]["judged_target"] == 0
    assert all(row is None or row["recognised"] is None for row in systems.values())
    table = (out / "metrics.md").read_text()
    assert "no model" in table and "| target (real angry) |" in table
    assert "calm2anger" in capsys.readouterr().out
    assert (out / ".cache" / "eval_features.npz").is_file()

    # A second pair is merged in; the first one stays. A (fake) recogniser fills its column.
    class LoudOnly:
        description = "fake recogniser"
        open_description = "fake open-vocabulary recogniser"

        def recognised(self, audio, statement):
            return float(np.max(np.abs(audio))) > 0.2  # the synthetic 'angry' clips

        def word_error_rate(self, audio, statement):
            return 0.0 if self.recognised(audio, statement) else 1.0

    monkeypatch.setattr(scoring, "load_recogniser", LoudOnly)
    args = [a for a in base_args(ravdess_tree, out) if a != "--no-asr"]
    assert ev.main(["--pair", "calm2anger", "--baselines-only", "--limit", "2", *args]) == 0
    assert ev.main(["--pair", "calm2sad", "--baselines-only", "--limit", "2", *args]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["pairs"]) == ["calm2anger", "calm2sad"]
    anger = metrics["pairs"]["calm2anger"]
    assert anger["n_clips"] == 2 and anger["recogniser"] == "fake recogniser"
    assert anger["systems"]["target"]["recognised"] == 1.0
    assert anger["systems"]["source"]["recognised"] == 0.0
    assert anger["systems"]["target"]["word_error_rate"] == 0.0
    assert anger["systems"]["source"]["word_error_rate"] == 1.0
    # The envelope is compared with the source for the systems made from it, frame by frame.
    assert anger["systems"]["source"]["envelope_correlation"] == pytest.approx(1.0)
    assert anger["systems"]["vocoder"]["envelope_correlation"] > 0.9
    assert anger["systems"]["target"]["envelope_correlation"] is None
    assert "| 100% |" in (out / "metrics.md").read_text()


@pytest.fixture(scope="module")
def crema_tree(tmp_path_factory) -> Path:
    """CREMA-D-named actors 1001-1006: neutral (the toy 'calm') and angry, two sentences."""
    root = tmp_path_factory.mktemp("crema")
    for actor in range(1001, 1007):
        (root / str(actor)).mkdir()
        for emotion, code in (("calm", "NEU"), ("angry", "ANG")):
            for take, sentence in enumerate(("DFA", "TSI"), 1):
                audio = synthetic_emotion(emotion, actor - 1000, take)
                soundfile.write(root / str(actor) / f"{actor}_{sentence}_{code}_XX.flac", audio,
                                SR, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def trees_cache(ravdess_tree, crema_tree, tmp_path_factory) -> Path:
    """A feature cache of every clip of both trees, so that each test reading them computes
    the judges' features once per test process rather than once per test."""
    from spectrogan.data.corpora import scan_corpora

    path = tmp_path_factory.mktemp("cache") / "eval_features.npz"
    cache = metrics.FeatureCache(path)
    files = scan_corpora({"ravdess": ravdess_tree, "crema": crema_tree})
    metrics.features_of_files([f.path for f in files], cache)
    cache.save()
    return path


def seeded_out(tmp_path: Path, cache: Path) -> Path:
    """An --out folder whose feature cache starts as a copy of `cache`."""
    out = tmp_path / "results"
    (out / ".cache").mkdir(parents=True)
    shutil.copy(cache, out / ".cache" / "eval_features.npz")
    return out


@pytest.mark.slow
def test_a_table_per_corpus_with_both_judges(ravdess_tree, crema_tree, trees_cache, tmp_path,
                                             capsys):
    out = seeded_out(tmp_path, trees_cache)
    assert ev.main(["--pair", "calm2anger", "--baselines-only", "--ravdess", str(ravdess_tree),
                    "--crema", str(crema_tree), "--out", str(out), "--test-actors",
                    "5,6,1005,1006", "--no-asr"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    ravdess, crema = metrics["pairs"]["calm2anger"], metrics["corpora"]["crema"]["pairs"][
        "calm2anger"]
    assert ravdess["test_actors"] == [5, 6] and ravdess["corpora"] == ["ravdess"]
    assert crema["test_actors"] == [1005, 1006] and crema["corpora"] == ["crema"]
    assert crema["n_clips"] == 4 and crema["clips"][0]["source"].startswith("crema/1005/")
    # Angry over the source is weighed against the corpus's own source: neutral there.
    assert crema["systems"]["source"]["target_over_source"] == 0.0
    assert crema["systems"]["target"]["target_over_source"] == 1.0
    assert crema["clips"][0]["source"].endswith("_NEU_XX.flac")  # neutral stands in for calm
    # The judges heard both corpora's other actors, never the held-out ones.
    assert crema["classifier"]["train_actors"] == [1, 2, 3, 4, 1001, 1002, 1003, 1004]
    assert crema["classifier"]["corpora"] == ["crema", "ravdess"]
    for entry in (ravdess, crema):
        target = entry["systems"]["target"]
        assert set(target["judges"]) == {"functionals", "contours"}
        assert target["judged_target"] == min(j["judged_target"]
                                              for j in target["judges"].values())
        assert set(entry["classifier"]["judges"]) == {"functionals", "contours"}
    table = (out / "metrics.md").read_text()
    assert "RAVDESS test actors" in table and "CREMA-D test actors" in table
    assert "by judge (functionals / contours)" in table
    assert "CREMA-D: ### calm2anger" in capsys.readouterr().out
    # calm2surprised has no CREMA-D table: CREMA-D records no surprise.
    assert ev._held_out(ev.build_parser().parse_args(["--all"]), None, [], "calm2surprised",
                        "crema") == ()


@pytest.mark.slow
def test_a_judge_counts_only_for_emotions_it_hears_in_real_speech(ravdess_tree, crema_tree,
                                                                  trees_cache, tmp_path):
    from spectrogan.data.corpora import scan_corpora
    from spectrogan.evaluation.scoring import Evaluator

    folders = {"ravdess": ravdess_tree, "crema": crema_tree}
    shutil.copy(trees_cache, tmp_path / "cache.npz")
    evaluator = Evaluator(files=scan_corpora(folders), root=ravdess_tree, roots=folders,
                          cache=metrics.FeatureCache(tmp_path / "cache.npz"),
                          reference_actors=(4, 1004))
    classifier = evaluator.classifier((5, 6, 1005, 1006), exclude_actors=(4, 1004))
    assert 4 not in classifier.report["train_actors"]
    competence = classifier.report["competence"]
    assert competence["actors"] == [4, 1004]
    assert set(competence["recall"]) == {"ravdess", "crema"}
    assert set(competence["recall"]["crema"]["functionals"]) == {"angry", "neutral"}
    # Make the contours judge deaf to angry on the reference clips: it stops counting for angry
    # (and only there), so its verdict no longer sets the figure.
    reference = classifier.reference_judged["contours"]
    reference[classifier.reference_labels == "angry"] = "calm"
    angry = classifier.competence("angry", ["ravdess", "crema"])
    assert angry["recall"]["contours"] == 0.0 and angry["counted"] == ["functionals"]
    assert angry["clips"] == int(np.sum(classifier.reference_labels == "angry"))
    assert "contours" in classifier.competence("calm", ["ravdess"])["counted"]
    entry = evaluator.evaluate_pair("calm2anger", test_actors=(5, 6, 1005, 1006),
                                    exclude_actors=(4, 1004), systems=("source", "target"))
    assert entry["competence"]["counted"] == ["functionals"]
    target = entry["systems"]["target"]
    assert target["counted"] == ["functionals"]
    assert target["judged_target"] == target["judges"]["functionals"]["judged_target"]
    assert "counts functionals only" in reports.pair_table(entry)


def test_recogniser_is_optional(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import fails: not installed
    assert metrics.load_recogniser() is None


@needs_ravdess
def test_recogniser_on_real_speech_and_noise(rng):
    pytest.importorskip("pocketsphinx")
    recogniser = metrics.load_recogniser()
    clip = load_audio(RAVDESS_DIR / "Actor_18" / "03-01-02-01-02-01-18.wav")  # statement 2
    assert recogniser.recognised(clip, 2) and not recogniser.recognised(clip, 1)
    noise = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    assert not recogniser.recognised(noise, 1) and not recogniser.recognised(noise, 2)


@needs_ravdess
def test_recogniser_hears_the_same_words_at_any_playback_level():
    pytest.importorskip("pocketsphinx")
    recogniser = metrics.load_recogniser()
    clip = load_audio(RAVDESS_DIR / "Actor_18" / "03-01-02-01-02-01-18.wav")
    heard = recogniser.transcribe_open(clip)
    assert heard  # real speech: some words
    for gain in (0.05, 8.0):  # -26 dB and +18 dB: the clip peaks far below and near full scale
        louder = np.clip(clip * gain, -0.99, 0.99)
        assert recogniser.transcribe_open(louder) == heard, gain
    assert "-50 dB FS" in recogniser.open_description  # the cache keys change with the level


def tiny_model(models: Path, *, test_actors: list[int]) -> Path:
    return save_tiny_model(models / "calm2anger", filters=2, test_actors=test_actors)


@pytest.mark.slow
def test_model_run_and_results_page(ravdess_tree, tmp_path):
    models = tmp_path / "models"
    tiny_model(models, test_actors=[5, 6])
    out = tmp_path / "results"
    args = ["--ravdess", str(ravdess_tree), "--out", str(out), "--no-asr", "--iters", "4"]
    assert ev.main(["--pair", "calm2anger", "--models", str(models), *args]) == 0
    entry = json.loads((out / "metrics.json").read_text())["pairs"]["calm2anger"]
    assert entry["test_actors"] == [5, 6]  # taken from the model's config.json
    converted = entry["systems"]["converted"]
    assert converted is not None and 0.0 <= converted["judged_target"] <= 1.0
    assert converted["mcd_to_source"] > entry["systems"]["vocoder"]["mcd_to_source"]
    assert all("converted" in clip["mcd_to_target"] for clip in entry["clips"])

    assert page.main(["--out", str(out), "--models", str(models), "--ravdess",
                      str(ravdess_tree), "--iters", "4"]) == 0
    readme = (out / "README.md").read_text()
    assert "CC BY-NC-SA 4.0" in readme and "### calm2anger" in readme
    assert "**angry** (converted)" in readme
    links = [line for line in readme.splitlines() if "samples/" in line]
    assert links
    for target in {part.split(")")[0] for line in links for part in line.split("(samples/")[1:]}:
        assert (out / "samples" / target).is_file()
    pngs = list((out / "samples").glob("*.png"))
    assert pngs and all(p.stat().st_size < 40_000 for p in pngs)
    from PIL import Image

    assert Image.open(pngs[0]).size == (400, 200)
    assert load_audio(next((out / "samples").glob("calm2anger_*.wav"))).size > 0


@pytest.mark.slow
def test_the_results_page_has_a_grid_of_crema_d_test_actors(ravdess_tree, crema_tree,
                                                           trees_cache, tmp_path):
    """Issue 53: a listening sample per pair from CREMA-D's test actors too, neutral as the
    source, with CREMA-D's attribution."""
    models = tmp_path / "models"
    tiny_model(models, test_actors=[5, 6])
    out = seeded_out(tmp_path, trees_cache)
    assert ev.main(["--pair", "calm2anger", "--models", str(models), "--ravdess",
                    str(ravdess_tree), "--crema", str(crema_tree), "--test-actors",
                    "5,6,1005,1006", "--out", str(out), "--no-asr", "--iters", "2"]) == 0
    crema = json.loads((out / "metrics.json").read_text())["corpora"]["crema"]["pairs"]
    assert crema["calm2anger"]["sources_spoken"] == ["neutral"]
    assert "4 neutral (this corpus's calm) clips" in (out / "metrics.md").read_text()
    assert page.main(["--out", str(out), "--models", str(models), "--ravdess",
                      str(ravdess_tree), "--crema", str(crema_tree), "--iters", "2"]) == 0
    readme = (out / "README.md").read_text()
    grid = readme.split("### From neutral (CREMA-D test actors", 1)[1].split("\n## ", 1)[0]
    assert "**neutral** (source)" in grid and "**angry** (converted)" in grid
    assert "actor 1005: “Don't forget a jacket”" in grid
    assert "Open Database License" in readme
    for target in {part.split(")")[0] for part in grid.split("(samples/")[1:]}:
        assert (out / "samples" / target).is_file()


def baseline_entry() -> dict:
    """A hand-made metrics.json entry of calm2anger without a model."""
    return {"pair": "calm2anger", "source": "calm", "target": "angry", "test_actors": [17],
            "model": None, "n_clips": 1,
            "classifier": {"accuracy": 0.5, "test_clips": 8, "emotions": ["calm", "angry"],
                           "chance": 0.5, "source_vs_target": 0.9},
            "settings": {"griffin_lim_iters": 32, "phase": "source"},
            "recogniser": None,
            "systems": {s: None if s == "converted" else {
                "judged_target": 0.5, "target_over_source": 0.5, "mcd_to_target": 5.0,
                "mcd_to_target_std": 1.0, "mcd_to_source": 0.0, "mcd_to_source_std": 0.0,
                "f0_mean_hz": 150.0, "f0_std_hz": 20.0, "voiced_fraction": 0.8,
                "energy_db": -30.0, "recognised": None} for s in reports.SYSTEMS}}


def test_page_without_models_says_so(tmp_path):
    out = tmp_path / "results"
    reports.write_metrics(out / "metrics.json", {"pairs": {"calm2anger": baseline_entry()}})
    assert page.main(["--out", str(out), "--models", str(tmp_path / "models")]) == 0
    readme = (out / "README.md").read_text()
    assert "No model is trained yet" in readme and "Which epoch ships" not in readme
    assert "no recogniser installed" in readme and "5.00 ± 1.00" in readme
    assert "| 50% |  | 50% | 5.00 ± 1.00 | 0.00 ± 0.00 | 150 | 20 | 80% | -30.0 | n/a |" in readme
    assert not (out / "samples").exists()


# --- Command-line errors ------------------------------------------------------------------
def run_error(capsys, main, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_cli_errors(ravdess_tree, tmp_path, capsys):
    out = tmp_path / "out"
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--baselines-only",
                                      "--ravdess", str(tmp_path / "nowhere"), "--out", str(out)])
    assert "nowhere" in err
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--models",
                                      str(tmp_path / "no_models"), *base_args(ravdess_tree, out)])
    assert "no_models" in err and "--baselines-only" in err
    (tmp_path / "empty_models").mkdir()
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--models",
                                      str(tmp_path / "empty_models"),
                                      *base_args(ravdess_tree, out)])
    assert "train_cyclegan.py --pair calm2anger" in err and "--baselines-only" in err
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--baselines-only", "--ravdess",
                                      str(ravdess_tree), "--out", str(out), "--test-actors",
                                      "17,18"])
    assert "17, 18" in err and "--test-actors" in err
    out.mkdir(exist_ok=True)
    (out / "metrics.md").write_text("my own notes\n")
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--baselines-only",
                                      *base_args(ravdess_tree, out)])
    assert "--force" in err and (out / "metrics.md").read_text() == "my own notes\n"
    err = run_error(capsys, page.main, ["--out", str(tmp_path / "fresh")])
    assert "evaluate.py --all" in err
    for argv, says in ((["--pair", "calm2bogus"], "'bogus'"), (["--pair", "calm2calm"], "itself"),
                       ([], "--pair"), (["--pair", "calm2anger", "--limit", "0"], "'0'")):
        with pytest.raises(SystemExit) as exit_info:
            ev.main(argv)
        assert exit_info.value.code == 2
        assert says in capsys.readouterr().err


# --- Epoch selection ------------------------------------------------------------------------
def selection_rows(*figures: tuple) -> list[dict]:
    """(epoch, judged share, MCD[, target-over-source share, 0 when left out])."""
    return [{"epoch": e, "judged_target": share, "mcd_to_target": mcd,
             "target_over_source": rest[0] if rest else 0.0}
            for e, share, mcd, *rest in figures]


def test_choose_epoch_guard_and_tie_breaks():
    rows = selection_rows((10, 0.50, 7.0), (20, 0.90, 9.5), (30, 0.60, 8.9), (40, 0.60, 8.2),
                          (50, 0.55, 9.0))
    # Limit 8.0 + 1.0 = 9.0 dB: epoch 20 (best share) is out, 50 (exactly at the limit) in;
    # 30 and 40 tie on share, and 40 has the lower MCD.
    choice = runs.choose_epoch(rows, 8.0)
    assert choice == {"epoch": 40, "guard_held": True, "mcd_limit_db": 9.0, "wer_limit": None,
                      "voiced_limit": None, "naturalness_limit": None,
                      "passing": [10, 30, 40, 50]}
    assert runs.choose_epoch(rows, 8.0, margin_db=2.0)["epoch"] == 20
    # Equal share and MCD: the earlier epoch, whatever the order of the rows.
    tied = selection_rows((70, 0.6, 8.0), (60, 0.6, 8.0), (80, 0.2, 1.0))
    assert runs.choose_epoch(tied, 8.0)["epoch"] == 60
    # Equal judged share (none judged the target): the higher target-over-source share wins
    # before MCD does.
    unjudged = selection_rows((10, 0.0, 7.0, 0.25), (20, 0.0, 8.5, 0.75), (30, 0.0, 8.0, 0.5))
    assert runs.choose_epoch(unjudged, 8.0)["epoch"] == 20
    # No epoch within the guard: the best share anyway, and the record says so.
    fallback = runs.choose_epoch(rows, 5.0)
    assert fallback["epoch"] == 20 and not fallback["guard_held"] and fallback["passing"] == []
    with pytest.raises(ValueError):
        runs.choose_epoch([], 5.0)


def test_choose_epoch_word_error_guard():
    rows = selection_rows((10, 0.25, 7.0), (20, 0.75, 7.5), (30, 0.50, 7.2), (40, 0.60, 7.1))
    for row, wer in zip(rows, (0.30, 0.60, 0.44, None)):
        row["word_error_rate"] = wer
    # Zero effort 0.30 + 0.15: epoch 20 (best share, word error 0.60) is out, 30 (below the
    # limit) in, 40 (not measured) out; without a recogniser only the MCD guard applies.
    choice = runs.choose_epoch(rows, 7.0, zero_effort_wer=0.30)
    assert choice["epoch"] == 30 and choice["passing"] == [10, 30]
    assert choice["wer_limit"] == pytest.approx(0.45)
    assert runs.choose_epoch(rows, 7.0)["epoch"] == 20
    assert runs.choose_epoch(rows, 7.0, zero_effort_wer=0.30, wer_margin=0.5)["epoch"] == 20
    # No epoch keeps the words: the best share anyway, flagged.
    lost = runs.choose_epoch(rows, 7.0, zero_effort_wer=0.0)
    assert lost["epoch"] == 20 and not lost["guard_held"]


def tiny_weights(folder: Path, seed: int, *, dtype: str = "float32") -> Path:
    """The weights file of a tiny generator initialised from `seed`, written into `folder`."""
    import keras

    from spectrogan.model import model_files

    from spectrogan.model import models as model_lib
    from spectrogan.audio.spectro import IMAGE_SIZE

    keras.utils.set_random_seed(seed)
    generator = model_lib.build_generator((IMAGE_SIZE, IMAGE_SIZE, 1), filters=4, res_blocks=1)
    return model_files.save_generator(generator, folder, dtype=dtype)


def snapshot_run(models: Path, *, epochs=(10, 20, 30), val_actors=(3, 4)) -> Path:
    """A calm2anger run folder as train_cyclegan.py leaves it: config.json with val_actors,
    float16 snapshots/epoch_NNNN/ per epoch, and the last epoch's generator in float32."""
    from spectrogan.data.corpus import STFT_SETTINGS
    from spectrogan.audio.spectro import IMAGE_SIZE

    run = models / "calm2anger"
    config = {"pair": "calm2anger", "source": "calm", "target": "angry",
              "image_size": IMAGE_SIZE, "generator": {"filters": 4, "res_blocks": 1},
              "discriminator": {"filters": 4}, "stft": dict(STFT_SETTINGS),
              "train_actors": [1, 2], "val_actors": list(val_actors), "test_actors": [5, 6]}
    runs.write_config(run, config)
    for epoch in epochs:
        snapshot = run / "snapshots" / f"epoch_{epoch:04d}"
        runs.write_config(snapshot, {**config, "epoch": epoch})
        tiny_weights(snapshot, epoch, dtype="float16")
    tiny_weights(run, epochs[-1])
    return run


def test_same_weights_across_precisions(tmp_path):
    full = tiny_weights(tmp_path / "a", 1)
    half = tiny_weights(tmp_path / "b", 1, dtype="float16")
    other = tiny_weights(tmp_path / "c", 2)
    assert full.read_bytes() != half.read_bytes()
    assert runs.same_weights(full, half) and runs.same_weights(half, full)
    assert runs.same_weights(full, full) and not runs.same_weights(full, other)
    import h5py

    name, values = next((n, v) for n, v in runs._weight_arrays(half).items() if v.size > 1)
    values.flat[0] = np.nextafter(values.flat[0], np.float16(np.inf))
    with h5py.File(half, "r+") as handle:  # one weight one float16 step off
        handle[name][...] = values
    assert not runs.same_weights(full, half)
    (tmp_path / "junk.h5").write_bytes(b"no hdf5 here")
    assert not runs.same_weights(full, tmp_path / "junk.h5")


def file_states(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_select_epoch_installs_the_winner(ravdess_tree, tmp_path, capsys):
    from spectrogan.model import model_files
    from spectrogan.model.runs import find_model_dir

    models = tmp_path / "models"
    run = snapshot_run(models)
    assert runs.generator_path(run).read_bytes() \
        != runs.generator_path(run / "snapshots" / "epoch_0030").read_bytes()
    out = tmp_path / "results"
    argv = ["--pair", "calm2anger", "--select-epoch", "--models", str(models), "--ravdess",
            str(ravdess_tree), "--out", str(out), "--no-asr", "--iters", "4", "--limit", "2"]
    assert ev.main(argv) == 0
    stdout = capsys.readouterr().out
    selection = json.loads((run / "selection.json").read_text())
    assert selection["val_actors"] == [3, 4] and selection["n_clips"] == 2
    assert selection["test_actors"] == [5, 6]
    # The classifier heard neither the validation (3, 4) nor the test actors (5, 6).
    assert selection["classifier"]["train_actors"] == [1, 2]
    assert selection["classifier"]["test_actors"] == [3, 4]
    rows = selection["epochs"]
    assert [row["epoch"] for row in rows] == [10, 20, 30]
    zero_effort = selection["zero_effort_mcd_db"]
    assert zero_effort == selection["reference"]["source"]["mcd_to_target"] > 0.0
    assert selection["reference"]["target"]["mcd_to_target"] == 0.0
    # The voicing guard's reference: the lower of the unconverted and real target clips' share.
    voiced = min(selection["reference"][name]["voiced_fraction"] for name in ("source", "target"))
    assert selection["voiced_reference"] == voiced
    assert selection["voiced_limit"] == pytest.approx(voiced - runs.SELECTION_VOICED_MARGIN)
    choice = runs.choose_epoch(rows, zero_effort, voiced_reference=voiced)
    chosen = selection["chosen_epoch"]
    assert chosen == choice["epoch"] and selection["guard_held"] == choice["guard_held"]
    assert [row["epoch"] for row in rows if row["chosen"]] == [chosen]
    assert all(row["passes_guard"] == (row["mcd_to_target"] <= zero_effort + 1.0
                                       and row["voiced_fraction"] >= selection["voiced_limit"])
               for row in rows)
    # Different random generators convert differently.
    assert len({row["mcd_to_source"] for row in rows}) == 3
    # Installed: the chosen snapshot's file, and its config plus epoch and selected_on.
    snapshot = run / "snapshots" / f"epoch_{chosen:04d}"
    assert runs.generator_path(run).read_bytes() \
        == runs.generator_path(snapshot).read_bytes()
    config = runs.read_config(run)
    row = next(r for r in rows if r["epoch"] == chosen)
    assert row["snapshot"] == f"snapshots/epoch_{chosen:04d}"  # relative: no local paths
    assert config["epoch"] == chosen and config["val_actors"] == [3, 4]
    assert config["selected_on"] == {"val_actors": [3, 4], "judged_target": row["judged_target"],
                                     "mcd_db": row["mcd_to_target"]}
    assert find_model_dir(models, "calm", "anger") == run
    assert model_files.load_generator(run).count_params() \
        == model_files.load_generator(snapshot).count_params()
    table = (run / "selection.md").read_text()
    assert "evaluate.py" in table.splitlines()[0] and "| **chosen** |" in table
    assert f"epoch {chosen} " in stdout
    assert f"installed as {runs.generator_path(run)}" in stdout
    assert ("picked by judged-angry share anyway" in stdout) == (not selection["guard_held"])
    assert "picked by judged-angry share anyway" in reports.selection_verdict(
        {**selection, "guard_held": False})

    # The results page names the chosen epoch (and that the test tables are older).
    reports.write_metrics(out / "metrics.json", {"pairs": {"calm2anger": baseline_entry()}})
    assert page.main(["--out", str(out), "--models", str(models)]) == 0
    readme = (out / "README.md").read_text()
    assert "## Which epoch ships" in readme and reports.selection_verdict(selection) in readme
    assert "predate this choice" in readme

    # Selecting again is allowed (the installed file is a snapshot's; the first run found
    # the float32 generator the same as the last float16 snapshot) ...
    args = ev.build_parser().parse_args(argv)
    files = corpus.scan_ravdess(ravdess_tree)
    assert ev.plan_selection(args, "calm2anger", files).val_actors == (3, 4)
    # ... but a generator that no snapshot holds is not replaced, and nothing is touched.
    tiny_weights(run, 99)
    before = file_states(run)
    err = run_error(capsys, ev.main, argv)
    assert "--force" in err and "generator_AtoB" in err and len(err.splitlines()) == 1
    assert file_states(run) == before
    forced = ev.build_parser().parse_args([*argv, "--force"])
    assert ev.plan_selection(forced, "calm2anger", files) is not None
    # Under a deadline (the GPU release) only the newest snapshots are scored.
    bounded = ev.build_parser().parse_args([*argv, "--force", "--max-snapshots", "2"])
    assert [s.epoch for s in ev.plan_selection(bounded, "calm2anger", files).snapshots] \
        == [20, 30]


def test_select_epoch_errors(ravdess_tree, tmp_path, capsys):
    models = tmp_path / "models"
    common = ["--models", str(models), "--ravdess", str(ravdess_tree), "--out",
              str(tmp_path / "out"), "--no-asr"]
    with pytest.raises(SystemExit) as exit_info:
        ev.main(["--all", "--select-epoch", "--baselines-only", *common])
    assert exit_info.value.code == 2 and "--baselines-only" in capsys.readouterr().err
    run = tiny_model(models, test_actors=[5, 6])  # a run without snapshots
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--select-epoch", *common])
    assert "snapshots" in err and "train_cyclegan.py --pair calm2anger" in err \
        and "--snapshot-every" in err
    assert ev.main(["--all", "--select-epoch", *common]) == 2
    note, err = capsys.readouterr().err.splitlines()
    assert note.startswith("note: calm2anger: no snapshots") and "skipped" in note
    assert err.startswith("error: ") and "no run folder" in err
    # Snapshots, but a config from before validation splits.
    snapshot_run(models, epochs=(1,))
    config = runs.read_config(run)
    del config["val_actors"]
    runs.write_config(run, config)
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--select-epoch", *common])
    assert "val_actors" in err and "train_cyclegan.py --pair calm2anger" in err
    runs.write_config(run, {**config, "val_actors": [12]})
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--select-epoch", *common])
    assert "12" in err and "--ravdess" in err
    runs.write_config(run, {**config, "val_actors": [3]})
    (run / "selection.json").write_text("[1, 2]\n")
    err = run_error(capsys, ev.main, ["--pair", "calm2anger", "--select-epoch", *common])
    assert "selection.json" in err and "--force" in err
    assert (run / "selection.json").read_text() == "[1, 2]\n"


# --- Real data ------------------------------------------------------------------------------
@needs_ravdess
def test_real_clips_metrics_order():
    """On a real actor: resynthesis is near-transparent, another emotion is far."""
    folder = RAVDESS_DIR / "Actor_18"
    calm = load_audio(folder / "03-01-02-01-01-01-18.wav")
    angry = load_audio(folder / "03-01-05-01-01-01-18.wav")
    resynth = spectro.round_trip(angry)
    zero_effort = metrics.mcd_dtw(angry, calm)
    assert metrics.mcd_dtw(angry, resynth) < 0.5 < 3.0 < zero_effort < 15.0
    calm_f0, angry_f0 = (metrics.prosody_from_features(metrics.clip_features(a))["f0_mean_hz"]
                         for a in (calm, angry))
    assert angry_f0 > calm_f0


def test_word_error_rate_counts_word_edits():
    assert metrics.word_error_rate("Kids are talking by the door",
                                   "kids are talking by the door") == 0
    assert metrics.word_error_rate("Kids are talking by the door", "") == 1
    assert metrics.word_error_rate("kids are talking by the door",
                              "kids are taught to buy the door") == pytest.approx(3 / 6)
    assert metrics.word_error_rate("dogs are sitting", "the dogs are sitting here") == \
        pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        metrics.word_error_rate("", "anything")


def test_envelope_correlation_follows_timing_not_level():
    from conftest import tone

    rng = np.random.default_rng(0)
    syllables = np.repeat(rng.uniform(0.05, 1.0, 12), 2000).astype(np.float32)
    speech = tone(1.5, 150.0) * syllables
    assert metrics.envelope_correlation(speech, 0.3 * speech) == pytest.approx(1.0, abs=1e-6)
    other = tone(1.5, 150.0) * rng.permutation(syllables.reshape(12, -1)).ravel()
    assert metrics.envelope_correlation(speech, other) < 0.6


def test_results_page_says_how_a_model_converts(tmp_path):
    shipped = REPO / "results" / "calm2anger"
    run = tmp_path / "models" / "calm2anger"
    run.mkdir(parents=True)
    shutil.copyfile(shipped / "selection.json", run / "selection.json")
    config = runs.read_config(shipped)
    config["inference"] = {"level_change_db": 12.5, "level_change_db_chosen_on": {
        "training_level_difference_db": 12.5, "val_actors": [15, 16]}}
    runs.write_config(run, config)
    lines = page.selection_section({"pairs": {}}, tmp_path / "models")
    assert any("learned level change of +12.5 dB" in line and "only when asked" in line
               and "level_change.md" in line for line in lines)
    # A model that converts with the prosody change says so, with the arm it was chosen as.
    config["inference"] = {"vocoder": "world", "prosody": {"f0_shift_semitones": 6.0},
                           "prosody_chosen_on": {"arm": "world, model + prosody",
                                                 "val_actors": [15, 16]}}
    runs.write_config(run, config)
    lines = page.selection_section({"pairs": {}}, tmp_path / "models")
    assert any("WORLD vocoder" in line and "+6.0 semitones" in line
               and "world, model + prosody" in line for line in lines)
    runs.write_config(run, {**config, "inference": {}})
    assert not any("louder" in line for line in page.selection_section({"pairs": {}},
                                                                       tmp_path / "models"))


# --- The level difference between two emotions ---------------------------------------------------
def test_level_difference_is_the_mean_over_actors_of_each_actors_difference(tmp_path):
    from spectrogan.data.corpus import RavdessFile

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


# --- What a newcomer meets -----------------------------------------------------------------------
def test_evaluate_suggests_a_download_command_that_exists(tmp_path, capsys):
    assert evaluate.main(["--pair", "calm2anger", "--ravdess", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "python data_prep.py --download ravdess" in err


def test_another_vocoder_drops_what_only_the_model_s_own_applies():
    import argparse

    from spectrogan.stages.conversion_settings import ConversionSettings
    from spectrogan.conversion.inference import Converter
    from spectrogan.stages.envelope_model import EnvelopeModel
    from spectrogan.stages.pitch_shift import PitchShift
    from spectrogan.stages.prosody import ProsodyChange

    shifted = Converter(settings=ConversionSettings.of("griffin-lim", PitchShift(1.2)))
    world = ev._as_asked(argparse.Namespace(vocoder="world", no_prosody=False), shifted)
    assert world.settings.vocoder.name == "world" and world.settings.stage(PitchShift) is None
    moving = Converter(settings=ConversionSettings.of("world", ProsodyChange(3.0),
                                                      EnvelopeModel(applied=False)))
    plain = ev._as_asked(argparse.Namespace(vocoder="griffin-lim", no_prosody=False), moving)
    assert plain.settings.stage(ProsodyChange) is None
    assert plain.settings.stage(EnvelopeModel).applied


def test_choose_epoch_naturalness_guard():
    rows = selection_rows((10, 0.25, 7.0), (20, 0.75, 7.0), (30, 0.50, 7.0))
    for row, score in zip(rows, (3.5, 3.1, 3.3)):
        row["naturalness"] = score
    # The vocoder alone scores 3.4: 20 (3.1) costs more than 0.15 and is out.
    choice = runs.choose_epoch(rows, 7.0, naturalness_reference=3.4)
    assert choice["epoch"] == 30 and choice["passing"] == [10, 30]
    assert choice["naturalness_limit"] == pytest.approx(3.25)
    assert runs.choose_epoch(rows, 7.0)["epoch"] == 20  # not measured: no guard


class LevelNaturalness:
    """A stand-in for Distill-MOS: louder clips 'sound better' (deterministic, fast)."""

    description = "fake naturalness"

    def score(self, audio):
        return float(1.0 + 4.0 * min(1.0, np.sqrt(np.mean(np.square(audio))) * 10))


@pytest.mark.slow
def test_vocoders_report_scores_every_path_alone_on_both_corpora(ravdess_tree, crema_tree,
                                                                 trees_cache, tmp_path, capsys,
                                                                 monkeypatch):
    from spectrogan.evaluation import scoring
    from spectrogan.evaluation import vocoder_report

    monkeypatch.setattr(scoring, "naturalness_available", lambda: True)
    monkeypatch.setattr(scoring, "NaturalnessPredictor", LevelNaturalness)
    # Two of the candidates keep the test short: the shipped analysis and a fast one.
    monkeypatch.setattr(vocoder_report, "CANDIDATE_ANALYSES", (
        vocoder_report.SHIPPED_ANALYSIS, vocoder_report.WorldAnalysis("dio")))
    out = seeded_out(tmp_path, trees_cache)
    assert ev.main(["--vocoders", "--ravdess", str(ravdess_tree), "--crema", str(crema_tree),
                    "--out", str(out), "--test-actors", "5,6,1005,1006", "--limit", "1",
                    "--no-asr"]) == 0
    report = json.loads((out / "vocoders.json").read_text())
    assert report["actors"] == [5, 6, 1005, 1006]
    assert set(report["corpora"]) == {"ravdess", "crema"}
    labels = ["input", *vocoder_report.vocoder_paths()]
    for corpus, source in (("ravdess", "calm"), ("crema", "neutral")):
        entry = report["corpora"][corpus]
        assert entry["clips"] == 1 and entry["source"] == source
        assert list(entry["paths"]) == labels
        assert entry["paths"]["input"]["naturalness_vs_input"] == 0.0
        for label in labels[1:]:
            row = entry["paths"][label]
            assert 0.0 <= row["voiced_fraction"] <= 1.0 and row["real_time"] > 0
            assert set(row["judged_source"]) == {"functionals", "contours"}
            assert row["naturalness"] is not None and row["word_error_rate"] is None
    table = (out / "vocoders.md").read_text()
    assert "(shipped)" in table and "Griffin-Lim" in table and "CREMA-D" in table
    assert "wrote" in capsys.readouterr().out

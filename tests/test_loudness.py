"""loudness.py and the level-invariant judge (metrics.clip_features): a clip's gain changes
neither its features nor its judged emotion, and a conversion keeps its input's loudness."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogan.evaluation import judges
from spectrogan.audio import loudness
from spectrogan.evaluation import metrics
from spectrogan.audio.loudness import (OUTPUT_PEAK, at_speech_level, headroom_db, keep_loudness,
                                       level_change_reached_db, limit_peaks, soft_knee,
                                       speech_level_db)

from conftest import vowel


def _speech_like(seconds: float = 1.2, f0: float = 140.0, *, seed: int = 0) -> np.ndarray:
    """A vowel whose pitch glides and whose loudness swells and fades (syllable-like), with
    pauses of near silence: float32, peak 0.3."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    glide = f0 * (1.0 + 0.15 * np.sin(2 * np.pi * 1.3 * t))
    phase = 2 * np.pi * np.cumsum(glide) / 16000
    wave = sum(np.sin(k * phase) / k for k in range(1, 30))
    syllables = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.7
    audio = wave * syllables + 1e-4 * rng.standard_normal(n)
    return (0.3 * audio / np.abs(audio).max()).astype(np.float32)


def _db(gain_db: float) -> float:
    return 10.0 ** (gain_db / 20.0)


def test_speech_level_moves_with_gain_and_at_speech_level_sets_it():
    clip = _speech_like()
    level = speech_level_db(clip)
    for gain_db in (-20.0, 6.0):
        assert speech_level_db(clip * _db(gain_db)) == pytest.approx(level + gain_db, abs=1e-3)
    assert speech_level_db(at_speech_level(clip, level_db=-33.0)) == pytest.approx(-33.0,
                                                                                   abs=1e-3)


def test_the_judge_s_features_and_class_do_not_change_with_gain():
    """The same feature vector, and the same judged class, at 0, -20 and +10 dB (unclipped)."""
    base = 0.05 * _speech_like() / 0.3  # peak 0.05: +10 dB stays below full scale
    features = {gain: metrics.clip_features(base * _db(gain)) for gain in (0.0, -20.0, 10.0)}
    assert np.abs(base * _db(10.0)).max() < 1.0
    for gain in (-20.0, 10.0):
        np.testing.assert_allclose(features[gain], features[0.0], rtol=1e-4, atol=1e-3)
    # A classifier trained on two synthetic 'emotions' (low and steady against high and
    # lively voices) at mixed levels judges the three gains of one clip alike.
    clips, labels = [], []
    for seed in range(6):
        level = _db(-30.0 + 6.0 * seed)
        clips.append(level * vowel(0.8, 110.0 + 4 * seed))
        labels.append("calm")
        clips.append(level * _speech_like(0.8, 220.0 + 8 * seed, seed=seed))
        labels.append("happy")
    model = judges.train_emotion_classifier(
        np.stack([metrics.clip_features(c) for c in clips]), labels)
    judged = model.predict(np.stack(list(features.values())).astype(np.float64))
    assert len(set(judged)) == 1
    # Nothing level-dependent is left among the features' names.
    assert not any(name.endswith("_db") for name in metrics.FEATURE_NAMES)


def test_limit_peaks_holds_the_ceiling_without_touching_the_rest():
    clip = _speech_like()
    loud = clip * 5.0  # peaks at 1.5: over full scale
    limited = limit_peaks(loud)
    assert limited.dtype == np.float32 and limited.shape == loud.shape
    assert np.abs(limited).max() <= OUTPUT_PEAK + 1e-7
    quiet_part = np.abs(loud) < 0.2 * OUTPUT_PEAK
    far = np.convolve(~quiet_part, np.ones(400), mode="same") == 0  # 12 ms from any peak
    np.testing.assert_allclose(limited[far], loud[far], rtol=1e-5)
    np.testing.assert_array_equal(limit_peaks(clip), clip)  # within the ceiling: untouched
    with pytest.raises(ValueError, match="ceiling"):
        limit_peaks(clip, ceiling=0.0)


@pytest.mark.parametrize("peak_dbfs", [-1.0, -40.0])
@pytest.mark.parametrize("louder_by_db", [-12.0, 0.0, 9.0])
def test_keep_loudness_returns_the_input_s_level_and_never_clips(peak_dbfs, louder_by_db):
    """The converted clip (here: a sharper, louder or softer version of the input) comes
    back at the input's speech level within 1 dB, for an input with no headroom (-1 dB FS
    peak) and a quiet one (-40 dB FS), and never passes the ceiling."""
    reference = _speech_like() * (_db(peak_dbfs) / 0.3)
    sharper = np.sign(reference) * np.abs(reference) ** 0.7  # more peaks for its loudness
    converted = sharper * _db(louder_by_db) / np.abs(sharper).max() * np.abs(reference).max()
    kept = keep_loudness(converted, reference)
    assert loudness.loudness_db(kept) == pytest.approx(loudness.loudness_db(reference), abs=1.0)
    assert np.abs(kept).max() <= OUTPUT_PEAK + 1e-7
    asked = keep_loudness(converted, reference, change_db=-6.0)
    assert loudness.loudness_db(asked) == pytest.approx(loudness.loudness_db(reference) - 6.0, abs=1.0)


def test_keep_loudness_leaves_silence_alone_and_rejects_a_bad_change():
    silence = np.zeros(8000, dtype=np.float32)
    np.testing.assert_array_equal(keep_loudness(silence, _speech_like()), silence)
    with pytest.raises(ValueError, match="change_db"):
        keep_loudness(_speech_like(), _speech_like(), change_db=float("inf"))


def test_soft_knee_leaves_the_body_alone_and_never_reaches_the_ceiling():
    ramp = np.linspace(-3.0, 3.0, 6001, dtype=np.float32)
    rounded = soft_knee(ramp)
    body = np.abs(ramp) <= 0.5 * OUTPUT_PEAK
    np.testing.assert_allclose(rounded[body], ramp[body], atol=1e-7)
    assert np.abs(rounded).max() < OUTPUT_PEAK
    assert np.all(np.diff(rounded) >= 0)  # monotonic: no fold-over


def test_a_result_with_peaks_everywhere_still_gets_the_level_back():
    """Noise-like output of a clip with no headroom: the limiter alone saturates below the
    input's level; the soft knee brings it back without clipping."""
    rng = np.random.default_rng(0)
    reference = (0.89 * np.sign(np.sin(np.linspace(0, 300, 16000)))).astype(np.float32)
    noisy = rng.laplace(0.0, 0.1, 16000).astype(np.float32)  # crest factor ~ 20 dB
    kept = keep_loudness(noisy, reference)
    assert loudness.loudness_db(kept) == pytest.approx(loudness.loudness_db(reference), abs=1.0)
    assert np.abs(kept).max() <= OUTPUT_PEAK + 1e-7


def test_a_reference_above_full_scale_counts_as_scaled_down_to_fit():
    reference = _speech_like() * (4.0 / 0.3)  # a float recording peaking at +12 dB FS
    kept = keep_loudness(_speech_like(seed=1), reference)
    expected = loudness.loudness_db(reference) - 20 * np.log10(4.0 / OUTPUT_PEAK)
    assert loudness.loudness_db(kept) == pytest.approx(expected, abs=1.0)
    assert np.abs(kept).max() <= OUTPUT_PEAK + 1e-7


def test_a_level_change_stops_where_the_clip_s_headroom_ends():
    """Issue 56.1: +19.8 dB asked of a clip peaking at -1 dB FS must not flatten it into a
    square wave; the rise stops at its headroom, and the reached change is what is said."""
    reference = _speech_like() * (_db(-1.0) / 0.3)
    kept = keep_loudness(reference, reference, change_db=19.8)
    assert np.mean(np.abs(kept) >= 0.9) < 0.01  # the old result: ~half the samples
    reached = level_change_reached_db(kept, reference)
    assert 0.0 <= reached <= headroom_db(reference) + 0.5
    # A quiet clip has the room: the change asked is the change made.
    quiet = reference * _db(-40.0)
    louder = keep_loudness(quiet, quiet, change_db=19.8)
    assert level_change_reached_db(louder, quiet) == pytest.approx(19.8, abs=0.5)
    # Softer is always possible.
    softer = keep_loudness(reference, reference, change_db=-6.0)
    assert level_change_reached_db(softer, reference) == pytest.approx(-6.0, abs=0.5)
    assert headroom_db(np.zeros(100)) == float("inf")
    assert headroom_db(reference * 10.0) == 0.0


def test_loudness_is_bs1770_and_moves_with_gain():
    clip = _speech_like(2.0)
    level = loudness.loudness_db(clip)
    assert np.isfinite(level)
    assert loudness.loudness_db(clip * _db(-12.0)) == pytest.approx(level - 12.0, abs=0.05)
    # A full-scale 1 kHz sine reads -3.01 LUFS on a BS.1770 meter (its calibration).
    t = np.arange(3 * 16000) / 16000
    assert loudness.loudness_db(np.sin(2 * np.pi * 1000 * t)) == pytest.approx(-3.01, abs=0.1)
    # Shorter than one gating block, or below the absolute gate: no BS.1770 loudness, and
    # the speech level stands in for the comparison.
    assert loudness.loudness_db(clip[:3000]) == -np.inf
    assert loudness.loudness_measure(clip[:3000], clip) is loudness.speech_level_db
    assert loudness.loudness_measure(clip, clip * 0.5) is loudness.loudness_db


@pytest.mark.slow
@pytest.mark.parametrize("peak_dbfs", [-1.0, -40.0])
def test_every_shipped_emotion_keeps_the_input_s_loudness(peak_dbfs):
    """Issue 55.4: a converted clip's integrated loudness equals its input's within 1 LU and
    its peaks stay below full scale, for an input peaking at -1 dBFS (no headroom: the
    example's level) and one at -40 dBFS, with every shipped model."""
    from spectrogan.conversion import inference
    from spectrogan.model import runs
    from spectrogan.audio.audio_files import load_audio

    from conftest import REPO

    found = runs.model_folders(REPO / "results")
    if not found:
        pytest.skip("no shipped models")
    clip = load_audio(REPO / "examples" / "calm_speech.wav")[:32000]  # 2 s: the first words
    clip = (clip * (_db(peak_dbfs) / np.abs(clip).max())).astype(np.float32)
    wanted = loudness.loudness_db(clip)
    for pair, folder in found.items():
        converted = inference.open_converter(folder).convert(clip)
        assert loudness.loudness_db(converted) == pytest.approx(wanted, abs=1.0), pair
        assert np.abs(converted).max() < 1.0, pair

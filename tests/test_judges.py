"""The two emotion judges (judges.py) and the second one's features (shape_features.py): each
learns emotions across speakers, each reads only its own columns, the lower of the two is the
figure that counts, and the contour features follow where the pitch moves, not how loud or how
high the voice is."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogan.evaluation import judges
from spectrogan.evaluation import metrics
from spectrogan.evaluation.shape_features import SHAPE_BANDS, SHAPE_NAMES, shape_features
from spectrogan.audio.spectro import SAMPLE_RATE

from helpers import toy_emotion_features


@pytest.fixture(scope="module")
def toy_set():
    return toy_emotion_features()


def test_each_judge_learns_emotions_of_unseen_speakers(toy_set):
    features, labels, actors = toy_set
    train, test = actors <= 4, actors > 4
    models = judges.train_judges(features[train], labels[train])
    assert set(models) == set(judges.JUDGE_NAMES) == {"functionals", "contours"}
    for name, model in models.items():
        accuracy = np.mean(judges.judged_emotions(model, features[test]) == labels[test])
        assert accuracy >= 0.8, name


def test_a_judge_reads_only_its_own_columns(toy_set):
    features, labels, _ = toy_set
    models = judges.train_judges(features, labels)
    functional = [metrics.FEATURE_NAMES.index(n) for n in metrics.FUNCTIONAL_NAMES]
    shape = [metrics.FEATURE_NAMES.index(n) for n in SHAPE_NAMES]
    scrambled = features.copy()
    scrambled[:, functional] = np.random.default_rng(0).permutation(scrambled[:, functional])
    np.testing.assert_array_equal(models["contours"].predict_proba(scrambled),
                                  models["contours"].predict_proba(features))
    scrambled = features.copy()
    scrambled[:, shape] = 0.0
    np.testing.assert_array_equal(models["functionals"].predict_proba(scrambled),
                                  models["functionals"].predict_proba(features))


class _Fixed:
    """A stand-in judge that gives every clip the same probabilities."""

    def __init__(self, classes, probabilities):
        self.classes_ = np.array(classes)
        self._p = np.asarray(probabilities, dtype=float)

    def predict_proba(self, features):
        return np.tile(self._p, (len(features), 1))


def test_the_lower_judge_counts():
    models = {"likes": _Fixed(["angry", "calm"], [0.9, 0.1]),
              "doubts": _Fixed(["angry", "calm"], [0.3, 0.7])}
    shares = judges.judged_by_all(models, np.zeros((4, 3)), source="calm", target="angry")
    assert shares["judged_target"] == 0.0 and shares["target_over_source"] == 0.0
    assert shares["judges"]["likes"] == {"judged_target": 1.0, "target_over_source": 1.0}
    # A judge that never heard the target (a corpus without it) rates it 0, not an error.
    alone = judges.judged_shares(models["likes"], np.zeros((2, 3)), source="calm",
                                 target="surprised")
    assert alone == {"judged_target": 0.0, "target_over_source": 0.0}
    with pytest.raises(ValueError, match="two emotions"):
        judges.train_contour_judge(np.zeros((3, len(metrics.FEATURE_NAMES))), ["calm"] * 3)


def test_a_judge_deaf_to_the_target_does_not_veto_it():
    models = {"likes": _Fixed(["angry", "calm"], [0.9, 0.1]),
              "deaf": _Fixed(["angry", "calm"], [0.3, 0.7])}
    floor = judges.competence_floor(8)
    assert floor == pytest.approx(judges.COMPETENCE_FACTOR / 8)
    counted = judges.competent_judges({"likes": 0.6, "deaf": 0.0}, floor=floor)
    assert counted == ["likes"]
    shares = judges.judged_by_all(models, np.zeros((4, 3)), source="calm", target="angry",
                                  counted=counted)
    assert shares["judged_target"] == 1.0 and shares["counted"] == ["likes"]
    assert shares["judges"]["deaf"]["judged_target"] == 0.0  # still reported
    # With no judge able (or nothing measured), every judge counts: none is dropped unheard.
    assert judges.competent_judges({"likes": 0.1, "deaf": 0.0}, floor=floor) == ["likes", "deaf"]
    assert judges.competent_judges({"likes": None, "deaf": None}, floor=floor) == ["likes",
                                                                                 "deaf"]
    with pytest.raises(ValueError, match="at least two"):
        judges.competence_floor(1)
    with pytest.raises(ValueError, match="is counted"):
        judges.judged_by_all(models, np.zeros((1, 3)), source="calm", target="angry",
                             counted=["nobody"])


def _glide(start_hz: float, end_hz: float, *, gain: float = 0.3, seconds: float = 1.2):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = start_hz + (end_hz - start_hz) * (t / seconds) ** 2  # the change comes late
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    return (gain * wave / np.max(np.abs(wave))).astype(np.float32)


def _shape(audio: np.ndarray) -> dict[str, float]:
    vector = metrics.clip_features(audio)
    return {name: float(vector[metrics.FEATURE_NAMES.index(name)]) for name in SHAPE_NAMES}


def test_contour_features_follow_where_the_pitch_moves():
    rising, falling = _shape(_glide(150.0, 260.0)), _shape(_glide(260.0, 150.0))
    assert rising["f0_slope_st"] > 3.0 and rising["f0_late_rise_st"] > 2.0
    assert falling["f0_slope_st"] < -3.0 and falling["f0_late_rise_st"] < -2.0
    assert rising["f0_rising_share"] > 0.7 > 0.3 > falling["f0_rising_share"]


def test_contour_features_do_not_hear_level_or_pitch_height():
    quiet, loud = _shape(_glide(150.0, 200.0, gain=0.02)), _shape(_glide(150.0, 200.0, gain=0.6))
    higher = _shape(_glide(300.0, 400.0))
    for name in ("f0_slope_st", "f0_late_rise_st", "f0_range_st", "alpha_ratio",
                 "energy_slope"):
        assert quiet[name] == pytest.approx(loud[name], abs=0.05), name
    assert higher["f0_slope_st"] == pytest.approx(quiet["f0_slope_st"], abs=0.6)


def test_shape_features_check_their_input():
    frames = 40
    mel = np.zeros((SHAPE_BANDS, frames))
    band_hz = np.linspace(100.0, 7000.0, SHAPE_BANDS)
    unvoiced = shape_features(mel, band_hz, np.ones(frames, bool), np.full(10, np.nan),
                              np.zeros(frames))
    assert unvoiced.shape == (len(SHAPE_NAMES),) and np.all(np.isfinite(unvoiced))
    with pytest.raises(ValueError, match=f"\\({SHAPE_BANDS}, T\\)"):
        shape_features(mel[:5], band_hz, np.ones(frames, bool), np.zeros(frames),
                       np.zeros(frames))

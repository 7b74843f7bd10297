"""The emotion judges: two classifiers of different kinds that say which emotion a clip sounds
like, so that no choice is made to one classifier's taste.

- "functionals": the utterance functionals of metrics.clip_features (MFCC, spectral, energy
  and F0 statistics) -> StandardScaler -> multinomial logistic regression (C = 0.1).
- "contours": the contour and spectral-shape features of shape_features.py (where in the
  sentence the pitch and loudness move, the spectrum's tilt and shape) -> random forest.

Both read `clip_features` vectors (each judge picks its own columns), so one feature pass and
one cache serve both; neither reads the playback level. Trained on real recordings of speakers
kept apart from those judged. A conversion counts as judged its target by the lower of the two
judges' shares (`judged_by_all`): a change that one judge alone likes is that judge's taste.

A judge that cannot hear an emotion in real speech (the contours judge names almost no real
RAVDESS sad clip sad) would veto every conversion to it, so a judge counts for an emotion only
where it names that emotion's real recordings of the validation actors at least
COMPETENCE_FACTOR x chance (`competent_judges`); where no judge does, all count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from spectrogan.evaluation.metrics import FEATURE_NAMES, FUNCTIONAL_NAMES
from spectrogan.evaluation.shape_features import SHAPE_NAMES

LOGISTIC_C = 0.1  # inverse L2 strength: few speakers, many correlated features
FOREST_TREES = 300
FOREST_SEED = 0  # the forest is deterministic given its training clips
COMPETENCE_FACTOR = 2.0  # a judge counts for an emotion it names this x chance in real speech


def _columns(features: np.ndarray, *, indices: Sequence[int]) -> np.ndarray:
    """The judge's own columns of full `clip_features` rows (a pipeline's first step)."""
    return np.asarray(features, dtype=np.float64)[:, list(indices)]


def _selector(names: Sequence[str]) -> Any:
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(_columns, kw_args={
        "indices": [FEATURE_NAMES.index(name) for name in names]})


def _check_labels(labels: Sequence[str]) -> np.ndarray:
    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2:
        raise ValueError("an emotion judge needs clips of at least two emotions")
    return labels


def train_emotion_classifier(features: np.ndarray, labels: Sequence[str], *,
                             c: float = LOGISTIC_C) -> Any:
    """The "functionals" judge: StandardScaler + multinomial LogisticRegression on the
    utterance functionals of `clip_features` rows.

    Args:
        features: float (N, len(FEATURE_NAMES)) `clip_features` rows; labels: N emotion
            names (>= 2 distinct).
        c: inverse L2 regularisation strength.
    Returns:
        a fitted scikit-learn Pipeline with `predict_proba` and `classes_` (sorted names),
        taking full `clip_features` rows.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = _check_labels(labels)
    model = make_pipeline(_selector(FUNCTIONAL_NAMES), StandardScaler(),
                          LogisticRegression(C=c, max_iter=5000))
    model.fit(np.asarray(features, dtype=np.float64), labels)
    return model


def train_contour_judge(features: np.ndarray, labels: Sequence[str]) -> Any:
    """The "contours" judge: a random forest (balanced class weights, leaves of at least two
    clips) on the contour and spectral-shape columns of `clip_features` rows; arguments and
    result as `train_emotion_classifier`."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    labels = _check_labels(labels)
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, min_samples_leaf=2,
                                    class_weight="balanced", random_state=FOREST_SEED,
                                    n_jobs=1)
    model = make_pipeline(_selector(SHAPE_NAMES), forest)
    model.fit(np.asarray(features, dtype=np.float64), labels)
    return model


@dataclass(frozen=True)
class Judge:
    """One emotion judge: its name in the tables, what it is, and how it is trained."""

    name: str
    description: str
    train: Callable[[np.ndarray, Sequence[str]], Any]


JUDGES = (
    Judge("functionals", f"{len(FUNCTIONAL_NAMES)} utterance functionals (MFCC, spectral, "
          f"energy, pYIN F0) -> StandardScaler + multinomial LogisticRegression (C={LOGISTIC_C})",
          train_emotion_classifier),
    Judge("contours", f"{len(SHAPE_NAMES)} contour and spectral-shape features (pitch and "
          "loudness course along the sentence, tilt, alpha ratio, Hammarberg index, mel band "
          f"shape) -> random forest ({FOREST_TREES} trees, balanced classes)",
          train_contour_judge),
)
JUDGE_NAMES = tuple(judge.name for judge in JUDGES)


def train_judges(features: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Every judge of JUDGES trained on the same clips: {judge name: fitted model}."""
    return {judge.name: judge.train(features, labels) for judge in JUDGES}


def class_probabilities(model: Any, features: np.ndarray) -> dict[str, np.ndarray]:
    """Per-emotion probabilities (N,) of each row of `features`, keyed by emotion name."""
    probabilities = model.predict_proba(np.atleast_2d(np.asarray(features, dtype=np.float64)))
    return {str(name): probabilities[:, i] for i, name in enumerate(model.classes_)}


def judged_emotions(model: Any, features: np.ndarray) -> np.ndarray:
    """The most probable emotion of each row of `features`, str (N,)."""
    probabilities = class_probabilities(model, features)
    names = list(probabilities)
    stacked = np.stack([probabilities[name] for name in names], axis=1)
    return np.asarray(names)[stacked.argmax(axis=1)]


def judged_shares(model: Any, features: np.ndarray, *, source: str | Sequence[str],
                  target: str) -> dict[str, float]:
    """Share of clips judged as `target`: by the full argmax, and target-over-source.

    Args:
        source: the source emotion, or one per row (clips of corpora whose source differs:
            CREMA-D's neutral stands in for calm).
    Returns {"judged_target": fraction whose most probable emotion is `target`,
    "target_over_source": fraction with p(target) > p(source)} (a judge that never heard
    `source` or `target` rates it 0).
    """
    probabilities = class_probabilities(model, features)
    rows = len(np.atleast_2d(features))
    sources = [source] * rows if isinstance(source, str) else list(source)
    none = np.zeros(rows)
    p_source = np.array([probabilities.get(name, none)[i] for i, name in enumerate(sources)])
    return {"judged_target": float(np.mean(judged_emotions(model, features) == target)),
            "target_over_source": float(np.mean(probabilities.get(target, none) > p_source))}


def competence_floor(emotions: int) -> float:
    """The recall a judge needs on real recordings of an emotion to count for it, among
    `emotions` (>= 2) possible answers: COMPETENCE_FACTOR x chance."""
    if emotions < 2:
        raise ValueError(f"a judge chooses among at least two emotions, got {emotions}")
    return COMPETENCE_FACTOR / emotions


def competent_judges(recall: dict[str, float | None], *, floor: float) -> list[str]:
    """The judges that count for one emotion: those whose `recall` (judge name -> share of
    that emotion's real recordings it names right, None where it was not measured) reaches
    `floor`; all of them when none does or nothing was measured (no judge is left out
    for want of evidence)."""
    if not recall:
        raise ValueError("competent_judges needs at least one judge")
    measured = {name: value for name, value in recall.items() if value is not None}
    able = [name for name, value in measured.items() if value >= floor]
    return able or list(recall)


def judged_by_all(models: dict[str, Any], features: np.ndarray, *,
                  source: str | Sequence[str], target: str,
                  counted: Sequence[str] | None = None) -> dict[str, Any]:
    """`judged_shares` under every judge, and the lower of the counted judges' as the figure
    that counts.

    Args:
        counted: the judges whose shares count (`competent_judges`; default: all).
    Returns {"judged_target": the lowest counted judge's share, "target_over_source": the
    lowest counted, "counted": their names, "judges": {judge name: its judged_shares}}.
    """
    each = {name: judged_shares(model, features, source=source, target=target)
            for name, model in models.items()}
    counted = list(models) if counted is None else [name for name in models if name in counted]
    if not counted:
        raise ValueError(f"none of the judges {sorted(models)} is counted")
    return {key: min(each[name][key] for name in counted)
            for key in ("judged_target", "target_over_source")} | {"counted": counted,
                                                                  "judges": each}

"""Scoring converted speech on speakers a model never saw: the library half of evaluate.py.

`Evaluator.evaluate_pair` converts one pair's held-out source clips and scores them beside the
systems that need no model (evaluate.py's docstring lists the rows and columns and says how
each figure is computed): the emotion classifier (trained once per held-out set, on features
that do not hear the playback level), mel-cepstral distortion, prosody, and the words kept.
Used by evaluate.py (the test table and the epoch selection) and by the tools that choose a
model's post-processing on the validation actors.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.data.corpus import (DEFAULT_VAL_ACTORS, EMOTIONS, clip_name, emotions_in_corpus,
                                    matching_target, parse_pair)
from spectrogan.core.errors import UserError
from spectrogan.conversion.inference import DEFAULT_BATCH_SIZE, Converter, vocoder_only
from spectrogan.evaluation.judges import (JUDGES, class_probabilities, competence_floor,
                                          competent_judges, judged_by_all, judged_emotions,
                                          train_judges)
from spectrogan.evaluation.metrics import (FEATURE_VERSION, MCEP_ALPHA, MCEP_ORDER, TRIM_DB,
                                           FeatureCache, SentenceRecogniser, audio_key,
                                           envelope_correlation, features_of_audio,
                                           features_of_files, load_recogniser, mcd_dtw,
                                           prosody_from_features, speech_level_db)
from spectrogan.evaluation.naturalness import (INSTALL_HINT, NaturalnessPredictor,
                                               naturalness_available)
from spectrogan.audio.pitch import F0_MAX, F0_MIN
from spectrogan.evaluation.reports import FROM_SOURCE, SYSTEMS, actor_list
from spectrogan.model.runs import recorded_path
from spectrogan.audio.audio_files import load_audio
from spectrogan.audio.spectro import GRIFFIN_LIM_ITERS
from spectrogan.audio.vocoder import SHIPPED_ANALYSIS


# --- Evaluating pairs -----------------------------------------------------------------------
@dataclass
class EvalSettings:
    """How clips are converted and how many are scored (stored with every pair's figures)."""

    n_iter: int = GRIFFIN_LIM_ITERS
    phase: str = "source"
    seed: int = 0
    batch_size: int = DEFAULT_BATCH_SIZE
    limit: int | None = None  # at most this many source clips per pair (None = all)
    jobs: int = 1  # processes for the classifier's feature pass


@dataclass
class _Classifier:
    models: dict[str, Any]  # judge name -> fitted model (judges.JUDGES)
    report: dict[str, Any]
    test_features: np.ndarray
    test_labels: np.ndarray
    # Real clips of validation actors the judges never heard, and what each judge names them:
    # the evidence of which emotions a judge can hear (judges.competent_judges).
    reference_labels: np.ndarray
    reference_corpora: np.ndarray
    reference_judged: dict[str, np.ndarray]

    def competence(self, target: str, corpora: Sequence[str]) -> dict[str, Any]:
        """Each judge's recall of `target` on the reference clips of `corpora` (None where
        there are none), the floor a judge must reach to count, and the judges that count."""
        mask = (self.reference_labels == target) & np.isin(self.reference_corpora, corpora)
        recall = {name: (float(np.mean(judged[mask] == target)) if mask.any() else None)
                  for name, judged in self.reference_judged.items()}
        classes = len(next(iter(self.models.values())).classes_)
        floor = competence_floor(classes)
        return {"recall": recall, "floor": floor, "clips": int(mask.sum()),
                "counted": competent_judges(recall, floor=floor)}


@dataclass
class Evaluator:
    """Scores pairs on the clips of one or both corpora (RAVDESS's and CREMA-D's records
    alike); trains the emotion judges once per held-out set.

    `root` is the RAVDESS folder; `roots` names each corpus's folder where there are more
    (default: {'ravdess': root}). The real clips of `reference_actors` that the judges did
    not train on show which emotions each judge can hear (`_Classifier.competence`)."""

    files: list[Any]
    root: Path
    cache: FeatureCache
    settings: EvalSettings = field(default_factory=EvalSettings)
    recogniser: SentenceRecogniser | None = None
    naturalness: NaturalnessPredictor | None = None
    roots: dict[str, Path] | None = None
    reference_actors: tuple[int, ...] = DEFAULT_VAL_ACTORS
    _classifiers: dict[tuple[int, ...], _Classifier] = field(default_factory=dict)

    def name(self, clip: Any) -> str:
        """A clip's name in metrics.json: its path relative to its corpus folder (prefixed
        with the corpus but for RAVDESS, see corpus.clip_name)."""
        return clip_name(clip, self.roots or {"ravdess": self.root})

    def classifier(self, test_actors: Sequence[int], *, exclude_actors: Sequence[int] = ()
                   ) -> _Classifier:
        """Train (once per held-out set) and check the emotion judges (judges.JUDGES).

        Trained on every clip of every actor in neither `test_actors` nor `exclude_actors`
        (e.g. the test actors while choosing an epoch on the validation actors, so the
        judges never heard either), every emotion of every corpus read; scored on the
        `test_actors`' real clips (accuracy, chance = share of the commonest emotion, recall
        per emotion; `accuracy` and `recall` are the first judge's, `judges` has each's),
        and on the real clips of the `reference_actors` it did not train on (each judge's
        recall per corpus and emotion: `competence`).
        """
        from tqdm import tqdm

        held_out = tuple(sorted(test_actors))
        excluded = tuple(sorted(set(exclude_actors) - set(held_out)))
        if (held_out, excluded) in self._classifiers:
            return self._classifiers[held_out, excluded]
        train = [f for f in self.files if f.actor not in held_out and f.actor not in excluded]
        test = [f for f in self.files if f.actor in held_out]
        trained_on = {f.actor for f in train}
        reference = [f for f in self.files
                     if f.actor in self.reference_actors and f.actor not in trained_on]
        if len({f.emotion for f in train}) < 2 or len({f.actor for f in train}) < 2:
            raise UserError(f"{self.root}: too few training actors besides the held-out "
                            f"{actor_list(held_out + excluded)} to train the emotion "
                            "classifier; pass another --test-actors or a complete RAVDESS copy")
        with tqdm(total=len(train) + len(test) + len(reference), desc="classifier features",
                  unit="clip", disable=None) as bar:
            train_x, test_x, reference_x = (
                features_of_files([f.path for f in clips], self.cache,
                                  jobs=self.settings.jobs, progress=bar.update)
                for clips in (train, test, reference))
        self.cache.save()
        models = train_judges(train_x, [f.emotion for f in train])
        reference_y = np.asarray([f.emotion for f in reference])
        reference_judged = {name: (judged_emotions(model, reference_x) if reference
                                   else reference_y) for name, model in models.items()}
        test_y = np.asarray([f.emotion for f in test])
        counts = {e: int(np.sum(test_y == e)) for e in EMOTIONS if np.any(test_y == e)}
        checks = {}
        for judge in JUDGES:
            predicted = judged_emotions(models[judge.name], test_x) if len(test) else test_y
            checks[judge.name] = {
                "method": judge.description,
                "accuracy": float(np.mean(predicted == test_y)) if len(test) else None,
                "recall": {e: float(np.mean(predicted[test_y == e] == e)) for e in counts}}
        first = checks[JUDGES[0].name]
        report = {
            "method": first["method"],
            "emotions": sorted({f.emotion for f in train}),
            "corpora": sorted({f.corpus for f in train}),
            "train_actors": sorted({f.actor for f in train}), "train_clips": len(train),
            "test_actors": list(held_out), "excluded_actors": list(excluded),
            "test_clips": len(test), "accuracy": first["accuracy"],
            "chance": max(counts.values()) / len(test) if len(test) else None,
            "recall": first["recall"], "judges": checks,
            "competence": _competence_report(reference, reference_y, reference_judged),
        }
        self._classifiers[held_out, excluded] = _Classifier(
            models, report, test_x, test_y, reference_y,
            np.asarray([f.corpus for f in reference]), reference_judged)
        return self._classifiers[held_out, excluded]

    def naturalness_of(self, audio: np.ndarray) -> float | None:
        """Predicted naturalness (naturalness.NaturalnessPredictor), from the cache when this
        audio was scored before; None without a predictor."""
        if self.naturalness is None:
            return None
        key = f"{audio_key(audio)}|{self.naturalness.description}"
        if key not in self.cache.naturalness:
            self.cache.add_naturalness(key, self.naturalness.score(audio))
        return self.cache.naturalness[key]

    def content(self, audio: np.ndarray, statement: int | str) -> tuple[bool, float] | None:
        """(sentence recognised by the grammar decoder, open-vocabulary word error rate), from
        the cache when this audio was decoded before; None without a recogniser."""
        if self.recogniser is None:
            return None
        # Keyed by recogniser too: another recogniser (or version) must decode afresh.
        audio_id = audio_key(audio)
        grammar_key = f"{audio_id}|{self.recogniser.description}"
        open_key = f"{audio_id}|{statement}|{self.recogniser.open_description}"
        if grammar_key not in self.cache.recognised:
            self.cache.add_recognised(grammar_key,
                                      self.recogniser.recognised(audio, statement))
        if open_key not in self.cache.word_errors:
            self.cache.add_word_error(open_key,
                                      self.recogniser.word_error_rate(audio, statement))
        return self.cache.recognised[grammar_key], self.cache.word_errors[open_key]

    def evaluate_pair(self, pair: str, *, test_actors: Sequence[int],
                      converter: Converter | None = None,
                      exclude_actors: Sequence[int] = (),
                      systems: Sequence[str] | None = None,
                      baseline: ConversionSettings | None = None) -> dict[str, Any]:
        """Score one pair on the held-out actors' source clips.

        Args:
            pair: pair name, e.g. 'calm2anger'.
            test_actors: actors the model (and so the classifier) never saw.
            converter: the source -> target model and how it is applied
                (inference.Converter; its folder is recorded), or None (baselines only: the
                converted row is left empty). Its settings' vocoder also makes the
                vocoder-only and target-resynthesis rows, so they show what that vocoder
                alone does; a converter with no network but a prosody change converts too.
            exclude_actors: actors the judges must not train on either (see `classifier`).
            systems: the SYSTEMS rows to score (default: all; 'converted' only with a
                generator); the others are left None. Epoch selection scores the real clips
                once and then only 'converted' per snapshot.
            baseline: without a converter, the settings whose vocoder makes the vocoder-only
                and target-resynthesis rows (default: ConversionSettings(), Griffin-Lim).
        Returns:
            the pair's metrics.json entry: settings, classifier report, per-system means
            (`systems`: source, vocoder, converted (None without a model), target_resynth,
            target) and per-clip figures (`clips`).
        """
        pair, source, target = parse_pair(pair)
        actors = tuple(sorted(test_actors))
        classifier = self.classifier(actors, exclude_actors=exclude_actors)
        pairs, skipped = self._clip_pairs(source, target, actors)
        conversion = (converter.settings if converter is not None
                      else baseline or ConversionSettings())
        converts = converter is not None and (converter.generator is not None
                                              or conversion.converts_without_generator)
        if systems is None:
            systems = [s for s in SYSTEMS if s != "converted" or converts]
        elif not set(systems) <= set(SYSTEMS) or ("converted" in systems and not converts):
            raise ValueError(f"systems must be a subset of {SYSTEMS} ('converted' only with a "
                             f"generator), got {systems}")
        systems = [s for s in SYSTEMS if s in systems]
        values, features, clips = self._score_clips(pair, pairs, converter, conversion,
                                                    systems, classifier)
        corpora = sorted({clip.corpus for clip, _ in pairs})
        competence = classifier.competence(target, corpora)
        s = self.settings
        return {
            "pair": pair, "source": source, "target": target, "test_actors": list(actors),
            "model": (recorded_path(converter.folder)
                      if converter is not None and converter.folder is not None else None),
            "n_clips": len(pairs), "skipped_no_match": skipped,
            "settings": {"griffin_lim_iters": s.n_iter, "phase": s.phase, "seed": s.seed,
                         "limit": s.limit, "mcep_order": MCEP_ORDER, "mcep_alpha": MCEP_ALPHA,
                         "trim_db": TRIM_DB, "f0_range_hz": [F0_MIN, F0_MAX],
                         "world_analysis": SHIPPED_ANALYSIS.record(),
                         "feature_version": FEATURE_VERSION},
            "classifier": {**classifier.report,
                           "source_vs_target": _pairwise_accuracy(
                               classifier, sorted({emotions_in_corpus(clip.corpus, source,
                                                                      target)[0]
                                                   for clip, _ in pairs}), target)},
            "corpora": corpora,
            # What the source clips are in their corpora (CREMA-D's neutral for calm).
            "sources_spoken": sorted({emotions_in_corpus(clip.corpus, source, target)[0]
                                      for clip, _ in pairs}),
            "competence": competence,
            "conversion": conversion.record(),
            "recogniser": self.recogniser.description if self.recogniser else None,
            "open_recogniser": self.recogniser.open_description if self.recogniser else None,
            "naturalness_model": self.naturalness.description if self.naturalness else None,
            "systems": _summarise(values, features, systems, classifier.models,
                                  source=[emotions_in_corpus(clip.corpus, source, target)[0]
                                          for clip, _ in pairs], target=target,
                                  counted=competence["counted"]),
            "clips": clips,
            "evaluated": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
        }

    def _clip_pairs(self, source: str, target: str, actors: tuple[int, ...]
                    ) -> tuple[list[tuple[Any, Any]], int]:
        """(source clip, the same actor's matching target clip) of the held-out actors, at
        most `settings.limit`, and how many source clips had no match. In a corpus without
        the source emotion its stand-in is the source (CREMA-D: neutral for calm); a corpus
        without the target gives no pairs."""
        def is_source(clip: Any) -> bool:
            emotions = emotions_in_corpus(clip.corpus, source, target)
            return emotions is not None and clip.emotion == emotions[0]

        sources = [f for f in self.files if f.actor in actors and is_source(f)]
        # Cycle through actors first, so --limit still samples every held-out speaker.
        sources.sort(key=lambda f: (str(f.statement), f.intensity, f.repetition, f.actor))
        pairs = [(clip, matching_target(self.files, clip, target)) for clip in sources]
        skipped = sum(1 for _, match in pairs if match is None)
        pairs = [(clip, match) for clip, match in pairs if match is not None]
        if self.settings.limit is not None:
            pairs = pairs[:self.settings.limit]
        if not pairs:
            raise UserError(f"{self.root}: no {source} clips with a matching {target} clip for "
                            f"held-out actors {actor_list(actors)}; check --ravdess, --crema "
                            "and --test-actors")
        return pairs, skipped

    def _score_clips(self, pair: str, pairs: list[tuple[Any, Any]],
                     converter: Converter | None, conversion: ConversionSettings,
                     systems: list[str], classifier: _Classifier
                     ) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[np.ndarray]],
                                list[dict[str, Any]]]:
        """Make every system's audio of every clip pair and score it: (per-system lists of
        figures, per-system feature vectors, per-clip records)."""
        from tqdm import tqdm

        values: dict[str, dict[str, list[float]]] = {s: {} for s in systems}
        features: dict[str, list[np.ndarray]] = {s: [] for s in systems}
        clips = []
        s = self.settings
        for clip, match in tqdm(pairs, desc=pair, unit="clip", disable=None):
            audio = {"source": load_audio(clip.path), "target": load_audio(match.path)}
            for system, clip_audio in (("vocoder", audio["source"]),
                                       ("target_resynth", audio["target"])):
                if system in systems:
                    audio[system] = vocoder_only(clip_audio, vocoder=conversion.vocoder,
                                                 n_iter=s.n_iter, phase=s.phase, seed=s.seed)
            if "converted" in systems:
                audio["converted"] = converter.convert(audio["source"], n_iter=s.n_iter,
                                                       phase=s.phase, seed=s.seed,
                                                       batch_size=s.batch_size)
            record: dict[str, Any] = {"source": self.name(clip), "target": self.name(match),
                                      "mcd_to_target": {}, "mcd_to_source": {}, "judged": {},
                                      "judged_by": {judge.name: {} for judge in JUDGES}}
            # Symmetric, so computed once, and only when a real clip's row needs it.
            zero_effort = mcd_dtw(audio["target"], audio["source"]) \
                if {"source", "target"} & set(systems) else None
            for system in systems:
                vector = features_of_audio(audio[system], self.cache)
                features[system].append(vector)
                self._score_system(values[system], record, system, audio, vector, zero_effort,
                                   statement=clip.text)
                for judge in JUDGES:
                    record["judged_by"][judge.name][system] = str(judged_emotions(
                        classifier.models[judge.name], vector)[0])
                record["judged"][system] = record["judged_by"][JUDGES[0].name][system]
            clips.append(record)
        self.cache.save()
        return values, features, clips

    def _score_system(self, row: dict[str, list[float]], record: dict[str, Any], system: str,
                      audio: dict[str, np.ndarray], vector: np.ndarray,
                      zero_effort: float | None, *, statement: int | str) -> None:
        """Add one system's figures of one clip to its `row` and the clip's `record`."""
        mcd_target = {"target": 0.0, "source": zero_effort}.get(system)
        if mcd_target is None:
            mcd_target = mcd_dtw(audio["target"], audio[system])
        mcd_source = {"source": 0.0, "target": zero_effort}.get(system)
        if mcd_source is None:
            mcd_source = mcd_dtw(audio["source"], audio[system])
        record["mcd_to_target"][system] = round(mcd_target, 3)
        record["mcd_to_source"][system] = round(mcd_source, 3)
        row.setdefault("mcd_to_target", []).append(mcd_target)
        row.setdefault("mcd_to_source", []).append(mcd_source)
        for name, value in prosody_from_features(vector).items():
            row.setdefault(name, []).append(value)
        row.setdefault("energy_db", []).append(speech_level_db(audio[system]))
        content = self.content(audio[system], statement)
        if content is not None:
            row.setdefault("recognised", []).append(float(content[0]))
            row.setdefault("word_error_rate", []).append(content[1])
        naturalness = self.naturalness_of(audio[system])
        if naturalness is not None:
            row.setdefault("naturalness", []).append(naturalness)
            record.setdefault("naturalness", {})[system] = round(naturalness, 3)
        if system in FROM_SOURCE:
            row.setdefault("envelope_correlation", []).append(
                envelope_correlation(audio["source"], audio[system]))


def make_evaluator(files: list[Any], folders: dict[str, Any], *, cache: Any,
                   settings: EvalSettings | None = None, asr: bool = True,
                   naturalness: bool = True) -> Evaluator:
    """An Evaluator over `files` with the speech recogniser and the naturalness predictor
    where installed (a note on stderr names what is missing), its feature cache at `cache`."""
    recogniser = load_recogniser() if asr else None
    if asr and recogniser is None:
        print("note: no speech recogniser installed (pip install pocketsphinx): no word error",
              file=sys.stderr)
    predictor = None
    if naturalness and naturalness_available():
        predictor = NaturalnessPredictor()
    elif naturalness:
        print(f"note: no naturalness predictor installed ({INSTALL_HINT}): no naturalness",
              file=sys.stderr)
    return Evaluator(files=files, root=folders.get("ravdess") or next(iter(folders.values())),
                     roots=folders, cache=FeatureCache(cache),
                     settings=settings or EvalSettings(), recogniser=recogniser,
                     naturalness=predictor)



def _summarise(values: dict[str, dict[str, list[float]]], features: dict[str, list[np.ndarray]],
               systems: list[str], models: dict[str, Any], *, source: Sequence[str],
               target: str, counted: Sequence[str]) -> dict[str, Any]:
    """Per-system means of the clips' figures and the judged shares (None: not scored):
    judged_target and target_over_source are the lower of the `counted` judges'
    (judges.judged_by_all), `judges` holds each judge's; `source`: each clip's source emotion
    in its corpus."""
    summary: dict[str, Any] = {system: None for system in SYSTEMS}
    for system in systems:
        row = values[system]
        shares = judged_by_all(models, np.stack(features[system]), source=source, target=target,
                               counted=counted)
        voiced = [v for v, f in zip(row["f0_mean_hz"], row["voiced_fraction"]) if f > 0]
        spreads = [v for v, f in zip(row["f0_std_hz"], row["voiced_fraction"]) if f > 0]
        summary[system] = {
            **shares,
            "mcd_to_target": float(np.mean(row["mcd_to_target"])),
            "mcd_to_target_std": float(np.std(row["mcd_to_target"])),
            "mcd_to_source": float(np.mean(row["mcd_to_source"])),
            "mcd_to_source_std": float(np.std(row["mcd_to_source"])),
            "f0_mean_hz": float(np.mean(voiced)) if voiced else None,
            "f0_std_hz": float(np.mean(spreads)) if spreads else None,
            "voiced_fraction": float(np.mean(row["voiced_fraction"])),
            "energy_db": float(np.mean(row["energy_db"])),
            "recognised": float(np.mean(row["recognised"])) if "recognised" in row else None,
            "word_error_rate": (float(np.mean(row["word_error_rate"]))
                                if "word_error_rate" in row else None),
            "naturalness": (float(np.mean(row["naturalness"]))
                            if "naturalness" in row else None),
            "envelope_correlation": (float(np.nanmean(row["envelope_correlation"]))
                                     if "envelope_correlation" in row else None),
        }
    return summary


def _competence_report(reference: Sequence[Any], labels: np.ndarray,
                       judged: dict[str, np.ndarray]) -> dict[str, Any]:
    """metrics.json's record of which emotions each judge hears: the reference actors and,
    per corpus, judge and emotion, the share of their real clips it names right."""
    corpora = np.asarray([clip.corpus for clip in reference])
    recall: dict[str, dict[str, dict[str, float]]] = {}
    for corpus in sorted(set(corpora.tolist())):
        for name, answers in judged.items():
            recall.setdefault(corpus, {})[name] = {
                emotion: float(np.mean(answers[(corpora == corpus) & (labels == emotion)]
                                       == emotion))
                for emotion in EMOTIONS if np.any((corpora == corpus) & (labels == emotion))}
    return {"actors": sorted({clip.actor for clip in reference}), "recall": recall}


def _pairwise_accuracy(classifier: _Classifier, sources: Sequence[str], target: str
                       ) -> float | None:
    """Accuracy of 'p(target) > p(source)' on the held-out real clips of the source emotions
    (`sources`: calm, or its stand-in in a corpus without it) and the target, the lower over
    the judges."""
    mask = np.isin(classifier.test_labels, [*sources, target])
    if not mask.any():
        return None
    accuracies = []
    for model in classifier.models.values():
        probabilities = class_probabilities(model, classifier.test_features[mask])
        none = np.zeros(int(mask.sum()))
        p_source = np.max([probabilities.get(name, none) for name in sources], axis=0)
        says_target = probabilities.get(target, none) > p_source
        accuracies.append(float(np.mean(says_target == (classifier.test_labels[mask] == target))))
    return min(accuracies)

"""What each vocoder path costs alone: a clip through analysis and synthesis with no change.

Every conversion starts from its vocoder's round trip, so that round trip bounds what a
conversion can keep: its words (open word error), its voicing, the source emotion the judges
still hear (a vocoder that adds buzz or breath moves the judges before any model does) and its
naturalness. `score_vocoder_paths` measures each path on the held-out actors' source clips
(RAVDESS's calm, CREMA-D's neutral) beside the input itself; `vocoder_table` writes the table
(results/vocoders.md), and tools/choose_vocoder.py chooses WORLD's analysis with it on the
validation actors.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from spectrogan.core.atomic_files import atomic_output
from spectrogan.data.corpus import CORPUS_TITLES, SOURCE_STAND_INS, corpus_of_actor
from spectrogan.core.errors import UserError
from spectrogan.conversion.inference import vocoder_only
from spectrogan.evaluation.judges import JUDGES, judged_emotions
from spectrogan.evaluation.metrics import features_of_audio, prosody_from_features
from spectrogan.audio.audio_files import load_audio
from spectrogan.evaluation.reports import write_generated
from spectrogan.evaluation.scoring import Evaluator
from spectrogan.audio.spectro import SAMPLE_RATE
from spectrogan.audio.vocoder import SHIPPED_ANALYSIS, WorldAnalysis

VOCODERS_JSON = "vocoders.json"  # evaluate.py --vocoders' report in its --out folder
INPUT_PATH = "input"  # the clip itself, the row every path is compared with
# WORLD analyses tools/choose_vocoder.py compares (the first is WORLD's defaults, shipped
# until 2026-12): both F0 trackers, the fixed and the speaker's own search range, and D4C's
# voicing threshold at WORLD's default and off; DIO also with a wider voicing tolerance.
CANDIDATE_ANALYSES = (
    WorldAnalysis("harvest", "fixed", 0.85),
    WorldAnalysis("harvest", "speaker", 0.85),
    WorldAnalysis("harvest", "speaker", 0.0),
    WorldAnalysis("dio", "fixed", 0.85),
    WorldAnalysis("dio", "speaker", 0.85),
    WorldAnalysis("dio", "speaker", 0.0),
    WorldAnalysis("dio", "speaker", 0.85, dio_allowed_range=0.2),
    WorldAnalysis("dio", "speaker", 0.85, dio_allowed_range=0.3),
)


@dataclass(frozen=True)
class VocoderPath:
    """One way through a vocoder with no change: Griffin-Lim, or WORLD with an analysis."""

    vocoder: str  # 'griffin-lim' | 'world'
    analysis: WorldAnalysis | None = None  # WORLD only

    @property
    def name(self) -> str:
        return self.analysis.name if self.vocoder == "world" and self.analysis else "Griffin-Lim"

    @property
    def shipped(self) -> bool:
        """True for the path every WORLD conversion takes (vocoder.SHIPPED_ANALYSIS)."""
        return self.vocoder == "world" and self.analysis == SHIPPED_ANALYSIS

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        if self.vocoder == "world":
            return vocoder_only(audio, vocoder="world", analysis=self.analysis or SHIPPED_ANALYSIS)
        return vocoder_only(audio, vocoder=self.vocoder)

    def record(self) -> dict[str, Any]:
        """The path as a JSON-ready dict (`path_from_record` reads it back)."""
        return {"vocoder": self.vocoder, "name": self.name,
                **({"analysis": self.analysis.record()} if self.analysis else {})}


def path_from_record(record: dict[str, Any]) -> VocoderPath:
    """Inverse of `VocoderPath.record`."""
    analysis = record.get("analysis")
    return VocoderPath(record["vocoder"], WorldAnalysis(**analysis) if analysis else None)


def path_labels(report: dict[str, Any]) -> dict[str, str]:
    """Each path's name in a report's tables, the one that ships now marked '(shipped)'."""
    labels = {}
    for label, record in report["paths"].items():
        path = path_from_record(record)
        labels[label] = path.name + (" (shipped)" if path.shipped else "")
    return labels


def vocoder_paths() -> dict[str, VocoderPath]:
    """Every WORLD candidate ('world-0', ...: CANDIDATE_ANALYSES in order) and Griffin-Lim."""
    paths = {f"world-{index}": VocoderPath("world", analysis)
             for index, analysis in enumerate(CANDIDATE_ANALYSES)}
    return paths | {"griffin-lim": VocoderPath("griffin-lim")}


def source_emotion(corpus: str) -> str:
    """The emotion conversions start from in `corpus` (calm; CREMA-D's neutral)."""
    return SOURCE_STAND_INS.get(corpus, {}).get("calm", "calm")


def score_vocoder_paths(evaluator: Evaluator, paths: dict[str, Callable[[np.ndarray], np.ndarray]],
                        *, actors: Sequence[int], exclude_actors: Sequence[int] = ()
                        ) -> dict[str, Any]:
    """Score each path alone on the source clips of `actors`, per corpus.

    Args:
        evaluator: its judges are trained without `actors` and `exclude_actors`; its
            recogniser and naturalness predictor (either may be None) and its cache are used.
        paths: label -> audio in, audio out (float32 at SAMPLE_RATE); the INPUT_PATH row (the
            clip itself) is added first.
    Returns:
        {"actors", "judges": judge names, "corpora": {corpus: {"clips": N, "source": emotion,
        "paths": {label: row}}}}; a row holds the means of word_error_rate, voiced_fraction,
        naturalness (None where not measured), judged_source ({judge: share of clips judged
        the source emotion}), naturalness_vs_input (mean paired difference) with its standard
        error, and real_time (seconds of audio per second of processing; None for the input).
    """
    classifier = evaluator.classifier(actors, exclude_actors=exclude_actors)
    every = {INPUT_PATH: (lambda audio: audio), **paths}
    clips = [f for f in evaluator.files if f.actor in set(actors)
             and f.emotion == source_emotion(f.corpus)]
    if not clips:
        sources = " or ".join(sorted({source_emotion(f.corpus) for f in evaluator.files}))
        raise UserError(f"no {sources} clips of actors {', '.join(map(str, sorted(actors)))} "
                        "to score the vocoders on; check the corpus folders and the actors")
    clips.sort(key=lambda f: (f.corpus, str(f.statement), f.intensity, f.repetition, f.actor))
    per_corpus: dict[str, list[Any]] = {}
    for clip in clips:
        per_corpus.setdefault(clip.corpus, []).append(clip)
    limit = evaluator.settings.limit
    report: dict[str, Any] = {"actors": sorted(actors), "judges": [j.name for j in JUDGES],
                              "corpora": {}}
    for corpus, chosen in sorted(per_corpus.items()):
        chosen = chosen[:limit] if limit is not None else chosen
        values: dict[str, dict[str, list[float]]] = {label: {} for label in every}
        for clip in tqdm(chosen, desc=f"{CORPUS_TITLES[corpus]} vocoders", unit="clip",
                         disable=None):
            audio = load_audio(clip.path)
            for label, path in every.items():
                started = time.perf_counter()
                out = path(audio)
                seconds = time.perf_counter() - started
                row = values[label]
                if label != INPUT_PATH:
                    row.setdefault("processing_s", []).append(seconds)
                    row.setdefault("audio_s", []).append(len(audio) / SAMPLE_RATE)
                _score_clip(evaluator, classifier.models, row, out, clip,
                            source_emotion(corpus))
        evaluator.cache.save()
        report["corpora"][corpus] = {
            "clips": len(chosen), "source": source_emotion(corpus),
            "paths": {label: _summary(row, values[INPUT_PATH]) for label, row in values.items()}}
    return report


def _score_clip(evaluator: Evaluator, models: dict[str, Any], row: dict[str, list[float]],
                audio: np.ndarray, clip: Any, source: str) -> None:
    vector = features_of_audio(audio, evaluator.cache)
    row.setdefault("voiced_fraction", []).append(prosody_from_features(vector)["voiced_fraction"])
    for judge in JUDGES:
        judged = judged_emotions(models[judge.name], vector)[0]
        row.setdefault(f"judged:{judge.name}", []).append(float(judged == source))
    content = evaluator.content(audio, clip.text)
    if content is not None:
        row.setdefault("word_error_rate", []).append(content[1])
    naturalness = evaluator.naturalness_of(audio)
    if naturalness is not None:
        row.setdefault("naturalness", []).append(naturalness)


def _mean(values: list[float] | None) -> float | None:
    return float(np.mean(values)) if values else None


def _summary(row: dict[str, list[float]], reference: dict[str, list[float]]) -> dict[str, Any]:
    paired = (np.asarray(row["naturalness"]) - np.asarray(reference["naturalness"])
              if row.get("naturalness") else None)
    processing = sum(row.get("processing_s", []))
    return {
        "word_error_rate": _mean(row.get("word_error_rate")),
        "voiced_fraction": _mean(row.get("voiced_fraction")),
        "judged_source": {judge.name: _mean(row.get(f"judged:{judge.name}")) for judge in JUDGES},
        "naturalness": _mean(row.get("naturalness")),
        "naturalness_vs_input": float(np.mean(paired)) if paired is not None else None,
        "naturalness_vs_input_se": (float(np.std(paired, ddof=1) / np.sqrt(len(paired)))
                                    if paired is not None and len(paired) > 1 else None),
        "real_time": (sum(row["audio_s"]) / processing if processing > 0 else None),
    }


def _cell(value: float | None, *, percent: bool = False, digits: int = 2,
          signed: bool = False) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def vocoder_table(report: dict[str, Any], *, labels: dict[str, str] | None = None) -> str:
    """Markdown: one table per corpus, a row per path (the input first), columns open word
    error, voiced, each judge's share judged the source emotion, naturalness and its paired
    difference from the input, real-time factor of the round trip."""
    labels = labels or {}
    judges = report["judges"]
    lines = []
    for corpus, entry in report["corpora"].items():
        source = entry["source"]
        lines += [f"**{CORPUS_TITLES[corpus]}**, {entry['clips']} {source} clips of actors "
                  + ", ".join(str(a) for a in report["actors"] if corpus_of_actor(a) == corpus),
                  "",
                  "| path | open word error | voiced | "
                  + " | ".join(f"judged {source} ({judge})" for judge in judges)
                  + " | naturalness | vs input (paired ± s.e.) | × real time |",
                  "|---|---|---|" + "---|" * len(judges) + "---|---|---|"]
        for label, row in entry["paths"].items():
            versus = ("—" if row["naturalness_vs_input"] is None or label == INPUT_PATH
                      else f"{row['naturalness_vs_input']:+.2f} ± "
                           f"{row['naturalness_vs_input_se'] or 0:.2f}")
            lines.append(
                f"| {labels.get(label, label)} | {_cell(row['word_error_rate'])} | "
                f"{_cell(row['voiced_fraction'], percent=True)} | "
                + " | ".join(_cell(row["judged_source"][judge], percent=True) for judge in judges)
                + f" | {_cell(row['naturalness'])} | {versus} | "
                f"{_cell(row['real_time'], digits=1)} |")
        lines.append("")
    return "\n".join(lines)



VOICED_GUARD_POINTS = 0.05  # a path may lose at most this share of the input's voiced frames
WORD_ERROR_TIE = 0.01  # word error costs this close count as equal; naturalness then decides


def choose_path(report: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """Choose among the `candidates` (labels in `report`) on every corpus at once.

    Rule: a candidate must keep voicing on every corpus (voiced share at least the input's
    minus VOICED_GUARD_POINTS); among those, the cost is its word error above the input's on
    its worse corpus; of the candidates within WORD_ERROR_TIE of the lowest cost, the one with
    the best naturalness on its worse corpus (where measured), then the fastest, wins.
    Returns {"chosen", "rule", "rows": {label: {"cost", "naturalness", "real_time",
    "voiced_ok"}}}.
    """
    rows = {}
    for label in candidates:
        entries = [(entry["paths"][label], entry["paths"][INPUT_PATH])
                   for entry in report["corpora"].values()]
        errors = [row["word_error_rate"] - base["word_error_rate"] for row, base in entries
                  if row["word_error_rate"] is not None]
        scores = [row["naturalness"] for row, _ in entries if row["naturalness"] is not None]
        speeds = [row["real_time"] for row, _ in entries if row["real_time"] is not None]
        rows[label] = {
            "cost": max(errors) if errors else None,
            "naturalness": min(scores) if scores else None,
            "real_time": min(speeds) if speeds else None,
            "voiced_ok": all(row["voiced_fraction"] >= base["voiced_fraction"]
                             - VOICED_GUARD_POINTS for row, base in entries)}
    eligible = [label for label, row in rows.items() if row["voiced_ok"]] or list(rows)
    costed = [label for label in eligible if rows[label]["cost"] is not None]
    if costed:
        best = min(rows[label]["cost"] for label in costed)
        eligible = [label for label in costed if rows[label]["cost"] <= best + WORD_ERROR_TIE]
    chosen = max(eligible, key=lambda label: (rows[label]["naturalness"] or 0.0,
                                              rows[label]["real_time"] or 0.0))
    return {"chosen": chosen, "rows": rows,
            "rule": {"voiced_guard_points": VOICED_GUARD_POINTS,
                     "word_error_tie": WORD_ERROR_TIE}}


def write_vocoder_report(folder: Path, stem: str, report: dict[str, Any], *, heading: str,
                         labels: dict[str, str], script: str) -> tuple[Path, Path]:
    """Write `<folder>/<stem>.json` and `<stem>.md` (the heading, `vocoder_table`, the choice
    where `report` holds one) atomically; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{stem}.json"
    with atomic_output(json_path) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    text = f"# {heading}\n\n{vocoder_table(report, labels=labels)}"
    if "choice" in report:
        chosen = labels[report["choice"]["chosen"]]
        text += f"\nChosen by the rule of tools/choose_vocoder.py: {chosen}.\n"
    return json_path, write_generated(folder / f"{stem}.md", text, script=script)

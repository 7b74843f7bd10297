"""Choosing the epoch that ships: every snapshot of a run scored on its validation actors and
the winner installed (evaluate.py --select-epoch is its command line).

`select_epoch` scores the real clips once and each snapshot's conversions with
scoring.Evaluator (the classifier trained on neither the validation nor the test actors),
applies runs.choose_epoch (the highest judged target within the MCD, voicing and word-error
guards) and returns the selection.json record; `write_selection` writes it beside the run.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from spectrogan.audio.vocoders import Vocoder
from spectrogan.core.atomic_files import atomic_output
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.data.corpus import DEFAULT_TEST_ACTORS
from spectrogan.conversion.inference import open_converter
from spectrogan.evaluation.reports import selection_table, write_generated
from spectrogan.model.runs import (SELECTION_JSON, SELECTION_MARGIN_DB, SELECTION_MD,
                                   SELECTION_RULE, SELECTION_NATURALNESS_MARGIN, SELECTION_VERSION,
                                   SELECTION_VOICED_MARGIN, SELECTION_WER_MARGIN, Snapshot,
                                   choose_epoch)
from spectrogan.evaluation.scoring import Evaluator


@dataclass(frozen=True)
class Candidate:
    """One way of converting that a selection scores: a snapshot of a run, or a model with one
    post-processing value (tools/choose_cut.py)."""

    number: int  # its row's number in the tables (the epoch, K, 100 r, ...)
    name: str  # what it is, recorded in its row ("snapshots/epoch_0012", "K = 24")
    open: Callable[[], Any]  # makes its inference.Converter (Keras: only when scored)


@dataclass
class SelectionPlan:
    """What `--select-epoch` does for one pair, checked before any slow work starts."""

    pair: str
    run_dir: Path
    snapshots: list[Snapshot]
    val_actors: tuple[int, ...]
    test_actors: tuple[int, ...]  # kept out of the classifier's training too


def snapshot_candidates(plan: SelectionPlan) -> list[Candidate]:
    """Every snapshot of the plan's run as a candidate, named by its folder relative to the
    run (selection.json is committed, local paths are not)."""
    def opener(path: Path) -> Callable[[], Any]:
        def open_snapshot() -> Any:
            return open_converter(path)
        return open_snapshot

    return [Candidate(s.epoch, s.path.relative_to(plan.run_dir).as_posix(), opener(s.path))
            for s in plan.snapshots]


def select_epoch(evaluator: Evaluator, plan: SelectionPlan, **rule: float) -> dict[str, Any]:
    """Score every snapshot of a run on its validation actors and choose one
    (`select_candidate` with `snapshot_candidates`); `rule`: its margins."""
    return select_candidate(evaluator, plan.pair, snapshot_candidates(plan),
                            val_actors=plan.val_actors, test_actors=plan.test_actors, **rule)


def select_candidate(evaluator: Evaluator, pair: str, candidates: Sequence[Candidate], *,
                     val_actors: Sequence[int], test_actors: Sequence[int],
                     margin_db: float = SELECTION_MARGIN_DB,
                     wer_margin: float = SELECTION_WER_MARGIN,
                     voiced_margin: float = SELECTION_VOICED_MARGIN,
                     naturalness_margin: float = SELECTION_NATURALNESS_MARGIN,
                     vocoder: Vocoder | None = None) -> dict[str, Any]:
    """Score every candidate on the validation actors and apply `choose_epoch`.

    The real clips (source = zero effort, target) are scored once, then each candidate's
    converted clips, through `Evaluator.evaluate_pair` with the classifier trained on actors
    in neither the validation nor the test set. The source clips also go through `vocoder`
    alone (default: the first candidate's, and only with a naturalness predictor): the
    naturalness guard's reference, and a reference row of the record.

    Returns:
        the selection.json record: pair, actors, rule, zero-effort MCD and guard limit, the
        reference rows, one row per candidate (`epochs`: evaluate_pair's converted figures plus
        epoch = its number, snapshot = its name, passes_guard, chosen), chosen_epoch,
        guard_held, classifier report.
    """
    from tqdm import tqdm

    val_actors, test_actors = tuple(val_actors), tuple(test_actors)
    # The split's test actors of every corpus stay out of the judges' training too, though
    # the run may not have held them out (a run of one corpus, chosen with both read).
    unheard = tuple(sorted(set(test_actors) | (set(DEFAULT_TEST_ACTORS) - set(val_actors))))

    def score(**kwargs: Any) -> dict[str, Any]:
        return evaluator.evaluate_pair(pair, test_actors=val_actors, exclude_actors=unheard,
                                       **kwargs)

    reference = score(systems=("source", "target"))
    if vocoder is None and evaluator.naturalness is not None and candidates:
        vocoder = candidates[0].open().settings.vocoder
    alone = None if vocoder is None else score(
        systems=("vocoder",), baseline=ConversionSettings.of(vocoder))["systems"]["vocoder"]
    naturalness_reference = None if alone is None else alone.get("naturalness")
    zero_effort = reference["systems"]["source"]["mcd_to_target"]
    rows = []
    for candidate in tqdm(candidates, desc=f"{pair} candidates", unit="candidate",
                          disable=None):
        converter = candidate.open()
        entry = score(converter=converter, systems=("converted",))
        del converter
        rows.append({"epoch": candidate.number, "snapshot": candidate.name,
                     **entry["systems"]["converted"]})
    zero_effort_wer = reference["systems"]["source"].get("word_error_rate")
    voiced_reference = min(reference["systems"][name]["voiced_fraction"]
                           for name in ("source", "target"))
    choice = choose_epoch(rows, zero_effort, margin_db=margin_db, zero_effort_wer=zero_effort_wer,
                          wer_margin=wer_margin, voiced_reference=voiced_reference,
                          voiced_margin=voiced_margin,
                          naturalness_reference=naturalness_reference,
                          naturalness_margin=naturalness_margin)
    for row in rows:
        row["passes_guard"] = row["epoch"] in choice["passing"]
        row["chosen"] = row["epoch"] == choice["epoch"]
    return {
        "version": SELECTION_VERSION, "pair": reference["pair"],
        "source": reference["source"], "target": reference["target"],
        "val_actors": list(val_actors), "test_actors": list(test_actors),
        "rule": {"text": SELECTION_RULE.format(margin=margin_db, wer_margin=wer_margin,
                                               voiced_margin=voiced_margin,
                                               naturalness_margin=naturalness_margin),
                 "margin_db": margin_db, "wer_margin": wer_margin,
                 "voiced_margin": voiced_margin, "naturalness_margin": naturalness_margin},
        "zero_effort_mcd_db": zero_effort, "mcd_limit_db": choice["mcd_limit_db"],
        "zero_effort_wer": zero_effort_wer, "wer_limit": choice["wer_limit"],
        "voiced_reference": voiced_reference, "voiced_limit": choice["voiced_limit"],
        "naturalness_reference": naturalness_reference,
        "naturalness_limit": choice["naturalness_limit"],
        "chosen_epoch": choice["epoch"], "guard_held": choice["guard_held"],
        "n_clips": reference["n_clips"],
        "reference": {**{name: reference["systems"][name] for name in ("source", "target")},
                      **({} if alone is None else {f"vocoder ({vocoder.name})": alone})},
        "epochs": rows, "classifier": reference["classifier"],
        "competence": reference.get("competence"), "recogniser": reference["recogniser"], "settings": reference["settings"],
        "selected": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_selection(run_dir: str | os.PathLike, selection: dict[str, Any]) -> tuple[Path, Path]:
    """Write `<run_dir>/selection.json` and selection.md atomically; returns both paths."""
    run_dir = Path(run_dir)
    json_path = run_dir / SELECTION_JSON
    with atomic_output(json_path) as tmp:
        tmp.write_text(json.dumps(selection, indent=2) + "\n")
    md_path = write_generated(run_dir / SELECTION_MD, selection_table(selection) + "\n",
                              script="evaluate.py")
    return json_path, md_path

"""Choose, per pair, between the global prosody statistics and the contour model, on the
validation actors of both corpora with both judges, and (with --install) install the winner.

For each pair two candidates are scored exactly as `evaluate.py --select-epoch` scores epochs
(evaluation/selection.select_candidate: the judges trained on neither the validation nor the
test actors, the lower judge's share, the MCD, voicing, word-error and naturalness guards):

    0  as shipped     the pair's own settings (its global prosody change, if it has one)
    1  contour model  the same, with the contour model's prosody for the pair's emotion in
                      place of the global change (stages/contour_prosody.py)

Writes <out>/<pair>_contour.json and .md; --install records a win of the contour model in
<models>/<pair>/config.json (runs.write_settings, with the figures it was chosen on). The test
actors are never converted here.

    python tools/choose_contour.py --pair calm2happy calm2sad --out runs/contour_choice
    python tools/choose_contour.py --out runs/contour_choice --install

Exit 0 when every pair was scored, 2 for a usage error, 1 when a write failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.core.cli import arg_type, cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.core.paths import RESULTS_DIR  # noqa: E402
from spectrogan.data.corpora import add_corpus_arguments, corpus_folders  # noqa: E402
from spectrogan.data.corpora import scan_corpora  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    corpus_of_actor, parse_pair, parse_pair_name)
from spectrogan.evaluation.reports import selection_table, write_generated  # noqa: E402
from spectrogan.model.runs import find_model_dir, model_folders, write_settings  # noqa: E402

CANDIDATES = ("as shipped", "contour model")


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("--pair", nargs="+", type=arg_type(parse_pair_name), default=None,
                        help="pairs to choose for (default: every calm -> emotion model in "
                             "--models)")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="folder of the model folders (default: %(default)s)")
    parser.add_argument("--contour", type=Path, default=RESULTS_DIR / "contour_model",
                        metavar="DIR", help="the contour model's folder (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for the tables and the feature cache")
    add_corpus_arguments(parser)
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="score at most N clips per corpus (default: all)")
    parser.add_argument("--install", action="store_true",
                        help="record each pair's winner in <models>/<pair>/config.json")
    return parser


def contour_settings(model: Any, target: str, contour: Path) -> Any:
    """The model's settings with the contour model's prosody for `target` in place of the
    global prosody change."""
    from spectrogan.stages.contour_prosody import contour_stage
    from spectrogan.stages.prosody import ProsodyChange

    stage = contour_stage(target, model.folder, contour)
    return model.settings.without(ProsodyChange).with_stage(stage)


def choose_pair(pair: str, args: argparse.Namespace, evaluator: Any,
                folders: dict[str, Path]) -> dict[str, Any]:
    """Score both candidates of one pair, write its tables, install a contour win if asked."""
    from spectrogan.audio.vocoders import World
    from spectrogan.conversion.inference import load_converter
    from spectrogan.evaluation.selection import Candidate, select_candidate

    _, source, target = parse_pair(pair)
    model = load_converter(args.models, source, target)
    settings = {CANDIDATES[0]: model.settings,
                CANDIDATES[1]: contour_settings(model, target, args.contour)}
    candidates = [Candidate(number, name, (lambda s=settings[name]: model.with_settings(s)))
                  for number, name in enumerate(CANDIDATES)]
    val = tuple(a for a in DEFAULT_VAL_ACTORS if corpus_of_actor(a) in folders)
    selection = select_candidate(evaluator, pair, candidates, val_actors=val,
                                 test_actors=DEFAULT_TEST_ACTORS, vocoder=World())
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out / f"{pair}_contour.json") as tmp:
        tmp.write_text(json.dumps(selection, indent=2) + "\n")
    write_generated(args.out / f"{pair}_contour.md",
                    selection_table(selection, candidate="candidate") + "\n",
                    script="tools/choose_contour.py")
    print(selection_table(selection, candidate="candidate"), flush=True)
    chosen = next(row for row in selection["epochs"] if row["chosen"])
    if args.install and chosen["snapshot"] == CANDIDATES[1]:
        folder = find_model_dir(args.models, source, target)
        write_settings(folder, settings[CANDIDATES[1]], records={"contour_chosen_on": {
            "tool": "tools/choose_contour.py", "val_actors": list(val),
            "guard_held": selection["guard_held"],
            **{k: chosen.get(k) for k in ("judged_target", "voiced_fraction",
                                          "word_error_rate", "naturalness", "mcd_to_target")}}})
        print(f"{pair}: installed the contour model in {folder / 'config.json'}")
    return selection


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from spectrogan.evaluation.scoring import EvalSettings, make_evaluator
    from spectrogan.stages.contour_prosody import load_contour_network

    load_contour_network(args.contour)  # a missing model is said before any slow work
    if args.pair is None:
        args.pair = [pair for pair in sorted(model_folders(args.models))
                     if parse_pair(pair)[1] == "calm"]
    for pair in args.pair:
        _, source, target = parse_pair(pair)
        find_model_dir(args.models, source, target)
    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    evaluator = make_evaluator(scan_corpora(folders), folders,
                               cache=args.out / ".cache" / "eval_features.npz",
                               settings=EvalSettings(limit=args.limit))
    for pair in args.pair:
        choose_pair(pair, args, evaluator, folders)
    return 0


if __name__ == "__main__":
    sys.exit(main())

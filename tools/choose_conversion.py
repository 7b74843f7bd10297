"""Choose, per pair, how it ships: which trained model (the one installed, or one retrained
elsewhere) and which prosody (the model's own settings, the contour model's prosody, or the
global statistics learned on both corpora), on the validation actors of both corpora with both
judges; --install installs the winner.

Every model folder of the pair under each --models root gives four candidates:

    <root>: as it converts      the folder's own settings (its config.json "inference")
    <root>: contour model       the same, with the contour model's prosody for the pair's
                                emotion in place of the global change
                                (stages/contour_prosody.py)
    <root>: global statistics   the same, with the global prosody change (pitch level, range,
                                speaking rate) learned on the split's training actors of every
                                corpus read (training/global_changes.py) in place of either
    <root>: contour model at    the contour model's shape and local timing at the pitch level,
            the global level    range and duration of that global change

In the last three, a spectral balance or cepstral change the model's settings hold is relearned
on those actors too, so they differ in their prosody alone.

Two candidates that convert alike (the same weights and settings) are scored once. They are
scored exactly as `evaluate.py --select-epoch` scores epochs
(evaluation/selection.select_candidate: judges trained on neither the validation nor the test
actors, the lower counted judge's share, the MCD, voicing, word-error and naturalness guards,
the vocoder alone beside them). The test actors are never converted here.

Writes <out>/<pair>_conversion.json and .md. --install writes the winner into the first
root's <pair>/ folder: when that folder's own model wins, its config.json "inference" gets the
winning settings and the record "conversion_chosen_on" (runs.write_settings); a model from
another root replaces the folder whole (its generator, config with the chosen settings and
that record, log and epoch selection), after the folder it replaces is copied to
<out>/replaced/<pair>/, so no model is lost.

    python tools/choose_conversion.py --models results runs/both --out runs/choice
    python tools/choose_conversion.py --pair calm2sad --models results runs/both \\
        --out runs/choice --install

Exit 0 when every pair was scored, 2 for a usage error, 1 when a write failed.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.atomic_files import atomic_folder, atomic_output  # noqa: E402
from spectrogan.core.cli import arg_type, cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.core.paths import RESULTS_DIR  # noqa: E402
from spectrogan.data.corpora import add_corpus_arguments, corpus_folders  # noqa: E402
from spectrogan.data.corpora import scan_corpora  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, parse_pair,  # noqa: E402
                                    parse_pair_name, split_actors, split_training_actors)
from spectrogan.evaluation.reports import selection_table, write_generated  # noqa: E402
from spectrogan.stages.cepstral_change import CepstralChange  # noqa: E402
from spectrogan.stages.prosody import ProsodyChange  # noqa: E402
from spectrogan.stages.spectral_balance import SpectralBalance  # noqa: E402
from spectrogan.model.runs import (CONFIG_NAME, find_model_dir, generator_path,  # noqa: E402
                                   model_folders, recorded_path, shown_path,
                                   write_settings)

PROSODY = ("as it converts", "contour model", "global statistics",
           "contour model at the global level")
# The learned stages a model's settings may hold that are relearned on both corpora.
RELEARNED = (SpectralBalance, CepstralChange)
# What a model folder ships beside its config (the run's checkpoint and samples stay behind).
SHIPPED_FILES = ("generator_AtoB.weights.h5", "log.csv", "selection.json", "selection.md")


@dataclass(frozen=True)
class Option:
    """One candidate: a model folder of one root, converting with `settings`."""

    root: Path
    folder: Path
    prosody: str
    settings: Any

    @property
    def name(self) -> str:
        return f"{recorded_path(self.root)}: {self.prosody}"


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("--pair", nargs="+", type=arg_type(parse_pair_name), default=None,
                        help="pairs to choose for (default: every calm -> emotion model in "
                             "the first --models root)")
    parser.add_argument("--models", nargs="+", type=Path, default=[RESULTS_DIR], metavar="DIR",
                        help="folders of model folders to choose among; the first is where "
                             "--install installs (default: %(default)s)")
    parser.add_argument("--contour", type=Path, default=None, metavar="DIR",
                        help="the contour model's folder (default: contour_model/ in the first "
                             "--models folder, the one shipped with those models)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for the tables, the feature cache and the models an "
                             "install replaced")
    add_corpus_arguments(parser)
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="score at most N source clips per pair (default: all)")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="processes measuring the training actors' clips for the changes "
                             "learned on both corpora (default: %(default)s)")
    parser.add_argument("--install", action="store_true",
                        help="install each pair's winner in the first --models root")
    return parser


def pair_options(pair: str, roots: list[Path], contour: Path,
                 learned: Callable[[type], Any] | None = None) -> list[Option]:
    """The candidates of every root that holds a model of `pair` (roots without one are
    skipped; UserError when none holds one).

    `learned(kind)` gives the stage of that kind learned on both corpora's training actors
    (ProsodyChange, SpectralBalance, CepstralChange): the "global statistics" candidates apply
    its ProsodyChange, the "contour model at the global level" ones its level, range and
    duration, and they and the "contour model" candidates replace the model's own spectral
    balance and cepstral change, where it has them, with the relearned ones, so the three
    differ in their prosody alone. None: nothing is relearned, and the two candidates that
    need the global change are left out.
    """
    from spectrogan.audio.vocoders import World
    from spectrogan.model.runs import read_settings
    from spectrogan.stages.contour_prosody import ContourProsody, contour_stage

    _, source, target = parse_pair(pair)
    options, seen = [], set()
    for root in roots:
        try:
            folder = find_model_dir(root, source, target)
        except UserError:
            continue
        own = read_settings(folder)
        stage = contour_stage(target, folder, contour)
        base = own if own.vocoder.name in stage.vocoders else own.with_vocoder(World())
        for kind in RELEARNED if learned is not None else ():
            if base.stage(kind) is not None:
                base = base.with_stage(learned(kind))
        variants = [own, base.without(ProsodyChange).with_stage(stage)]
        if learned is not None:
            level = learned(ProsodyChange)
            variants += [base.without(ContourProsody).with_stage(level),
                         base.without(ProsodyChange).with_stage(stage.at_level(level))]
        weights = hashlib.sha256(generator_path(folder).read_bytes()).hexdigest()
        for prosody, settings in zip(PROSODY, variants):
            # a folder that already ships the contour model, or a copy of another root's
            # model, would score the same conversion twice
            key = (weights, json.dumps(comparable(settings.record(), folder), sort_keys=True))
            if key not in seen:
                seen.add(key)
                options.append(Option(root, folder, prosody, settings))
    if not options:
        raise UserError(f"{pair}: no model in {', '.join(map(shown_path, roots))}; train one "
                        f"with `python train_cyclegan.py --pair {pair}`")
    return options


def comparable(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A settings record with the contour model's folder (named relative to the model folder)
    made absolute, so the same conversion from two roots compares equal."""
    contour = record.get("contour_prosody")
    if contour is None:
        return record
    return {**record, "contour_prosody": {
        **contour, "model": str((folder / contour["model"]).resolve())}}


def choose_pair(pair: str, args: argparse.Namespace, evaluator: Any,
                folders: dict[str, Path], learner: Any) -> dict[str, Any]:
    """Learn the pair's global prosody change, score every option of the pair, write its
    tables, install the winner if asked."""
    from spectrogan.audio.vocoders import World
    from spectrogan.conversion.inference import open_converter
    from spectrogan.evaluation.selection import Candidate, select_candidate

    _, source, target = parse_pair(pair)
    train = split_training_actors(evaluator.files)

    @functools.cache
    def learned(kind: type) -> Any:
        learn = {ProsodyChange: learner.prosody, SpectralBalance: learner.balance,
                 CepstralChange: learner.cepstral}[kind]
        stage, per_actor = learn(evaluator.files, source=source, target=target, actors=train)
        print(f"{pair}: learned on {len(per_actor)} training actors: {stage.describe()}",
              flush=True)
        return stage

    options = pair_options(pair, args.models, args.contour, learned)

    def opener(option: Option) -> Any:
        return lambda: open_converter(option.folder).with_settings(option.settings)

    candidates = [Candidate(number, option.name, opener(option))
                  for number, option in enumerate(options)]
    selection = select_candidate(evaluator, pair, candidates,
                                 val_actors=split_actors("val", folders),
                                 test_actors=DEFAULT_TEST_ACTORS, vocoder=World())
    for row, option in zip(selection["epochs"], options):
        row["conversion"] = option.settings.record()
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out / f"{pair}_conversion.json") as tmp:
        tmp.write_text(json.dumps(selection, indent=2) + "\n")
    text = selection_table(selection, candidate="candidate")
    key = "\n".join(f"- candidate {n}: {option.name}" for n, option in enumerate(options))
    write_generated(args.out / f"{pair}_conversion.md", f"{text}\n\n{key}\n",
                    script="tools/choose_conversion.py")
    print(f"{text}\n\n{key}", flush=True)
    chosen = next(row for row in selection["epochs"] if row["chosen"])
    if args.install:
        install(options[chosen["epoch"]], chosen, selection, pair=pair, args=args)
    return selection


def install(option: Option, chosen: dict[str, Any], selection: dict[str, Any], *, pair: str,
            args: argparse.Namespace) -> None:
    """Make `option` what the first root ships for `pair` (see the module's docstring)."""
    from spectrogan.stages.contour_prosody import ContourProsody, contour_stage

    _, source, target = parse_pair(pair)
    record = {"conversion_chosen_on": {
        "tool": "tools/choose_conversion.py", "candidate": option.name,
        "val_actors": selection["val_actors"], "guard_held": selection["guard_held"],
        **{k: chosen.get(k) for k in ("judged_target", "voiced_fraction", "word_error_rate",
                                      "naturalness", "mcd_to_target")}}}
    home = args.models[0]
    try:
        installed = find_model_dir(home, source, target)
    except UserError:
        installed = home / pair
    if option.folder.resolve() == installed.resolve():
        # kept as it was, or its prosody changed: the record says what it was chosen on
        write_settings(installed, option.settings, records=record)
        print(f"{pair}: installed '{option.name}' in {installed / CONFIG_NAME}")
        return
    settings = option.settings
    contour = settings.stage(ContourProsody)
    if contour is not None:  # named relative to its new folder
        settings = settings.with_stage(contour_stage(target, installed, args.contour,
                                                     level=contour.level))
    if installed.exists():
        kept = args.out / "replaced" / pair
        if kept.exists():
            kept = kept.with_name(f"{pair}-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copytree(installed, kept)
        print(f"{pair}: the model it replaces is kept in {kept}")

    def fill(folder: Path) -> None:
        for name in (CONFIG_NAME, *SHIPPED_FILES):
            if (option.folder / name).is_file():
                shutil.copy2(option.folder / name, folder / name)
        write_settings(folder, settings, records=record)

    atomic_folder(installed, fill)
    print(f"{pair}: installed '{option.name}' ({option.folder}) as {installed}")


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.contour = args.contour or args.models[0] / "contour_model"
    from spectrogan.evaluation.scoring import EvalSettings, make_evaluator
    from spectrogan.stages.contour_prosody import load_contour_network
    from spectrogan.training.global_changes import ChangeLearner

    load_contour_network(args.contour)  # a missing model is said before any slow work
    if args.pair is None:
        args.pair = [pair for pair in sorted(model_folders(args.models[0]))
                     if parse_pair(pair)[1] == "calm"]
    for pair in args.pair:
        pair_options(pair, args.models, args.contour)
    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    evaluator = make_evaluator(scan_corpora(folders), folders,
                               cache=args.out / ".cache" / "eval_features.npz",
                               settings=EvalSettings(limit=args.limit))
    learner = ChangeLearner(args.out / ".cache", folders, jobs=args.jobs)
    for pair in args.pair:
        choose_pair(pair, args, evaluator, folders, learner)
    return 0


if __name__ == "__main__":
    sys.exit(main())

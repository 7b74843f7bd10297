"""Learn a pair's prosody change on its training actors and choose how it converts on its
validation actors: an ablation of every arm, the winner installed with --install.

For each pair the change of pitch level, pitch range and speaking rate from calm to the target
emotion (prosody.learn_prosody_change) and the change of spectral balance
(spectral_balance.learn_spectral_balance) and of the spectrum's statistics
(cepstral_change.learn_cepstral_change) are learned on the split's training actors of every
corpus read (training/global_changes.py: RAVDESS 01-14 and CREMA-D 1001-1032 by default), each
actor against their own calm speech (CREMA-D: neutral), never on a validation or test actor.
The arms are then scored on the validation actors of those corpora exactly as `evaluate.py
--select-epoch` scores epochs (judges trained on neither the validation nor the test actors,
the lower counted judge, the same guards and rule):

    griffin-lim, model            the model as shipped before (its cut and pitch shift kept)
    world, model                  the model's envelope change on WORLD's envelope, no prosody
    world, prosody                the prosody change alone, no model
    world, model + pitch level    ... with the model: the pitch level only
    world, model + level, range   ... the pitch level and range
    world, model + prosody        ... level, range and speaking rate (one synthesis)
    world, model + balance        the model's envelope change and the spectral balance
    world, prosody + balance      the prosody change and the spectral balance, no model
    world, model + prosody + balance   all three in one synthesis
    world, cepstra                the cepstral change alone (the spectrum's mean and movement)
    world, cepstra + prosody      the cepstral change and the prosody change, no model
    world, model + cepstra + prosody   the model's envelope change, then both
    world, cepstra + level, rate  the cepstral change with the pitch level and speaking rate
                                  (the input's own pitch range kept), no model
    world, model + cepstra + level, rate   ... with the model's envelope change

A pair with no model folder yet is scored with the prosody arm alone. --install records the
winner in <models>/<pair>/config.json "inference" ("vocoder", "prosody", "spectral_balance",
"cepstral_change", and the figures it was chosen on), keeping every other key; a Griffin-Lim win changes nothing. The tables go to
<out>/<pair>_prosody.md and .json, all pairs' tables to <out>/prosody_ablation.md; what is
measured per clip is cached in <out>.

    python tools/choose_prosody.py --pair calm2happy --out /work/runs/prosody
    python tools/choose_prosody.py --pair calm2happy calm2sad --out runs/prosody --install

Exit 0 when every pair was scored, 2 for a usage error, 1 when a run failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from dataclasses import dataclass, replace
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.core.cli import arg_type, cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.data.corpora import (add_corpus_arguments, corpus_folders,  # noqa: E402
                                     scan_corpora)
from spectrogan.data.corpus import (actor_range, parse_pair, parse_pair_name,  # noqa: E402
                                    split_actors, split_training_actors)
from spectrogan.model.runs import RESULTS_DIR, read_config, write_settings  # noqa: E402

# The parts of the learned prosody change an arm applies (the others left at the identity).
FULL_PROSODY = ("f0_shift_semitones", "f0_spread_ratio", "duration_ratio")
LEVEL = ("f0_shift_semitones",)
LEVEL_RANGE = ("f0_shift_semitones", "f0_spread_ratio")
LEVEL_RATE = ("f0_shift_semitones", "duration_ratio")


@dataclass(frozen=True)
class Arm:
    """One way a pair may convert: its vocoder, whether the model's envelope change is in it,
    which parts of the learned prosody change, and whether the learned spectral balance and
    cepstral change are."""

    name: str
    vocoder: str = "world"
    model: bool = False
    prosody: tuple[str, ...] = ()
    balance: bool = False
    cepstra: bool = False

    def settings(self, base: Any, change: Any, balance: Any = None, cepstral: Any = None
                 ) -> Any:
        """The arm's ConversionSettings, from the model's own (`base`: its cut, smoothing and
        learned level kept) and the learned ProsodyChange, SpectralBalance, CepstralChange."""
        from spectrogan.stages.conversion_settings import ConversionSettings
        from spectrogan.stages.envelope_model import EnvelopeModel

        if self.vocoder != "world":
            return base.with_vocoder(self.vocoder)
        envelope = replace(base.stage(EnvelopeModel) or EnvelopeModel(), applied=self.model)
        prosody = replace(type(change)(), **{part: getattr(change, part)
                                             for part in self.prosody})
        learned = [prosody] if self.prosody else []
        learned += [balance] if self.balance else []
        learned += [cepstral] if self.cepstra else []
        return ConversionSettings.of("world", envelope, *learned,
                                     level_change_db=base.level_change_db)


ARMS = (
    Arm("griffin-lim, model", vocoder="griffin-lim", model=True),
    Arm("world, model", model=True),
    Arm("world, prosody", prosody=FULL_PROSODY),
    Arm("world, model + pitch level", model=True, prosody=LEVEL),
    Arm("world, model + level, range", model=True, prosody=LEVEL_RANGE),
    Arm("world, model + prosody", model=True, prosody=FULL_PROSODY),
    Arm("world, model + balance", model=True, balance=True),
    Arm("world, prosody + balance", prosody=FULL_PROSODY, balance=True),
    Arm("world, model + prosody + balance", model=True, prosody=FULL_PROSODY, balance=True),
    Arm("world, cepstra", cepstra=True),
    Arm("world, cepstra + prosody", prosody=FULL_PROSODY, cepstra=True),
    Arm("world, model + cepstra + prosody", model=True, prosody=FULL_PROSODY, cepstra=True),
    Arm("world, cepstra + level, rate", prosody=LEVEL_RATE, cepstra=True),
    Arm("world, model + cepstra + level, rate", model=True, prosody=LEVEL_RATE, cepstra=True),
)
ARM_NAMES = {arm.name: arm for arm in ARMS}


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("--pair", nargs="+", required=True, type=arg_type(parse_pair_name),
                        help="pairs to learn and choose, e.g. calm2happy calm2surprised")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="folder of the model folders (default: results/ beside the "
                             "scripts)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the tables, the prosody cache and the feature cache")
    add_corpus_arguments(parser)
    parser.add_argument("--arms", nargs="+", choices=list(ARM_NAMES), default=list(ARM_NAMES),
                        metavar="ARM",
                        help=f"arms to score (default: all: {'; '.join(ARM_NAMES)})")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="processes for measuring the training actors' prosody and the "
                             "classifier's features (default: %(default)s)")
    parser.add_argument("--install", action="store_true",
                        help="record each pair's winner in <models>/<pair>/config.json")
    return parser


def table(record: dict[str, Any]) -> str:
    """The ablation as markdown."""
    from spectrogan.stages.spectral_balance import SpectralBalance

    change = record["prosody_change"]
    from spectrogan.stages.cepstral_change import CepstralChange

    learned = [reader.from_config(record[key], where="record").describe()
               for key, reader in (("spectral_balance", SpectralBalance),
                                   ("cepstral_change", CepstralChange)) if record.get(key)]
    balance_words = "".join(f"; {words}" for words in learned)
    lines = [f"### {record['pair']}: prosody ablation on validation actors "
             f"{', '.join(map(str, record['val_actors']))}",
             "",
             f"Prosody change learned on training actors "
             f"{', '.join(map(str, record['train_actors']))}: pitch "
             f"{change['f0_shift_semitones']:+.1f} semitones, range "
             f"x{change['f0_spread_ratio']:.2f}, duration x{change['duration_ratio']:.2f}"
             f"{balance_words}.",
             "",
             f"| arm | judged {record['target']} | {record['target']} over "
             f"{record['source']} | voiced | open word error | MCD to target (dB) | "
             "within guards |",
             "|---|---|---|---|---|---|---|"]

    def row(name: str, figures: dict[str, Any], guard: str) -> str:
        wer = figures.get("word_error_rate")
        return (f"| {name} | {100 * figures['judged_target']:.0f}% | "
                f"{100 * figures['target_over_source']:.0f}% | "
                f"{100 * figures['voiced_fraction']:.0f}% | "
                f"{'-' if wer is None else f'{wer:.2f}'} | {figures['mcd_to_target']:.2f} | "
                f"{guard} |")

    for name, figures in record["reference"].items():
        if figures is not None:  # records written before unscored rows were dropped
            lines.append(row(name, figures, ""))
    for arm in record["arms"]:
        mark = "yes" if arm["passes_guard"] else "no"
        lines.append(row(f"**{arm['arm']}**" if arm["chosen"] else arm["arm"], arm, mark))
    limits = record["limits"]
    wer_limit = "-" if limits["wer_limit"] is None else f"{limits['wer_limit']:.2f}"
    lines += ["", f"Guards: MCD at most {limits['mcd_limit_db']:.2f} dB, voiced at least "
                  f"{100 * limits['voiced_limit']:.0f}%, open word error at most {wer_limit}"
                  + (f", naturalness at least {limits['naturalness_limit']:.2f}"
                     if limits.get("naturalness_limit") is not None else "")
                  + f". Chosen: **{record['chosen']}**"
                  + ("" if record["guard_held"] else " (no arm held the guards)") + "."]
    return "\n".join(lines) + "\n"


def learn_changes(pair: str, args: argparse.Namespace, files: list, learner: Any,
                  train: Sequence[int]) -> tuple[Any, dict[int, Any], Any, Any]:
    """The pair's prosody change (with each training actor's), and the spectral balance and
    cepstral change where an arm asks for them (else None), learned on `train`."""
    _, source, target = parse_pair(pair)
    change, per_actor = learner.prosody(files, source=source, target=target, actors=train)
    arms = [ARM_NAMES[name] for name in args.arms]
    balance = cepstral = None
    if any(arm.balance for arm in arms):
        balance, _ = learner.balance(files, source=source, target=target, actors=train)
    if any(arm.cepstra for arm in arms):
        cepstral, _ = learner.cepstral(files, source=source, target=target, actors=train)
    print(f"{pair}: learned on actors {actor_range(per_actor)}: {change.describe()}"
          + "".join(f"; {learned.describe()}" for learned in (balance, cepstral)
                    if learned is not None), flush=True)
    return change, per_actor, balance, cepstral


def arm_candidates(arms: Sequence[Arm], base: Any, model: Any, learned: tuple[Any, Any, Any]
                   ) -> tuple[list[Any], dict[str, Any]]:
    """Each arm as a selection candidate (numbered in order, named by the arm) and its
    settings by name; `learned`: the prosody change, spectral balance and cepstral change."""
    from spectrogan.conversion.inference import Converter
    from spectrogan.evaluation.selection import Candidate

    settings = {arm.name: arm.settings(base, *learned) for arm in arms}

    def opener(arm: Arm) -> Any:
        def open_arm() -> Any:
            if arm.model:
                return model.with_settings(settings[arm.name])
            return Converter(settings=settings[arm.name])
        return open_arm

    return ([Candidate(number, arm.name, opener(arm)) for number, arm in enumerate(arms)],
            settings)


def choose_pair(pair: str, args: argparse.Namespace, files: list, evaluator: Any,
                learner: Any, folders: dict[str, Path]) -> dict[str, Any]:
    """Learn, score every arm as `evaluate.py --select-epoch` scores epochs (one rule, one
    selection), and (with --install) record the winner; returns the record."""
    from spectrogan.audio.vocoders import World
    from spectrogan.conversion.inference import load_converter
    from spectrogan.evaluation.selection import select_candidate
    from spectrogan.model.runs import find_model_dir
    from spectrogan.stages.conversion_settings import ConversionSettings

    _, source, target = parse_pair(pair)
    try:
        model_dir = find_model_dir(args.models, source, target)
        config = read_config(model_dir)
    except UserError:
        model_dir, config = None, None
    # The changes are not the model: they are learned on every training actor of the split
    # in the corpora read, whichever actors the model itself was trained on.
    val = split_actors("val", folders)
    test = tuple(sorted(set(split_actors("test", folders))
                        | set((config or {}).get("test_actors") or ())))
    train = split_training_actors(files, held_out=(*test, *((config or {}).get("val_actors")
                                                            or ())))
    change, per_actor, balance, cepstral = learn_changes(pair, args, files, learner, train)
    model = load_converter(args.models, source, target) if model_dir is not None else None
    base = model.settings if model is not None else ConversionSettings()
    arms = [ARM_NAMES[name] for name in args.arms if model is not None
            or not ARM_NAMES[name].model]
    candidates, settings = arm_candidates(arms, base, model, (change, balance, cepstral))
    selection = select_candidate(evaluator, pair, candidates, val_actors=val, test_actors=test,
                                 vocoder=World())
    rows = [{**row, "arm": row["snapshot"], "conversion": settings[row["snapshot"]].record()}
            for row in selection["epochs"]]
    for row in rows:
        print(f"  {row['arm']}: judged {100 * row['judged_target']:.0f}%, voiced "
              f"{100 * row['voiced_fraction']:.0f}%, open WER "
              f"{row.get('word_error_rate')}", flush=True)
    chosen = next(row for row in rows if row["chosen"])
    record = {
        "pair": pair, "source": source, "target": target, "train_actors": sorted(per_actor),
        "val_actors": list(val), "test_actors": list(test),
        "model": None if model_dir is None else str(model_dir),
        "prosody_change": change.to_config(),
        "spectral_balance": None if balance is None else balance.to_config(),
        "cepstral_change": None if cepstral is None else cepstral.to_config(),
        "per_actor": {str(a): c.to_config() for a, c in per_actor.items()},
        "reference": selection["reference"], "arms": rows, "chosen": chosen["arm"],
        "guard_held": selection["guard_held"],
        "limits": {k: selection[k] for k in ("mcd_limit_db", "wer_limit", "voiced_limit",
                                             "naturalness_limit")},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out / f"{pair}_prosody.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    with atomic_output(args.out / f"{pair}_prosody.md") as tmp:
        tmp.write_text(table(record))
    print(table(record), flush=True)
    if args.install and model_dir is not None and ARM_NAMES[chosen["arm"]].vocoder == "world":
        install(model_dir, settings[chosen["arm"]], chosen, record)
        print(f"{pair}: installed '{chosen['arm']}' in {model_dir / 'config.json'}")
    return record


def install(model_dir: Path, settings: Any, chosen: dict[str, Any],
            record: dict[str, Any]) -> None:
    """Install the chosen arm's settings in the model's config "inference" (runs.write_settings:
    the records of earlier choices and every other key kept), with the figures it was chosen
    on."""
    write_settings(model_dir, settings, records={"prosody_chosen_on": {
        "tool": "tools/choose_prosody.py", "arm": chosen["arm"],
        "val_actors": record["val_actors"], "train_actors": record["train_actors"],
        "guard_held": record["guard_held"],
        **{k: chosen[k] for k in ("judged_target", "target_over_source", "voiced_fraction",
                                  "word_error_rate", "mcd_to_target")}}})


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from spectrogan.evaluation.scoring import EvalSettings, make_evaluator
    from spectrogan.training.global_changes import ChangeLearner

    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    files = scan_corpora(folders)
    evaluator = make_evaluator(files, folders, cache=args.out / ".cache" / "eval_features.npz",
                               settings=EvalSettings(jobs=args.jobs))
    learner = ChangeLearner(args.out, folders, jobs=args.jobs)
    for pair in args.pair:
        choose_pair(pair, args, files, evaluator, learner, folders)
    report = write_report(args.out)
    print(f"wrote {report} (every pair scored in {args.out})")
    return 0


def write_report(out: Path) -> Path:
    """<out>/prosody_ablation.md: the tables of every pair scored into `out` so far."""
    records = [json.loads(path.read_text()) for path in sorted(out.glob("*_prosody.json"))]
    lines = ["# Prosody ablation: which conversion each pair ships", "",
             "Generated by `tools/choose_prosody.py` (do not edit by hand). Each pair's changes "
             "are learned on the split's training actors of the corpora read; every arm is "
             "scored on their validation actors with the lower of the counted judges and "
             "`evaluate.py --select-epoch`'s rule "
             "(the highest judged target among the arms within the MCD, voicing and word-error "
             "guards). The test actors are not used here.", ""]
    path = out / "prosody_ablation.md"
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + "\n".join(table(r) for r in records))
    return path


if __name__ == "__main__":
    sys.exit(main())

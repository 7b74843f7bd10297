"""Which part of the `fast` preset makes CPU training work: an equal-wall-time ablation.

Trains four variants of one pair, one after another, each for the same --budget seconds of
training on this machine (run nothing else beside it: the arms must get the same machine):

    original   the original's settings (whole 260x260 windows, 64 filters, plain generator)
    crops      the original with 64-frame random time crops
    identity   the original with a generator that starts as the identity
    fast       the fast preset (crops, identity start, 16 filters)
    envelope   the envelope preset: fast, its correction kept to the spectral envelope (first 24
               DCT coefficients along frequency) inside the network while it trains
    fast_cut   no training of its own: the fast arm's last epoch with the same envelope cut
               applied only at conversion (the post-hoc route), scored as one candidate

then scores each arm's last epoch on the validation actors, as the epoch selection does
(`evaluate.py --select-epoch --max-snapshots 1`: classifier trained on actors in neither the
validation nor the test set; the test actors are never touched), and writes the table to
<out>/ablation.md. An arm that already has its selection.json is not trained again, so an
interrupted ablation continues where it stopped.

    python tools/ablation.py --pair calm2anger --budget 1200 --out /work/runs/ablation
    python tools/ablation.py --pair calm2anger --budget 1200 --arms original fast --out runs/abl
    python tools/ablation.py --pair calm2anger --budget 800 --arms fast fast_cut envelope

Needs data/<pair>.npz (data_prep.py) and RAVDESS (as evaluate.py). Exit 0 when every arm was
trained and scored, 1 when a training or scoring run failed (its log is in <out>/<arm>/), 2 for
a usage error.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.core.cli import arg_type, cli_main, positive_int  # noqa: E402
from spectrogan.data.corpus import DATA_DIR, parse_pair_name  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.evaluation.reports import ablation_table, actor_list, write_generated  # noqa: E402
from spectrogan.model.runs import (CONFIG_NAME, LOG_NAME, RESULTS_DIR,  # noqa: E402
                                   SELECTION_JSON, SNAPSHOTS_DIR, find_snapshots, read_config,
                                   read_selection, read_settings)
from spectrogan.model.settings import PRESETS  # noqa: E402

# Each arm: what differs, and its train_cyclegan.py flags. --time-budget stops after the update
# in which the budget runs out; epoch sizes are set so that an epoch takes about 70-90 s on a
# 2-core CPU, which bounds the snapshot and checkpoint work after the stop.
ARMS: dict[str, tuple[str, list[str]]] = {
    "original": ("original settings", ["--preset", "original", "--steps-per-epoch", "5"]),
    "crops": ("original + 64-frame crops",
              ["--preset", "original", "--crop-frames", "64", "--steps-per-epoch", "20"]),
    "identity": ("original + identity start",
                 ["--preset", "original", "--identity-start", "--steps-per-epoch", "5"]),
    "fast": ("fast preset = crops + identity start + 16 filters", ["--preset", "fast"]),
    "envelope": ("envelope preset = fast, correction trained within 24 DCT coefficients",
                 ["--preset", "envelope"]),
}
ENVELOPE_CUT = PRESETS["envelope"]["envelope_coefficients"]
# Arms that train nothing: (label, the trained arm they reuse, envelope coefficients of the
# post-hoc cut applied to that arm's last epoch at conversion).
DERIVED_ARMS: dict[str, tuple[str, str, int]] = {
    "fast_cut": (f"fast preset, envelope cut ({ENVELOPE_CUT} DCT coefficients) at conversion "
                 "only", "fast", ENVELOPE_CUT),
}
TABLE_NAME = "ablation.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", required=True, type=arg_type(parse_pair_name),
                        help="emotion pair to train, e.g. calm2anger")
    parser.add_argument("--budget", required=True, type=positive_int, metavar="SECONDS",
                        help="training seconds of every arm (train_cyclegan.py --time-budget)")
    parser.add_argument("--out", required=True, type=Path,
                        help="folder of the arms' run folders <arm>/<pair>/ and ablation.md")
    parser.add_argument("--arms", nargs="+", choices=(*ARMS, *DERIVED_ARMS),
                        default=["original", "identity", "crops", "fast"],
                        help="arms to train and score, in this order; a derived arm (fast_cut) "
                             "needs its trained arm in the list before it (default: the four "
                             "arms of the fast preset's ablation)")
    parser.add_argument("--ravdess", type=Path, default=None,
                        help="RAVDESS folder for the scoring (default: evaluate.py's)")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="processes for the scoring's feature pass (default: 2)")
    parser.add_argument("--beside", default=None, metavar="TEXT",
                        help="what else ran on the machine while the arms trained, for the "
                             "table's text (default: the arms trained alone)")
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed of every arm (default: 0)")
    return parser


def training_record(run_dir: Path) -> tuple[int, float]:
    """(updates, logged training seconds) of a finished run folder, up to its chosen epoch.

    Updates come from log.csv's `updates` column, which counts an epoch a time budget cut
    short as what it made; logs written before that column existed count full epochs."""
    config = read_config(run_dir)
    steps = config["training"]["steps_per_epoch"]
    with open(run_dir / LOG_NAME, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["epoch"]) <= config["epoch"]]
    return (sum(int(row.get("updates") or steps) for row in rows),
            sum(float(row["seconds"]) for row in rows))


def _run(command: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        return subprocess.call(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)


def score_cut_arm(base_run: Path, selection_path: Path, *, pair: str, coefficients: int,
                  ravdess: Path | None, jobs: int) -> None:
    """Score `base_run`'s last epoch with the post-hoc envelope cut of `coefficients` as one
    candidate (selection.Candidate: the snapshot opened with the cut, nothing copied) on the
    validation actors, as the epoch selection does, and write its selection.json."""
    import json

    from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS, default_ravdess,
                                        scan_ravdess)
    from spectrogan.conversion.inference import open_converter
    from spectrogan.evaluation.metrics import FeatureCache, load_recogniser
    from spectrogan.evaluation.scoring import EvalSettings, Evaluator
    from spectrogan.evaluation.selection import Candidate, select_candidate

    last = find_snapshots(base_run)[-1]
    config = read_config(last.path)
    settings = read_settings(last.path, {**config, "inference": {
        **(config.get("inference") or {}), "envelope_coefficients": coefficients}})
    candidate = Candidate(last.epoch, f"{last.path.relative_to(base_run).as_posix()} with the "
                          f"cut K = {coefficients}",
                          lambda: open_converter(last.path, config=config, settings=settings))
    root = ravdess or default_ravdess()
    evaluator = Evaluator(files=scan_ravdess(root), root=root,
                          cache=FeatureCache(RESULTS_DIR / ".cache" / "eval_features.npz"),
                          settings=EvalSettings(jobs=jobs), recogniser=load_recogniser())
    selection = select_candidate(evaluator, pair, [candidate],
                                 val_actors=config.get("val_actors") or DEFAULT_VAL_ACTORS,
                                 test_actors=config.get("test_actors") or DEFAULT_TEST_ACTORS)
    selection_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(selection_path) as tmp:
        tmp.write_text(json.dumps(selection, indent=2) + "\n")


def run_arm(name: str, *, pair: str, budget: int, out: Path, ravdess: Path | None, jobs: int,
            seed: int) -> dict[str, Any] | None:
    """Train (unless already trained) and score one arm; its table entry, None on failure."""
    arm_root = out / name
    run_dir = arm_root / pair
    log = arm_root / f"{name}.log"
    selection_path = run_dir / SELECTION_JSON
    if name in DERIVED_ARMS:
        label, base, coefficients = DERIVED_ARMS[name]
        base_run = out / base / pair
        if not find_snapshots(base_run):
            print(f"{name}: needs the trained arm {base} in {base_run}; list it first in --arms",
                  file=sys.stderr)
            return None
        if not selection_path.exists():
            score_cut_arm(base_run, selection_path, pair=pair, coefficients=coefficients,
                          ravdess=ravdess, jobs=jobs)
        updates, seconds = training_record(base_run)
        return {"label": label, "updates": updates, "seconds": seconds,
                "selection": read_selection(selection_path)}
    else:
        label, flags = ARMS[name]
    if not selection_path.exists():
        if not (run_dir / CONFIG_NAME).exists() or not (run_dir / SNAPSHOTS_DIR).exists():
            # --force: a run folder without snapshots is this tool's own interrupted arm.
            status = _run([sys.executable, "train_cyclegan.py", "--pair", pair, "--out",
                           str(run_dir), *flags, "--epochs", "100000", "--time-budget",
                           str(budget), "--snapshot-every", "100000", "--checkpoint-every",
                           "100000", "--sample-every", "0", "--eval-images", "0", "--seed",
                           str(seed), "--quiet", "--force"], log)
            if status != 0:
                print(f"{name}: training failed (exit {status}); see {log}", file=sys.stderr)
                return None
        scoring = [sys.executable, "evaluate.py", "--pair", pair, "--select-epoch",
                   "--max-snapshots", "1", "--models", str(arm_root), "--out", str(RESULTS_DIR),
                   "--jobs", str(jobs), "--force"]
        if ravdess is not None:
            scoring += ["--ravdess", str(ravdess)]
        status = _run(scoring, log)
        if status != 0:
            print(f"{name}: scoring failed (exit {status}); see {log}", file=sys.stderr)
            return None
    updates, seconds = training_record(run_dir)
    return {"label": label, "updates": updates, "seconds": seconds,
            "selection": read_selection(selection_path)}


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    pair = args.pair
    data = DATA_DIR / f"{pair}.npz"
    if not (ROOT / data).exists():
        raise UserError(f"{data} not found; make it with `python data_prep.py --ravdess "
                        f"../shared/data/ravdess --pair {pair}`")
    from tqdm import tqdm

    entries, failed = [], False
    for name in tqdm(args.arms, desc="ablation arms", unit="arm"):
        entry = run_arm(name, pair=pair, budget=args.budget, out=args.out,
                        ravdess=args.ravdess, jobs=args.jobs, seed=args.seed)
        failed |= entry is None
        if entry is not None:
            entries.append(entry)
    if entries:
        selection = entries[0]["selection"]
        arms = " --arms " + " ".join(args.arms)
        text = (f"### Equal-wall-time ablation, {pair}: {args.budget} s of training each\n\n"
                f"Each arm trained "
                + (f"on this machine, beside {args.beside}," if args.beside else
                   "alone on this machine")
                + f" for {args.budget} s (stopping after "
                "the update in which the budget ran out), its last epoch scored on validation "
                f"actors {actor_list(selection['val_actors'])} ({selection['n_clips']} clips) "
                "with the classifier trained on actors "
                f"{actor_list(selection['classifier']['train_actors'])}.\n\n"
                + ablation_table(entries) + "\n\nCommand: `python tools/ablation.py --pair "
                f"{pair} --budget {args.budget}{arms} --out {args.out}`\n")
        path = write_generated(args.out / TABLE_NAME, text, script="tools/ablation.py")
        print(text)
        print(f"table written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

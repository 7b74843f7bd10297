"""Which part of the `fast` preset makes CPU training work: an equal-wall-time ablation.

Trains four variants of one pair, one after another, each for the same --budget seconds of
training on this machine (run nothing else beside it: the arms must get the same machine):

    original   the original's settings (whole 260x260 windows, 64 filters, plain generator)
    crops      the original with 64-frame random time crops
    identity   the original with a generator that starts as the identity
    fast       the fast preset (crops, identity start, 16 filters)

then scores each arm's last epoch on the validation actors, as the epoch selection does
(`evaluate.py --select-epoch --max-snapshots 1`: classifier trained on actors in neither the
validation nor the test set; the test actors are never touched), and writes the table to
<out>/ablation.md. An arm that already has its selection.json is not trained again, so an
interrupted ablation continues where it stopped.

    python tools/ablation.py --pair calm2anger --budget 1200 --out /work/runs/ablation
    python tools/ablation.py --pair calm2anger --budget 1200 --arms original fast --out runs/abl

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

from cli import UserError, arg_type, cli_main, positive_int  # noqa: E402
from corpus import DATA_DIR, parse_pair_name  # noqa: E402
from reports import ablation_table, actor_list, write_generated  # noqa: E402
from runs import (CONFIG_NAME, LOG_NAME, RESULTS_DIR, SELECTION_JSON, SNAPSHOTS_DIR,  # noqa: E402
                  read_config, read_selection)

# Each arm: what differs, and its train_cyclegan.py flags. Epoch sizes are set so that an
# epoch takes about 70-90 s on a 2-core CPU: --time-budget stops after the epoch in which the
# budget runs out, so the arms end within about one such epoch of each other.
ARMS: dict[str, tuple[str, list[str]]] = {
    "original": ("original settings", ["--preset", "original", "--steps-per-epoch", "5"]),
    "crops": ("original + 64-frame crops",
              ["--preset", "original", "--crop-frames", "64", "--steps-per-epoch", "20"]),
    "identity": ("original + identity start",
                 ["--preset", "original", "--identity-start", "--steps-per-epoch", "5"]),
    "fast": ("fast preset = crops + identity start + 16 filters", ["--preset", "fast"]),
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
    parser.add_argument("--arms", nargs="+", choices=tuple(ARMS), default=list(ARMS),
                        help="arms to train, in this order (default: all four)")
    parser.add_argument("--ravdess", type=Path, default=None,
                        help="RAVDESS folder for the scoring (default: evaluate.py's)")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="processes for the scoring's feature pass (default: 2)")
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed of every arm (default: 0)")
    return parser


def training_record(run_dir: Path) -> tuple[int, float]:
    """(updates, logged training seconds) of a finished run folder."""
    config = read_config(run_dir)
    with open(run_dir / LOG_NAME, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return config["epoch"] * config["training"]["steps_per_epoch"], sum(
        float(row["seconds"]) for row in rows)


def _run(command: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        return subprocess.call(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)


def run_arm(name: str, *, pair: str, budget: int, out: Path, ravdess: Path | None, jobs: int,
            seed: int) -> dict[str, Any] | None:
    """Train (unless already trained) and score one arm; its table entry, None on failure."""
    label, flags = ARMS[name]
    arm_root = out / name
    run_dir = arm_root / pair
    log = arm_root / f"{name}.log"
    selection_path = run_dir / SELECTION_JSON
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
        arms = "" if args.arms == list(ARMS) else " --arms " + " ".join(args.arms)
        text = (f"### Equal-wall-time ablation, {pair}: {args.budget} s of training each\n\n"
                f"Each arm trained alone on this machine for {args.budget} s (stopping after "
                "the epoch in which the budget ran out), its last epoch scored on validation "
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

"""Choose the post-hoc envelope cut (or a pitch shift) of a shipped model on the validation actors.

A model trained without the envelope constraint (the `fast` and `original` presets) smears the
harmonics of the voice into noise: voicing and words suffer. Keeping only the frequency-smooth
part of its change (config.json "inference": {"envelope_coefficients": K}, applied by
model_files.load_generator) keeps what it does to the spectral envelope and drops the smear. This
tool scores the pair's model with each candidate K (0 = as trained) on the validation actors
of its config, exactly as the epoch selection scores snapshots (`evaluate.py --select-epoch`:
classifier trained on actors in neither the validation nor the test set, the same guards and
rule; the test actors are never touched), and writes a table.

The candidates are staged in <out>/<pair>/ (snapshots/epoch_NNNN/ with NNNN = K: the model's
weights with each K), and scores staged earlier for the same weights and K are reused; nothing
in --models changes unless --install is given, which records the chosen K in
<models>/<pair>/config.json (atomically, with the validation figures it was chosen on). Check
the test actors afterwards with `python evaluate.py --pair <pair>` before committing it.

    python tools/choose_cut.py --pair calm2anger --out /work/runs/cut
    python tools/choose_cut.py --pair calm2happy calm2fearful --coefficients 0 12 24 --out runs/cut
    python tools/choose_cut.py --pair calm2anger --out /work/runs/cut --install
    python tools/choose_cut.py --pair calm2anger --pitch-ratios 1 1.1 1.15 1.2 --out runs/pitch

With --pitch-ratios the candidates are instead the model as it converts now (its recorded cut
included) followed by an envelope-preserving pitch shift of each ratio (config.json
"inference": {"pitch_ratio": r}, models.with_pitch_shift); the snapshot folders are named
epoch_<100 r>, and --install records the chosen ratio beside the cut.

Exit 0 when every pair was scored, 1 when a scoring run failed (its log is in
<out>/<pair>.log), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli import arg_type, cli_main, non_negative_int, positive_int  # noqa: E402
from errors import UserError  # noqa: E402
from corpus import parse_pair, parse_pair_name  # noqa: E402
from reports import selection_table, write_generated  # noqa: E402
from runs import (RESULTS_DIR, SELECTION_JSON, SNAPSHOTS_DIR, find_model_dir,  # noqa: E402
                  generator_path, read_config, read_selection, same_weights, write_config)
from spectro import IMAGE_SIZE  # noqa: E402

DEFAULT_COEFFICIENTS = (0, 12, 24, 48)
TABLE_NAME = "cut_selection.md"
# What a candidate sets in config.json "inference", and how its value names a snapshot folder
# (evaluate.py numbers candidates as epochs): K as it is, a pitch ratio r as round(100 r).
CUT, PITCH = "envelope_coefficients", "pitch_ratio"
EPOCH_OF = {CUT: int, PITCH: lambda ratio: round(100 * ratio)}
VALUE_OF = {CUT: int, PITCH: lambda epoch: epoch / 100}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", nargs="+", required=True, type=arg_type(parse_pair_name),
                        help="pairs whose model to score, e.g. calm2anger calm2happy")
    parser.add_argument("--coefficients", nargs="+", type=non_negative_int,
                        default=list(DEFAULT_COEFFICIENTS), metavar="K",
                        help="candidate DCT coefficients kept along frequency; 0 = the model "
                             "as trained (default: %(default)s)")
    parser.add_argument("--pitch-ratios", nargs="+", type=float, default=None, metavar="R",
                        help="score pitch shifts by these frequency ratios (0.5..2; 1 = none) "
                             "on top of the model's recorded cut, instead of envelope cuts "
                             "(default: score the --coefficients)")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="folder of the model folders (default: results/ beside the "
                             "scripts)")
    parser.add_argument("--out", type=Path, required=True,
                        help="staging folder for the candidates, selections and logs")
    parser.add_argument("--ravdess", type=Path, default=None,
                        help="RAVDESS folder for the scoring (default: evaluate.py's)")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="processes for the scoring's feature pass (default: %(default)s)")
    parser.add_argument("--install", action="store_true",
                        help="record each pair's chosen K in <models>/<pair>/config.json "
                             "(default: only stage and report)")
    return parser


def stage_candidates(model_dir: Path, staged: Path, values: list, *, option: str = CUT) -> None:
    """`staged` = a run folder (the model's config) whose snapshots are the model with each
    candidate value of `option` in its config's "inference".

    The snapshot folders are named epoch_<EPOCH_OF value> so evaluate.py's epoch numbers name
    the candidates; the staged run folder has no generator of its own, so nothing is
    installed over a model.
    """
    config = read_config(model_dir)
    if staged.exists():
        shutil.rmtree(staged)
    for value in values:
        folder = staged / SNAPSHOTS_DIR / f"epoch_{EPOCH_OF[option](value):04d}"
        folder.mkdir(parents=True)
        shutil.copyfile(generator_path(model_dir), generator_path(folder))
        inference = {**(config.get("inference") or {}), option: value}
        write_config(folder, {**config, "inference": inference})
    write_config(staged, config)


def scored_already(model_dir: Path, staged: Path, values: list, *, option: str = CUT) -> bool:
    """Whether `staged` holds a finished selection of these candidates for the same weights (so
    an interrupted or repeated run, or --install after a look at the table, does not
    rescore)."""
    selection = read_selection(staged / SELECTION_JSON) if (staged / SELECTION_JSON).is_file() \
        else None
    wanted = sorted(EPOCH_OF[option](value) for value in values)
    if selection is None or sorted(r["epoch"] for r in selection["epochs"]) != wanted:
        return False
    snapshot = staged / selection["epochs"][0]["snapshot"]
    return same_weights(generator_path(model_dir), generator_path(snapshot))


def score(pair: str, *, staged_root: Path, ravdess: Path | None, jobs: int, log: Path) -> int:
    command = [sys.executable, "evaluate.py", "--pair", pair, "--select-epoch", "--models",
               str(staged_root), "--out", str(RESULTS_DIR), "--jobs", str(jobs), "--force"]
    if ravdess is not None:
        command += ["--ravdess", str(ravdess)]
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        return subprocess.call(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)


def install_cut(model_dir: Path, staged: Path, selection: dict[str, Any], *,
                option: str = CUT) -> int | float:
    """Record the chosen value of `option` in the model's config.json (with the validation
    figures it was chosen on); returns it."""
    chosen = selection["chosen_epoch"]
    row = next(r for r in selection["epochs"] if r["epoch"] == chosen)
    snapshot = staged / row["snapshot"]
    if not same_weights(generator_path(model_dir), generator_path(snapshot)):
        raise UserError(f"{model_dir}: its generator changed since the candidates were staged in "
                        f"{staged}; run this tool again")
    config = read_config(model_dir)
    value = VALUE_OF[option](chosen)
    record = {"val_actors": selection["val_actors"],
              "candidates": [VALUE_OF[option](r["epoch"]) for r in selection["epochs"]],
              "judged_target": row["judged_target"], "voiced_fraction": row["voiced_fraction"],
              "word_error_rate": row.get("word_error_rate"), "mcd_db": row["mcd_to_target"],
              "guard_held": selection["guard_held"], "tool": "tools/choose_cut.py"}
    inference = dict(config.get("inference") or {})
    if option == CUT:  # the cut replaces everything chosen before it (a pitch shift came after)
        inference = {CUT: value, "chosen_on": record}
    else:
        inference.update({option: value, f"{option}_chosen_on": record})
    config["inference"] = inference
    write_config(model_dir, config)
    return value


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    option = PITCH if args.pitch_ratios else CUT
    values = sorted(set(args.pitch_ratios or args.coefficients))
    if option == PITCH and not all(0.5 <= r <= 2.0 for r in values):
        raise UserError(f"--pitch-ratios must be from 0.5 to 2.0, got {values}")
    flag = "--pitch-ratios" if option == PITCH else "--coefficients"
    what = ("followed by a pitch shift of each ratio (1 = none)" if option == PITCH
            else "with the envelope cut at each K (0 = as trained)")
    failed = False
    for pair in args.pair:
        _, source, target = parse_pair(pair)
        model_dir = find_model_dir(args.models, source, target)
        image_size = int(read_config(model_dir).get("image_size", IMAGE_SIZE))
        if option == CUT and max(values) > image_size:
            raise UserError(f"--coefficients must be at most the image size {image_size}, got "
                            f"{max(values)}")
        staged = args.out / pair
        selection_path = staged / SELECTION_JSON
        log = args.out / f"{pair}.log"
        args.out.mkdir(parents=True, exist_ok=True)
        if scored_already(model_dir, staged, values, option=option):
            print(f"{pair}: reusing the scores in {selection_path} (same weights, same "
                  "candidates)")
        else:
            stage_candidates(model_dir, staged, values, option=option)
            status = score(pair, staged_root=args.out, ravdess=args.ravdess, jobs=args.jobs,
                           log=log)
            if status != 0:
                print(f"{pair}: scoring failed (exit {status}); see {log}", file=sys.stderr)
                failed = True
                continue
        selection = read_selection(selection_path)
        text = (selection_table(selection, candidate="100 r" if option == PITCH else "K")
                + f"\n\nCandidates: the model in {model_dir} {what}. Command: `python "
                f"tools/choose_cut.py --pair {pair} {flag} {' '.join(f'{v:g}' for v in values)} "
                f"--out {args.out}`\n")
        path = write_generated(staged / TABLE_NAME, text, script="tools/choose_cut.py")
        print(text)
        chosen = VALUE_OF[option](selection["chosen_epoch"])
        print(f"{pair}: {option} = {chosen:g} chosen; table in {path}")
        if args.install:
            value = install_cut(model_dir, staged, selection, option=option)
            print(f"{pair}: recorded inference.{option} = {value:g} in "
                  f"{model_dir / 'config.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

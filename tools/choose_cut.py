"""Choose the post-hoc envelope cut (or a pitch shift) of a shipped model on the validation actors.

A model trained without the envelope constraint (the `fast` and `original` presets) smears the
harmonics of the voice into noise: voicing and words suffer. Keeping only the frequency-smooth
part of its change (config.json "inference": {"envelope_coefficients": K}, applied by
inference.open_converter) keeps what it does to the spectral envelope and drops the smear. This
tool scores the pair's model with each candidate K (0 = as trained) on the validation actors
of its config, exactly as the epoch selection scores snapshots (`evaluate.py --select-epoch`:
classifier trained on actors in neither the validation nor the test set, the same guards and
rule; the test actors are never touched), and writes a table.

Each candidate is the model opened with that value in its settings (selection.Candidate:
nothing is copied or staged); the scores go to <out>/<pair>/selection.json with a digest of the
model's weights, so a repeated run for the same weights and values reuses them. Nothing in
--models changes unless --install is given, which records the chosen K in
<models>/<pair>/config.json (atomically, with the validation figures it was chosen on, keeping
the rest of its "inference"). Check the test actors afterwards with `python evaluate.py --pair
<pair>` before committing it.

    python tools/choose_cut.py --pair calm2anger --out /work/runs/cut
    python tools/choose_cut.py --pair calm2happy calm2fearful --coefficients 0 12 24 --out runs/cut
    python tools/choose_cut.py --pair calm2anger --out /work/runs/cut --install
    python tools/choose_cut.py --pair calm2anger --pitch-ratios 1 1.1 1.15 1.2 --out runs/pitch

With --pitch-ratios the candidates are instead the model as it converts now (its recorded cut
included) followed by a pitch shift of each ratio that keeps the formants (config.json
"inference": {"pitch_ratio": r}, pitch.shift_pitch after Griffin-Lim), numbered 100 r in the
table, and --install records the chosen ratio beside the cut.

With --level-fractions the candidates are the model as it converts now followed by a change of
loudness (config.json "inference": {"level_change_db": g}): g is each fraction f of how much
louder the target emotion is spoken than the source on the model's own training actors
(metrics.level_difference_db; RAVDESS records every actor at one gain), so the validation and
test actors never set it; numbered 100 f in the table. Conversions keep the input's
loudness unless the user asks for this change (convert.py --level-change model) and the judge
does not hear the level, so the candidates score alike: the option now only records the
learned amount for users who want it.

    python tools/choose_cut.py --pair calm2anger --level-fractions 0 0.5 1 --out runs/level

Exit 0 when every pair was scored, 2 for a usage error, 1 when a run failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.cli import (arg_type, cli_main, non_negative_int,  # noqa: E402
                                 parser_from_doc, positive_int)
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    parse_pair, parse_pair_name)
from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.data.downloads import file_digest  # noqa: E402
from spectrogan.evaluation.reports import selection_table, write_generated  # noqa: E402
from spectrogan.model.runs import (RESULTS_DIR, SELECTION_JSON, find_model_dir,  # noqa: E402
                                   generator_path, read_config, read_selection, read_settings,
                                   write_settings)
from spectrogan.stages.pitch_shift import PitchShift  # noqa: E402
from spectrogan.evaluation.selection import Candidate, select_candidate  # noqa: E402
from spectrogan.audio.spectro import IMAGE_SIZE  # noqa: E402

DEFAULT_COEFFICIENTS = (0, 12, 24, 48)
TABLE_NAME = "cut_selection.md"
# What a candidate sets in config.json "inference".
CUT, PITCH, LEVEL = "envelope_coefficients", "pitch_ratio", "level_change_db"
# The candidate's number in the table: K as it is, a pitch ratio r as round(100 r), a level
# change as round(100 f) for the fraction f of the training actors' level difference.
CANDIDATE_COLUMN = {CUT: "K", PITCH: "100 r", LEVEL: "100 f"}


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
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
    parser.add_argument("--level-fractions", nargs="+", type=float, default=None, metavar="F",
                        help="score level changes of these fractions (0..1.5; 0 = none) of the "
                             "training actors' mean level difference between the two "
                             "emotions, on top of the model's recorded cut and shift, instead "
                             "of envelope cuts")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="folder of the model folders (default: results/ beside the "
                             "scripts)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for each pair's selection.json and table, and the "
                             "feature cache")
    parser.add_argument("--ravdess", type=Path, default=None,
                        help="RAVDESS folder for the scoring (default: evaluate.py's)")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="processes for the scoring's feature pass (default: %(default)s)")
    parser.add_argument("--install", action="store_true",
                        help="record each pair's chosen K in <models>/<pair>/config.json "
                             "(default: only stage and report)")
    return parser


def candidate_settings(model_dir: Path, config: dict[str, Any], option: str, value: float
                       ) -> Any:
    """The model's ConversionSettings with `option` set to `value`, read as its config.json
    would hold it (runs.read_settings); UserError when the value does not fit the model (a
    pitch shift asked of a WORLD model)."""
    inference = {**(config.get("inference") or {}),
                 option: int(value) if option == CUT else float(value)}
    try:
        return read_settings(model_dir, {**config, "inference": inference})
    except UserError as exc:
        raise UserError(f"{model_dir}: {option} {value:g} does not fit this model ({exc})"
                        ) from None


def cut_candidates(model_dir: Path, candidates: dict[int, float], *, option: str = CUT
                   ) -> list[Candidate]:
    """The model in `model_dir` with each candidate value of `option` in its settings, the rest
    of its config's "inference" kept; `candidates` maps each candidate's number
    (CANDIDATE_COLUMN) to its value."""
    config = read_config(model_dir)

    def opener(value: float) -> Any:
        settings = candidate_settings(model_dir, config, option, value)

        def open_candidate() -> Any:
            from spectrogan.conversion.inference import open_converter

            return open_converter(model_dir, config=config, settings=settings)
        return open_candidate

    return [Candidate(number, f"{CANDIDATE_COLUMN[option]} = {number} ({option} {value:g})",
                      opener(value)) for number, value in sorted(candidates.items())]


def scored_already(model_dir: Path, selection_path: Path, candidates: dict[int, float], *,
                   option: str = CUT) -> bool:
    """Whether `selection_path` holds a finished selection of these candidate values for the
    model's present weights (so a repeated run, or --install after a look at the table, does
    not rescore)."""
    if not selection_path.is_file():
        return False
    selection = read_selection(selection_path)
    scored = selection.get("candidates") or {}
    return (selection.get("option") == option
            and {int(k): v for k, v in scored.items()} == candidates
            and selection.get("generator_sha256") == file_digest(generator_path(model_dir)))


def write_selection(path: Path, selection: dict[str, Any]) -> Path:
    """selection.json of the candidates, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(selection, indent=2) + "\n")
    return path


def install_cut(model_dir: Path, selection: dict[str, Any], candidates: dict[int, float], *,
                option: str = CUT, basis: dict[str, Any] | None = None) -> int | float:
    """Record the chosen value of `option` in the model's config.json (with the validation
    figures it was chosen on, and `basis`: what the candidates were derived from); returns
    it. UserError when the model's weights changed since they were scored."""
    if selection.get("generator_sha256") != file_digest(generator_path(model_dir)):
        raise UserError(f"{model_dir}: its generator changed since the candidates were scored; "
                        "run this tool again")
    chosen = selection["chosen_epoch"]
    row = next(r for r in selection["epochs"] if r["epoch"] == chosen)
    config = read_config(model_dir)
    value = candidates[chosen]
    record = {"val_actors": selection["val_actors"],
              "candidates": [candidates[r["epoch"]] for r in selection["epochs"]],
              **(basis or {}),
              "judged_target": row["judged_target"], "voiced_fraction": row["voiced_fraction"],
              "word_error_rate": row.get("word_error_rate"), "mcd_db": row["mcd_to_target"],
              "guard_held": selection["guard_held"], "tool": "tools/choose_cut.py"}
    settings = candidate_settings(model_dir, config, option, value)
    if option == CUT:
        # A pitch shift was chosen on top of the old cut: it goes with it. Every other
        # setting (the vocoder, the prosody, the learned level) stays.
        write_settings(model_dir, settings.without(PitchShift), records={"chosen_on": record},
                       drop_records=(f"{PITCH}_chosen_on",))
    else:
        write_settings(model_dir, settings, records={f"{option}_chosen_on": record})
    return value


def pair_candidates(option: str, values: list[float], *, model_dir: Path, source: str,
                    target: str, ravdess: Path | None) -> tuple[dict[int, float], dict[str, Any]]:
    """Candidate number -> value of `option` for one pair's model, and what they rest on.

    Level changes are fractions of the mean level difference between `target` and `source` on
    the model's own training actors (metrics.level_difference_db), so the validation and test
    actors never set them.
    """
    if option == CUT:
        return {int(k): int(k) for k in values}, {}
    if option == PITCH:
        return {round(100 * r): float(r) for r in values}, {}
    from spectrogan.data.corpus import default_ravdess, scan_ravdess
    from spectrogan.evaluation.metrics import level_difference_db

    actors = read_config(model_dir).get("train_actors")
    if not actors:
        raise UserError(f"{model_dir}: its config names no train_actors to take the level "
                        "difference from; re-export the model with train_cyclegan.py")
    folder = ravdess or default_ravdess()
    difference = level_difference_db(scan_ravdess(folder), source=source, target=target,
                                     actors=actors)
    basis = {"training_level_difference_db": round(difference, 2), "train_actors": actors,
             "fractions": values}
    return {round(100 * f): round(f * difference, 2) for f in values}, basis


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.pitch_ratios and args.level_fractions:
        raise UserError("--pitch-ratios and --level-fractions score different things; pass one")
    option = PITCH if args.pitch_ratios else LEVEL if args.level_fractions else CUT
    values = sorted(set(args.pitch_ratios or args.level_fractions or args.coefficients))
    if option == PITCH and not all(0.5 <= r <= 2.0 for r in values):
        raise UserError(f"--pitch-ratios must be from 0.5 to 2.0, got {values}")
    if option == LEVEL and not all(0.0 <= f <= 1.5 for f in values):
        raise UserError(f"--level-fractions must be from 0 to 1.5, got {values}")
    flag = {PITCH: "--pitch-ratios", LEVEL: "--level-fractions", CUT: "--coefficients"}[option]
    what = {PITCH: "followed by a pitch shift of each ratio (1 = none)",
            LEVEL: "with its level changed by each fraction of the training actors' level "
                   "difference (0 = none)",
            CUT: "with the envelope cut at each K (0 = as trained)"}[option]
    made: list[Any] = []

    def evaluator() -> Any:
        """One Evaluator for every pair (its classifier and feature cache are shared)."""
        if not made:
            from spectrogan.data.corpus import default_ravdess, scan_ravdess
            from spectrogan.evaluation.metrics import FeatureCache, load_recogniser
            from spectrogan.evaluation.scoring import EvalSettings, Evaluator

            ravdess = args.ravdess or default_ravdess()
            made.append(Evaluator(files=scan_ravdess(ravdess), root=ravdess,
                                  cache=FeatureCache(args.out / ".cache" / "eval_features.npz"),
                                  settings=EvalSettings(jobs=args.jobs),
                                  recogniser=load_recogniser()))
        return made[0]

    for pair in args.pair:
        _, source, target = parse_pair(pair)
        model_dir = find_model_dir(args.models, source, target)
        image_size = int(read_config(model_dir).get("image_size", IMAGE_SIZE))
        if option == CUT and max(values) > image_size:
            raise UserError(f"--coefficients must be at most the image size {image_size}, got "
                            f"{max(values)}")
        candidates, basis = pair_candidates(option, values, model_dir=model_dir, source=source,
                                            target=target, ravdess=args.ravdess)
        selection_path = args.out / pair / SELECTION_JSON
        if scored_already(model_dir, selection_path, candidates, option=option):
            print(f"{pair}: reusing the scores in {selection_path} (same weights, same "
                  "candidates)")
        else:
            config = read_config(model_dir)
            selection = select_candidate(
                evaluator(), pair, cut_candidates(model_dir, candidates, option=option),
                val_actors=config.get("val_actors") or DEFAULT_VAL_ACTORS,
                test_actors=config.get("test_actors") or DEFAULT_TEST_ACTORS)
            selection.update({"option": option, "candidates": candidates,
                              "generator_sha256": file_digest(generator_path(model_dir))})
            write_selection(selection_path, selection)
        selection = read_selection(selection_path)
        note = (f" The training actors' level difference, {target} minus {source}: "
                f"{basis['training_level_difference_db']:+.1f} dB." if basis else "")
        text = (selection_table(selection, candidate=CANDIDATE_COLUMN[option])
                + f"\n\nCandidates: the model in {model_dir} {what}.{note} Command: `python "
                f"tools/choose_cut.py --pair {pair} {flag} {' '.join(f'{v:g}' for v in values)} "
                f"--out {args.out}`\n")
        path = write_generated(args.out / pair / TABLE_NAME, text, script="tools/choose_cut.py")
        print(text)
        chosen = candidates[selection["chosen_epoch"]]
        print(f"{pair}: {option} = {chosen:g} chosen; table in {path}")
        if args.install:
            value = install_cut(model_dir, selection, candidates, option=option, basis=basis)
            print(f"{pair}: recorded inference.{option} = {value:g} in "
                  f"{model_dir / 'config.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

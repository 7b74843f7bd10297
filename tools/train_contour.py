"""Train the contour model: one network that predicts, for any of six emotions, the pitch
contour, the local speaking rate and the loudness contour along the sentence from a calm
clip's own prosody (--energy-weight 0: pitch and rate alone, as the first models).

Reads the frame measurements of tools/contour_data.py (run it first), pairs every emotional
take of both corpora with the same actor's calm (CREMA-D: neutral) take of the same sentence,
aligns each pair by dynamic time warping, trains on the training actors and stops on the
validation actors (corpus.SPEAKER_SPLIT; the test actors are never read). Prints and records,
per emotion on the validation actors, the model's error against the global statistics (a
pitch shift, a range ratio and a rate per emotion fitted on the same training frames) and
against leaving the input as it is. Writes <out>/contour_model.npz and <out>/config.json
(the network, its inputs, the training record and those figures); an existing model there is
replaced only with --force.

    python tools/contour_data.py --out runs/contours
    python tools/train_contour.py --frames runs/contours --out results/contour_model

With --recalibrate DIR, the network of the model in DIR is kept as it is (no training) and
only its calibration (the gain and offsets that undo the network's regression to the mean)
and its validation figures are fitted again, into --out; --calibration clips fits it to the
real takes' median pitch, range and duration clip by clip:

    python tools/train_contour.py --frames runs/contours --recalibrate results/contour_model \
        --calibration clips --out runs/contour_clips

Exit 0 when the model is written, 2 for a usage error, 1 when a write failed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.cli import cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.core.paths import RESULTS_DIR  # noqa: E402
from spectrogan.data.corpora import add_corpus_arguments, corpus_folders  # noqa: E402
from spectrogan.data.corpora import scan_corpora  # noqa: E402
from spectrogan.data.corpus import DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS  # noqa: E402
from spectrogan.stages.contour_prosody import CALIBRATIONS, MODEL_CONFIG, MODEL_FILE  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("--frames", type=Path, required=True, metavar="DIR",
                        help="folder written by tools/contour_data.py")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "contour_model",
                        metavar="DIR", help="model folder to write (default: %(default)s)")
    add_corpus_arguments(parser)
    parser.add_argument("--epochs", type=positive_int, default=60,
                        help="most epochs (default: %(default)s); training stops earlier when "
                             "the validation loss has not improved for 8")
    parser.add_argument("--time-budget", type=float, default=math.inf, metavar="SECONDS",
                        help="stop after the epoch that passes this many seconds (default: "
                             "none)")
    parser.add_argument("--channels", type=positive_int, default=48,
                        help="channels of every layer (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--energy-weight", type=float, default=1.0, metavar="W",
                        help="weight of the loudness contour's error in the loss beside the "
                             "pitch contour's; 0 trains a network without the loudness "
                             "output (default: %(default)s)")
    parser.add_argument("--calibration", choices=CALIBRATIONS, default="frames",
                        help="how the calibration is fitted on the training actors: frame by "
                             "frame, or clip by clip to the real takes' median pitch, range "
                             "and duration (default: %(default)s, the shipped model's; see "
                             "docs/training.md)")
    parser.add_argument("--recalibrate", type=Path, default=None, metavar="DIR",
                        help="keep the network of the contour model in DIR and fit only its "
                             "calibration again (default: train a new network)")
    parser.add_argument("--force", action="store_true",
                        help="replace a contour model already in --out (a folder holding "
                             "anything else is never replaced)")
    return parser


def _cell(errors: dict[str, float]) -> str:
    cell = f"{errors['contour_semitones']:.2f} / {errors['rate_octaves']:.3f}"
    return cell + (f" / {errors['energy_db']:.1f}" if "energy_db" in errors else "")


def _table(name: str, figures: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [f"{name}: mean absolute error on the validation actors, contour (semitones) / "
             "rate (octaves) / loudness contour (dB)", "| emotion | pairs | input kept | "
             "global statistics | network alone | contour model (calibrated) |",
             "|---|---|---|---|---|---|"]
    for emotion, model in figures["model"].items():
        cells = [_cell(figures[k][emotion])
                 for k in ("identity", "global", "network alone", "model")]
        lines.append(f"| {emotion} | {model['pairs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _validation_figures(network: Any, val: list[Any], fitted: dict[str, tuple]
                        ) -> dict[str, dict[str, dict[str, float]]]:
    """The errors on the validation pairs of keeping the input, of the global statistics
    `fitted` on the training pairs, of the network alone and of the calibrated model."""
    import numpy as np

    from spectrogan.training.contour_training import errors

    def global_prediction(e):
        shift, ratio, rate, energy_offset, energy_slope = fitted[e.emotion]
        return np.stack([shift + ratio * e.inputs[:, 0], np.full(len(e.inputs), rate),
                         energy_offset + energy_slope * e.inputs[:, 2]], 1)

    return {"identity": errors(val, lambda e: np.stack(
                [e.inputs[:, 0], np.zeros(len(e.inputs)), np.zeros(len(e.inputs))], 1)),
            "global": errors(val, global_prediction),
            "network alone": errors(val, lambda e: network.raw_predict(e.inputs, e.emotion)),
            "model": errors(val, lambda e: network.predict(e.inputs, e.emotion))}


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.frames.is_dir():
        raise UserError(f"--frames {args.frames}: no such folder; measure the clips first with "
                        "`python tools/contour_data.py --out DIR`")
    held = {path.name for path in args.out.iterdir()} if args.out.is_dir() else set()
    if held - {MODEL_FILE, MODEL_CONFIG}:
        # the model folder is replaced as a whole: never one that holds anything else
        raise UserError(f"{args.out}: holds other files than a contour model; choose a new "
                        "or empty --out")
    if held and not args.force:
        raise UserError(f"{args.out}: holds a contour model; pass --force to replace it or "
                        "choose another --out")
    if not math.isinf(args.time_budget) and args.time_budget <= 0:
        raise UserError(f"--time-budget must be positive, got {args.time_budget}")
    if not 0.0 <= args.energy_weight < math.inf:
        raise UserError(f"--energy-weight must be 0 or more, got {args.energy_weight}")
    from spectrogan.stages.contour_prosody import (ContourNetwork, load_contour_network,
                                                   save_contour_network)
    from spectrogan.training.contour_training import (ContourTraining, build_examples,
                                                      calibration, contour_pairs,
                                                      fit_contour_network, global_statistics)

    kept = None if args.recalibrate is None else load_contour_network(args.recalibrate)
    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    files = [f for f in scan_corpora(folders)
             if f.actor not in DEFAULT_TEST_ACTORS and f.intensity != "low"]
    started = time.monotonic()
    examples = build_examples(contour_pairs(files), args.frames)
    train = [e for e in examples if e.actor not in DEFAULT_VAL_ACTORS]
    val = [e for e in examples if e.actor in DEFAULT_VAL_ACTORS]
    if not train or not val:
        raise UserError(f"{args.frames}: no measured pairs of training and validation actors; "
                        "run tools/contour_data.py over both")
    print(f"{len(train)} training and {len(val)} validation pairs aligned in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    if kept is None:
        settings = ContourTraining(channels=args.channels, epochs=args.epochs, seed=args.seed,
                                   time_budget_s=args.time_budget,
                                   energy_weight=args.energy_weight)
        network, record = fit_contour_network(train, val, settings,
                                              verbose=1 if sys.stdout.isatty() else 2)
        record = {**record, "settings": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(settings).items()
            if not (isinstance(v, float) and math.isinf(v))}}
    else:
        network, record = kept, {**kept.config.get("training", {}),
                                 "recalibrated_from": str(args.recalibrate)}
    network = ContourNetwork(network.weights, network.dilations, {
        **network.config, "calibration": calibration(network, train, method=args.calibration),
        "calibration_method": args.calibration})
    fitted = global_statistics(train)
    figures = _validation_figures(network, val, fitted)
    config = {**network.config, "training": {
        **record, "train_pairs": len(train), "val_pairs": len(val),
        "train_actors": sorted({e.actor for e in train}),
        "val_actors": sorted({e.actor for e in val}), "corpora": sorted(folders)},
        "global_statistics": {k: dict(zip(("shift_octaves", "spread_ratio", "log2_rate",
                                            "energy_offset", "energy_slope"), v))
                              for k, v in fitted.items()},
        "validation_errors": figures}
    save_contour_network(args.out, ContourNetwork(network.weights, network.dilations, config))
    print(_table("contour model", figures))
    if kept is not None:
        print(f"recalibrated the network of {args.recalibrate}; wrote {args.out}")
    else:
        print(f"trained {record['epochs_run']} epochs (best {record['best_epoch']}) in "
              f"{record['seconds']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

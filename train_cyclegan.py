"""Train a SpectroGAN CycleGAN: calm spectrograms <-> another emotion's, resumable, with fit().

One `keras.Model` (cyclegan.CycleGAN) holds both generators and both discriminators and updates
all four in one fused training step (least-squares GAN, cycle L1 x 10, identity L1 x 5,
discriminator loss halved, a history pool of 50 generated images per domain, Adam 2e-4 /
beta1 0.5), run through Keras `fit()` with its usual progress bar. The step runs with the
TensorFlow backend (default; XLA-compiled where that is faster) and with KERAS_BACKEND=jax.

Data comes from `data/<pair>.npz` (made by data_prep.py); each step draws a random batch of
source (A) images and an independent random batch of target (B) images of the training
actors, reshuffled every epoch. The data set's validation actors (data_prep.py --val-actors,
default 15 and 16) are the held-out speakers here: cycle and identity L1 on them are reported
every epoch (val_cycle_l1, val_identity_l1) and the sample clips come from them (a data set
without validation images falls back to its test actors, and says so). The test actors are
left alone for the final report (evaluate.py).

After every epoch (every --checkpoint-every epochs for the first two) the run folder
(default results/<pair>) gets the two generators as inference files (model_files.load_generator
reads them), a resume checkpoint, a CSV row and
TensorBoard logs; every --sample-every epochs a samples/epoch_NNNN folder with
input | converted | cycled-back spectrogram plots and Griffin-Lim audio of a few held-out
clips; and every --snapshot-every epochs, and after the last (none with 0), a snapshot
snapshots/epoch_NNNN/ = config.json (the run's, plus "epoch": N) and
generator_AtoB.weights.h5 (source -> target, float16, half the size): a complete model
folder for model_files.load_generator, convert.py and evaluate.py --select-epoch, which picks the
epoch to ship on the validation actors. config.json lists train_actors, val_actors and
test_actors.

Killing the process at any moment (even SIGKILL) loses at most the epochs since the last
checkpoint (the current one by default): every file is written to a temporary name and
renamed, and `--resume` continues from the last checkpointed epoch with the run's stored
settings. --time-budget stops cleanly after the epoch in which the budget runs out. A folder
holding a model but no checkpoint (results/calm2anger as shipped) is never trained over.

Presets (--preset): "fast" (the default) trains on random 64-frame time crops with an
identity-start generator and narrower networks (about 1/60 of the FLOP per update: thousands
of updates an hour on a laptop CPU); "envelope" is fast with the generator's correction kept
to the spectral envelope (it cannot smear the harmonics, so voicing and words survive);
"original" trains the 2020 project's model on whole windows (1.37 TFLOP per update: days on
a CPU). Flags given with a preset override its values.

Usage examples:
    python train_cyclegan.py --pair calm2sad --epochs 1000 --time-budget 7200   # 2 h, CPU
    python train_cyclegan.py --pair calm2sad --preset envelope --epochs 1000 --time-budget 7200
    python train_cyclegan.py --pair calm2sad --preset original    # the 2020 settings: days
    python train_cyclegan.py --pair calm2sad --resume              # continue after a stop
    python train_cyclegan.py --pair calm2sad --resume --epochs 200  # train for longer
    python train_cyclegan.py --pair calm2anger --out runs/calm2anger --epochs 200 \\
        --snapshot-every 25      # results/calm2anger holds the shipped model
    python train_cyclegan.py --pair calm2sad --preset original --res-blocks 9 --batch-size 4
    KERAS_BACKEND=jax python train_cyclegan.py --pair calm2anger --devices all \\
        --mixed-precision bfloat16 --batch-size 8
    python train_cyclegan.py --pair calm2anger --filters 8 --res-blocks 1 --epochs 1 \\
        --steps-per-epoch 20 --out /tmp/smoke      # a quick CPU smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spectrogan.core.cli import arg_type, cli_main
from spectrogan.core.errors import UserError
from spectrogan.data.corpus import (ALL_PAIRS, DATA_DIR, DEFAULT_PAIRS, DOMAINS, EMOTIONS, SPLITS,
                                    STFT_SETTINGS, load_pair_npz, npz_key, parse_pair,
                                    parse_pair_name)
from spectrogan.model.runs import (CHECKPOINT_NAME, CONFIG_NAME, DIRECTIONS, RESULTS_DIR, RUN_DIRS,
                                   RUN_FILES, generator_path, read_config)
from spectrogan.model.settings import DEFAULT_PRESET, PRESETS, TRAIN_PRECISIONS, TrainingSettings

SUPPORTED_BACKENDS = ("tensorflow", "jax")


# --- Data ------------------------------------------------------------------------------------
def load_training_data(path: str | os.PathLike, pair: str) -> dict[str, Any]:
    """Load `<data_dir>/<pair>.npz` through corpus.load_pair_npz and check it is that pair.

    Returns the npz dict (float16 (N, IMAGE_SIZE, IMAGE_SIZE) image stacks in [-1, 1]).
    Raises UserError (one line, naming the data_prep command) when missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        out = "" if path.parent == DATA_DIR else f" --out {path.parent}"
        raise UserError(f"{path}: no such data set; make it with `python data_prep.py "
                        f"--ravdess ../shared/data/ravdess --pair {pair}{out}` (or pass the "
                        "--data-dir that holds it)")
    data = load_pair_npz(path)
    if data.get("pair", pair) != pair:
        raise UserError(f"{path}: holds pair {data['pair']!r}, not {pair!r}; pass the right "
                        "--data-dir or rebuild it with data_prep.py")
    for key in ("train_A", "train_B"):
        if len(data[key]) == 0:
            raise UserError(f"{path}: {key} holds no images; rebuild it with data_prep.py")
    return data


def heldout_split(data: dict[str, Any]) -> str:
    """The split the per-epoch held-out metrics and sample clips come from: "val" (the
    validation actors) when the data set has validation images in both domains, else
    "test" (a data set made with --val-actors none, or the original's converted data)."""
    return "val" if all(len(data.get(npz_key("val", d), ())) for d in DOMAINS) else "test"


# --- Run folder ------------------------------------------------------------------------------
def resolve_settings(args: argparse.Namespace, stored: dict[str, Any] | None
                     ) -> TrainingSettings:
    """The run's settings from parsed flags (None: not given) and the resumed run's stored
    config (see TrainingSettings.resolve; UserError for a change a resume may not make)."""
    given = {name: getattr(args, name) for name in TrainingSettings.names()}
    return TrainingSettings.resolve(given, (stored or {}).get("training"), where=args.out)


def inspect_out_folder(out: Path, *, resume: bool, force: bool
                       ) -> tuple[dict[str, Any] | None, list[Path]]:
    """Check the run folder before anything is written.

    Returns (the stored config when resuming a run there, the old run's artefacts that
    --force will delete once every other check has passed). A folder holding a run
    (config.json or any run artefact) is only reused with --resume (continue it) or --force
    (start over; only the run's own files go, nothing else in the folder).
    """
    if resume and force:
        raise UserError("--resume and --force contradict each other; pass one")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: is a file; --out must be a folder")
    present = [out / name for name in (*RUN_FILES, *RUN_DIRS) if (out / name).exists()]
    if not present:
        if resume:
            # Starting a new run here would begin hours (or days) of training nobody asked
            # for: a typo in --out or --pair is the likelier cause.
            raise UserError(f"--resume: there is no run to resume in {out} (no {CONFIG_NAME} "
                            "or checkpoint); check --out and --pair, or drop --resume to start "
                            "a new run there")
        return None, []
    if force:
        return None, present
    has_checkpoint = (out / CHECKPOINT_NAME).is_file()
    generators = [generator_path(out, d) for d in DIRECTIONS
                  if generator_path(out, d).is_file()]
    if not has_checkpoint and generators:
        # A shipped or copied model folder: weights without resume state. Training from
        # epoch 1 would overwrite the model someone trained.
        raise UserError(f"{out}: holds a trained model ({generators[0].name}) but no resume "
                        f"state ({CHECKPOINT_NAME}), so it cannot be continued and training "
                        "there would overwrite it; train into another --out (or pass --force "
                        "to replace the model)")
    if not resume:
        state = "" if has_checkpoint or generators else " with no finished epoch (interrupted)"
        raise UserError(f"{out}: holds a training run{state}; pass --resume to continue it or "
                        "--force to start over there (or choose another --out)")
    if not (out / CONFIG_NAME).is_file():
        raise UserError(f"{out}: has run files but no {CONFIG_NAME}; cannot resume, "
                        "pass --force to start over")
    stored = read_config(out)
    if not has_checkpoint:
        print(f"note: {out}: the run there has no finished epoch; starting it again from "
              "epoch 1 with its stored settings", file=sys.stderr)
    return stored, []


def build_config(*, pair: str, source: str, target: str, image_size: int,
                 settings: TrainingSettings, data: dict[str, Any], data_path: Path,
                 backend: str, beta_1: float) -> dict[str, Any]:
    """The run's config.json (the contract in notes/common.md plus every training setting).

    train_actors / val_actors / test_actors are the actors whose images are in the data
    set's train / val / test split (val_actors [] when it has none); heldout_split says which
    split the per-epoch metrics and samples used (see heldout_split).
    """
    def actors(split: str) -> list[int]:
        return sorted({int(a) for domain in DOMAINS
                       for a in np.asarray(data.get(npz_key(split, domain, "actors"), ())).ravel()})

    return {
        "pair": pair, "source": source, "target": target, "image_size": int(image_size),
        "generator": settings.generator_config(),
        "discriminator": {"filters": settings.filters},
        "stft": dict(STFT_SETTINGS),
        "train_actors": actors("train"), "val_actors": actors("val"),
        "test_actors": actors("test"), "heldout_split": heldout_split(data),
        "training": {**settings.as_dict(), "beta_1": beta_1},
        "data": {"path": str(data_path),
                 **{npz_key(split, domain): len(data.get(npz_key(split, domain), ()))
                    for split in SPLITS for domain in DOMAINS}},
        "keras_backend": backend,
    }


# --- Command line ----------------------------------------------------------------------------
class _OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes end as one `error:` line (exit 2), not a usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _preset_text(name: str) -> str:
    """'fast: crop_frames=64, ...' for --help: every setting some preset changes."""
    values = TrainingSettings.for_preset(name).as_dict()
    keys = sorted({key for preset in PRESETS.values() for key in preset})
    return f"{name}: " + ", ".join(f"{key}={values[key]}" for key in keys)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (unset flags stay None: --resume takes the stored run's values,
    a new run its preset's). Defaults shown are those of the default preset."""
    d = TrainingSettings.for_preset(DEFAULT_PRESET).as_dict()
    parser = _OneLineErrorParser(
        prog="train_cyclegan.py", description=__doc__.split("\n\n")[0],
        epilog="Usage examples:" + __doc__.split("Usage examples:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", required=True, type=arg_type(parse_pair_name),
                        choices=ALL_PAIRS, metavar="SRC2DST",
                        help="emotion pair to learn (A = source, B = target), any two of "
                             f"{', '.join(EMOTIONS)}, e.g. "
                             f"{', '.join(DEFAULT_PAIRS[:3])} (required)")
    parser.add_argument("--preset", choices=tuple(PRESETS), default=None,
                        help="bundle of settings: 'fast' trains on random 64-frame crops with "
                             "an identity-start generator and narrower networks (1/63 of the "
                             "FLOP and 1/29 of the time per update on a 2-core CPU: a usable "
                             "model in about two hours on a laptop CPU); 'envelope' is fast "
                             "with the generator's correction kept to the spectral envelope, so "
                             "the harmonics, voicing and words of the input survive; 'original' "
                             "is the 2020 project's (about 20 s an update on a CPU: days; for "
                             "GPUs and comparisons); flags given with it override its values; "
                             "the defaults shown for the other flags are the default preset's "
                             f"(default: {DEFAULT_PRESET}; "
                             + "; ".join(_preset_text(name) for name in PRESETS) + ")")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding <pair>.npz from data_prep.py (default: "
                             f"{d['data_dir']})")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder for models, checkpoint, logs, samples and snapshots "
                             "(default: results/<pair> beside this script)")
    _training_arguments(parser, d)
    _run_arguments(parser, d)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last completed epoch with its "
                             "stored settings, keeping its snapshots (default: start a new "
                             "run)")
    parser.add_argument("--force", action="store_true",
                        help="start a new run even if --out holds one, deleting that run's "
                             "files, samples and snapshots (default: refuse)")
    parser.add_argument("--quiet", action="store_true",
                        help="one line per epoch instead of a progress bar (default: bar)")
    return parser


def _training_arguments(parser: argparse.ArgumentParser, d: dict) -> None:
    """The length of training, the networks and the losses (`d`: the default preset's)."""
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"total epochs to train (default: {d['epochs']}); with --resume, "
                             "a larger number trains on")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="training steps per epoch (default: one pass over the larger "
                             "domain, images // batch size)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"images per domain per step, over all devices "
                             f"(default: {d['batch_size']}, as the original; larger on GPUs)")
    parser.add_argument("--res-blocks", type=int, default=None,
                        help=f"residual blocks in each generator, usually 3, 6 or 9 "
                             f"(default: {d['res_blocks']})")
    parser.add_argument("--filters", type=int, default=None,
                        help=f"base width of generators and discriminators; small values make "
                             f"quick test runs (default: {d['filters']})")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"Adam learning rate, beta1 as the CycleGAN paper (default: {d['lr']})")
    parser.add_argument("--lr-decay", action="store_true", default=None,
                        help="decay the learning rate linearly to 0 over the last half of the "
                             "epochs (default: constant, as the original)")
    parser.add_argument("--lambda-cycle", type=float, default=None,
                        help=f"weight of the cycle-consistency L1 loss (default: {d['lambda_cycle']})")
    parser.add_argument("--lambda-identity", type=float, default=None,
                        help=f"weight of the identity L1 loss, 0 to drop it "
                             f"(default: {d['lambda_identity']})")
    parser.add_argument("--pool-size", type=int, default=None,
                        help=f"generated images kept per domain for the discriminators, 0 for "
                             f"none (default: {d['pool_size']})")
    parser.add_argument("--crop-frames", type=int, default=None,
                        help="train on random time crops of N frames (all frequency bins; a "
                             "multiple of 4), drawn afresh every step; conversion still uses "
                             f"whole windows; 0: whole windows (default: {d['crop_frames']})")
    parser.add_argument("--identity-start", action=argparse.BooleanOptionalAction, default=None,
                        help="generators output input + a learnt correction that starts at "
                             "zero, so an untrained model returns its input unchanged "
                             f"(default: {d['identity_start']})")
    parser.add_argument("--envelope-coefficients", type=int, default=None, metavar="K",
                        help="with --identity-start, keep only the frequency-smooth part of "
                             "the generator's correction (its first K DCT coefficients along "
                             "frequency in every frame): the model moves the spectral envelope "
                             "and keeps the input's harmonics, voicing and words; 0: "
                             f"unconstrained (default: {d['envelope_coefficients']}; the "
                             f"envelope preset: {PRESETS['envelope']['envelope_coefficients']})")


def _run_arguments(parser: argparse.ArgumentParser, d: dict) -> None:
    """The run's budget, saving, samples and hardware (`d`: the default preset's)."""
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="stop cleanly after the epoch in which this many seconds of "
                             "training have passed, saving that epoch as the last (snapshot, "
                             "checkpoint); --resume continues (default: train all --epochs)")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="write the resume checkpoint and the generators every N epochs "
                             "and after the last; a kill loses the epochs since "
                             f"(default: {d['checkpoint_every']})")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"seed of weights, data order and pool (default: {d['seed']})")
    parser.add_argument("--sample-every", type=int, default=None,
                        help=f"write spectrogram plots and audio of held-out (validation) "
                             f"clips every N epochs and after the last; 0: only after the "
                             f"last (default: {d['sample_every']})")
    parser.add_argument("--snapshot-every", type=int, default=None,
                        help=f"write snapshots/epoch_NNNN/ (config.json + float16 "
                             f"generator_AtoB.weights.h5, a loadable model folder to choose "
                             f"the shipped epoch from) every N epochs and after the last; 0: "
                             f"no snapshots; may change on --resume "
                             f"(default: {d['snapshot_every']})")
    parser.add_argument("--sample-clips", type=int, default=None,
                        help=f"held-out clips per direction in each sample folder "
                             f"(default: {d['sample_clips']})")
    parser.add_argument("--eval-images", type=int, default=None,
                        help=f"held-out (validation) images per domain for the per-epoch "
                             f"cycle/identity L1, 0 to skip (default: {d['eval_images']})")
    parser.add_argument("--devices", default=None,
                        help=f"accelerators to train on in data parallel: a count or 'all' "
                             f"(tf.distribute on TensorFlow, keras.distribution on JAX) "
                             f"(default: {d['devices']})")
    parser.add_argument("--mixed-precision", choices=TRAIN_PRECISIONS, default=None,
                        help="compute in bfloat16 or float16 with float32 weights: for GPUs, "
                             "and bfloat16 also for CPUs with bfloat16 units (AVX512-BF16, "
                             f"AMX) (default: {d['mixed_precision']})")
    parser.add_argument("--xla", choices=("auto", "on", "off"), default=None,
                        help="XLA-compile the TensorFlow training step; auto: on whenever "
                             "one device trains (measured faster on CPU and GPU), off for "
                             "several (JAX always compiles with XLA) (default: auto)")


def train(args: argparse.Namespace, *, extra_callbacks: Sequence[Any] = ()) -> Any:
    """Run (or resume) a training as described by parsed command-line `args`.

    Every check (folder, settings, data, devices) happens before anything is written, and
    the cheap ones before Keras is imported. `extra_callbacks` (keras callbacks) run after
    the run's own (tests use this to interrupt a run). Returns the trained cyclegan.CycleGAN.
    Keras' global dtype policy and distribution are restored afterwards.
    """
    pair, source, target = parse_pair(args.pair)
    out = Path(args.out) if args.out is not None else RESULTS_DIR / pair
    args.out = out
    stored, stale = inspect_out_folder(out, resume=args.resume, force=args.force)
    if stored is not None and stored.get("pair") != pair:
        raise UserError(f"{out}: holds a {stored.get('pair')} run, not {pair}; choose "
                        "another --out")
    settings = resolve_settings(args, stored)
    settings.check()
    settings.data_dir = str(settings.data_dir)
    data_path = Path(settings.data_dir) / f"{pair}.npz"
    data = load_training_data(data_path, pair)
    images_A, images_B = data["train_A"], data["train_B"]
    batch_size = settings.batch_size
    if batch_size > min(len(images_A), len(images_B)):
        raise UserError(f"--batch-size {batch_size} is larger than the data: {data_path} holds "
                        f"{len(images_A)} {source} and {len(images_B)} {target} training images")
    steps = settings.steps_per_epoch or max(len(images_A), len(images_B)) // batch_size
    if stored is not None and stored["training"].get("steps_per_epoch") not in (None, steps):
        raise UserError(f"{out}: the run there used {stored['training']['steps_per_epoch']} "
                        f"steps per epoch, not {steps}; resume with the same data and settings")
    settings.steps_per_epoch = steps

    from spectrogan.model import cyclegan  # Keras: only now that the cheap checks have passed
    from spectrogan.training import trainer

    backend = cyclegan.keras.backend.backend()  # KERAS_BACKEND or ~/.keras/keras.json
    if backend not in SUPPORTED_BACKENDS:
        raise UserError(f"KERAS_BACKEND={backend} is not supported; use tensorflow or jax")
    config = build_config(pair=pair, source=source, target=target,
                          image_size=images_A.shape[1], settings=settings, data=data,
                          data_path=data_path, backend=backend,
                          beta_1=cyclegan.BETA_1)
    return trainer.fit_run(out, config=config, data=data, data_path=data_path, stale=stale,
                           quiet=args.quiet, extra_callbacks=extra_callbacks)


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    args = build_parser().parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

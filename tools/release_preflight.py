"""Check a lent GPU machine in under a minute, before the long release call.

Imports everything tools/device_release.sh needs and prints each package's version (soundfile
must read FLAC: the carried RAVDESS copy is FLAC), checks that JAX computes on the GPU (a
failed CUDA plugin would silently train on the CPU), then times full-size training steps of
the chosen preset at the chosen batch size and prints the step time and the device's peak
memory, so the long call's PAIRS x BATCH follows from measurement:

    KERAS_BACKEND=jax python tools/release_preflight.py --preset fast --batch 8 --pairs 6

The last lines are `KEY=value` pairs (STEP_S, PEAK_MIB, PEAK_BATCH, DEVICE_MIB, MAX_PAIRS)
that device_release.sh takes from the environment. Exit 0 when everything is in place and the
pairs fit, 1 otherwise (with one line per problem). `--allow-cpu` (or ALLOW_CPU=1) accepts a
CPU, for checking the script itself.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.core.cli import cli_main, positive_int  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.model.settings import PRESETS, TRAIN_PRECISIONS, TrainingSettings  # noqa: E402

# (distribution, module) of every package the release imports; the small pure-Python ones are
# those a bare machine may lack (tools/fetch_wheels.sh carries them).
PACKAGES = (("keras", "keras"), ("jax", "jax"), ("jaxlib", "jaxlib"), ("numpy", "numpy"),
            ("numba", "numba"), ("llvmlite", "llvmlite"), ("librosa", "librosa"),
            ("soundfile", "soundfile"), ("soxr", "soxr"),
            ("typing_extensions", "typing_extensions"), ("lazy_loader", "lazy_loader"),
            ("msgpack", "msgpack"), ("absl-py", "absl"), ("rich", "rich"), ("h5py", "h5py"),
            ("ml_dtypes", "ml_dtypes"), ("scikit-learn", "sklearn"), ("scipy", "scipy"),
            ("tqdm", "tqdm"))
MEMORY_HEADROOM = 0.9  # share of the device memory the trainers together may plan to use


def check_packages() -> list[str]:
    """Import every package, print its version; the problems found, one line each."""
    problems = []
    for distribution, module in PACKAGES:
        try:
            importlib.import_module(module)
            version = metadata.version(distribution)
        except Exception as exc:  # ImportError, or a broken install raising anything
            problems.append(f"{module}: cannot be imported ({type(exc).__name__}: {exc})")
            print(f"  {distribution:18s} MISSING")
            continue
        print(f"  {distribution:18s} {version}")
    try:
        import soundfile

        if "FLAC" not in soundfile.available_formats():
            problems.append("soundfile: this libsndfile cannot read FLAC (the carried RAVDESS)")
    except ImportError:
        pass  # already reported
    return problems


def device_report(allow_cpu: bool) -> tuple[object, list[str]]:
    """The first JAX device, and a problem line when it is not a GPU (unless allowed)."""
    import jax

    device = jax.devices()[0]
    print(f"  jax devices: {', '.join(str(d) for d in jax.devices())}")
    if device.platform != "gpu" and not allow_cpu:
        return device, [f"JAX computes on {device.platform}, not a GPU (CUDA plugin missing or "
                        "broken?); set ALLOW_CPU=1 only to test the script on a CPU"]
    return device, []


def memory_mib(device: object) -> tuple[float, float | None]:
    """(peak MiB in use by this process on `device`, device memory MiB or None). On a CPU the
    peak is the process's peak resident memory."""
    stats = getattr(device, "memory_stats", lambda: None)() or {}
    if "peak_bytes_in_use" in stats:
        limit = stats.get("bytes_limit")
        return stats["peak_bytes_in_use"] / 2**20, (limit / 2**20 if limit else None)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, None


def time_preset(preset: str, *, batch: int, steps: int, precision: str) -> list[float]:
    """Seconds of `steps` full-size training steps of `preset` (after one untimed step)."""
    import dataclasses

    import numpy as np

    from spectrogan.audio.spectro import IMAGE_SIZE
    from tools.step_timing import time_training_steps

    settings = dataclasses.replace(TrainingSettings.for_preset(preset), batch_size=batch,
                                   mixed_precision=precision)
    rng = np.random.default_rng(0)
    images = [rng.uniform(-1, 1, (max(2 * batch, 8), IMAGE_SIZE, IMAGE_SIZE)).astype(np.float16)
              for _ in "AB"]
    return time_training_steps(*images, settings=settings, steps=steps, warmup=1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools/release_preflight.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=tuple(PRESETS), default="fast",
                        help="train_cyclegan.py preset the release trains (default: fast)")
    parser.add_argument("--batch", type=positive_int, default=8,
                        help="batch size per trainer (default: 8)")
    parser.add_argument("--pairs", type=positive_int, default=6,
                        help="trainers that will share the device (default: 6)")
    parser.add_argument("--precision", choices=TRAIN_PRECISIONS, default="bfloat16",
                        help="--mixed-precision of the trainers (default: bfloat16)")
    parser.add_argument("--steps", type=positive_int, default=3,
                        help="timed training steps (default: 3)")
    parser.add_argument("--allow-cpu", action="store_true",
                        default=os.environ.get("ALLOW_CPU") == "1",
                        help="accept a CPU device (default: off, or on with ALLOW_CPU=1)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures to this JSON file (default: none)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    print("packages:")
    problems = check_packages()
    if problems:  # nothing below can run without them
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 1
    import keras

    if keras.backend.backend() != "jax":
        raise UserError(f"KERAS_BACKEND={keras.backend.backend()}; the release runs on jax")
    print("device:")
    device, problems = device_report(args.allow_cpu)
    durations = time_preset(args.preset, batch=args.batch, steps=args.steps,
                            precision=args.precision)
    step_s = sorted(durations)[len(durations) // 2]
    peak_mib, device_mib = memory_mib(device)
    device_mib = device_mib or float(os.environ.get("DEVICE_MIB", 0)) or None
    max_pairs = (int(MEMORY_HEADROOM * device_mib // peak_mib) if device_mib else None)
    figures = {"preset": args.preset, "batch": args.batch, "precision": args.precision,
               "platform": device.platform, "step_s": round(step_s, 4),
               "images_per_s": round(args.batch / step_s, 1), "peak_mib": round(peak_mib),
               "device_mib": round(device_mib) if device_mib else None,
               "max_pairs": max_pairs, "seconds": round(time.perf_counter() - started, 1)}
    print(f"training step ({args.preset}, batch {args.batch}, {args.precision}): "
          f"{step_s:.3f} s, {args.batch / step_s:.1f} images/s; peak memory {peak_mib:.0f} MiB"
          + (f" of {device_mib:.0f} MiB" if device_mib else "")
          + f"; preflight took {figures['seconds']:.0f} s")
    if max_pairs is not None and args.pairs > max_pairs:
        problems.append(f"{args.pairs} trainers at batch {args.batch} need about "
                        f"{args.pairs * peak_mib:.0f} MiB, more than {MEMORY_HEADROOM:.0%} of "
                        f"{device_mib:.0f} MiB; at most {max_pairs} fit")
    if args.json is not None:
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(figures, indent=2) + "\n")
    for key in ("step_s", "peak_mib", "device_mib", "max_pairs"):
        print(f"{key.upper()}={'' if figures[key] is None else figures[key]}")
    print(f"PEAK_BATCH={args.batch}")
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

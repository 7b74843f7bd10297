"""Pack a RAVDESS speech tree as lossless FLAC, small enough to carry to a GPU machine.

The lent GPU machines take at most 64 MiB of files per call. RAVDESS actors 01-20 at 16 kHz
are 138 MB as WAV and about 43 MB as 16-bit FLAC, with the same samples: data_prep.py and
evaluate.py read the FLAC tree exactly as they read the WAV one (file names keep the RAVDESS
codes, only the extension changes).

Usage:
    python tools/pack_ravdess.py --ravdess ../shared/data/ravdess --out .carry/ravdess
    python tools/pack_ravdess.py --ravdess ../shared/data/ravdess --out .carry/ravdess --actors 1-20

The packed files are RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0): do not publish them
without that attribution.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.core.cli import cli_main  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.data.corpus import scan_ravdess  # noqa: E402


def _actor_range(text: str) -> set[int]:
    """'1-20' or '1,2,5' -> a set of actor numbers."""
    actors: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            actors.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"actors must look like 1-20 or 1,2,5, got {text!r}")
    return actors


def pack(ravdess: Path, out: Path, *, actors: set[int] | None = None) -> tuple[int, int]:
    """Write every RAVDESS speech file under `ravdess` (of `actors`, default all) as
    `<out>/Actor_XX/<same name>.flac`, 16-bit, same rate and channels; files already packed
    are kept. Returns (files written or kept, total bytes)."""
    files = [f for f in scan_ravdess(ravdess) if actors is None or f.actor in actors]
    if not files:
        raise UserError(f"{ravdess}: no RAVDESS files of actors {sorted(actors or [])}")
    total = 0
    for record in tqdm(files, desc="packing", unit="file"):
        target = out / record.path.parent.name / (record.path.stem + ".flac")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            samples, rate = soundfile.read(record.path, dtype="int16", always_2d=True)
            with atomic_output(target) as tmp:
                soundfile.write(tmp, np.ascontiguousarray(samples), rate, format="FLAC",
                                subtype="PCM_16")
        total += target.stat().st_size
    return len(files), total


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ravdess", type=Path, required=True,
                        help="RAVDESS folder holding Actor_01 ... (WAV, any rate)")
    parser.add_argument("--out", type=Path, default=Path(".carry/ravdess"),
                        help="where the FLAC tree goes (default: .carry/ravdess)")
    parser.add_argument("--actors", type=_actor_range, default=None,
                        help="actors to pack, e.g. 1-20 or 15,16 (default: all found)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    count, total = pack(args.ravdess, args.out, actors=args.actors)
    print(f"{count} files, {total / 2**20:.1f} MiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

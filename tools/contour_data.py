"""Measure the frame-level prosody of every training and validation recording of both corpora.

For each recording (every emotion, CREMA-D's low-intensity takes left out) of the actors that
train or validate (corpus.SPEAKER_SPLIT; the test actors are never read) it writes
`<out>/<corpus>/<file stem>.npz` holding contour_frames.FrameProsody's f0, energy_db and mfcc.
WORLD's F0 tracking is the slow part (about a second a clip): files already written are kept,
so a stopped run continues where it stopped, and a run over one corpus can be followed by the
other. The contour model's training (issue 54) pairs these by sentence and aligns them.

    python tools/contour_data.py --out runs/contours
    python tools/contour_data.py --out runs/contours --corpus crema --jobs 2

Exit 0 when every clip is measured, 2 for a usage error or a clip that cannot be read (the
clips measured before it are kept), 1 when a write failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.core.cli import cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.data.corpora import (add_corpus_arguments, corpus_folders,  # noqa: E402
                                     describe_folders)
from spectrogan.data.corpora import scan_corpora  # noqa: E402
from spectrogan.data.corpus import DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS  # noqa: E402
from spectrogan.core.processes import map_in_processes  # noqa: E402


def build_parser():
    parser = parser_from_doc(__doc__)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder of the per-clip .npz files (kept between runs)")
    add_corpus_arguments(parser)
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="processes measuring the clips (default: %(default)s)")
    return parser


def measure_clip(job: tuple[str, str]) -> str:
    """Measure one clip (`job` = (audio path, npz path)) and write its npz atomically."""
    from spectrogan.audio.audio_files import load_audio
    from spectrogan.audio.contour_frames import frame_prosody

    source, target = job
    prosody = frame_prosody(load_audio(source))
    with atomic_output(target) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, f0=prosody.f0, energy_db=prosody.energy_db, mfcc=prosody.mfcc)
    return target


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    # validation actors first: a run stopped early still leaves whole actors of both roles
    order = {actor: rank for rank, actor in enumerate(DEFAULT_VAL_ACTORS)}
    files = sorted((f for f in scan_corpora(folders)
                    if f.actor not in DEFAULT_TEST_ACTORS and f.intensity != "low"),
                   key=lambda f: (order.get(f.actor, len(order)), f.actor, str(f.path)))
    jobs = [(str(f.path), str(args.out / f.corpus / f"{f.path.stem}.npz")) for f in files]
    todo = [job for job in jobs if not Path(job[1]).is_file()]
    print(f"{len(jobs)} clips of {describe_folders(folders)}; {len(jobs) - len(todo)} already "
          f"measured in {args.out}", flush=True)
    for corpus in folders:
        (args.out / corpus).mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(todo), unit="clip", desc="prosody", disable=None) as bar:
        for done, _ in enumerate(map_in_processes(measure_clip, todo, jobs=args.jobs), 1):
            bar.update(1)
            if bar.disable and done % 100 == 0:
                print(f"{done} of {len(todo)} measured", flush=True)
    print(f"done: {len(jobs)} clips in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hear what the spectrogram image + Griffin-Lim path costs before any model: a recording
resynthesised through it alone (spectro.round_trip), written as 16 kHz mono wav, with its
spectral convergence and optionally the image drawn.

    python resynthesis.py speech.wav -o resynth.wav
    python resynthesis.py speech.flac -o resynth.wav --iters 100 --phase random --plot spec.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from spectrogan.audio.audio_files import input_note, load_audio, write_audio
from spectrogan.core.cli import check_output_path, cli_main, parser_from_doc
from spectrogan.core.errors import UserError
from spectrogan.evaluation.metrics import spectral_convergence_db
from spectrogan.audio.plots import plot_spectrograms
from spectrogan.audio.spectro import (GRIFFIN_LIM_ITERS, PHASES, SAMPLE_RATE, join_windows,
                                      n_frames_for, round_trip, utterance_to_windows,
                                      window_starts)

PLOT_BESIDE_OUTPUT = Path("<beside OUTPUT>")  # what a bare --plot stands for


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("input", type=Path, help="audio file to resynthesise (wav, flac, ogg, "
                        "aiff or mp3; any rate, bit depth and channel count)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="output wav (16 kHz, 16-bit mono)")
    parser.add_argument("--iters", type=int, default=GRIFFIN_LIM_ITERS,
                        help=f"Griffin-Lim iterations (default: {GRIFFIN_LIM_ITERS})")
    parser.add_argument("--phase", choices=PHASES, default="source",
                        help="initial phase for Griffin-Lim: the input's own STFT phase or "
                             "random (default: source)")
    parser.add_argument("--plot", type=Path, nargs="?", default=None, const=PLOT_BESIDE_OUTPUT,
                        metavar="OUT.png",
                        help="also draw the spectrogram image to this PNG; --plot alone puts it "
                             "beside OUTPUT with a .png suffix (default: no plot)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT / the plot if they exist (default: refuse)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: resynthesise INPUT through the image path into OUTPUT."""
    args = build_parser().parse_args(argv)
    if args.iters < 0:
        raise UserError(f"--iters must be >= 0, got {args.iters}")
    check_output_path(args.output, inputs=[args.input], force=args.force)
    if args.plot == PLOT_BESIDE_OUTPUT:
        args.plot = Path(args.output).with_suffix(".png")
    if args.plot is not None:
        check_output_path(args.plot, inputs=[args.input, args.output], force=args.force)
    audio = load_audio(args.input)
    with tqdm(total=100, unit="%", desc="griffin-lim", disable=None,
              bar_format="{l_bar}{bar}| {elapsed}<{remaining}") as bar:
        resynth = round_trip(audio, n_iter=args.iters, phase=args.phase,
                             progress=lambda done: bar.update(round(100 * done) - bar.n))
    write_audio(args.output, resynth)
    sc = spectral_convergence_db(audio, resynth)
    n_frames = n_frames_for(audio.shape[0])
    print(f"wrote {args.output}{input_note(args.input)} ({audio.shape[0] / SAMPLE_RATE:.2f} s, "
          f"{len(window_starts(n_frames))} window(s), "
          f"spectral convergence {sc:.1f} dB)")
    if args.plot is not None:
        image = join_windows(utterance_to_windows(audio)[0], n_frames=n_frames)
        plot_spectrograms(args.plot, [(f"{args.input.name}: spectrogram image", image)])
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

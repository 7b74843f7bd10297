"""Draw what models do to the harmonics of a voice: the 0-1.2 kHz band of one clip's
spectrogram before conversion, through the vocoder alone, and through each given model.

A low voice (male, F0 near 100 Hz) puts its harmonics three STFT bins apart, so a model that
fills the valleys between them shows as a broadband smear in this band; one that keeps the
voice shows the same harmonic lines as the input, moved in level and envelope only.

    python tools/harmonics_figure.py ../shared/data/ravdess/Actor_19/03-01-02-01-01-01-19.wav \\
        --emotion anger --models old=/work/runs/old_models new=results \\
        -o results/harmonics_calm2anger.png

Each --models entry is LABEL=FOLDER, a folder of model folders as convert.py's --models.
Exit 0 when the figure was written, 2 for a usage error (a missing clip or model, say).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.data.corpora import clip_conversion_arguments  # noqa: E402
from spectrogan.core.cli import cli_main, parser_from_doc  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402

DEFAULT_MAX_HZ = 1200.0


def labelled_folder(text: str) -> tuple[str, Path]:
    """'LABEL=FOLDER' -> (label, folder)."""
    label, sep, folder = text.rpartition("=")  # a label may hold "=", a folder rarely
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"expected LABEL=FOLDER, got {text!r}")
    return label, Path(folder)


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    clip_conversion_arguments(parser)
    parser.add_argument("--models", nargs="+", required=True, type=labelled_folder,
                        metavar="LABEL=FOLDER", help="models to compare, in panel order")
    parser.add_argument("--max-hz", type=float, default=DEFAULT_MAX_HZ,
                        help="top of the frequency band shown (default: %(default)g Hz)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from spectrogan.conversion.inference import load_converter
    from spectrogan.audio.audio_files import load_audio
    from spectrogan.audio.plots import plot_spectrograms
    from spectrogan.audio.spectro import (N_FRAMES, audio_to_image, crop_image, n_frames_for,
                                          round_trip)

    audio = load_audio(args.clip)
    if n_frames_for(len(audio)) > N_FRAMES:
        raise UserError(f"{args.clip}: longer than one {N_FRAMES}-frame window; pick a shorter "
                        "clip")
    frames = n_frames_for(len(audio))

    def image(signal):  # the clip's own reference, so every panel shares one dB scale
        return crop_image(audio_to_image(signal, ref=reference)[0], n_frames=frames)

    reference = float(abs(audio_to_image(audio)[1]))
    panels = [(f"input ({args.clip.name})", image(audio)),
              ("vocoder only (image -> Griffin-Lim)", image(round_trip(audio)))]
    for label, folder in args.models:
        converter = load_converter(folder, args.source, args.emotion)
        print(f"{label}: {converter.folder}")
        panels.append((label, image(converter.convert(audio))))
    plot_spectrograms(args.output, panels, max_hz=args.max_hz)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

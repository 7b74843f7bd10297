"""Draw what a conversion does to the pitch and loudness contours: the F0 and the frame level
of a calm clip before and after converting it, beside the same speaker's real recording of the
target emotion.

The F0 is WORLD's Harvest track (vocoder.world_f0, the tracker the prosody change itself
uses), in semitones re 100 Hz against time, unvoiced frames left blank; below it, each frame's
level (25 ms RMS, contour_frames.frame_energy_on_world_grid) in dB relative to the clip's
loudest frame, down to LEVEL_FLOOR_DB, the contour the contour model's loudness output
reshapes. A RAVDESS clip finds
its real counterpart itself (same actor, sentence and repetition); another clip can be given
one with --target-clip, or none.

    python tools/contour_figure.py ../shared/data/ravdess/Actor_19/03-01-02-01-01-01-19.wav \\
        --emotion happy -o results/contour_calm2happy.png

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
from spectrogan.model.runs import RESULTS_DIR  # noqa: E402

LEVEL_FLOOR_DB = -40.0  # the level panel's bottom: pauses below it are drawn at it


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    clip_conversion_arguments(parser)
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="folder of model folders (default: results/ beside the scripts)")
    parser.add_argument("--target-clip", type=Path, default=None,
                        help="a real recording of the target emotion to draw beside (default: "
                             "the RAVDESS counterpart of a RAVDESS clip, else none)")
    parser.add_argument("--contour", type=Path, default=None, metavar="DIR",
                        help="also draw the conversion with this contour model's prosody in "
                             "place of the pair's global change (default: only as shipped)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    return parser


def semitones(f0: "np.ndarray") -> "np.ndarray":  # noqa: F821 - numpy imported lazily
    """Hz -> semitones re 100 Hz, NaN where unvoiced (0)."""
    import numpy as np

    out = np.full(f0.shape, np.nan)
    out[f0 > 0] = 12.0 * np.log2(f0[f0 > 0] / 100.0)
    return out


def real_counterpart(clip: Path, target: str) -> Path | None:
    """The same actor's sentence in `target` when `clip` is named as RAVDESS names files."""
    from spectrogan.data.corpus import matching_target, parse_ravdess_name, scan_ravdess
    from spectrogan.core.errors import UserError

    try:
        parsed = parse_ravdess_name(clip)
    except (UserError, ValueError):
        return None
    match = matching_target(scan_ravdess(clip.parent), parsed, target)
    return None if match is None else match.path


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from spectrogan.core.atomic_files import atomic_output
    from spectrogan.conversion.inference import load_converter
    from spectrogan.audio.audio_files import load_audio
    from spectrogan.audio.contour_frames import frame_energy_on_world_grid
    from spectrogan.audio.vocoder import WORLD_FRAME_PERIOD_MS, world_f0
    from spectrogan.stages.contour_prosody import ContourProsody, contour_stage
    from spectrogan.stages.prosody import ProsodyChange

    audio = load_audio(args.clip)
    converter = load_converter(args.models, args.source, args.emotion)
    target_clip = args.target_clip or real_counterpart(args.clip, args.emotion)
    settings = converter.settings
    change = ", ".join(stage.describe() for stage in settings.stages
                       if stage.moves_prosody and not stage.is_identity) or "no prosody change"
    curves = [(f"{args.source} input", audio, "0.4"),
              (f"converted to {args.emotion} ({change})", converter.convert(audio), "C3")]
    if args.contour is not None and settings.stage(ContourProsody) is None:
        with_contour = settings.without(ProsodyChange).with_stage(
            contour_stage(args.emotion, converter.folder, args.contour))
        curves.append(("converted, with the contour model's prosody instead",
                       converter.with_settings(with_contour).convert(audio), "C2"))
    if target_clip is not None:
        curves.append((f"real {args.emotion}, same speaker", load_audio(target_clip), "C0"))
    fig, (ax, level_ax) = plt.subplots(2, 1, figsize=(9, 5.6), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 2]})
    for label, signal, colour in curves:
        track = semitones(world_f0(signal))
        seconds = np.arange(track.size) * WORLD_FRAME_PERIOD_MS / 1000.0
        ax.plot(seconds, track, color=colour, lw=1.6, label=label)
        level = frame_energy_on_world_grid(signal)
        level = np.maximum(level - level.max(), LEVEL_FLOOR_DB)
        level_ax.plot(np.arange(level.size) * WORLD_FRAME_PERIOD_MS / 1000.0, level,
                      color=colour, lw=1.0)
    level_ax.set_xlabel("time (s)")
    level_ax.set_ylabel("level (dB re loudest)")
    level_ax.grid(alpha=0.3)
    ax.set_ylabel("F0 (semitones re 100 Hz)")
    ax.set_title(f"{args.clip.name}: {args.source} -> {args.emotion} ({converter.folder.name})",
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_output(args.output) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the pitch shift costs the voice and the words by itself: real calm clips through the
vocoder alone, then shifted, with no model in the way.

The shift (pitch.shift_pitch, as config.json "inference": {"pitch_ratio": r} applies it after a
model and Griffin-Lim) lays two-period grains of the waveform down closer together (TD-PSOLA),
so the formants stay where they were. It is set beside a phase-vocoder shift (librosa's), which
moves the formants with the harmonics, and each is also run there and back (by r, then by
1 / r): what is lost then is the method's own damage, not the higher voice. Each row is scored
on the same clips by the evaluation's own measures (pYIN voiced share of the active frames and
F0 mean, metrics.clip_features; open-vocabulary word error, pocketsphinx).

    python tools/pitch_vocoder_check.py --ratio 1.5 --actors 15,16

The default actors are the validation actors, never the test actors. Prints a Markdown table
(stdout). Exit 0 when the table was printed, 2 for a usage error (a bad ratio, no such folder,
no calm clips of those actors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.data.corpora import real_clips_arguments  # noqa: E402
from spectrogan.core.cli import cli_main  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_VAL_ACTORS, default_ravdess,  # noqa: E402
                                    parse_actors, scan_ravdess, select_files)
from spectrogan.core.errors import UserError  # noqa: E402

def ratio_type(text: str) -> float:
    value = float(text)
    if not 0.5 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"the ratio must be from 0.5 to 2.0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratio", type=ratio_type, default=1.2,
                        help="frequency ratio of the shift, 0.5..2 (default: %(default)s)")
    parser.add_argument("--actors", type=parse_actors,
                        default=DEFAULT_VAL_ACTORS, metavar="LIST",
                        help="actors whose calm clips to use, e.g. '15,16' "
                             "(default: the validation actors 15,16)")
    real_clips_arguments(parser, cache=False)
    return parser


def audio_makers(ratio: float) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Row label -> function from a clip to the audio that row scores."""
    import librosa

    from spectrogan.audio.pitch import shift_pitch
    from spectrogan.audio.spectro import SAMPLE_RATE, round_trip

    def phase_vocoder(audio: np.ndarray, factor: float) -> np.ndarray:
        return librosa.effects.pitch_shift(audio, sr=SAMPLE_RATE,
                                           n_steps=12.0 * float(np.log2(factor))
                                           ).astype(np.float32)

    return {
        "vocoder alone": round_trip,
        f"vocoder, then shift {ratio:g} (as convert.py)":
            lambda audio: shift_pitch(round_trip(audio), ratio=ratio),
        f"vocoder, then shift {ratio:g} and back":
            lambda audio: shift_pitch(shift_pitch(round_trip(audio), ratio=ratio),
                                      ratio=1 / ratio),
        f"vocoder, then phase-vocoder shift {ratio:g} (formants move too)":
            lambda audio: phase_vocoder(round_trip(audio), ratio),
        f"vocoder, then phase-vocoder shift {ratio:g} and back":
            lambda audio: phase_vocoder(phase_vocoder(round_trip(audio), ratio), 1 / ratio),
    }


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ravdess = args.ravdess or default_ravdess()
    clips = [f for f in select_files(scan_ravdess(ravdess), "calm") if f.actor in args.actors]
    if not clips:
        raise UserError(f"{ravdess}: no calm clips of actors "
                        f"{', '.join(map(str, args.actors))}; pass --ravdess or other --actors")
    from spectrogan.evaluation.metrics import FEATURE_NAMES, clip_features, load_recogniser
    from spectrogan.audio.audio_files import load_audio

    recogniser = load_recogniser()
    voiced_at, f0_at = FEATURE_NAMES.index("voiced_fraction"), FEATURE_NAMES.index("f0_mean_hz")
    print(f"{len(clips)} calm clips of actors {', '.join(map(str, args.actors))} "
          f"({ravdess}); shift ratio {args.ratio:g}\n")
    print("| audio | voiced | F0 mean (Hz) | word error (open) |\n|---|---|---|---|")
    sources = [(clip, load_audio(clip.path)) for clip in clips]
    for label, make in audio_makers(args.ratio).items():
        voiced, f0, errors = [], [], []
        for clip, audio in sources:
            made = make(audio)
            features = clip_features(made)
            voiced.append(features[voiced_at])
            f0.append(features[f0_at])
            if recogniser is not None:
                errors.append(recogniser.word_error_rate(made, clip.statement))
        error_text = f"{np.mean(errors):.2f}" if errors else "no recogniser"
        print(f"| {label} | {100 * np.mean(voiced):.0f}% | {np.mean(f0):.0f} | {error_text} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

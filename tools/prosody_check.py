"""What moving the loudness and the pitch of calm speech by the training actors' statistics does,
with no model: does the emotion classifier then hear the target, and what does it cost the voice?

For each target emotion, the training actors' mean difference from calm is measured per actor
and averaged: level (metrics.level_difference_db, dB) and log-F0 (the clips' pYIN F0 means, as a
frequency ratio). The calm clips of the chosen actors then go through the vocoder with the level
change (loudness.keep_loudness with the change, as `convert.py --level-change model` applies
it; the level-invariant judge does not hear it, by design),
with the pitch shift by that ratio that keeps the formants (pitch.shift_pitch), and with
both. Each row is scored by the evaluation's measures: judged target and target over calm (the
classifier of `evaluate.py --select-epoch`: trained on every actor in neither --actors nor
--exclude-actors), voiced share, F0 mean, speech level, open-vocabulary word error.

    python tools/prosody_check.py --emotions angry happy --actors 15,16

The default actors are the validation actors and the classifier never hears the test actors.
Prints a Markdown table per emotion (stdout). Exit 0 when every table was printed, 2 for a
usage error (no such folder, no clips of those actors).
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
from spectrogan.core.cli import arg_type, cli_main  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    canonical_emotion, default_ravdess, parse_actors, scan_ravdess,
                                    select_files)
from spectrogan.core.errors import UserError  # noqa: E402

TARGETS = ("angry", "fearful", "happy", "surprised", "disgust")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emotions", nargs="+", default=list(TARGETS), metavar="EMOTION",
                        type=arg_type(canonical_emotion),
                        help=f"target emotions (default: {' '.join(TARGETS)})")
    parser.add_argument("--actors", type=parse_actors, default=DEFAULT_VAL_ACTORS,
                        metavar="LIST", help="actors whose calm clips to change "
                        "(default: the validation actors 15,16)")
    parser.add_argument("--exclude-actors", type=parse_actors, default=DEFAULT_TEST_ACTORS,
                        metavar="LIST", help="actors neither the statistics nor the classifier "
                        "may use (default: the test actors 17,18,19,20)")
    real_clips_arguments(parser)
    return parser


def mean_log_f0_ratio(features: dict[str, np.ndarray], actors: dict[str, np.ndarray], *,
                      index: int) -> float:
    """exp of the per-actor mean log-F0 difference, target minus calm, averaged over actors.

    `features` maps 'calm' / 'target' to (N, D) clip_features rows, `actors` to their actors;
    `index` is the F0 mean's column. Clips without voicing (F0 0) are left out."""
    differences = []
    for actor in sorted(set(actors["calm"].tolist()) & set(actors["target"].tolist())):
        means = []
        for side in ("calm", "target"):
            f0 = features[side][actors[side] == actor, index]
            means.append(np.mean(np.log(f0[f0 > 0])) if np.any(f0 > 0) else np.nan)
        differences.append(means[1] - means[0])
    return float(np.exp(np.nanmean(differences)))


def audio_makers(*, level_db: float, ratio: float
                 ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Row label -> function from a calm clip to the audio that row scores."""
    from spectrogan.audio.loudness import keep_loudness
    from spectrogan.audio.pitch import shift_pitch
    from spectrogan.audio.spectro import round_trip

    def shifted(audio: np.ndarray) -> np.ndarray:
        return shift_pitch(round_trip(audio), ratio=ratio)

    def louder(make: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        return lambda audio: keep_loudness(make(audio), audio, change_db=level_db)

    return {
        "vocoder alone": round_trip,
        f"level {level_db:+.1f} dB": louder(round_trip),
        f"pitch x{ratio:.2f}": shifted,
        f"pitch x{ratio:.2f} and level {level_db:+.1f} dB": louder(shifted),
    }


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if "calm" in args.emotions:
        raise UserError("--emotions are targets to move calm speech to; calm is the source")
    ravdess = args.ravdess or default_ravdess()
    files = scan_ravdess(ravdess)
    sources = [f for f in select_files(files, "calm") if f.actor in args.actors]
    if not sources:
        raise UserError(f"{ravdess}: no calm clips of actors "
                        f"{', '.join(map(str, args.actors))}; pass --ravdess or other --actors")
    from spectrogan.evaluation.judges import judged_shares, train_emotion_classifier
    from spectrogan.evaluation.metrics import (FEATURE_NAMES, FeatureCache, features_of_audio,
                                               features_of_files, level_difference_db,
                                               load_recogniser, speech_level_db)
    from spectrogan.audio.audio_files import load_audio

    cache = FeatureCache(args.cache)
    held_out = set(args.actors) | set(args.exclude_actors)
    training = [f for f in files if f.actor not in held_out]
    if len({f.actor for f in training}) < 2:
        raise UserError(f"{ravdess}: too few actors outside {sorted(held_out)} for the "
                        "statistics and the classifier")
    train_x = features_of_files([f.path for f in training], cache)
    classifier = train_emotion_classifier(train_x, [f.emotion for f in training])
    recogniser = load_recogniser()
    column = {name: FEATURE_NAMES.index(name)
              for name in ("voiced_fraction", "f0_mean_hz")}
    train_actors = sorted({f.actor for f in training})
    calm_audio = [load_audio(f.path) for f in sources]
    print(f"{len(sources)} calm clips of actors {', '.join(map(str, args.actors))}; statistics "
          f"and classifier from actors {', '.join(map(str, train_actors))} ({ravdess})")
    for target in args.emotions:
        rows = {side: [i for i, f in enumerate(training) if f.emotion == side]
                for side in ("calm", target)}
        ratio = mean_log_f0_ratio(
            {"calm": train_x[rows["calm"]], "target": train_x[rows[target]]},
            {"calm": np.asarray([training[i].actor for i in rows["calm"]]),
             "target": np.asarray([training[i].actor for i in rows[target]])},
            index=column["f0_mean_hz"])
        ratio = float(np.clip(ratio, 0.5, 2.0))  # the shift's range
        level = level_difference_db(training, source="calm", target=target,
                                    actors=train_actors)
        print(f"\n### calm -> {target}: training actors' {target} is {level:+.1f} dB louder and "
              f"F0 x{ratio:.2f}\n")
        print(f"| audio | judged {target} | {target} over calm | voiced | F0 mean (Hz) | "
              "level (dB FS) | word error (open) |\n|---|---|---|---|---|---|---|")
        made_rows = {label: [make(audio) for audio in calm_audio]
                     for label, make in audio_makers(level_db=level, ratio=ratio).items()}
        targets = [f for f in select_files(files, target) if f.actor in args.actors]
        made_rows[f"{target} (real)"] = [load_audio(f.path) for f in targets]
        for label, clips in made_rows.items():
            x = np.stack([features_of_audio(clip, cache) for clip in clips])
            shares = judged_shares(classifier, x, source="calm", target=target)
            voiced = x[:, column["f0_mean_hz"]] > 0
            f0 = f"{x[voiced, column['f0_mean_hz']].mean():.0f}" if voiced.any() else "-"
            statements = [f.statement for f in (targets if "(real)" in label else sources)]
            errors = ([recogniser.word_error_rate(clip, s) for clip, s in zip(clips, statements)]
                      if recogniser is not None else [])
            error = f"{np.mean(errors):.2f}" if errors else "no recogniser"
            print(f"| {label} | {100 * shares['judged_target']:.0f}% | "
                  f"{100 * shares['target_over_source']:.0f}% | "
                  f"{100 * x[:, column['voiced_fraction']].mean():.0f}% | {f0} | "
                  f"{np.mean([speech_level_db(clip) for clip in clips]):.1f} | {error} |",
                  flush=True)
        cache.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())

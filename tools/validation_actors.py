"""Which actors can validate a pair: how the emotion judge, trained without them, hears each
candidate actor's real source and target clips.

A validation actor whose unconverted source clips the judge already calls the target cannot
tell a conversion that works from one that does nothing: every arm scores that actor's clips
alike, and the epoch or arm chosen on the others is chosen on fewer clips than it seems. For
each candidate actor the table gives the share of their real source clips judged as the
target (what doing nothing scores; 0% is what a useful validation actor shows) and the share
of their real target clips judged as the target (what the real emotion scores). The judge is
the one `evaluate.py --select-epoch` uses: trained on every actor in neither --actors nor
--exclude-actors, so pass the split you mean to train with.

    python tools/validation_actors.py --pair calm2disgust --actors 15,16
    python tools/validation_actors.py --pair calm2disgust --actors 13,14,15,16

The test actors are never judged here. Prints a Markdown table (stdout). Exit 0 when it was
printed, 2 for a usage error (no such folder, no clips of those actors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.data.corpora import real_clips_arguments  # noqa: E402
from spectrogan.core.cli import arg_type, cli_main, parser_from_doc  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    default_ravdess, parse_actors, parse_pair, parse_pair_name,
                                    scan_ravdess)
from spectrogan.core.errors import UserError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("--pair", required=True, type=arg_type(parse_pair_name),
                        help="the pair to validate, e.g. calm2disgust")
    parser.add_argument("--actors", type=arg_type(parse_actors), default=DEFAULT_VAL_ACTORS,
                        metavar="LIST", help="candidate validation actors (default: 15,16)")
    parser.add_argument("--exclude-actors", type=arg_type(parse_actors),
                        default=DEFAULT_TEST_ACTORS, metavar="LIST",
                        help="actors the judge may not hear and that are not judged "
                             "(default: the test actors 17,18,19,20)")
    real_clips_arguments(parser)
    return parser


def actor_verdicts(judged: Sequence[str], actors: Sequence[int], emotions: Sequence[str], *,
                   source: str, target: str) -> dict[int, tuple[float, float]]:
    """Per actor: (share of their `source` clips judged `target`, share of their `target`
    clips judged `target`), from the judge's verdict on each clip.

    Args:
        judged: the class the judge gave each clip.
        actors, emotions: each clip's actor and real emotion, in the same order.
    Returns:
        {actor: (source judged target, target recall)}, NaN where the actor has no clip of
        that emotion; actors sorted.
    """
    if not len(judged) == len(actors) == len(emotions):
        raise ValueError(f"{len(judged)} verdicts for {len(actors)} actors and "
                         f"{len(emotions)} emotions")
    judged_target = np.asarray(judged) == target
    actor_of, emotion_of = np.asarray(actors), np.asarray(emotions)

    def share(actor: int, emotion: str) -> float:
        rows = (actor_of == actor) & (emotion_of == emotion)
        return float(judged_target[rows].mean()) if rows.any() else float("nan")

    return {int(a): (share(a, source), share(a, target)) for a in sorted(set(actor_of.tolist()))}


def _share_text(share: float) -> str:
    """A share as a table cell: "38%", or "no clips" for the NaN of an actor without any."""
    return "no clips" if np.isnan(share) else f"{100 * share:.0f}%"


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _, source, target = parse_pair(args.pair)
    if set(args.actors) & set(args.exclude_actors):
        raise UserError(f"--actors {sorted(args.actors)} overlap --exclude-actors "
                        f"{sorted(args.exclude_actors)}: the test actors are not judged here")
    ravdess = args.ravdess or default_ravdess()
    files = scan_ravdess(ravdess)
    judged_files = [f for f in files if f.actor in args.actors and f.emotion in (source, target)]
    if not judged_files:
        raise UserError(f"{ravdess}: no {source} or {target} clips of actors "
                        f"{', '.join(map(str, args.actors))}; pass --ravdess or other --actors")
    held_out = set(args.actors) | set(args.exclude_actors)
    training = [f for f in files if f.actor not in held_out]
    if len({f.actor for f in training}) < 2:
        raise UserError(f"{ravdess}: too few actors outside {sorted(held_out)} to train the "
                        "judge")
    from tqdm import tqdm

    from spectrogan.evaluation.judges import train_emotion_classifier
    from spectrogan.evaluation.metrics import FeatureCache, features_of_files

    cache = FeatureCache(args.cache)
    # A cold cache means a pYIN pass over every clip (minutes): a bar on a terminal says so.
    with tqdm(total=len(training) + len(judged_files), desc="judge features", unit="clip",
              disable=None) as bar:
        train_x = features_of_files([f.path for f in training], cache, progress=bar.update)
        judged_x = features_of_files([f.path for f in judged_files], cache,
                                     progress=bar.update)
    cache.save()
    judge = train_emotion_classifier(train_x, [f.emotion for f in training])
    verdicts = judge.predict(judged_x.astype(np.float64))
    table = actor_verdicts(verdicts, [f.actor for f in judged_files],
                           [f.emotion for f in judged_files], source=source, target=target)
    trained_on = ", ".join(map(str, sorted({f.actor for f in training})))
    print(f"{args.pair}: the judge trained on actors {trained_on} ({ravdess})\n")
    print(f"| actor | real {source} judged {target} | real {target} judged {target} |\n"
          "|---|---|---|")
    for actor, (unconverted, real) in table.items():
        print(f"| {actor} | {_share_text(unconverted)} | {_share_text(real)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

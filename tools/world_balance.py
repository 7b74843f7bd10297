"""Make a run convert through WORLD with a spectral balance learned from both corpora.

Learns a pair's spectral balance (spectral_balance.learn_spectral_balance: each training
actor's target emotion against their own calm, or CREMA-D's neutral) on the run's training
actors of every corpus read, and sets "vocoder": "world" and "spectral_balance" in the
"inference" of the run's config.json and of every snapshot's (runs.write_settings), so
`evaluate.py --select-epoch` chooses the epoch the way the pair will convert ("world, model +
balance"). The other settings WORLD can apply, the records of how each was chosen and every
other key of each config stay; nothing else in the run changes. The validation and test
actors are never measured.

    python tools/world_balance.py --run runs/both/calm2disgust
    python tools/world_balance.py --run runs/both/calm2disgust --corpus ravdess,crema --jobs 2

Each clip's band levels are measured once into --cache (training/global_changes.py), so a
later run, or tools/choose_conversion.py given the same folder, reads them back.

Exit 0 when the run was updated, 2 for a usage error, 1 when a write failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.cli import cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.data.corpora import (add_corpus_arguments, corpus_folders,  # noqa: E402
                                     describe_folders)
from spectrogan.data.corpora import scan_corpora  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    parse_pair)
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.model.runs import find_snapshots, read_config, read_settings  # noqa: E402
from spectrogan.model.runs import write_settings  # noqa: E402


def build_parser():
    parser = parser_from_doc(__doc__)
    parser.add_argument("--run", type=Path, required=True, metavar="DIR",
                        help="run folder of train_cyclegan.py (config.json, snapshots/)")
    add_corpus_arguments(parser)
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="folder of the per-clip measurements (default: .cache/ in the "
                             "run folder)")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="processes measuring the clips (default: %(default)s)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = read_config(args.run)
    pair, source, target = parse_pair(str(config.get("pair", "")) or args.run.name)
    train = sorted(int(a) for a in config.get("train_actors") or ())
    held_out = set(DEFAULT_VAL_ACTORS) | set(DEFAULT_TEST_ACTORS) | set(
        config.get("val_actors") or ()) | set(config.get("test_actors") or ())
    if not train or set(train) & held_out:
        raise UserError(f"{args.run}/config.json: its train_actors are missing or include "
                        "validation or test actors; retrain with data_prep.py's split")
    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    files = [f for f in scan_corpora(folders) if f.actor in train]

    from spectrogan.training.global_changes import ChangeLearner

    learner = ChangeLearner(args.cache or args.run / ".cache", folders, jobs=args.jobs)
    balance, per_actor = learner.balance(files, source=source, target=target, actors=train)
    learned_on = {"actors": sorted(per_actor), "corpora": sorted({f.corpus for f in files})}
    folders_written = [args.run] + [s.path for s in find_snapshots(args.run)]
    for folder in folders_written:
        settings = read_settings(folder).with_vocoder("world").with_stage(balance)
        write_settings(folder, settings, records={"balance_learned_on": learned_on})
    print(f"{pair}: {balance.describe()}, learned on {len(per_actor)} actors of "
          f"{describe_folders(folders)}; recorded in {len(folders_written)} config.json file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

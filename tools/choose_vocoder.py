"""Choose how the WORLD vocoder analyses speech, on both corpora's validation actors.

Every candidate analysis (vocoder_report.CANDIDATE_ANALYSES: Harvest or DIO + StoneMask, the
fixed 60-600 Hz or the speaker's own F0 search range, D4C's voicing threshold) and Griffin-Lim
round-trip each validation actor's source clips (RAVDESS's calm, CREMA-D's neutral) with no
change. Each is scored beside the input itself: open word error, voiced share, each judge's
share still judged the source emotion, predicted naturalness (Distill-MOS, when
requirements-eval.txt is installed) and speed. The judges train on the training actors alone;
the test actors are never read. The rule (vocoder_report.choose_path): keep voicing on every
corpus, then the least word error over the input's on the worse corpus, then naturalness,
then speed. <out>/vocoders_val.json and .md hold the figures and the choice; the choice
ships by setting vocoder.SHIPPED_ANALYSIS.

    python tools/choose_vocoder.py --out runs/vocoder
    python tools/choose_vocoder.py --out runs/vocoder --limit 8 --corpus crema

Exit 0 when the candidates were scored, 2 for a usage error, 1 when a run failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.cli import arg_type, cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.data.corpora import (add_corpus_arguments, corpus_folders,  # noqa: E402
                                     scan_corpora)
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    parse_actors)
from spectrogan.evaluation.scoring import EvalSettings, make_evaluator  # noqa: E402
from spectrogan.evaluation.vocoder_report import (choose_path, score_vocoder_paths,  # noqa: E402
                                                  vocoder_paths, write_vocoder_report)


def build_parser():
    parser = parser_from_doc(__doc__)
    add_corpus_arguments(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "vocoder", metavar="DIR",
                        help="where vocoders_val.json/.md and the feature cache go "
                             "(default: %(default)s)")
    parser.add_argument("--actors", type=arg_type(parse_actors), default=DEFAULT_VAL_ACTORS,
                        metavar="LIST", help="actors to choose on (default: the split's "
                        "validation actors, %(default)s)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="score at most N clips per corpus (default: all)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    files = scan_corpora(folders)
    evaluator = make_evaluator(files, folders, cache=args.out / ".cache" / "eval_features.npz",
                               settings=EvalSettings(limit=args.limit))
    paths = vocoder_paths()
    excluded = tuple(sorted(set(DEFAULT_VAL_ACTORS + DEFAULT_TEST_ACTORS) - set(args.actors)))
    report = score_vocoder_paths(evaluator, paths, actors=args.actors, exclude_actors=excluded)
    choice = choose_path(report, [label for label in paths if label.startswith("world")])
    report |= {"paths": {label: path.record() for label, path in paths.items()},
               "choice": choice}
    labels = {label: path.name for label, path in paths.items()}
    _, table = write_vocoder_report(args.out, "vocoders_val", report, labels=labels,
                                    heading="Vocoder paths alone, validation actors",
                                    script="tools/choose_vocoder.py")
    print(f"chosen: {labels[choice['chosen']]}; figures in {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

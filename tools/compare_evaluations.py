"""Compare two evaluations of one pair clip by clip: is one conversion judged its target more
often than the other by more than chance?

Reads two metrics.json files written by `evaluate.py` (say the shipped models' and one run with
`--models runs/other --out runs/eval_other`), and for every corpus on whose test actors both
scored the pair prints, per judge, each conversion's judged-target share on the clips both
scored, the discordant clips (judged the target by one and not the other) and the exact
two-sided sign test on them (McNemar's test, evaluation/paired.py). A judge that does not count
for that emotion on that corpus (evaluate.py's competence check) is shown and marked.

    python tools/compare_evaluations.py results/metrics.json runs/eval_global_fearful \\
        --pair calm2fearful

Exit 0 when compared, 2 for a usage error (a missing or unreadable metrics file, a pair one
of them lacks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.cli import arg_type, cli_main, parser_from_doc  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.data.corpus import CORPUS_TITLES, parse_pair_name  # noqa: E402
from spectrogan.evaluation.judges import JUDGE_NAMES  # noqa: E402
from spectrogan.evaluation.paired import paired_judgements  # noqa: E402
from spectrogan.evaluation.reports import corpus_pairs, read_metrics, scored_corpora  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("first", type=Path,
                        help="metrics.json of the first evaluation, or the folder holding it")
    parser.add_argument("second", type=Path,
                        help="metrics.json of the second evaluation, or the folder holding it")
    parser.add_argument("--pair", required=True, type=arg_type(parse_pair_name),
                        help="the pair both evaluated, e.g. calm2fearful")
    return parser


def _metrics(path: Path) -> dict:
    path = path / "metrics.json" if path.is_dir() else path
    if not path.is_file():
        raise UserError(f"{path}: no such metrics file; write one with `python evaluate.py "
                        "--pair PAIR --out DIR`")
    try:
        return read_metrics(path)
    except UserError:  # its own message speaks of evaluate.py's --out
        raise UserError(f"{path}: not a metrics.json written by evaluate.py") from None


def comparison_table(first: dict, second: dict, pair: str) -> str:
    """The markdown table of every corpus both metrics scored `pair` on; UserError when
    there is none."""
    lines = []
    for corpus in scored_corpora(first):
        a, b = corpus_pairs(first, corpus).get(pair), corpus_pairs(second, corpus).get(pair)
        if a is None or b is None:
            continue
        counted = set((a.get("competence") or {}).get("counted") or JUDGE_NAMES)
        try:
            rows = paired_judgements(a, b, judges=JUDGE_NAMES)
        except ValueError as exc:
            raise UserError(f"{pair} on {CORPUS_TITLES.get(corpus, corpus)}: {exc}") from None
        lines += [f"{pair}, {CORPUS_TITLES.get(corpus, corpus)} test actors "
                  f"({rows[0].clips} clips)", "",
                  "| judge | first | second | first only | second only | p (exact) |",
                  "|---|---|---|---|---|---|"]
        for row in rows:
            name = row.judge if row.judge in counted else f"{row.judge} (does not count)"
            lines.append(f"| {name} | {row.first / row.clips:.0%} ({row.first}) | "
                         f"{row.second / row.clips:.0%} ({row.second}) | {row.first_only} | "
                         f"{row.second_only} | {row.p_value:.2f} |")
        lines.append("")
    if not lines:
        raise UserError(f"{pair}: not scored on the same corpus in both files; evaluate it "
                        f"with `python evaluate.py --pair {pair}`")
    return "\n".join(lines)


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(comparison_table(_metrics(args.first), _metrics(args.second), args.pair))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Two evaluations of one pair on the same clips, compared clip by clip.

A judged-target share that moves from 12% to 19% on 32 clips may be two clips. Compared clip by
clip, what counts is the discordant clips: those one conversion is judged its target and the
other is not. Whether their split is more lopsided than chance says is McNemar's test in its
exact form, the two-sided sign test on the discordant clips (`exact_sign_test`).

Each evaluation is a pair's entry of evaluate.py's metrics.json: its "target" and its "clips",
each with "source", "target" and "judged_by" -> judge -> "converted".
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any, Sequence


@dataclass(frozen=True)
class PairedJudgement:
    """One judge's verdicts on the same clips converted two ways: first and second, the clips
    each is judged the target; first_only and second_only, the discordant ones."""

    judge: str
    clips: int
    first: int
    second: int
    first_only: int
    second_only: int

    @property
    def p_value(self) -> float:
        """Two-sided exact p of the discordant split (1.0 when there is none)."""
        return exact_sign_test(self.first_only, self.second_only)


def exact_sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p of `wins` against `losses` when each is equally likely:
    twice the probability of a split at least as lopsided, at most 1."""
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be non-negative, got {wins} and {losses}")
    total = wins + losses
    if total == 0:
        return 1.0
    tail = sum(comb(total, k) for k in range(min(wins, losses) + 1)) / 2.0 ** total
    return min(1.0, 2.0 * tail)


def _verdicts(entry: dict[str, Any], judge: str, where: str) -> dict[tuple[str, str], bool]:
    try:
        return {(clip["source"], clip["target"]):
                clip["judged_by"][judge]["converted"] == entry["target"]
                for clip in entry["clips"]}
    except (KeyError, TypeError):
        raise ValueError(f"{where}: its clips hold no '{judge}' verdicts") from None


def paired_judgements(first: dict[str, Any], second: dict[str, Any], *,
                      judges: Sequence[str]) -> list[PairedJudgement]:
    """Per judge, the two evaluations' verdicts on the clips both scored (matched by source
    and target recording). ValueError when they are of different targets, share no clip or
    lack a judge's verdicts."""
    if first.get("target") != second.get("target"):
        raise ValueError(f"the evaluations convert to different emotions: "
                         f"{first.get('target')!r} and {second.get('target')!r}")
    table = []
    for judge in judges:
        a, b = _verdicts(first, judge, "the first"), _verdicts(second, judge, "the second")
        shared = sorted(set(a) & set(b))
        if not shared:
            raise ValueError("the evaluations share no clip")
        table.append(PairedJudgement(
            judge, len(shared), sum(a[k] for k in shared), sum(b[k] for k in shared),
            sum(a[k] and not b[k] for k in shared), sum(b[k] and not a[k] for k in shared)))
    return table

"""README.md as a user's guide: short, its figures from the one record, its words explained,
its links alive, nothing that only holds on one machine."""

from __future__ import annotations

import re

import pytest

import make_results_page
import reports

from conftest import REPO

README = REPO / "README.md"
GUIDE_LIMIT_BYTES = 16 * 1024


def _text() -> str:
    return README.read_text(encoding="utf-8")


def test_the_guide_is_short_and_starts_with_the_two_commands():
    assert len(README.read_bytes()) <= GUIDE_LIMIT_BYTES
    block = _text().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0].startswith("pip install -r requirements.txt && python convert.py ")
    assert block[1] == "pip install -r requirements.txt && python -m pytest"


def test_the_table_of_what_ships_is_the_one_metrics_json_makes():
    metrics = reports.read_metrics(REPO / "results" / "metrics.json")
    table = reports.shipped_table(metrics)
    assert f"{reports.SHIPPED_BEGIN}\n{table}{reports.SHIPPED_END}" in _text()
    # make_results_page.py refreshes exactly that block and nothing else.
    stale = _text().replace(table, table.replace("| met |", "| stale |"))
    assert reports.replace_shipped_table(stale, table) == _text()
    assert make_results_page.GUIDE == README


def test_every_word_of_the_table_is_explained_before_the_scripts():
    text = _text()
    glossary = text.split("### What the figures mean", 1)[1].split("\n## ", 1)[0]
    header = text.split(reports.SHIPPED_BEGIN, 1)[1].splitlines()[1]
    for term in ("judged target", "real recordings", "voiced", "vocoder alone",
                 "open word error", "goal"):
        assert term in header
        assert f"**{term}**" in glossary, f"{term!r} is not explained"
    assert "**strength**" in glossary


def test_no_command_or_path_holds_only_on_one_machine():
    assert not re.search(r"(?<![\w.])/(work|root|home)/", _text())


@pytest.mark.parametrize("page", ["README.md", "docs/training.md", "docs/performance.md"])
def test_every_local_link_leads_to_a_file(page):
    path = REPO / page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
        if not re.match(r"[a-z]+://", target):
            assert (path.parent / target).exists(), f"{page} links to missing {target}"

"""README.md as a user's guide: short, its figures from the one record, its words explained,
its links alive, nothing that only holds on one machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import make_results_page
from spectrogan.evaluation import reports

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


# --- The documents agree with each other and with the repository (issue 56.11) --------------
MARKDOWN = sorted(p for p in REPO.rglob("*.md")
                  if not {"runs", "data", ".git", ".pytest_cache"} & set(p.relative_to(REPO).parts))


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a markdown page: lower case, punctuation dropped, spaces
    to hyphens."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            anchors.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_and_anchor_of_every_page_resolves(page):
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        destination = page.parent / target if target else page
        assert destination.exists(), f"{page.name} links to missing {target}"
        if anchor and destination.suffix == ".md":
            assert anchor in _anchors(destination), f"{page.name}: no #{anchor} in {target}"


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_document_a_page_cites_is_in_the_repository(page):
    """A page may name a script or a note (`tools/choose_cut.py`, `level_change.md`); each
    must be a file here (files a command writes, like config.json, are not cited this way)."""
    names = {p.name for p in REPO.rglob("*") if p.suffix in (".py", ".md")}
    text = page.read_text(encoding="utf-8")
    for cited in re.findall(r"`(?:[\w./-]*/)?([\w-]+\.(?:py|md))`", text):
        assert cited in names, f"{page.name} cites {cited}, which is not in the repository"


def test_shipped_models_trained_off_the_split_are_said_so():
    """README's split names the training actors; a shipped model trained on others (the
    shipped calm→disgust: RAVDESS 01-12) is named beside it."""
    from spectrogan.data.corpus import SPEAKER_SPLIT

    text = " ".join(_text().split())
    held = SPEAKER_SPLIT["ravdess"]["val"] + SPEAKER_SPLIT["ravdess"]["test"]
    split_train = set(range(1, min(held)))  # RAVDESS 01-14
    for path in sorted((REPO / "results").glob("calm2*/config.json")):
        config = json.loads(path.read_text())
        trained = {actor for actor in config.get("train_actors") or () if actor < 1000}
        if trained and trained != split_train:
            assert f"calm→{config['target']} on actors {min(trained):02d}–{max(trained):02d}" \
                in text, path.parent.name


def test_the_smoke_run_says_data_prep_comes_first():
    text = " ".join(_text().split())
    smoke = text.split("smoke run", 1)[1]
    assert smoke.index("data_prep.py") < smoke.index("train_cyclegan.py")


def test_test_tables_judges_never_heard_validation_or_test_actors():
    """docs/training.md says the judges train on the training actors only: metrics.json
    must show it."""
    from spectrogan.data.corpus import SPEAKER_SPLIT

    held = {actor for corpus in SPEAKER_SPLIT.values() for role in ("val", "test")
            for actor in corpus[role]}
    metrics = reports.read_metrics(REPO / "results" / "metrics.json")
    tables = [metrics["pairs"]] + [corpus["pairs"] for corpus in
                                   (metrics.get("corpora") or {}).values()]
    for pairs in tables:
        for pair, entry in pairs.items():
            trained = set(entry["classifier"]["train_actors"])
            assert not trained & held, (pair, sorted(trained & held))


def test_the_results_page_says_why_epoch_and_conversion_figures_differ():
    metrics = reports.read_metrics(REPO / "results" / "metrics.json")
    for line in make_results_page.selection_section(metrics, REPO / "results"):
        if "was chosen on validation actors" in line and "arm '" in line:
            assert "% there" in line and "so the two differ" in line, line


def test_the_page_screenshot_shows_the_spectrograms():
    """docs/app_page.png is the whole page (tools/page_browser.py --screenshot), down to the
    spectrograms below the controls, not one window's height."""
    import struct

    png = (REPO / "docs" / "app_page.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert height > 1100, (width, height)  # taller than the browser window it was taken in

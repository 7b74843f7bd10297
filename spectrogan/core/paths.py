"""Where the project's own folders are: the checkout, and results/ (the shipped models, their
figures and samples)."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPOSITORY / "results"

"""Which corpora a command reads, where they are, and every clip in them.

The facts about each corpus are corpus.py's (RAVDESS, the split, the source stand-ins) and
crema.py's (CREMA-D's names); this module picks the folders a command was given or finds them
at their default places, scans them, and gives the scripts their --ravdess / --crema /
--corpus flags, so data_prep.py and evaluate.py mean the same thing by them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Sequence

from spectrogan.core.cli import arg_type
from spectrogan.data.corpus import (CORPORA, CORPUS_TITLES, EMOTIONS, canonical_emotion,
                                    default_crema, default_ravdess, parse_corpora, scan_ravdess)
from spectrogan.data.crema import scan_crema
from spectrogan.core.errors import UserError
from spectrogan.core.paths import RESULTS_DIR

DEFAULT_FOLDERS: dict[str, Callable[[], Path]] = {"ravdess": default_ravdess,
                                                  "crema": default_crema}
SCANNERS: dict[str, Callable[..., list[Any]]] = {"ravdess": scan_ravdess, "crema": scan_crema}


def add_corpus_arguments(parser: argparse.ArgumentParser, *, ravdess_extra: str = "") -> None:
    """--ravdess DIR, --crema DIR and --corpus LIST (read back by `corpus_folders`)."""
    parser.add_argument("--ravdess", type=Path, metavar="DIR",
                        help="RAVDESS speech folder (Actor_XX/03-01-EE-II-SS-RR-AA.wav)"
                             f"{ravdess_extra} (default: {default_ravdess()} when no corpus "
                             "folder is given or --corpus names ravdess)")
    parser.add_argument("--crema", type=Path, metavar="DIR",
                        help="CREMA-D folder (<actor>/<actor>_<sentence>_<emotion>_<level>"
                             f".flac) (default: {default_crema()} when no corpus folder is "
                             "given or --corpus names crema)")
    parser.add_argument("--corpus", type=arg_type(parse_corpora), metavar="LIST",
                        help="comma-separated corpora to read, of "
                             f"{', '.join(CORPORA)}; a pair takes every one that records both "
                             "its emotions (CREMA-D's neutral stands in for calm; it has no "
                             "surprised) (default: the corpora whose folder is given, or with "
                             "none given, each whose default folder exists)")


def corpus_folders(given: dict[str, Path | None], chosen: Sequence[str] | None = None
                   ) -> dict[str, Path]:
    """The folder of every corpus to read, in CORPORA order.

    Args:
        given: {corpus: folder or None} as the user passed them (--ravdess, --crema).
        chosen: the corpora --corpus names (a named one without a folder is read from its
            default place), or None: the given ones, or with none given every corpus whose
            default folder exists.
    Raises:
        UserError: nothing to read.
    """
    if chosen:
        names = tuple(chosen)
    elif any(given.values()):
        names = tuple(name for name in CORPORA if given.get(name))
    else:
        names = tuple(name for name in CORPORA if DEFAULT_FOLDERS[name]().is_dir())
    if not names:
        raise UserError("no corpus found: say where RAVDESS is with --ravdess DIR (the folder "
                        "holding Actor_01 ... Actor_24) and/or CREMA-D with --crema DIR, or "
                        "fetch RAVDESS with `python data_prep.py --download ravdess --all`")
    return {name: Path(given.get(name) or DEFAULT_FOLDERS[name]()) for name in CORPORA
            if name in names}


def scan_corpora(folders: dict[str, Path], *,
                 skipped: list[tuple[str, str]] | None = None) -> list[Any]:
    """Every recording of every corpus in `folders` (RavdessFile and CremaFile records, each
    corpus sorted by path); UserError from a scanner names the folder that failed."""
    records: list[Any] = []
    for name, folder in folders.items():
        records += SCANNERS[name](folder, skipped=skipped)
    return records


def describe_folders(folders: dict[str, Path]) -> str:
    """'RAVDESS (../shared/data/ravdess) and CREMA-D (../shared/data/crema)'."""
    return " and ".join(f"{CORPUS_TITLES[name]} ({folder})" for name, folder in folders.items())


def clip_conversion_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a tool that converts one clip to a target emotion: clip, --emotion,
    --source (canonical emotion names)."""
    parser.add_argument("clip", type=Path, help="the calm recording to convert")
    parser.add_argument("--emotion", required=True, type=canonical_emotion,
                        help=f"target emotion, one of {', '.join(EMOTIONS)} (or an alias)")
    parser.add_argument("--source", default="calm", type=canonical_emotion,
                        help="emotion of the clip (default: %(default)s)")


def real_clips_arguments(parser: argparse.ArgumentParser, *, cache: bool = True) -> None:
    """--ravdess (the corpus a tool reads real clips from) and, with `cache`, --cache (the
    feature cache evaluate.py keeps in results/, so a tool's judge reuses its features)."""
    parser.add_argument("--ravdess", type=Path, default=None, metavar="DIR",
                        help="RAVDESS folder holding Actor_01 ... (default: data/ravdess if "
                             "present, else ../shared/data/ravdess)")
    if cache:
        parser.add_argument("--cache", type=Path, metavar="NPZ",
                            default=RESULTS_DIR / ".cache" / "eval_features.npz",
                            help="feature cache shared with evaluate.py (default: %(default)s)")

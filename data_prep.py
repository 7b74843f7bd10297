"""RAVDESS and CREMA-D -> paired (unpaired-domain) spectrogram training sets for SpectroGAN.

For one emotion pair SRC2DST (e.g. calm2anger) this writes `data/<pair>.npz`: two stacks of
260x260 spectrogram images in [-1, 1] (domain A = the source emotion, domain B = the target),
each split by speaker three ways: train (what the CycleGAN learns from), val (validation
actors, on which train_cyclegan.py reports held-out metrics and evaluate.py chooses the epoch
to ship) and test (test actors, used only for the final report). CycleGAN training is
unpaired, so the two stacks need not hold the same sentences or speakers.

Usage:
    python data_prep.py --pair calm2anger      # both corpora, each found at its default place
    python data_prep.py --corpus ravdess,crema --all
    python data_prep.py --crema ../shared/data/crema --pair neutral2sad     # CREMA-D alone
    python data_prep.py --ravdess ../shared/data/ravdess --pair calm2anger  # RAVDESS alone
    python data_prep.py --ravdess ../shared/data/ravdess --all          # the original's 7 pairs
    python data_prep.py --ravdess DIR --pair sad2happy --windows center --intensity strong
    python data_prep.py --ravdess DIR --pair calm2fear --test-actors 1,2,3,4 --out data/
    python data_prep.py --ravdess DIR --pair calm2sad --val-actors 13,14   # other val actors
    python data_prep.py --ravdess DIR --pair calm2sad --val-actors none    # no val split
    python data_prep.py --download ravdess --all     # fetch RAVDESS from Zenodo, then build
    python data_prep.py --download seed --all        # the original's 7 npz files, converted

How a data set is made (the same way every time; no randomness, so no seed is involved):
  * Corpora: RAVDESS and CREMA-D (crema.py); a pair takes every corpus read that records both
    its emotions. CREMA-D has no calm: its neutral is a calm2X pair's source there; it has no
    surprised, so calm2surprised is RAVDESS's alone. Its low-intensity takes (sentence IEO,
    level LO) are left out with --intensity both: they sound close to neutral. Files from
    CREMA-D are named `crema/<actor>/<file>` in the npz.
  * Files: a RAVDESS tree as distributed, `Actor_XX/03-01-EE-II-SS-RR-AA.wav` (modality 03
    audio-only, vocal channel 01 speech, EE emotion, II intensity, SS statement, RR repetition,
    AA actor; odd actors are male, even female). Any sample rate, mono or stereo (see
    audio_files.load_audio). Every file that does not follow the scheme is skipped and counted in
    the summary; so is every file that cannot be read.
  * Pairs: SRC2DST for any two of the eight RAVDESS emotions (neutral, calm, happy, sad,
    angry, fearful, disgust, surprised); the original's names anger, fear, surprise are
    aliases, and pair files use its spelling (calm2anger). --all builds DEFAULT_PAIRS.
  * Split by speaker, three ways, no actor in two splits: the test actors (--test-actors,
    default 17, 18, 19, 20: two male, two female) are kept for the final report only; the
    validation actors (--val-actors, default 15, 16: one male, one female) are what epochs
    are chosen on; every other actor present trains (01-14, and 21-24 if present). Validation
    and test actors must not overlap.
  * Each clip: leading/trailing silence is trimmed (librosa.effects.trim, top_db=40 below the
    clip's loudest frame, STFT-sized frames), then the clip becomes a dB image relative to its
    own maximum (spectro.magnitude_to_image) cut into 257-frame windows:
      --windows all     windows overlapping by spectro.WINDOW_OVERLAP frames (a short clip
                        gives one padded window, a long one several; nothing is cut away);
      --windows center  one 257-frame crop from the middle of the clip (the original's way;
                        shorter clips are padded).
    RAVDESS clips are 1.1-4.4 s long after trimming (median 2 s), so both modes give one
    window per clip for all but a handful of files (5 of 1200 in our copy).
  * The npz (see save_pair_npz / load_pair_npz): train_A, train_B, val_A, val_B, test_A,
    test_B float16 (N, 260, 260) in [-1, 1] (val_* hold 0 images with --val-actors none);
    for each, `<key>_files` (the source file of every window, relative to the RAVDESS folder)
    and `<key>_actors`; the STFT settings; and the build options (test_actors, val_actors,
    train_actors, windows, intensity, trim_top_db, window_overlap),
    `origin` ('ravdess' or 'seed') and a `fingerprint` of options + input files (names, sizes,
    modification times) + STFT settings. A data set whose fingerprint matches is up to date and
    is not rebuilt (--force rebuilds it); one made by this script with other options or inputs
    is rebuilt; any other file at the output path is never replaced without --force.

Downloads:
  * --download ravdess: Audio_Speech_Actors_01-24.zip from Zenodo record 1188976 (md5
    checked) into OUT/, extracted (refusing any member that would land outside the folder)
    into --ravdess DIR (default OUT/ravdess), then the requested pairs are built from it.
  * --download seed: the original project's seven npz files (Google Drive, via gdown) into
    OUT/seed/, checked (size and sha256 where known, always that it loads), and converted:
    `arr_0` (domain A) / `arr_1` (domain B) pixel values 0..255 -> x / 127.5 - 1. Their
    speakers are unknown (actors stored as -1), so the last --seed-test-fraction of each
    stack becomes the test set and there is no validation split (val_* empty); this split
    is NOT guaranteed speaker-disjoint.
  Without network both fail with one line; build from a local copy with --ravdess DIR.

RAVDESS: Livingstone & Russo (2018), https://zenodo.org/record/1188976, CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from spectrogan.core.cli import arg_type, cli_main
from spectrogan.data.corpus import (ALL_PAIRS, DATA_DIR, DATA_PREP_VERSION, DEFAULT_PAIRS,
                                    DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS, DOMAINS,
                                    EMOTION_ALIASES, EMOTIONS, GROUPS, INTENSITY_FILTERS, SPLITS,
                                    STFT_SETTINGS, actor_range, check_actor_split, clip_name,
                                    content_digest, corpus_of_actor, describe_split,
                                    emotions_in_corpus, file_stamp, foreign_npz_message, npz_key,
                                    npz_state, parse_actors, parse_optional_actors, parse_pair,
                                    parse_pair_name, save_pair_npz, select_files, split_by_actor,
                                    window_counts)
from spectrogan.data.corpora import add_corpus_arguments, corpus_folders, scan_corpora
from spectrogan.data.downloads import download_ravdess
from spectrogan.core.errors import UserError
from spectrogan.data.original_data import SEED_TEST_FRACTION, download_seed
from spectrogan.audio.audio_files import AudioError, load_audio
from spectrogan.audio.spectro import (HOP_LENGTH, IMAGE_SIZE, N_FFT, N_FRAMES, PAD_VALUE,
                                      WINDOW_OVERLAP, magnitude_to_image, pad_image, split_windows,
                                      stft)

TRIM_TOP_DB = 40.0  # silence = more than 40 dB below the clip's loudest frame (trimmed)
WINDOW_MODES = ("all", "center")


# --- One clip -> windows ----------------------------------------------------------------------
def clip_to_windows(audio: np.ndarray, *, windows: str = "all",
                    trim_top_db: float = TRIM_TOP_DB) -> np.ndarray:
    """Trim a clip's leading/trailing silence and cut it into padded spectrogram windows.

    Args:
        audio: mono float32 audio at SAMPLE_RATE (>= N_FFT samples).
        windows: 'all' -> every window (spectro.split_windows, overlapping by WINDOW_OVERLAP
            frames); 'center' -> one N_FRAMES crop from the middle (shorter clips padded).
        trim_top_db: frames more than this many dB below the loudest frame count as silence.
    Returns:
        float32 (N, IMAGE_SIZE, IMAGE_SIZE) in [-1, 1], N >= 1; dB relative to the clip's max.
    Raises:
        AudioError: the clip is digital silence (nothing to learn from).
    """
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    if not np.any(audio):
        raise AudioError("the clip is silent")
    if windows not in WINDOW_MODES:
        raise ValueError(f"windows must be one of {WINDOW_MODES}, got {windows!r}")
    # STFT-sized frames so the trim points fall on the same grid as the image columns.
    trimmed, _ = librosa.effects.trim(audio, top_db=trim_top_db, frame_length=N_FFT,
                                      hop_length=HOP_LENGTH)
    if trimmed.shape[0] < N_FFT:  # a click in silence: keep the clip rather than lose it
        trimmed = audio
    image, _ = magnitude_to_image(np.abs(stft(trimmed)))
    if windows == "all":
        return split_windows(image)
    start = max(0, (image.shape[1] - N_FRAMES) // 2)
    return pad_image(image[:, start:start + N_FRAMES])[np.newaxis]


def file_to_windows(path: str | os.PathLike, *, windows: str = "all",
                    trim_top_db: float = TRIM_TOP_DB) -> np.ndarray:
    """`clip_to_windows` of an audio file (any rate/channels); AudioError if it is unusable."""
    try:
        return clip_to_windows(load_audio(path), windows=windows, trim_top_db=trim_top_db)
    except AudioError as exc:
        message = str(exc)
        raise AudioError(message if str(path) in message else f"{path}: {message}") from None


# --- Building pairs from RAVDESS --------------------------------------------------------------
def _speaker_split_text(test_actors: Sequence[int], records: Sequence[Any],
                        val_actors: Sequence[int] = ()) -> str:
    """One line per the data set's speaker split: who tests, validates and trains, and which
    held-out actors asked for have no files (only among the corpora that were read)."""
    sexes = {f.actor: f.sex for f in records}
    all_actors = sorted(sexes)

    def described(actors: Sequence[int]) -> str:
        present = [a for a in actors if a in sexes]
        counts = {sex: sum(sexes[a] == sex for a in present) for sex in ("male", "female")}
        unknown = len(present) - sum(counts.values())
        parts = ([f"{counts['male']} male", f"{counts['female']} female"]
                 if unknown < len(present) else [])
        parts += [f"{unknown} of unrecorded sex"] if unknown else []
        return f"{actor_range(present)} ({', '.join(parts)})"

    held_out = set(test_actors) | set(val_actors)
    text = (f"split by speaker: test actors {described(test_actors)}, validation actors "
            f"{described(val_actors) if val_actors else 'none'}, train actors "
            f"{actor_range(a for a in all_actors if a not in held_out)}")
    corpora = {f.corpus for f in records}
    for role, actors in (("test", test_actors), ("validation", val_actors)):
        absent = [a for a in actors if a not in sexes and corpus_of_actor(a) in corpora]
        if absent:
            text += f"; no files of {role} actor(s) {actor_range(absent)}"
    return text


def build_pairs(ravdess_dir: str | os.PathLike | None, pairs: Sequence[str], *,
                crema_dir: str | os.PathLike | None = None,
                out_dir: str | os.PathLike = DATA_DIR,
                test_actors: Iterable[int] = DEFAULT_TEST_ACTORS,
                val_actors: Iterable[int] = DEFAULT_VAL_ACTORS, windows: str = "all",
                intensity: str = "both", force: bool = False, progress: bool = False
                ) -> list[dict[str, Any]]:
    """Build `out_dir/<pair>.npz` for each pair from RAVDESS and/or CREMA-D, reading each file
    once.

    Args:
        ravdess_dir: the RAVDESS folder (see scan_ravdess), or None for CREMA-D alone.
        pairs: pair names 'SRC2DST' (aliases allowed). Each corpus that records both emotions
            contributes to a pair (CREMA-D's neutral stands in for calm; it has no surprised).
        crema_dir: the CREMA-D folder (see crema.scan_crema), or None for RAVDESS alone.
        out_dir: folder for the npz files (created).
        test_actors: actors whose files form the test split (never in train); the actor
            numbers of the two corpora do not overlap, so one list serves both.
        val_actors: actors whose files form the validation split (never in train; must not
            overlap `test_actors`); empty for no validation split.
        windows: 'all' or 'center' (see clip_to_windows).
        intensity: 'both', 'normal' or 'strong'.
        force: rebuild up-to-date data sets and replace files this command did not make.
        progress: show a tqdm bar while files are read.
    Returns:
        one summary dict per pair: pair, source, target, path, status ('built', 'up to date'
        or 'failed'), error (str, failures only), files and windows ({'train_A': n, ...,
        'val_A': n, ...}), corpora (those that contributed), test_actors, val_actors,
        train_actors, split (one line describing it), unreadable ([(file, reason)] among the
        pair's files), skipped ([(file, reason)] of names outside the corpora's schemes),
        seconds.
    Raises:
        UserError: bad folders or options (before anything is read).
    """
    from tqdm import tqdm

    if windows not in WINDOW_MODES:
        raise UserError(f"unknown --windows {windows!r}; choose one of {', '.join(WINDOW_MODES)}")
    if intensity not in INTENSITY_FILTERS:
        raise UserError(f"unknown --intensity {intensity!r}; choose one of "
                        f"{', '.join(INTENSITY_FILTERS)}")
    if ravdess_dir is None and crema_dir is None:
        raise UserError("no corpus to build from; pass --ravdess DIR and/or --crema DIR")
    test_actors, val_actors = check_actor_split(test_actors, val_actors)
    pairs = list(dict.fromkeys(parse_pair(p)[0] for p in pairs))  # aliases of one pair: once
    roots = {name: Path(folder) for name, folder in (("ravdess", ravdess_dir),
                                                     ("crema", crema_dir)) if folder is not None}
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: is a file; --out takes a folder for the npz files")
    skipped: list[tuple[str, str]] = []
    records = scan_corpora(roots, skipped=skipped)
    all_actors = sorted({f.actor for f in records})
    plans = []
    for pair in pairs:
        plans.append(_plan_pair(roots, records, pair, out_dir=out_dir, test_actors=test_actors,
                                val_actors=val_actors, windows=windows, intensity=intensity,
                                force=force, all_actors=all_actors, skipped=skipped))

    # Files shared by several pairs (calm in six of the seven defaults) are read once and kept
    # only until the last pair that needs them is written, so memory stays near one pair's.
    uses: dict[Path, int] = {}
    for plan in plans:
        if plan["status"] == "build":
            for group in GROUPS:
                for f in plan["groups"][group]:
                    uses[f.path] = uses.get(f.path, 0) + 1
    cache: dict[Path, np.ndarray] = {}
    unreadable: dict[Path, str] = {}
    bar = tqdm(total=len(uses), unit="file", desc="reading audio", disable=None if progress
               else True, file=sys.stderr)
    summaries = []
    with bar:
        for plan in plans:
            if plan["status"] == "build":
                _build_planned(plan, roots=roots, windows=windows, cache=cache, uses=uses,
                               unreadable=unreadable, bar=bar)
            summaries.append(_summary(plan))
    return summaries


def build_pair(ravdess_dir: str | os.PathLike | None, pair: str, *,
               crema_dir: str | os.PathLike | None = None, out_dir: str | os.PathLike = DATA_DIR,
               test_actors: Iterable[int] = DEFAULT_TEST_ACTORS,
               val_actors: Iterable[int] = DEFAULT_VAL_ACTORS, windows: str = "all",
               intensity: str = "both", force: bool = False, progress: bool = False
               ) -> dict[str, Any]:
    """Build one pair's npz (see build_pairs) and return its summary.

    Raises:
        UserError: the pair could not be built (bad folder, too few files for the split,
            every file of a group unreadable, a file at the output path not made by us).
    """
    summary = build_pairs(ravdess_dir, [pair], crema_dir=crema_dir, out_dir=out_dir,
                          test_actors=test_actors,
                          val_actors=val_actors, windows=windows, intensity=intensity,
                          force=force, progress=progress)[0]
    if summary["status"] == "failed":
        raise UserError(summary["error"])
    return summary


def _plan_pair(roots: dict[str, Path], records: list[Any], pair: str, *, out_dir: Path,
               test_actors: tuple[int, ...], val_actors: tuple[int, ...], windows: str,
               intensity: str, force: bool, all_actors: list[int],
               skipped: list[tuple[str, str]]) -> dict[str, Any]:
    """Choose the files of one pair and decide whether it needs building."""
    name, source, target = parse_pair(pair)
    path = out_dir / f"{name}.npz"
    groups: dict[tuple[str, str], list[Any]] = {g: [] for g in GROUPS}
    corpora = []
    for corpus_name in roots:
        emotions = emotions_in_corpus(corpus_name, source, target)
        if emotions is None:
            continue
        corpora.append(corpus_name)
        own = [f for f in records if f.corpus == corpus_name]
        for domain, emotion in zip(DOMAINS, emotions):
            split = split_by_actor(select_files(own, emotion, intensity=intensity), test_actors,
                                   val_actors)
            for part in SPLITS:
                groups[part, domain] += split[part]
    plan: dict[str, Any] = {
        "pair": name, "source": source, "target": target, "path": path, "groups": groups,
        "corpora": corpora, "test_actors": list(test_actors), "val_actors": list(val_actors),
        "train_actors": [a for a in all_actors if a not in test_actors + val_actors],
        "split": _speaker_split_text(test_actors, records, val_actors),
        "windows": windows, "intensity": intensity, "skipped": skipped, "unreadable": [],
        "images": {}, "started": time.perf_counter(), "status": "build", "error": None}
    empty = [g for g in _needed_groups(val_actors) if not groups[g]]
    if empty:
        which = ", ".join(f"{part} {source if domain == 'A' else target}"
                          for part, domain in empty)
        plan.update(status="failed", error=(
            f"{name}: too few files for the split (none for: {which}; test actors "
            f"{actor_range(test_actors)}, validation actors {actor_range(val_actors)}, "
            f"intensity {intensity}, actors found {actor_range(all_actors)}, corpora "
            f"{', '.join(roots)}); choose other --test-actors, --val-actors, --intensity or "
            "--corpus"))
        return plan
    inputs = {"origin": "ravdess", "version": DATA_PREP_VERSION, "stft": STFT_SETTINGS,
              "pad_value": PAD_VALUE, "window_overlap": WINDOW_OVERLAP,
              "trim_top_db": TRIM_TOP_DB, "pair": name, "test_actors": list(test_actors),
              "val_actors": list(val_actors), "windows": windows, "intensity": intensity,
              "files": {npz_key(*g): [[clip_name(f, roots), *file_stamp(f.path, roots[
                  f.corpus])[1:]] for f in groups[g]] for g in GROUPS}}
    if corpora != ["ravdess"]:  # a RAVDESS-only set keeps the fingerprint it always had
        inputs["corpora"] = corpora
    plan["fingerprint"] = content_digest(inputs)
    state = npz_state(path, plan["fingerprint"], "ravdess")
    if state == "up to date" and not force:
        plan["status"] = "up to date"
    elif state == "foreign" and not force:
        plan.update(status="failed", error=foreign_npz_message(path))
    return plan


def _needed_groups(val_actors: Sequence[int]) -> list[tuple[str, str]]:
    """Groups that must hold files: all, but the val ones only when validation actors were
    asked for (an empty val split is how "no validation actors" is stored)."""
    return [g for g in GROUPS if g[0] != "val" or val_actors]


def _build_planned(plan: dict[str, Any], *, roots: dict[str, Path], windows: str,
                   cache: dict[Path, np.ndarray], uses: dict[Path, int],
                   unreadable: dict[Path, str], bar: Any) -> None:
    """Read (or reuse) every window of a planned pair and write its npz; updates `plan`."""
    plan["started"] = time.perf_counter()
    images, files, actors = {}, {}, {}
    for group in GROUPS:
        stacks, names, ids = [], [], []
        for f in plan["groups"][group]:
            if f.path not in cache and f.path not in unreadable:
                try:
                    # float16 is what the npz stores, so caching at that precision loses nothing.
                    cache[f.path] = file_to_windows(f.path, windows=windows).astype(np.float16)
                except AudioError as exc:  # the message starts with the path; keep the why
                    unreadable[f.path] = str(exc).removeprefix(f"{f.path}: ")
                bar.update(1)
            if f.path in unreadable:
                plan["unreadable"].append((clip_name(f, roots), unreadable[f.path]))
                continue
            stack = cache[f.path]
            uses[f.path] -= 1
            if uses[f.path] == 0:
                del cache[f.path]
            stacks.append(stack)
            names += [clip_name(f, roots)] * len(stack)
            ids += [f.actor] * len(stack)
        images[group] = (np.concatenate(stacks) if stacks
                         else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float16))
        files[group], actors[group] = names, ids
    plan["images"] = {npz_key(*g): len(images[g]) for g in GROUPS}
    empty = [g for g in _needed_groups(plan["val_actors"]) if not len(images[g])]
    if empty:
        plan.update(status="failed", error=(
            f"{plan['pair']}: no readable files for {', '.join((npz_key(*g) for g in empty))} "
            f"({len(plan['unreadable'])} unreadable, e.g. {': '.join(plan['unreadable'][0])})"))
        return
    extra = {"origin": "ravdess", "fingerprint": plan["fingerprint"],
             "data_prep_version": DATA_PREP_VERSION, "test_actors": np.array(
                 plan["test_actors"], np.int16),
             "val_actors": np.array(plan["val_actors"], np.int16),
             "train_actors": np.array(plan["train_actors"], np.int16),
             "windows": windows, "intensity": plan["intensity"], "trim_top_db": TRIM_TOP_DB,
             "window_overlap": WINDOW_OVERLAP, "corpora": np.array(plan["corpora"], str),
             "unreadable_files": np.array([f"{n}: {r}" for n, r in plan["unreadable"]], str)}
    save_pair_npz(plan["path"], pair=plan["pair"], images=images, files=files, actors=actors,
                  extra=extra)
    plan["status"] = "built"


def _summary(plan: dict[str, Any]) -> dict[str, Any]:
    groups = plan["groups"]
    summary = {key: plan[key] for key in ("pair", "source", "target", "status", "error", "corpora",
                                          "test_actors", "val_actors", "train_actors", "split",
                                          "unreadable", "skipped")}
    summary["path"] = str(plan["path"])
    summary["files"] = {npz_key(*g): len(groups[g]) for g in GROUPS}
    summary["windows"] = dict(plan["images"])
    if plan["status"] == "up to date":
        summary["windows"] = window_counts(plan["path"])
    summary["seconds"] = time.perf_counter() - plan["started"]
    return summary


# --- Command line -----------------------------------------------------------------------------
def _build_parser() -> argparse.ArgumentParser:
    notes = [f"Emotions: {', '.join(EMOTIONS)}; aliases "
             + ", ".join(f"{k}={v}" for k, v in EMOTION_ALIASES.items()) + ".",
             f"Split by speaker, one split over both corpora: test actors {describe_split('test')} "
             f"for the final report, validation actors {describe_split('val')} for every "
             "choice, every other actor trains; test and validation actors never appear in "
             "training (RAVDESS 15 and 17, 19 male, 16 and 18, 20 female).",
             f"Silence is trimmed at top_db={TRIM_TOP_DB:g} below each clip's loudest frame "
             "before windowing."]
    parser = argparse.ArgumentParser(
        prog="data_prep.py",
        description=textwrap.fill(
            "Build SpectroGAN training sets (data/<pair>.npz: train/val/test stacks of 260x260 "
            "spectrograms for a source and a target emotion, split by speaker) from RAVDESS, "
            "or fetch and convert the original project's.", 79),
        epilog="Usage:" + __doc__.split("Usage:", 1)[1].split("\n\n", 1)[0] + "\n\n"
               + "\n".join(textwrap.fill(note, 79) for note in notes),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser, ravdess_extra="; with --download ravdess, where to "
                         "extract it (OUT/ravdess when not given)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pair", type=arg_type(parse_pair_name), choices=ALL_PAIRS,
                       metavar="SRC2DST",
                       help="emotion pair to build, any two of the emotions below, e.g. "
                            "calm2anger, sad2happy (default: calm2anger)")
    which.add_argument("--all", action="store_true",
                       help=f"build the original's seven pairs: {', '.join(DEFAULT_PAIRS)} "
                            "(default: off)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, metavar="DIR",
                        help=f"folder for <pair>.npz (default: {DATA_DIR})")
    parser.add_argument("--test-actors", type=arg_type(parse_actors), default=DEFAULT_TEST_ACTORS,
                        metavar="LIST",
                        help="comma-separated actors held out for the test split, of either "
                             f"corpus (default: {describe_split('test')})")
    parser.add_argument("--val-actors", type=arg_type(parse_optional_actors),
                        default=DEFAULT_VAL_ACTORS,
                        metavar="LIST",
                        help="comma-separated actors held out for the validation split, on "
                             "which epochs are chosen; must not overlap --test-actors; 'none' "
                             "for no validation split (default: "
                             f"{describe_split('val')})")
    parser.add_argument("--intensity", choices=INTENSITY_FILTERS, default="both",
                        help="use only normal or only strong intensity recordings (default: "
                             "both)")
    parser.add_argument("--windows", choices=WINDOW_MODES, default="all",
                        help="all: every 257-frame window of each trimmed clip (overlapping); "
                             "center: one centre crop per clip, the original's way (default: "
                             "all)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if up to date, and replace files at the output path "
                             "that this command did not make (default: off)")
    parser.add_argument("--download", choices=("ravdess", "seed"),
                        help="ravdess: fetch RAVDESS speech from Zenodo (md5 checked), extract "
                             "it, then build; seed: fetch the original's npz files with gdown "
                             "and convert them (default: no download)")
    parser.add_argument("--seed-test-fraction", type=float, default=SEED_TEST_FRACTION,
                        metavar="F",
                        help="with --download seed: the last fraction F of each stack becomes "
                             "the test split (speakers unknown) (default: "
                             f"{SEED_TEST_FRACTION})")
    return parser


def _print_summary(summary: dict[str, Any]) -> None:
    status = summary["status"]
    head = f"{summary['pair']} ({summary['source']} -> {summary['target']})"
    if status == "failed":
        print(f"{head}: FAILED: {summary['error'].removeprefix(summary['pair'] + ': ')}")
        return
    verb = "wrote" if status == "built" else "up to date, kept"
    print(f"{head}: {verb} {summary['path']} from {' and '.join(summary['corpora'])} "
          f"({summary['seconds']:.1f} s)")
    print(f"  {'domain':<16}" + "".join(f"{part + ' files/windows':>20}" for part in SPLITS))
    for domain, emotion in zip(DOMAINS, (summary["source"], summary["target"])):
        files = summary["files"] or {}
        cells = [f"{files.get(f'{part}_{domain}', '?')} / {summary['windows'][f'{part}_{domain}']}"
                 for part in SPLITS]
        print(f"  {domain + ' ' + emotion:<16}" + "".join(f"{cell:>20}" for cell in cells))
    print(f"  {summary['split']}")
    for name, reason in summary["unreadable"]:
        print(f"  skipped unreadable file {name}: {reason}")


def _corpus_folders(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """(RAVDESS folder, CREMA-D folder) to read, None for a corpus left out (see
    corpora.corpus_folders); RAVDESS is downloaded first with --download ravdess."""
    given = {"ravdess": args.ravdess, "crema": args.crema}
    if args.download == "ravdess":
        given["ravdess"] = download_ravdess(args.ravdess or args.out / "ravdess",
                                            zip_dir=args.out)
    folders = corpus_folders(given, args.corpus)
    return folders.get("ravdess"), folders.get("crema")


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build (or download) the requested pairs and print a summary."""
    args = _build_parser().parse_args(argv)
    pairs = list(DEFAULT_PAIRS) if args.all else [args.pair or "calm2anger"]
    started = time.perf_counter()
    if args.download == "seed":
        if args.ravdess is not None or args.crema is not None or args.corpus:
            raise UserError("--download seed converts the original's npz files and reads no "
                            "corpus folder; drop --ravdess, --crema and --corpus, or drop "
                            "--download to build from them")
        summaries = download_seed(pairs, out_dir=args.out, test_fraction=args.seed_test_fraction,
                                  force=args.force)
    else:
        check_actor_split(args.test_actors, args.val_actors)  # before any download
        ravdess, crema = _corpus_folders(args)
        summaries = build_pairs(ravdess, pairs, crema_dir=crema, out_dir=args.out,
                                test_actors=args.test_actors,
                                val_actors=args.val_actors, windows=args.windows,
                                intensity=args.intensity, force=args.force, progress=True)
    failed = [s for s in summaries if s["status"] == "failed"]
    if failed and len(failed) == len(summaries):  # nothing built: the error says it all
        raise UserError(failed[0]["error"] if len(failed) == 1 else
                        "no pair could be built: " + "; ".join(s["error"] for s in failed))
    for summary in summaries:
        _print_summary(summary)
    skipped = summaries[0]["skipped"] if summaries else []
    if skipped:
        reasons: dict[str, int] = {}
        for _, reason in skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        print(f"skipped {len(skipped)} file(s) outside the corpora's naming schemes: "
              + "; ".join(f"{n} {r}" for r, n in sorted(reasons.items())))
        for name, reason in skipped[:5]:
            print(f"  {name}: {reason}")
        if len(skipped) > 5:
            print(f"  ... and {len(skipped) - 5} more")
    built = sum(s["status"] == "built" for s in summaries)
    print(f"done in {time.perf_counter() - started:.1f} s: {built} built, "
          f"{len(summaries) - built - len(failed)} up to date, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The original 2020 project's data sets, converted: its npz files of spectrogram images
(fetched by downloads.fetch_seed) turned into this project's data/<pair>.npz format
(data_prep.py --download seed is the command line)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spectrogan.data.corpus import (DATA_DIR, DATA_PREP_VERSION, DOMAINS, STFT_SETTINGS,
                                    content_digest, foreign_npz_message, npz_state, parse_pair,
                                    save_pair_npz, window_counts)
from spectrogan.data.downloads import SEED_FILES, fetch_seed, file_digest
from spectrogan.core.errors import UserError
from spectrogan.audio.spectro import IMAGE_SIZE, N_BINS, N_FRAMES, pad_image

SEED_TEST_FRACTION = 0.1


def original_to_images(array: np.ndarray, *, name: str = "array") -> np.ndarray:
    """Convert one of the original's image stacks to ours: float32 (N, IMAGE_SIZE, IMAGE_SIZE)
    in [-1, 1].

    Accepts (N, H, W), (N, H, W, C) or (N, C, H, W) with one channel or equal grey channels,
    H = W = IMAGE_SIZE, or N_BINS x N_FRAMES (padded here). Values 0..255 (the original's
    pixels) map by x / 127.5 - 1; values already in [-1, 1] with negatives are kept.
    """
    stack = np.asarray(array)
    if stack.ndim == 4:
        axis = 3 if stack.shape[3] <= 4 else 1 if stack.shape[1] <= 4 else None
        if axis is None:
            raise UserError(f"{name}: shape {stack.shape} is not a stack of images")
        channels = np.moveaxis(stack, axis, 0)
        if any(not np.array_equal(channels[0], c) for c in channels[1:3]):
            raise UserError(f"{name}: colour images (channels differ); expected grey images")
        stack = channels[0]
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise UserError(f"{name}: shape {stack.shape} is not a stack of images")
    stack = stack.astype(np.float32)
    if not np.all(np.isfinite(stack)):
        raise UserError(f"{name}: holds NaN or infinite values")
    low, high = float(stack.min()), float(stack.max())
    if low >= 0.0 and high <= 255.0:
        stack = stack / 127.5 - 1.0  # the original's 0..255 pixels
    elif not (low >= -1.0 and high <= 1.0):
        raise UserError(f"{name}: values span {low:g}..{high:g}; expected pixels 0..255")
    if stack.shape[1:] == (N_BINS, N_FRAMES):
        stack = np.stack([pad_image(image) for image in stack])
    if stack.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise UserError(f"{name}: images are {stack.shape[1]}x{stack.shape[2]}; expected "
                        f"{IMAGE_SIZE}x{IMAGE_SIZE} (or {N_BINS}x{N_FRAMES})")
    return np.clip(stack, -1.0, 1.0)


def convert_original_npz(source: str | os.PathLike, pair: str, *,
                         out_dir: str | os.PathLike = DATA_DIR,
                         test_fraction: float = SEED_TEST_FRACTION, force: bool = False
                         ) -> dict[str, Any]:
    """Convert one of the original's npz files (arr_0 = domain A, arr_1 = domain B) into
    OUT/<pair>.npz in our format.

    The original's speakers are unknown (actors stored as -1), so the last `test_fraction`
    of each stack (at least one image when the fraction is > 0) becomes the test split; if the
    original stored clips actor by actor this holds the last actors, but nothing guarantees
    it. Returns a summary like build_pairs'. UserError when the source is not convertible or a
    file this command did not make is in the way (without `force`).
    """
    started = time.perf_counter()
    name, source_emotion, target_emotion = parse_pair(pair)
    source = Path(source)
    if not 0.0 <= test_fraction < 1.0:
        raise UserError(f"--seed-test-fraction must be in [0, 1), got {test_fraction}")
    path = Path(out_dir) / f"{name}.npz"
    fingerprint = content_digest({"origin": "seed", "version": DATA_PREP_VERSION,
                                  "stft": STFT_SETTINGS, "pair": name,
                                  "source_sha256": file_digest(source),
                                  "test_fraction": test_fraction})
    summary: dict[str, Any] = {
        "pair": name, "source": source_emotion, "target": target_emotion, "path": str(path),
        "status": "up to date", "error": None, "test_actors": [], "val_actors": [],
        "train_actors": [],
        "split": f"split: the last {test_fraction:g} of each stack is test, no validation "
                 "split (the original's speakers are unknown: not guaranteed "
                 "speaker-disjoint)",
        "unreadable": [], "skipped": [], "files": None,  # source clips unknown
        "corpora": ["the original project's npz files"]}
    state = npz_state(path, fingerprint, "seed")
    if state == "foreign" and not force:
        raise UserError(foreign_npz_message(path))
    if state != "up to date" or force:
        images, files, actors = {}, {}, {}
        with np.load(source, allow_pickle=False) as npz:
            for domain, key in zip(DOMAINS, ("arr_0", "arr_1")):
                stack = original_to_images(npz[key], name=f"{source.name}:{key}")
                cut = len(stack) - _seed_test_count(len(stack), test_fraction)
                for part, rows in (("train", range(cut)), ("test", range(cut, len(stack)))):
                    images[part, domain] = stack[rows.start:rows.stop]
                    files[part, domain] = [f"{source.name}#{key}[{i}]" for i in rows]
                    actors[part, domain] = [-1] * len(rows)
        save_pair_npz(path, pair=name, images=images, files=files, actors=actors,
                      extra={"origin": "seed", "fingerprint": fingerprint,
                             "data_prep_version": DATA_PREP_VERSION,
                             "seed_test_fraction": test_fraction,
                             "seed_source": source.name})
        summary["status"] = "built"
    summary["windows"] = window_counts(path)
    summary["seconds"] = time.perf_counter() - started
    return summary


def _seed_test_count(n: int, fraction: float) -> int:
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(n * fraction)))


def download_seed(pairs: Sequence[str], *, out_dir: str | os.PathLike = DATA_DIR,
                  test_fraction: float = SEED_TEST_FRACTION, force: bool = False
                  ) -> list[dict[str, Any]]:
    """Fetch (fetch_seed) and convert (convert_original_npz) the original's data for `pairs`."""
    names = [parse_pair(p)[0] for p in pairs]
    missing = [n for n in names if n not in SEED_FILES]
    if missing:
        raise UserError(f"the original project published no data for {', '.join(missing)}; it "
                        f"has {', '.join(SEED_FILES)}. Build other pairs from RAVDESS with "
                        "--ravdess DIR")
    return [convert_original_npz(fetch_seed(n, out_dir=out_dir), n, out_dir=out_dir,
                                 test_fraction=test_fraction, force=force) for n in names]

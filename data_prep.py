"""RAVDESS -> paired (unpaired-domain) spectrogram training sets for SpectroGAN.

(The command line is being built; this module already holds the shared data contract:
emotion names and aliases, pair names, and the checked npz format that training reads.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from spectro import (HOP_LENGTH, IMAGE_SIZE, N_FFT, N_FRAMES, SAMPLE_RATE, TOP_DB, UserError,
                     atomic_output)

# RAVDESS emotion codes (file-name field 3), in code order: 01 neutral ... 08 surprised.
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
# The original project's names, accepted everywhere as aliases.
EMOTION_ALIASES = {"anger": "angry", "fear": "fearful", "surprise": "surprised",
                   "disgusted": "disgust"}
# Pair names use the original's spelling ("calm2anger"), so its users find their files.
_PAIR_SPELLING = {"angry": "anger"}
DEFAULT_PAIRS = ("calm2anger", "calm2fearful", "calm2happy", "calm2sad", "calm2disgust",
                 "calm2surprised", "fearful2surprised")
DOMAINS = ("A", "B")  # A = source emotion, B = target emotion
SPLITS = ("train", "test")
FORMAT_VERSION = 1
# STFT settings stored in every npz; loading one whose settings differ is an error.
STFT_SETTINGS = {"sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop_length": HOP_LENGTH,
                 "n_frames": N_FRAMES, "image_size": IMAGE_SIZE, "top_db": TOP_DB}


def canonical_emotion(name: str) -> str:
    """RAVDESS emotion name for `name` or an alias ('anger' -> 'angry'); UserError if unknown."""
    key = name.strip().lower()
    key = EMOTION_ALIASES.get(key, key)
    if key not in EMOTIONS:
        choices = ", ".join(EMOTIONS + tuple(EMOTION_ALIASES))
        raise UserError(f"unknown emotion {name!r}; choose one of: {choices}")
    return key


def pair_name(source: str, target: str) -> str:
    """Canonical pair name, e.g. ('calm', 'angry') -> 'calm2anger'."""
    source, target = canonical_emotion(source), canonical_emotion(target)
    return f"{_PAIR_SPELLING.get(source, source)}2{_PAIR_SPELLING.get(target, target)}"


def parse_pair(pair: str) -> tuple[str, str, str]:
    """Split 'SRC2DST' (aliases allowed) into (canonical pair name, source, target emotions)."""
    parts = pair.strip().lower().split("2")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"unknown pair {pair!r}; write it as SOURCE2TARGET, e.g. calm2anger")
    source, target = canonical_emotion(parts[0]), canonical_emotion(parts[1])
    if source == target:
        raise UserError(f"pair {pair!r} converts an emotion into itself")
    return pair_name(source, target), source, target


# --- The npz format -------------------------------------------------------------------------
def _key(split: str, domain: str, field: str = "") -> str:
    return f"{split}_{domain}" + (f"_{field}" if field else "")


def save_pair_npz(path: str | os.PathLike, *, pair: str,
                  images: dict[tuple[str, str], np.ndarray],
                  files: dict[tuple[str, str], list[str]],
                  actors: dict[tuple[str, str], list[int]],
                  extra: dict[str, Any] | None = None) -> Path:
    """Write one pair's data set atomically.

    Args:
        path: output .npz path.
        pair: canonical pair name, e.g. 'calm2anger'.
        images: for every (split, domain) in SPLITS x DOMAINS, float (N, IMAGE_SIZE, IMAGE_SIZE)
            in [-1, 1]; stored as float16.
        files: the source file (relative path) of every window, same keys, length N.
        actors: the RAVDESS actor id of every window, same keys, length N.
        extra: further scalar or array metadata to store (e.g. 'windows', 'test_actors').
    Keys in the file: `train_A`, `train_A_files`, `train_A_actors`, ... for each split and
    domain, `pair`, `source`, `target`, `format_version`, the STFT_SETTINGS, and `extra`'s.
    """
    _, source, target = parse_pair(pair)
    arrays: dict[str, Any] = {"pair": np.array(pair), "source": np.array(source),
                              "target": np.array(target),
                              "format_version": np.array(FORMAT_VERSION)}
    arrays.update({name: np.array(value) for name, value in STFT_SETTINGS.items()})
    for split in SPLITS:
        for domain in DOMAINS:
            stack = np.asarray(images[split, domain], dtype=np.float32)
            if stack.ndim != 3 or stack.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(f"{split}_{domain}: expected (N, {IMAGE_SIZE}, {IMAGE_SIZE}), "
                                 f"got {stack.shape}")
            if len(files[split, domain]) != len(stack) or len(actors[split, domain]) != len(stack):
                raise ValueError(f"{split}_{domain}: files/actors do not match {len(stack)} images")
            arrays[_key(split, domain)] = np.clip(stack, -1.0, 1.0).astype(np.float16)
            arrays[_key(split, domain, "files")] = np.array(files[split, domain], dtype=str)
            arrays[_key(split, domain, "actors")] = np.array(actors[split, domain], dtype=np.int16)
    for name, value in (extra or {}).items():
        arrays[name] = np.asarray(value)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return Path(path)


def load_pair_npz(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a pair's npz (allow_pickle=False).

    Returns a dict with every array of the file (images stay float16; `pair`, `source`,
    `target` as str). Raises UserError when the file is missing (naming the data_prep command
    that makes it), unreadable, of another format, or made with other STFT settings than
    spectro.py's.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such data set; make it with "
                        f"`python data_prep.py --ravdess DIR --pair {path.stem}`")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except Exception as exc:  # zipfile/numpy raise several types for a broken file
        raise UserError(f"{path}: not a readable data set ({exc})") from None
    required = {"pair", "format_version", *STFT_SETTINGS,
                *(_key(s, d, f) for s in SPLITS for d in DOMAINS for f in ("", "files", "actors"))}
    missing = sorted(required - data.keys())
    if missing:
        raise UserError(f"{path}: not a SpectroGAN data set (missing {', '.join(missing[:4])}); "
                        f"rebuild it with `python data_prep.py --ravdess DIR --pair {path.stem} "
                        "--force`")
    for name, expected in STFT_SETTINGS.items():
        if not np.isclose(float(data[name]), float(expected)):
            raise UserError(f"{path}: made with {name}={data[name].item()}, but spectro.py uses "
                            f"{expected}; rebuild it with `python data_prep.py --ravdess DIR "
                            f"--pair {path.stem} --force`")
    for split in SPLITS:
        for domain in DOMAINS:
            stack = data[_key(split, domain)]
            if stack.ndim != 3 or stack.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
                raise UserError(f"{path}: {_key(split, domain)} has shape {stack.shape}, "
                                f"expected (N, {IMAGE_SIZE}, {IMAGE_SIZE})")
    for name in ("pair", "source", "target"):
        if name in data:
            data[name] = str(data[name])
    return data

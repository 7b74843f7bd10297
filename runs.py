"""The run folder: every file and folder name a training run writes, and its config.json.

A run folder (results/<pair> by default) is what train_cyclegan.py writes and what
convert.py, evaluate.py and make_results_page.py read. This module owns its layout and
reading/writing/checking its config; it imports no Keras, so command-line tools can answer
--help and check their input before the slow import.

Layout of <run>/:
    config.json                    the resolved settings; inference rebuilds the network from it
    generator_AtoB.weights.h5      source -> target generator (inference weights only)
    generator_BtoA.weights.h5      target -> source generator
    checkpoint.weights.h5          resume state of all four networks, optimizer and pools
    log.csv                        one row per epoch
    logs/                          TensorBoard scalars
    samples/epoch_NNNN/            spectrogram plots and audio of held-out clips
    snapshots/epoch_NNNN/          config.json + float16 generator_AtoB: one model per kept epoch
    selection.json, selection.md   which snapshot evaluate.py --select-epoch installed, and why
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from spectro import IMAGE_SIZE, UserError, atomic_output

DIRECTIONS = ("AtoB", "BtoA")  # A = source emotion (e.g. calm), B = target (e.g. angry)
CONFIG_NAME = "config.json"
CHECKPOINT_NAME = "checkpoint.weights.h5"
LOG_NAME = "log.csv"
TENSORBOARD_DIR = "logs"
SAMPLES_DIR = "samples"
SNAPSHOTS_DIR = "snapshots"
SELECTION_JSON = "selection.json"
SELECTION_MD = "selection.md"
# What a config.json may say: wider or deeper than this is a typo (and would exhaust memory).
CONFIG_INT_RANGES = {"filters": (1, 512), "res_blocks": (0, 64), "image_size": (4, 4096)}


def generator_path(model_dir: str | os.PathLike, direction: str = "AtoB") -> Path:
    """Path of the inference weights of one generator inside a run folder."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return Path(model_dir) / f"generator_{direction}.weights.h5"


def read_config(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check `<model_dir>/config.json` (UserError when missing or malformed)."""
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise UserError(f"{path}: no such file; a model folder is made by train_cyclegan.py")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable model config ({exc})") from None
    generator = config.get("generator") if isinstance(config, dict) else None
    if not isinstance(generator, dict) or not {"filters", "res_blocks"} <= generator.keys():
        raise UserError(f"{path}: model config lacks generator.filters / generator.res_blocks")
    for key, (low, high) in CONFIG_INT_RANGES.items():
        value = generator.get(key) if key != "image_size" else config.get(key, IMAGE_SIZE)
        # bool is an int to Python; a config saying `true` for a width is still malformed
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            where = key if key == "image_size" else f"generator.{key}"
            raise UserError(f"{path}: {where} must be a whole number from {low} to {high}, "
                            f"got {value!r}; re-export the model with train_cyclegan.py")
    if config.get("image_size", IMAGE_SIZE) % 4:
        raise UserError(f"{path}: image_size must be divisible by 4, got {config['image_size']}")
    if not isinstance(generator.get("identity_start", False), bool):
        raise UserError(f"{path}: generator.identity_start must be true or false, got "
                        f"{generator['identity_start']!r}")
    return config


def write_config(model_dir: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write `config` as `<model_dir>/config.json` atomically."""
    path = Path(model_dir) / CONFIG_NAME
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path


# Artefacts a run writes (and evaluate.py --select-epoch's record of the epoch it chose from
# them); train_cyclegan.py --force clears exactly these (never anything else in the folder).
RUN_FILES = (CONFIG_NAME, CHECKPOINT_NAME, LOG_NAME,
             *(generator_path(".", d).name for d in DIRECTIONS), SELECTION_JSON, SELECTION_MD)
RUN_DIRS = (TENSORBOARD_DIR, SAMPLES_DIR, SNAPSHOTS_DIR)


def remove_run_files(paths: Sequence[Path]) -> None:
    """Delete a run's own files and folders (what inspect_out_folder found for --force)."""
    for path in paths:
        shutil.rmtree(path) if path.is_dir() else path.unlink()

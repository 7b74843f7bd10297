"""The run folder: every file and folder name a training run writes, its config.json, its
snapshots and the epoch selection installed from them, and finding a model among run folders.

A run folder (results/<pair> by default) is what train_cyclegan.py writes and what
convert.py, evaluate.py and make_results_page.py read. This module owns its layout,
reading/writing/checking its config (the training settings in it are settings.py's), the
snapshot folders, the rule that picks a snapshot and installing it; it imports no Keras, so
command-line tools can answer --help and check their input before the slow import.

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

import dataclasses
import filecmp
import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spectrogan.core.atomic_files import atomic_output
from spectrogan.core.paths import RESULTS_DIR
from spectrogan.model.run_config import RunConfig
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.data.corpus import (FETCH_RAVDESS, STFT_SETTINGS, canonical_emotion, pair_name,
                                    parse_pair)
from spectrogan.core.errors import UserError
from spectrogan.model.settings import NETWORK_RANGES
from spectrogan.audio.spectro import IMAGE_SIZE

# Where runs are written and models are looked for by default: the folder beside the scripts,
# so the shipped models are found wherever the user runs them from.


def shown_path(path: str | os.PathLike) -> str:
    """A path as messages show it: relative to the working folder when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def recorded_path(path: str | os.PathLike) -> str:
    """A path as committed records (metrics.json) hold it: relative to the project folder when
    inside it ('results/calm2anger'), so no machine's own folders end up in the record."""
    try:
        return Path(path).resolve().relative_to(RESULTS_DIR.parent).as_posix()
    except ValueError:
        return str(path)


def same_folder(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """True when two paths name the same folder (after resolving links and '..')."""
    return Path(first).resolve() == Path(second).resolve()


DIRECTIONS = ("AtoB", "BtoA")  # A = source emotion (e.g. calm), B = target (e.g. angry)
CONFIG_NAME = "config.json"
CHECKPOINT_NAME = "checkpoint.weights.h5"
LOG_NAME = "log.csv"
TENSORBOARD_DIR = "logs"
SAMPLES_DIR = "samples"
SNAPSHOTS_DIR = "snapshots"
SELECTION_JSON = "selection.json"
SELECTION_MD = "selection.md"


def generator_path(model_dir: str | os.PathLike, direction: str = "AtoB") -> Path:
    """Path of the inference weights of one generator inside a run folder."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return Path(model_dir) / f"generator_{direction}.weights.h5"


def weights_file_error(weights: Path, model_dir: str | os.PathLike, *,
                       problem: BaseException | None = None) -> UserError:
    """The one line for a generator weights file that is missing (`problem` None) or does not
    load into the network `model_dir`'s config describes (`problem`: why, its first line)."""
    if problem is None:
        return UserError(f"{weights}: no such file; train the model with train_cyclegan.py "
                         "(or pass the right --models folder)")
    first_line = (str(problem).strip().splitlines() or [type(problem).__name__])[0]
    return UserError(f"{weights}: does not match the network {Path(model_dir) / CONFIG_NAME} "
                     f"describes, or is damaged ({first_line[:200]}); re-export the model "
                     "folder with train_cyclegan.py")


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
    for key, (low, high) in NETWORK_RANGES.items():
        value = (config.get(key, IMAGE_SIZE) if key == "image_size"
                 else generator.get(key, 0) if key == "envelope_coefficients"  # older runs
                 else generator.get(key))
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
    ConversionSettings.from_config(config, where=str(path))  # one reader checks "inference"
    if generator.get("envelope_coefficients", 0) and not generator.get("identity_start"):
        raise UserError(f"{path}: generator.envelope_coefficients needs identity_start; "
                        "re-export the model with train_cyclegan.py")
    return config


def write_config(model_dir: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write the raw object `config` as `<model_dir>/config.json` atomically (the library
    writes through `write_run_config`; this raw form is for fixtures and that writer)."""
    path = Path(model_dir) / CONFIG_NAME
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path


def read_run_config(model_dir: str | os.PathLike) -> RunConfig:
    """`<model_dir>/config.json` read and checked (`read_config`) and in its typed parts."""
    return RunConfig.from_json(read_config(model_dir),
                               where=str(Path(model_dir) / CONFIG_NAME))


def write_run_config(model_dir: str | os.PathLike, run_config: RunConfig) -> Path:
    """Write `run_config` as `<model_dir>/config.json` atomically: the one writer."""
    return write_config(model_dir, run_config.to_json())


def read_settings(model_dir: str | os.PathLike, config: dict[str, Any] | None = None
                  ) -> ConversionSettings:
    """What `model_dir`'s config.json (or `config`, read from there) asks to be applied at
    conversion: the one reader of its "inference" section."""
    config = read_config(model_dir) if config is None else config
    return ConversionSettings.from_config(config, where=str(Path(model_dir) / CONFIG_NAME))


def write_settings(model_dir: str | os.PathLike, settings: ConversionSettings, *,
                   records: dict[str, Any] | None = None, drop_records: Sequence[str] = ()
                   ) -> Path:
    """Write `settings` as `model_dir`'s config.json "inference" section, the one way a tool
    installs what it chose: the section's settings replaced as a whole, its records of how
    they were chosen kept, with `records` added ("prosody_chosen_on": {...}) and
    `drop_records` removed; every other key of the config kept."""
    run_config = read_run_config(model_dir)
    return write_run_config(model_dir, run_config.with_settings(
        settings, records=records, drop_records=tuple(drop_records)))


# Artefacts a run writes (and evaluate.py --select-epoch's record of the epoch it chose from
# them); train_cyclegan.py --force clears exactly these (never anything else in the folder).
RUN_FILES = (CONFIG_NAME, CHECKPOINT_NAME, LOG_NAME,
             *(generator_path(".", d).name for d in DIRECTIONS), SELECTION_JSON, SELECTION_MD)
RUN_DIRS = (TENSORBOARD_DIR, SAMPLES_DIR, SNAPSHOTS_DIR)


def remove_run_files(paths: Sequence[Path]) -> None:
    """Delete a run's own files and folders (what inspect_out_folder found for --force)."""
    for path in paths:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def check_config(config: dict[str, Any], model_dir: Path, *, source: str, target: str,
                 direction: str) -> None:
    """UserError when a run's config does not fit spectro.py's transform or the request.

    A config without an "stft" record (older runs) is accepted; one that records different
    settings is not, because its generator learned images that mean something else.
    """
    retrain = f"retrain it with `python train_cyclegan.py --pair {model_dir.name}`"
    recorded = dict(config.get("stft") or {})
    if "image_size" in config:
        recorded.setdefault("image_size", config["image_size"])
    for name, expected in STFT_SETTINGS.items():
        if name in recorded and not math.isclose(float(recorded[name]), float(expected)):
            raise UserError(f"{model_dir}: model was trained with {name}={recorded[name]}, but "
                            f"spectro.py uses {expected}; {retrain}")
    wanted = (source, target) if direction == "AtoB" else (target, source)
    if "source" in config and "target" in config:
        found = (canonical_emotion(str(config["source"])), canonical_emotion(str(config["target"])))
        if found != wanted:
            raise UserError(f"{model_dir}: config.json says {found[0]} -> {found[1]}, but the "
                            f"folder name says {wanted[0]} -> {wanted[1]}; rename the folder or "
                            f"{retrain}")


# --- Finding a model among run folders --------------------------------------------------------
def trained_pairs(models_root: str | os.PathLike) -> list[str]:
    """Names of the run folders directly under `models_root` that hold a model: a config.json
    and a finished epoch's generator (a run interrupted in its first epoch has only the
    config)."""
    root = Path(models_root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if (p / CONFIG_NAME).is_file() and generator_path(p, "AtoB").is_file())


def model_folders(models_root: str | os.PathLike) -> dict[str, Path]:
    """Pair name -> run folder of every model `find_model_dir` would load from `models_root`:
    the run folders directly under it (`trained_pairs`), or `models_root` itself when it is a
    run folder (a --out of any name) holding a finished epoch, named by its config's pair."""
    root = Path(models_root)
    found = {pair: root / pair for pair in trained_pairs(root)}
    if (root / CONFIG_NAME).is_file() and generator_path(root, "AtoB").is_file():
        recorded = _config_pair(read_config(root))
        pair = pair_name(*recorded) if recorded else root.name
        found.setdefault(pair, root)
    return dict(sorted(found.items()))


def _config_pair(config: dict[str, Any]) -> tuple[str, str] | None:
    """(source, target) a run's config records, canonical; None when it records neither."""
    try:
        if "source" in config and "target" in config:
            return (canonical_emotion(str(config["source"])),
                    canonical_emotion(str(config["target"])))
        if "pair" in config:
            _, source, target = parse_pair(str(config["pair"]))
            return source, target
    except (ValueError, UserError):
        pass
    return None


def find_model_dir(models_root: str | os.PathLike, source: str, target: str) -> Path:
    """Run folder of the `source` -> `target` model: `<models_root>/<pair_name>`, or
    `models_root` itself when it is that pair's run folder (a --out of any name).

    Emotion aliases are accepted ('anger'). Raises UserError, naming the commands that make
    the model and listing the pairs that do exist, when there is no such run folder.
    """
    source, target = canonical_emotion(source), canonical_emotion(target)
    if source == target:
        raise UserError(f"source and target emotion are both {source!r}; choose another --emotion")
    root = Path(models_root)
    pair = pair_name(source, target)
    model_dir = root / pair
    if (root / CONFIG_NAME).is_file() and not (model_dir / CONFIG_NAME).is_file():
        # --models names a run folder itself rather than the folder that holds run folders.
        found = _config_pair(read_config(root))
        if root.name == pair or found == (source, target):
            model_dir, root = root, root.parent
        else:
            what = pair_name(*found) if found else root.name
            raise UserError(f"{root}: is the run folder of another model ({what}), not of "
                            f"{pair}; pass --models with {pair}'s run folder or the folder "
                            f"that holds {pair}/")
    if (model_dir / CONFIG_NAME).is_file():
        if not generator_path(model_dir, "AtoB").is_file() \
                and not generator_path(model_dir, "BtoA").is_file():
            raise UserError(f"{model_dir}: the training run there has no finished epoch yet "
                            f"(no generator file); continue it with `python train_cyclegan.py "
                            f"--pair {pair} --out {model_dir} --resume`")
        return model_dir
    if not root.is_dir():
        where = f"models folder {root} does not exist"
    else:
        existing = trained_pairs(root)
        where = (f"trained pairs in {root}: {', '.join(existing)}" if existing
                 else f"{root} holds no trained model")
    raise UserError(f"no model for {source} -> {target} ({model_dir} has no config.json); "
                    f"{how_to_train(pair, root)}; {where}")


def how_to_train(pair: str, models_root: str | os.PathLike = RESULTS_DIR) -> str:
    """The two commands that make `pair`'s model in `models_root`: its training set, then
    training with the default preset (about two hours on a laptop CPU)."""
    out = "" if same_folder(models_root, RESULTS_DIR) else f" --out {Path(models_root) / pair}"
    return (f"make it with `python data_prep.py --ravdess DIR --pair {pair}` (RAVDESS: "
            f"../shared/data/ravdess, or {FETCH_RAVDESS}), then `python train_cyclegan.py "
            f"--pair {pair}{out} --epochs 1000 --time-budget 7200` (about 2 h on a laptop CPU)")


def find_generator(models_root: str | os.PathLike, source: str, target: str
                   ) -> tuple[Path, str]:
    """Run folder and direction ('AtoB' or 'BtoA') of a generator for `source` -> `target`.

    A CycleGAN trains both directions, so when only the reverse pair exists (e.g. calm2anger
    for anger -> calm) its BtoA generator is used, if the run folder has one (shipped models
    keep only AtoB). Otherwise as `find_model_dir`.
    """
    try:
        return find_model_dir(models_root, source, target), "AtoB"
    except UserError as missing:
        source, target = canonical_emotion(source), canonical_emotion(target)
        root = Path(models_root)
        reverse = root / pair_name(target, source)
        if not (reverse / CONFIG_NAME).is_file() and (root / CONFIG_NAME).is_file() \
                and _config_pair(read_config(root)) == (target, source):
            reverse = root  # --models names the reverse pair's run folder itself
        if not (reverse / CONFIG_NAME).is_file():
            raise
        if generator_path(reverse, "BtoA").is_file():
            return reverse, "BtoA"
        raise UserError(f"no model for {source} -> {target}: {reverse} holds only the "
                        f"{target} -> {source} generator (shipped models keep only that "
                        f"direction, {generator_path('.', 'AtoB').name}); "
                        f"{how_to_train(pair_name(source, target), root)}") from missing


# --- Snapshots and the epoch selection ------------------------------------------------------
SNAPSHOT_NAME = re.compile(r"epoch_(\d+)")
SELECTION_MARGIN_DB = 1.0  # the guard: at most this much worse MCD than zero effort
SELECTION_VERSION = 1
# The word-error guard: the ship bar allows 0.15 more open-vocabulary word error than the
# vocoder-only clips; the unconverted clips' error is lower than the vocoder's, so guarding
# against them with the same margin is at least as strict. Skipped without a recogniser.
SELECTION_WER_MARGIN = 0.15
# The voicing guard: a model that smears harmonics into noise loses voiced frames, which real
# emotional speech does not (issue 26); as the ship bar, at most 5 points below the lower of
# the unconverted clips' and the real target clips' voiced share.
SELECTION_VOICED_MARGIN = 0.05
# Naturalness (Distill-MOS, when the evaluation extra is installed) may fall at most this far
# below the vocoder alone's on the same clips: a change should not cost more than the vocoder.
SELECTION_NATURALNESS_MARGIN = 0.15
SELECTION_RULE = ("highest judged-target share on the validation actors among the epochs whose "
                  "MCD to the real target is at most {margin:g} dB above the zero-effort "
                  "(unconverted) MCD on the same clips, whose share of voiced speech frames is "
                  "at most {voiced_margin:g} below the lower of the unconverted and the real "
                  "target clips' shares, and whose open-vocabulary word error "
                  "rate is at most {wer_margin:g} above the zero-effort clips' (when a speech "
                  "recogniser is installed), and whose predicted naturalness is at most "
                  "{naturalness_margin:g} below the vocoder alone's (when Distill-MOS is "
                  "installed); ties -> the higher target-over-source share, then "
                  "the lower MCD, then the earlier epoch; if no epoch passes those guards, the "
                  "highest share anyway")


def selection_rule_text() -> str:
    """SELECTION_RULE with this version's margins filled in."""
    return SELECTION_RULE.format(margin=SELECTION_MARGIN_DB, wer_margin=SELECTION_WER_MARGIN,
                                 voiced_margin=SELECTION_VOICED_MARGIN,
                                 naturalness_margin=SELECTION_NATURALNESS_MARGIN)


def epoch_dir(run_dir: str | os.PathLike, folder: str, epoch: int) -> Path:
    """`<run_dir>/<folder>/epoch_NNNN`: one epoch's samples or snapshot (1-based epoch)."""
    return Path(run_dir) / folder / f"epoch_{epoch:04d}"


@dataclass(frozen=True)
class Snapshot:
    """One snapshot folder of a run: a complete model folder of the AtoB generator."""

    epoch: int
    path: Path


def find_snapshots(run_dir: str | os.PathLike) -> list[Snapshot]:
    """The complete snapshots `<run_dir>/snapshots/epoch_NNNN/` (config.json and
    generator_AtoB.weights.h5 both present), sorted by epoch; [] when there are none.

    A folder missing either file (a snapshot interrupted while being written) is left out.
    """
    root = Path(run_dir) / SNAPSHOTS_DIR
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        match = SNAPSHOT_NAME.fullmatch(folder.name)
        if match and (folder / CONFIG_NAME).is_file() and generator_path(folder).is_file():
            found.append(Snapshot(int(match.group(1)), folder))
    return sorted(found, key=lambda snapshot: snapshot.epoch)


def choose_epoch(rows: Sequence[dict[str, Any]], zero_effort_mcd: float, *,
                 margin_db: float = SELECTION_MARGIN_DB, zero_effort_wer: float | None = None,
                 wer_margin: float = SELECTION_WER_MARGIN, voiced_reference: float | None = None,
                 voiced_margin: float = SELECTION_VOICED_MARGIN,
                 naturalness_reference: float | None = None,
                 naturalness_margin: float = SELECTION_NATURALNESS_MARGIN) -> dict[str, Any]:
    """Apply the selection rule (SELECTION_RULE) to per-epoch validation figures.

    Args:
        rows: one dict per epoch with "epoch" (int), "judged_target" and
            "target_over_source" (shares in [0, 1]) and "mcd_to_target" (mean dB over the
            validation clips); with `zero_effort_wer` also "word_error_rate" (mean open-
            vocabulary word error rate, None where it was not measured).
        zero_effort_mcd: mean MCD (dB) of the unconverted source clips to the same targets.
        margin_db: how much worse than zero effort an epoch's MCD may be and still count.
        zero_effort_wer: mean word error rate of the unconverted source clips; None: no
            word-error guard (no recogniser).
        wer_margin: how much more word error than zero effort an epoch may have and count.
        voiced_reference: the lower of the unconverted and the real target clips' voiced
            share (rows then need "voiced_fraction"); None: no voicing guard.
        voiced_margin: how far below `voiced_reference` an epoch's voiced share may be.
        naturalness_reference: the vocoder alone's mean predicted naturalness on the same
            clips (rows then need "naturalness"); None: no naturalness guard.
        naturalness_margin: how far below `naturalness_reference` an epoch may be.
    Returns:
        {"epoch": the winner, "guard_held": whether any epoch passed the guards (False: the
        winner was picked by share among all epochs), "mcd_limit_db": zero effort + margin,
        "wer_limit": zero-effort word error + wer_margin (None without `zero_effort_wer`),
        "voiced_limit": voiced_reference - voiced_margin (None without `voiced_reference`),
        "naturalness_limit": likewise from `naturalness_reference`, "passing": the epochs within the guards, in the order given}.
    """
    if not rows:
        raise ValueError("choose_epoch needs at least one epoch's figures")
    limit = float(zero_effort_mcd) + float(margin_db)
    wer_limit = None if zero_effort_wer is None else float(zero_effort_wer) + float(wer_margin)
    voiced_limit = (None if voiced_reference is None
                    else float(voiced_reference) - float(voiced_margin))
    naturalness_limit = (None if naturalness_reference is None
                         else float(naturalness_reference) - float(naturalness_margin))

    def within_guards(row: dict[str, Any]) -> bool:
        if row["mcd_to_target"] > limit:
            return False
        if voiced_limit is not None and row["voiced_fraction"] < voiced_limit:
            return False
        if naturalness_limit is not None and (row.get("naturalness") is None
                                              or row["naturalness"] < naturalness_limit):
            return False
        wer = row.get("word_error_rate")
        return wer_limit is None or (wer is not None and wer <= wer_limit)

    passing = [row for row in rows if within_guards(row)]
    # With 16 validation clips the judged share moves in steps of 1/16 and is often 0 for
    # every epoch of a hard pair; target-over-source, from the same classifier, still ranks
    # them before MCD (which favours the epoch that changed the input least) does.
    best = min(passing or rows,
               key=lambda row: (-row["judged_target"], -row["target_over_source"],
                                row["mcd_to_target"], row["epoch"]))
    return {"epoch": int(best["epoch"]), "guard_held": bool(passing), "mcd_limit_db": limit,
            "wer_limit": wer_limit, "voiced_limit": voiced_limit,
            "naturalness_limit": naturalness_limit,
            "passing": [int(row["epoch"]) for row in passing]}


def _weight_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 weights file, keyed by its path inside the file."""
    import h5py  # a Keras dependency, imported only when weights are compared

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return arrays


def same_weights(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """True when two generator weights files hold the same network.

    Byte-identical files are; otherwise every variable must match at the lower precision of
    the two files, so a float16 snapshot counts as a copy of the float32 file the trainer
    wrote after the same epoch (its float32 weights stay in the run's resume checkpoint).
    """
    if filecmp.cmp(first, second, shallow=False):
        return True
    try:
        a, b = _weight_arrays(Path(first)), _weight_arrays(Path(second))
    except OSError:  # not an HDF5 file: only a byte-identical copy would have counted
        return False
    if a.keys() != b.keys():
        return False
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            return False
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            lower = x.dtype if x.dtype.itemsize <= y.dtype.itemsize else y.dtype
            x, y = x.astype(lower), y.astype(lower)
        if not np.array_equal(x, y):
            return False
    return True


def install_snapshot(run_dir: str | os.PathLike, snapshot: Snapshot,
                     selected_on: dict[str, Any]) -> Path:
    """Make `snapshot` the run's shipped model: copy its generator file over
    `<run_dir>/generator_AtoB.weights.h5` and write `<run_dir>/config.json` = the snapshot's
    config plus "epoch" and `selected_on`, each atomically. How the run converts (its
    "inference", chosen after training) is kept where the run's config has one, as is any
    provenance only the run's config holds. Returns the generator path."""
    installed = generator_path(run_dir)
    with atomic_output(installed) as tmp:
        shutil.copyfile(generator_path(snapshot.path), tmp)
    chosen = read_run_config(snapshot.path)
    if (Path(run_dir) / CONFIG_NAME).is_file():
        run = read_run_config(run_dir)
        chosen = dataclasses.replace(chosen, provenance={**run.provenance, **chosen.provenance})
        if run.choices or run.inference != ConversionSettings():
            chosen = chosen.with_settings(run.inference, records=run.choices,
                                          drop_records=tuple(chosen.choices))
    write_run_config(run_dir, chosen.with_provenance(epoch=snapshot.epoch,
                                                     selected_on=selected_on))
    return installed


def read_selection(path: str | os.PathLike) -> dict[str, Any] | None:
    """A selection.json as a dict; None when missing; UserError when it is not one."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        selection = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable selection file ({exc}); move it away (or "
                        "let `python evaluate.py --select-epoch --force` replace it)") from None
    if not isinstance(selection, dict) or not isinstance(selection.get("epochs"), list) \
            or "chosen_epoch" not in selection:
        raise UserError(f"{path}: not a SpectroGAN selection file (no epochs / chosen_epoch); "
                        "move it away (or let `python evaluate.py --select-epoch --force` "
                        "replace it)")
    return selection

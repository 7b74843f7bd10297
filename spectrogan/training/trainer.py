"""Training a SpectroGAN run: `fit_run` builds (or restores) the CycleGAN a run's config
describes and fits it, while callbacks write the run folder (runs.py's layout): inference
generators and the resume checkpoint, per-epoch snapshots, sample clips, the CSV log and
TensorBoard scalars. Also the device choice (one device, tf.distribute or
keras.distribution) and the time budget that stops a run cleanly.

train_cyclegan.py parses the command line, resolves the settings (settings.py) and calls
`fit_run`; the model and its training step are cyclegan.py's, the data streams batches.py's.
Every file appears whole or not at all (atomic_files.py), so a kill at any moment loses at most
the epochs since the last checkpoint. This module imports Keras; nothing here parses
arguments.

Usage:
    from spectrogan.training.trainer import fit_run
    model = fit_run(out, config=config, data=data, data_path=data_path)
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from spectrogan.model import model_files
from spectrogan.core.atomic_files import atomic_folder, atomic_output
from spectrogan.training.batches import (HeldOutBatches, UnpairedBatches, as_batch,
                                         backend_dataset, spread_indices)
from spectrogan.core.cli import import_keras
from spectrogan.data.corpus import DOMAINS, npz_key
from spectrogan.model.cyclegan import CycleGAN, build_from_settings, compile_cyclegan, count_params
from spectrogan.core.errors import UserError
from spectrogan.model.run_config import RunConfig
from spectrogan.model.runs import (CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, SAMPLES_DIR,
                                   SNAPSHOTS_DIR, TENSORBOARD_DIR, epoch_dir, generator_path,
                                   remove_run_files, write_run_config)
from spectrogan.model.settings import PRECISION_POLICIES, TrainingSettings
from spectrogan.audio.audio_files import write_audio
from spectrogan.audio.plots import plot_spectrograms
from spectrogan.audio.spectro import crop_image, image_to_audio

keras = import_keras()

SNAPSHOT_DTYPE = "float16"  # half-size files; outputs move by a few 1e-3 at most (model_files.py)
SAMPLE_GRIFFIN_LIM_ITERS = 32
SAMPLE_PEAK = 0.9  # sample audio is peak-normalised: the npz keeps no absolute level


# --- Devices ---------------------------------------------------------------------------------
def select_devices(spec: str) -> tuple[Any, int, str]:
    """Set up data parallelism for `--devices` ("1", "N" or "all").

    Returns (scope, replicas, description): build and compile the model inside `scope`
    (a tf.distribute.MirroredStrategy scope on TensorFlow; on JAX, keras.distribution's
    DataParallel is set globally and the scope is a no-op). One device: default placement.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        devices = jax.devices()
        names = [f"{d.platform}:{d.id}" for d in devices]
    else:
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        names = [d.name for d in devices]
    if spec == "all":
        wanted = len(devices)
    else:
        try:
            wanted = int(spec)
        except ValueError:
            raise UserError(f"--devices must be a count or 'all', got {spec!r}") from None
        if not 1 <= wanted <= len(devices):
            raise UserError(f"--devices {spec}: {len(devices)} device(s) visible "
                            f"({', '.join(names)}); pass a count up to that or 'all'")
    if wanted == 1:
        return contextlib.nullcontext(), 1, names[0]
    chosen = names[:wanted]
    if backend == "jax":
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices()[:wanted]))
        return contextlib.nullcontext(), wanted, f"keras.distribution.DataParallel over {chosen}"
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(devices=chosen)
    return strategy.scope(), wanted, f"tf.distribute.MirroredStrategy over {chosen}"


def resolve_jit(xla: str, *, replicas: int) -> bool | str:
    """compile(jit_compile=...) for `--xla`. JAX always compiles. On TensorFlow, auto means
    XLA whenever one device trains: on this project's 2-core CPU XLA was the faster path for
    both presets (`python benchmark.py train --presets original fast --xla on|off`, quoted in
    README.md), as on GPUs; Keras does not XLA-compile a tf.distribute step as a whole, so
    several devices train without it."""
    if keras.backend.backend() == "jax":
        return "auto"
    if xla == "auto":
        return replicas == 1
    if xla == "on" and replicas > 1:
        raise UserError("--xla on works with one device only; pass --xla auto or off")
    return xla == "on"


# --- Callbacks -------------------------------------------------------------------------------
class SampleWriter(keras.callbacks.Callback):
    """Every `every` epochs (and after the last), write samples/epoch_NNNN/: for a few
    held-out clips per direction a PNG of input | converted | cycled-back spectrograms and
    Griffin-Lim wavs of the input and the converted image. The folder appears whole."""

    def __init__(self, out: Path, clips: dict[str, np.ndarray], *, every: int,
                 last_epoch: int, labels: dict[str, str]) -> None:
        super().__init__()
        self.out, self.clips, self.every, self.last_epoch = out, clips, every, last_epoch
        self.labels = labels

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        if not self.clips or not _due(number, every=self.every, last_epoch=self.last_epoch,
                                      model=self.model):
            return
        write_samples(self.model, self.clips, epoch_dir(self.out, SAMPLES_DIR, number),
                      labels=self.labels)


def _due(number: int, *, every: int, last_epoch: int, model: keras.Model | None = None) -> bool:
    """Whether 1-based epoch `number` gets a sample / snapshot folder / checkpoint: every
    `every` epochs (never when 0) and always after the run's last epoch, which is also the
    epoch in which the time budget ran out (TimeBudget sets model.stop_training)."""
    stopping = bool(model is not None and getattr(model, "stop_training", False))
    return number == last_epoch or stopping or bool(every and number % every == 0)


@contextlib.contextmanager
def stop_on_sigterm(budget: TimeBudget) -> Iterator[None]:
    """While the block runs, SIGTERM (what `timeout` and most job schedulers send first) asks
    `budget` to stop after the update under way, so the run saves what it has and exits
    cleanly instead of dying. Only in the main thread (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: budget.request_stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly as soon as `seconds` (counted from the start of fit) run out, or
    as soon as `request_stop` is called (train_cyclegan.py calls it on SIGTERM, which is what
    `timeout` sends), checked after every update: the epoch under way ends there, shortened if
    need be, and is saved like a last epoch (snapshot, samples, checkpoint), and train()
    returns normally. An epoch longer than the budget (a slow or busy machine, a GPU
    deadline) still leaves a model. Must come before the callbacks that save."""

    def __init__(self, seconds: float = math.inf) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.started = time.monotonic()
        self.stopped_after: int | None = None
        self.updates_in_last_epoch: int | None = None  # set when it stopped mid-epoch
        self.stop_requested = False
        self._epoch = 0

    def request_stop(self) -> None:
        """Stop after the update under way (safe to call from a signal handler)."""
        self.stop_requested = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.stopped_after is None and (self.stop_requested
                                           or time.monotonic() - self.started >= self.seconds):
            self.model.stop_training = True
            self.stopped_after = self._epoch + 1
            steps = self.params.get("steps") if self.params else None
            if steps is None or batch + 1 < steps:
                self.updates_in_last_epoch = batch + 1


def write_samples(model: CycleGAN, clips: dict[str, np.ndarray], folder: Path, *,
                  labels: dict[str, str]) -> Path:
    """Convert held-out `clips` ({"A": (n, IMAGE_SIZE, IMAGE_SIZE) images, "B": ...}) both
    ways; write <source>2<target>_<i>.png and _input.wav / _converted.wav into `folder`.

    The npz keeps no absolute level, so Griffin-Lim runs at reference 1 and the audio is
    peak-normalised to SAMPLE_PEAK.
    """
    def fill(tmp: Path) -> None:
        for domain, stack in clips.items():
            forward, backward = ((model.gen_AB, model.gen_BA) if domain == "A"
                                 else (model.gen_BA, model.gen_AB))
            source, target = (labels["A"], labels["B"]) if domain == "A" else \
                (labels["B"], labels["A"])
            for index, image in enumerate(stack):
                batch = as_batch(image[None])
                converted = np.asarray(forward(batch, training=False), np.float32)
                cycled = np.asarray(backward(converted, training=False), np.float32)
                stem = f"{source}2{target}_{index}"
                plot_spectrograms(tmp / f"{stem}.png", [
                    (f"input ({source})", crop_image(image)),
                    (f"converted ({source} -> {target})", crop_image(converted[0, ..., 0])),
                    (f"cycled back ({target} -> {source})", crop_image(cycled[0, ..., 0]))])
                for name, picture in (("input", image), ("converted", converted[0, ..., 0])):
                    audio = image_to_audio(picture, ref=1.0, n_iter=SAMPLE_GRIFFIN_LIM_ITERS)
                    peak = float(np.max(np.abs(audio))) or 1.0
                    write_audio(tmp / f"{stem}_{name}.wav", audio * (SAMPLE_PEAK / peak))

    return atomic_folder(folder, fill)


class SnapshotWriter(keras.callbacks.Callback):
    """Every `every` epochs and after the run's last epoch, write snapshots/epoch_NNNN/
    (see write_snapshot); no snapshot at all when `every` is 0.

    Runs before RunWriter's checkpoint: a kill between the two re-runs the epoch on
    --resume, which writes its snapshot again, so no completed epoch lacks its snapshot.
    """

    def __init__(self, out: Path, config: dict[str, Any], *, every: int,
                 last_epoch: int) -> None:
        super().__init__()
        self.out, self.config, self.every, self.last_epoch = out, config, every, last_epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        if self.every and _due(number, every=self.every, last_epoch=self.last_epoch,
                               model=self.model):
            write_snapshot(self.model.gen_AB, epoch_dir(self.out, SNAPSHOTS_DIR, number),
                           config={**self.config, "epoch": number})


def write_snapshot(generator: keras.Model, folder: Path, *, config: dict[str, Any]) -> Path:
    """Write a complete model folder for one epoch: `config` as config.json and `generator`
    (source -> target) as generator_AtoB.weights.h5 in SNAPSHOT_DTYPE (float16, half the
    size; model_files.load_generator reads it into a float32 network). The folder appears whole
    (see atomic_files.atomic_folder). Returns `folder`."""
    def fill(tmp: Path) -> None:
        write_run_config(tmp, RunConfig.from_json(config, where=str(folder / CONFIG_NAME)))
        model_files.save_generator(generator, tmp, "AtoB", dtype=SNAPSHOT_DTYPE)

    return atomic_folder(folder, fill)


class CsvLog(keras.callbacks.Callback):
    """One CSV row per completed epoch: epoch, losses, held-out L1s, learning rate, seconds,
    and the updates it made (fewer than the epoch's steps when a time budget or SIGTERM
    ended it early).

    Rows are appended (and flushed) before the epoch's checkpoint is written; on resume,
    rows of epochs after the checkpoint (re-run now) are dropped first, so every epoch
    appears once.
    """

    COLUMNS = ("epoch", "g_loss", "d_loss", "g_adv", "cycle_l1", "identity_l1",
               "val_cycle_l1", "val_identity_l1", "lr", "seconds", "updates")

    def __init__(self, path: Path, *, completed_epochs: int) -> None:
        super().__init__()
        self.path = path
        self._started = time.perf_counter()
        self._updates = 0
        rows = []
        if completed_epochs and path.is_file():
            with open(path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle)
                        if row.get("epoch", "").isdigit() and int(row["epoch"]) <= completed_epochs]
        with atomic_output(path) as tmp:
            with open(tmp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.COLUMNS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()
        self._updates = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._updates = batch + 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row = {key: f"{float(value):.6g}" for key, value in (logs or {}).items()
               if key in self.COLUMNS}
        row.update(epoch=epoch + 1, lr=f"{current_lr(self.model):.6g}",
                   seconds=f"{time.perf_counter() - self._started:.1f}",
                   updates=self._updates)
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.COLUMNS, extrasaction="ignore").writerow(row)
            handle.flush()
            os.fsync(handle.fileno())


class TensorBoardLog(keras.callbacks.Callback):
    """Per-epoch scalars for TensorBoard in logs/train and logs/validation, tagged
    epoch_<metric> as Keras' TensorBoard callback does. Written with TensorFlow's core summary
    ops (also under the JAX backend), so the tensorboard package is needed only to view them;
    Keras' own callback would require it just to train."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self._writers: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        try:
            import tensorflow as tf
            from tensorflow.core.framework import summary_pb2
        except ImportError:  # a JAX-only installation: the CSV log still has everything
            if not self._writers:
                print("note: tensorflow is not installed; no TensorBoard logs",
                      file=sys.stderr)
                self._writers["none"] = None
            return

        metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name="scalars")).SerializeToString()
        logs = {key: float(value) for key, value in (logs or {}).items()}
        splits = {"train": {**{k: v for k, v in logs.items() if not k.startswith("val_")},
                            "learning_rate": current_lr(self.model)},
                  "validation": {k[4:]: v for k, v in logs.items() if k.startswith("val_")}}
        for split, values in splits.items():
            if not values:
                continue
            if split not in self._writers:
                self._writers[split] = tf.summary.create_file_writer(str(self.folder / split))
            with self._writers[split].as_default():
                for name, value in values.items():
                    tf.summary.write(f"epoch_{name}", tf.constant(value, tf.float32), step=epoch,
                                     metadata=metadata)
            self._writers[split].flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            if writer is not None:
                writer.close()
        self._writers = {}


def current_lr(model: keras.Model) -> float:
    """The optimizer's learning rate at its current step (schedules evaluated)."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    rate = optimizer.learning_rate
    return float(np.asarray(rate))


class RunWriter(keras.callbacks.Callback):
    """After every `every`-th epoch and the last: both generators' inference files, then the
    resume checkpoint (all four networks, the optimizer, the pools with their random state,
    the epoch), each written to a temporary file and renamed, so a kill leaves the previous
    set intact (and --resume re-runs the epochs after it)."""

    def __init__(self, out: Path, *, every: int = 1, last_epoch: int | None = None) -> None:
        super().__init__()
        self.out, self.every, self.last_epoch = out, every, last_epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        model = self.model
        if not _due(epoch + 1, every=self.every, last_epoch=self.last_epoch or epoch + 1,
                    model=model):
            return
        model.completed_epochs.assign(epoch + 1)
        model_files.save_generator(model.gen_AB, self.out, "AtoB")
        model_files.save_generator(model.gen_BA, self.out, "BtoA")
        save_checkpoint(model, self.out / CHECKPOINT_NAME)


def save_checkpoint(model: CycleGAN, path: Path) -> Path:
    """Write the whole training state into one .weights.h5 atomically."""
    with atomic_output(path) as tmp:
        model.save_weights(str(tmp))
    return path


def load_checkpoint(model: CycleGAN, path: Path) -> int:
    """Restore a checkpoint written by save_checkpoint; returns the completed epochs."""
    try:
        model.load_weights(str(path))
    except Exception as exc:  # h5py/keras raise several types for a mismatched file
        raise UserError(f"{path}: cannot restore this checkpoint ({exc}); start over with "
                        "--force") from None
    return int(np.asarray(model.completed_epochs))


# --- Training a run ------------------------------------------------------------------------
def fit_run(out: Path, *, config: dict[str, Any], data: dict[str, Any], data_path: Path,
            stale: Sequence[Path] = (), quiet: bool = False,
            extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> CycleGAN:
    """Build, restore and fit the model of a checked run config (train_cyclegan.py makes it
    from the command line), writing the run folder `out`.

    `config["training"]` holds every resolved setting; `stale` are an old run's files that
    --force deletes once the new model is built and restored. Keras' global dtype policy and
    distribution are restored afterwards. Returns the trained model.
    """
    backend = keras.backend.backend()
    settings = TrainingSettings.from_dict(config["training"])
    policy = keras.mixed_precision.dtype_policy()
    distribution = keras.distribution.distribution() if backend == "jax" else None
    try:
        keras.mixed_precision.set_dtype_policy(PRECISION_POLICIES[settings.mixed_precision])
        return _fit(out, config=config, data=data, data_path=data_path, stale=stale,
                    quiet=quiet, extra_callbacks=extra_callbacks)
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
        if backend == "jax":
            keras.distribution.set_distribution(distribution)


def _fit(out: Path, *, config: dict[str, Any], data: dict[str, Any], data_path: Path,
         stale: Sequence[Path], quiet: bool,
         extra_callbacks: Sequence[keras.callbacks.Callback]) -> CycleGAN:
    backend = keras.backend.backend()
    settings = TrainingSettings.from_dict(config["training"])
    pair, source, target = config["pair"], config["source"], config["target"]
    images_A, images_B = data["train_A"], data["train_B"]
    image_shape = (*images_A.shape[1:], 1)
    batch_size, steps, epochs = (settings.batch_size, settings.steps_per_epoch,
                                 settings.epochs)
    scope, replicas, device_text = select_devices(str(settings.devices))
    if batch_size % replicas:
        raise UserError(f"--batch-size {batch_size} does not split over {replicas} devices; "
                        f"use a multiple of {replicas}")
    jit = resolve_jit(settings.xla, replicas=replicas)
    keras.utils.set_random_seed(settings.seed)
    with scope:
        model = build_from_settings(settings, image_shape)
        decay = (epochs * steps, (epochs // 2) * steps) if settings.lr_decay else (None, None)
        compile_cyclegan(model, lr=settings.lr, total_steps=decay[0], decay_start=decay[1],
                         jit_compile=jit)
    completed = 0
    if (out / CHECKPOINT_NAME).is_file() and not stale:
        completed = load_checkpoint(model, out / CHECKPOINT_NAME)
    remove_run_files(stale)  # --force: the old run goes only now that the new one can start
    out.mkdir(parents=True, exist_ok=True)
    write_run_config(out, RunConfig.from_json(config, where=str(out / CONFIG_NAME)))
    if completed >= epochs:
        print(f"{out}: already trained for {completed} of {epochs} epochs; pass a larger "
              "--epochs with --resume to train on")
        return model

    print(f"{pair}: {len(images_A)} {source} / {len(images_B)} {target} training images, "
          f"{steps} steps of batch {batch_size} per epoch, epochs {completed + 1}-{epochs}; "
          f"generators {count_params(model.gen_AB) / 1e6:.2f} M and discriminators "
          f"{count_params(model.disc_A) / 1e6:.2f} M parameters each; backend {backend}"
          f"{' (XLA)' if model.jit_compile is True and backend == 'tensorflow' else ''}, "
          f"{device_text}, precision {settings.mixed_precision}, preset "
          f"{settings.preset}"
          + (f", {settings.crop_frames}-frame crops" if settings.crop_frames else "")
          + (", identity start" if settings.identity_start else "") + f"; writing to {out}")
    split = config["heldout_split"]
    if split == "val":
        print(f"held-out metrics and samples: validation actors {config['val_actors']} (test "
              f"actors {config['test_actors']} are left for evaluate.py)")
    else:
        print(f"note: {data_path} has no validation images; held-out metrics and samples use "
              f"its test actors {config['test_actors']}", file=sys.stderr)
    held_out = {domain: data[npz_key(split, domain)] for domain in DOMAINS}
    validation, validate = _validation(held_out, settings, where=f"{data_path} ({split})")
    clips = {domain: stack[spread_indices(len(stack), settings.sample_clips)]
             for domain, stack in held_out.items()}
    budget = TimeBudget(settings.time_budget or math.inf)
    callbacks = [
        budget,
        SampleWriter(out, {key: value for key, value in clips.items() if len(value)},
                     every=settings.sample_every, last_epoch=epochs,
                     labels={"A": source, "B": target}),
        SnapshotWriter(out, config, every=settings.snapshot_every, last_epoch=epochs),
        CsvLog(out / LOG_NAME, completed_epochs=completed),
        TensorBoardLog(out / TENSORBOARD_DIR),
        # last of the run's own: the checkpoint marks the epoch complete
        RunWriter(out, every=settings.checkpoint_every, last_epoch=epochs),
        *extra_callbacks,
    ]
    crop = settings.crop_frames
    train_shape = (image_shape[0], crop or image_shape[1], image_shape[2])
    train_data = UnpairedBatches(images_A, images_B, batch_size=batch_size,
                                 steps_per_epoch=steps, seed=settings.seed,
                                 first_epoch=completed, crop_frames=crop)
    with stop_on_sigterm(budget):
        model.fit(backend_dataset(train_data, batch_size=batch_size, image_shape=train_shape),
                  epochs=epochs, initial_epoch=completed, steps_per_epoch=steps, shuffle=False,
                  validation_data=(backend_dataset(validation, batch_size=batch_size,
                                                   image_shape=image_shape) if validate else None),
                  validation_steps=len(validation) if validate else None,
                  # A bar only on a terminal: redirected into a log it is carriage-return noise.
                  callbacks=callbacks, verbose=1 if not quiet and sys.stdout.isatty() else 2)
    _report_end(out, budget, settings, source=source, target=target)
    return model


def _validation(held_out: dict[str, np.ndarray], settings: TrainingSettings, *, where: str
                ) -> tuple[HeldOutBatches, bool]:
    """The held-out batches of the per-epoch validation (at most `eval_images` per domain,
    spread over the set) and whether there are enough of them to validate at all."""
    count, batch_size = settings.eval_images, settings.batch_size
    validation = HeldOutBatches(
        *(stack[spread_indices(len(stack), count)] for stack in held_out.values()),
        batch_size=batch_size)
    validate = bool(count and len(validation))
    if count and not validate:
        print(f"note: fewer than {batch_size} held-out images per domain in {where}; no "
              "held-out metrics", file=sys.stderr)
    return validation, validate


def _report_end(out: Path, budget: TimeBudget, settings: TrainingSettings, *, source: str,
                target: str) -> None:
    """Say where the run stopped (budget or SIGTERM, and how to go on) and what it wrote."""
    epochs, steps = settings.epochs, settings.steps_per_epoch
    if budget.stopped_after is not None and (
            budget.stopped_after < epochs or budget.updates_in_last_epoch is not None):
        epochs = budget.stopped_after
        partial = budget.updates_in_last_epoch
        where = (f"during epoch {epochs}, after {partial} of its {steps} updates (saved as "
                 f"epoch {epochs})" if partial is not None else f"after epoch {epochs}")
        why = ("asked to stop (SIGTERM)" if budget.stop_requested
               else f"time budget of {settings.time_budget:g} s used up")
        print(f"{why}: stopped {where}; continue with --resume")
    print(f"done: {epochs} epochs; generators in {generator_path(out, 'AtoB')} "
          f"({source} -> {target}) and {generator_path(out, 'BtoA')}"
          + (f"; snapshots in {out / SNAPSHOTS_DIR}" if settings.snapshot_every else ""))

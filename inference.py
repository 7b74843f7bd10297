"""Inference: load a trained generator and convert whole utterances with it.

The library half of convert.py (which only parses arguments and handles files), shared by
evaluate.py and make_results_page.py so every converted clip comes out of the same code:
`load_converter` finds a run folder (runs.find_generator), checks its config against this
spectrogram transform and the requested emotions, and rebuilds the generator from config.json
plus weights; `convert_audio` sends an utterance of any length through spectro.round_trip with
the generator as the window transform.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from cli import import_keras
from corpus import canonical_emotion
from runs import (INFERENCE_PRECISIONS, PRECISION_POLICIES, check_config, find_generator,
                  read_config)
from spectro import GRIFFIN_LIM_ITERS, IMAGE_SIZE, round_trip

if TYPE_CHECKING:  # keras is imported lazily so scripts' --help and argument errors stay instant
    import keras

DEFAULT_BATCH_SIZE = 8  # windows per generator call, unless the caller says otherwise
# Share of one conversion's time spent in the generator (the rest is Griffin-Lim), measured
# with the default 6-block generator on a 2-core CPU (benchmarks/bench_convert.py); used only
# to move progress bars evenly.
GENERATOR_SHARE = 0.85


def load_converter(models_root: str | os.PathLike, source: str, target: str, *,
                   precision: str = "float32") -> tuple[keras.Model, Path, str]:
    """Find, check and load the generator for `source` -> `target`.

    `precision` 'bfloat16' builds the network under Keras' mixed_bfloat16 policy (float32
    weights, bfloat16 arithmetic, float32 output); see runs.PRECISION_POLICIES.

    Returns (generator for (batch, IMAGE_SIZE, IMAGE_SIZE, 1) float32 images in [-1, 1],
    run folder, direction). Raises UserError when no model exists, when its config was made
    with other STFT settings or another pair than spectro.py / the request, or when the
    weights are missing or do not fit the config.
    """
    keras = import_keras()  # quiet: TensorFlow's start-up lines stay off the terminal
    import models  # builds on Keras, so imported only once a model is needed

    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision must be one of {INFERENCE_PRECISIONS}, got {precision!r}")

    model_dir, direction = find_generator(models_root, source, target)
    config = read_config(model_dir)
    check_config(config, model_dir, source=canonical_emotion(source),
                 target=canonical_emotion(target), direction=direction)
    # Windows are always IMAGE_SIZE square; a fixed shape lets TensorFlow plan the graph once.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISION_POLICIES[precision])  # global: restored below
    try:
        generator = models.load_generator(model_dir, direction,
                                          input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1))
    finally:
        keras.config.set_dtype_policy(previous)
    return generator, model_dir, direction


def _batch_sizes(count: int, batch_size: int) -> list[int]:
    """Split `count` windows into batches of `batch_size`, the remainder in powers of two.

    Every distinct batch shape costs the backend a new trace (TensorFlow) or compilation
    (JAX); powers of two bound the shapes to log2(batch_size) + 1 without computing padding.
    """
    sizes = [batch_size] * (count // batch_size)
    rest = count % batch_size
    while rest:
        size = 1 << (rest.bit_length() - 1)
        sizes.append(size)
        rest -= size
    return sizes


def run_generator(windows: np.ndarray, generator: keras.Model, *,
                  batch_size: int = DEFAULT_BATCH_SIZE, out: np.ndarray | None = None,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Pass spectrogram windows through the generator a batch at a time.

    Args:
        windows: float32 (N, IMAGE_SIZE, IMAGE_SIZE) images in [-1, 1].
        generator: a model mapping (b, IMAGE_SIZE, IMAGE_SIZE, 1) to the same shape.
        batch_size: windows per generator call; bounds activation memory (about 60 MB per
            window with the default generator), so long files never hold all at once.
        out: optional float32 array of windows' shape to write into (may be `windows`).
        progress: called with the number of windows done after each batch.
    Returns:
        float32 (N, IMAGE_SIZE, IMAGE_SIZE) generator output in [-1, 1].
    """
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"windows must have shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}), "
                         f"got {windows.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if out is None:
        out = np.empty_like(windows)
    start = 0
    for size in _batch_sizes(len(windows), batch_size):
        batch = windows[start:start + size, :, :, None]
        # predict_on_batch runs the backend's compiled predict step (a traced tf.function or a
        # jitted JAX function), several times faster than eager calls on CPU.
        result = np.asarray(generator.predict_on_batch(batch), dtype=np.float32)
        out[start:start + size] = result.reshape(size, IMAGE_SIZE, IMAGE_SIZE)
        start += size
        if progress is not None:
            progress(start)
    return out


def convert_audio(audio: np.ndarray, generator: keras.Model, *, n_iter: int = GRIFFIN_LIM_ITERS,
                  phase: str = "source", seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Convert a whole utterance of any length with a loaded generator.

    Args:
        audio: mono float32 audio at SAMPLE_RATE (16 kHz), L >= 1 samples, finite.
        generator: from `load_converter` / models.load_generator, taking
            (b, IMAGE_SIZE, IMAGE_SIZE, 1) images.
        n_iter: Griffin-Lim iterations (0 = keep the initial phase).
        phase: 'source' starts Griffin-Lim from the input's own STFT phase (keeps timing and
            voice better); 'random' from random phase drawn with `seed`.
        seed: seed of the random initial phase.
        batch_size: windows per generator call.
        progress: called with the estimated fraction of the work done, in [0, 1].
    Returns:
        float32 audio of exactly L samples at SAMPLE_RATE, at the input's loudness (the
        windows share the input's dB reference, which maps the output back).
    """
    def generate(windows: np.ndarray, report: Callable[[float], None]) -> np.ndarray:
        # The converted windows overwrite the input ones: one windows array for a 10-minute
        # file (about 200 x 260 x 260 float32 = 54 MB) instead of two.
        return run_generator(windows, generator, batch_size=batch_size, out=windows,
                             progress=lambda done: report(done / len(windows)))

    return round_trip(audio, transform=generate, transform_share=GENERATOR_SHARE, n_iter=n_iter,
                      phase=phase, seed=seed, progress=progress)

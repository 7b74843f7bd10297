"""Inference: load a trained generator and convert whole utterances with it.

The library half of convert.py (which only parses arguments and handles files), shared by
evaluate.py and make_results_page.py so every converted clip comes out of the same code:
`load_converter` finds a run folder (runs.find_generator), checks its config against this
spectrogram transform and the requested emotions, and rebuilds the generator from config.json
plus weights; `convert_audio` sends an utterance of any length through spectro.round_trip with
the generator as the window transform.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from cli import import_keras
from errors import UserError
from corpus import canonical_emotion, parse_pair
from pitch import shift_pitch
from runs import check_config, find_generator, read_config, trained_pairs
from settings import INFERENCE_PRECISIONS, PRECISION_POLICIES
from spectro import GRIFFIN_LIM_ITERS, IMAGE_SIZE, AudioError, round_trip, scale_change

if TYPE_CHECKING:  # keras is imported lazily so scripts' --help and argument errors stay instant
    import keras

DEFAULT_BATCH_SIZE = 8  # windows per generator call, unless the caller says otherwise
# Inputs whose peak is below this are treated as silence: there is no speech to convert, and
# the image (normalised to the clip's own maximum) would only show amplified noise.
SILENCE_DBFS = -90.0
OUTPUT_PEAK = 0.99  # a converted result louder than full scale is scaled to this peak
# Share of one conversion's time spent in the generator (the rest is Griffin-Lim), measured
# with the default 6-block generator on a 2-core CPU (benchmarks/bench_convert.py); used only
# to move progress bars evenly.
GENERATOR_SHARE = 0.85


def load_converter(models_root: str | os.PathLike, source: str, target: str, *,
                   precision: str = "float32") -> tuple[keras.Model, Path, str]:
    """Find, check and load the generator for `source` -> `target`.

    `precision` 'bfloat16' builds the network under Keras' mixed_bfloat16 policy (float32
    weights, bfloat16 arithmetic, float32 output); see settings.PRECISION_POLICIES.

    Returns (generator for (batch, IMAGE_SIZE, IMAGE_SIZE, 1) float32 images in [-1, 1],
    run folder, direction). Raises UserError when no model exists, when its config was made
    with other STFT settings or another pair than spectro.py / the request, or when the
    weights are missing or do not fit the config.
    """
    keras = import_keras()  # quiet: TensorFlow's start-up lines stay off the terminal
    import model_files  # builds on Keras, so imported only once a model is needed

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
        generator = model_files.load_generator(model_dir, direction, config=config,
                                               input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1))
    finally:
        keras.config.set_dtype_policy(previous)
    return generator, model_dir, direction


def check_not_silent(audio: np.ndarray, name: str | os.PathLike) -> None:
    """AudioError when `audio`'s peak is below SILENCE_DBFS (nothing to convert)."""
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    if peak <= 0.0:
        raise AudioError(f"{name}: silent input (every sample is zero); nothing to convert")
    peak_db = 20.0 * math.log10(peak)
    if peak_db < SILENCE_DBFS:
        raise AudioError(f"{name}: silent input (peak {peak_db:.0f} dBFS, below "
                         f"{SILENCE_DBFS:.0f} dBFS); nothing to convert")


def model_method(config: dict) -> str:
    """How a model folder's generator was made and is applied, in words, from its config."""
    generator = config.get("generator", {})
    preset = (config.get("training") or {}).get("preset")
    words = f"{preset} preset" if preset else "custom settings"
    if generator.get("envelope_coefficients"):
        words += f", correction kept to {generator['envelope_coefficients']} envelope coefficients"
    elif not generator.get("identity_start"):
        words += ", draws a new image"
    cut = (config.get("inference") or {}).get("envelope_coefficients")
    if cut:
        words += f", envelope cut ({cut} coefficients) at conversion"
    ratio = (config.get("inference") or {}).get("pitch_ratio", 1.0)
    if ratio != 1.0:
        words += f", pitch x{ratio:g} at conversion"
    level = (config.get("inference") or {}).get("level_change_db", 0.0)
    if level:
        words += f", level {level:+.1f} dB at conversion"
    return words


def available_models(models_root: str | os.PathLike) -> list[dict]:
    """Every model folder directly under `models_root`, with what is known of it.

    Returns one dict per run folder holding a generator (runs.trained_pairs), sorted by pair:
    pair, source, target, folder (Path), method (`model_method`), exact_strength (whether a
    strength between 0 and 1 scales its correction exactly: an identity-start generator with no
    pitch shift after it), and from
    `<models_root>/metrics.json` (evaluate.py, test actors) when present: judged_target,
    real_judged_target and word_error_rate of its converted clips (None when not evaluated).
    """
    from reports import read_metrics  # the written record; only needed for listing

    root = Path(models_root)
    metrics = read_metrics(root / "metrics.json")["pairs"] if (root / "metrics.json").is_file() \
        else {}
    found = []
    for pair in trained_pairs(root):
        config = read_config(root / pair)
        systems = (metrics.get(pair) or {}).get("systems") or {}
        converted, target = systems.get("converted") or {}, systems.get("target") or {}
        try:
            _, source, target_emotion = parse_pair(pair)
        except UserError:
            continue  # a folder that is not named after a pair
        found.append({
            "pair": pair, "source": source, "target": target_emotion, "folder": root / pair,
            "method": model_method(config),
            "exact_strength": bool(config["generator"].get("identity_start"))
            and (config.get("inference") or {}).get("pitch_ratio", 1.0) == 1.0,
            "judged_target": converted.get("judged_target"),
            "real_judged_target": target.get("judged_target"),
            "word_error_rate": converted.get("word_error_rate"),
        })
    return found


def fit_full_scale(audio: np.ndarray, *, peak_dbfs: float | None = None
                   ) -> tuple[np.ndarray, float]:
    """Make converted audio fit a 16-bit file: returns (audio, its peak before, in dBFS).

    With `peak_dbfs` the audio is scaled to that peak (loudness normalisation); otherwise
    it is left alone unless it peaks above full scale (float inputs may, and the conversion
    keeps their level), where it is scaled down to OUTPUT_PEAK rather than clipped.
    """
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if peak > 0 and peak_dbfs is not None:
        return (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32), peak_db
    if peak > 1.0:
        return (audio * (OUTPUT_PEAK / peak)).astype(np.float32), peak_db
    return audio, peak_db


def change_level(audio: np.ndarray, *, change_db: float, ceiling: float = OUTPUT_PEAK
                 ) -> np.ndarray:
    """Make converted audio louder (or softer) by `change_db` decibels, never past `ceiling`.

    A rise stops where the peak would pass `ceiling` (a linear peak, > 0), so a conversion
    never clips and never needs fit_full_scale's scaling down; a recording with little
    headroom gets less of the rise than asked. A fall is applied whole.

    Args:
        audio: float32 (L,) audio, any level.
        change_db: the change in dB; 0 returns `audio` itself.
        ceiling: the highest peak a rise may reach.
    Returns:
        float32 (L,) audio.
    """
    if not math.isfinite(change_db):
        raise ValueError(f"change_db must be finite, got {change_db}")
    if not ceiling > 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    if change_db == 0:
        return audio
    gain = 10.0 ** (change_db / 20.0)
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    if gain > 1.0 and peak > 0:
        gain = max(1.0, min(gain, ceiling / peak))
    return (np.asarray(audio, dtype=np.float32) * np.float32(gain)).astype(np.float32)


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
                  strength: float = 1.0,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Pass spectrogram windows through the generator a batch at a time.

    Args:
        windows: float32 (N, IMAGE_SIZE, IMAGE_SIZE) images in [-1, 1].
        generator: a model mapping (b, IMAGE_SIZE, IMAGE_SIZE, 1) to the same shape.
        batch_size: windows per generator call; bounds activation memory (about 60 MB per
            window with the default generator), so long files never hold all at once.
        out: optional float32 array of windows' shape to write into (may be `windows`).
        strength: how much of the generator's change to apply (spectro.scale_change): 0 the
            windows unchanged, 1 the generator's output, values between scale its
            correction; >= 0.
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
    if not strength >= 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    if out is None:
        out = np.empty_like(windows)
    start = 0
    for size in _batch_sizes(len(windows), batch_size):
        batch = windows[start:start + size, :, :, None]
        # predict_on_batch runs the backend's compiled predict step (a traced tf.function or a
        # jitted JAX function), several times faster than eager calls on CPU.
        result = np.asarray(generator.predict_on_batch(batch), dtype=np.float32)
        result = result.reshape(size, IMAGE_SIZE, IMAGE_SIZE)
        if strength != 1.0:
            result = scale_change(batch[..., 0], result, strength=strength)
        out[start:start + size] = result
        start += size
        if progress is not None:
            progress(start)
    return out


def convert_audio(audio: np.ndarray, generator: keras.Model, *, n_iter: int = GRIFFIN_LIM_ITERS,
                  phase: str = "source", seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
                  strength: float = 1.0, pitch_ratio: float | None = None,
                  level_change_db: float | None = None,
                  progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Convert a whole utterance of any length with a loaded generator.

    Args:
        audio: mono float32 audio at SAMPLE_RATE (16 kHz), L >= 1 samples, finite.
        generator: from `load_converter` / model_files.load_generator, taking
            (b, IMAGE_SIZE, IMAGE_SIZE, 1) images.
        n_iter: Griffin-Lim iterations (0 = keep the initial phase).
        phase: 'source' starts Griffin-Lim from the input's own STFT phase (keeps timing and
            voice better); 'random' from random phase drawn with `seed`.
        seed: seed of the random initial phase.
        batch_size: windows per generator call.
        strength: how much of the model's change to apply: 0 gives the vocoder-only result
            (spectro.round_trip without a model), 1 the full conversion, values between scale
            the generator's correction (spectro.scale_change; exact for identity-start
            generators); it scales the pitch shift (ratio ** strength) and the level change
            too.
        pitch_ratio: pitch shift that keeps the formants, applied after Griffin-Lim
            (pitch.shift_pitch), 0.5..2.0. None: the generator's `pitch_ratio`
            (model_files.load_generator sets it from the model's config; 1 for a model
            without one).
        level_change_db: loudness change applied after Griffin-Lim (`change_level`: a rise
            stops below full scale, or at the input's own peak if that is higher). None: the
            generator's `level_change_db` (model_files.load_generator sets it from the
            model's config; 0 for a model without one).
        progress: called with the estimated fraction of the work done, in [0, 1].
    Returns:
        float32 audio of exactly L samples at SAMPLE_RATE, at the input's loudness (the
        windows share the input's dB reference, which maps the output back) changed by the
        level change.
    """
    def generate(windows: np.ndarray, report: Callable[[float], None]) -> np.ndarray:
        # The converted windows overwrite the input ones: one windows array for a 10-minute
        # file (about 200 x 260 x 260 float32 = 54 MB) instead of two.
        return run_generator(windows, generator, batch_size=batch_size, out=windows,
                             strength=strength,
                             progress=lambda done: report(done / len(windows)))

    if pitch_ratio is None:
        pitch_ratio = float(getattr(generator, "pitch_ratio", 1.0))
    if level_change_db is None:
        level_change_db = float(getattr(generator, "level_change_db", 0.0))
    converted = round_trip(audio, transform=generate, transform_share=GENERATOR_SHARE,
                           n_iter=n_iter, phase=phase, seed=seed, progress=progress)
    converted = shift_pitch(converted, ratio=pitch_ratio ** strength)
    input_peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    return change_level(converted, change_db=strength * level_change_db,
                        ceiling=max(OUTPUT_PEAK, input_peak))

"""Inference: load a trained generator and convert whole utterances with it.

The library half of convert.py (which only parses arguments and handles files), shared by
evaluate.py and make_results_page.py so every converted clip comes out of the same code:
`load_converter` finds a run folder (runs.find_generator), checks its config against this
spectrogram transform and the requested emotions, and rebuilds the generator from config.json
plus weights; `convert_audio` converts an utterance of any length through the pipeline of
conversion/pipeline.py: the vocoder's analysis, the stages the config asks for (the
generator's change, the learned changes), one synthesis, and the input's loudness.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from spectrogan.audio.audio_files import AudioError
from spectrogan.audio.loudness import OUTPUT_PEAK, limit_peaks
from spectrogan.audio.spectro import GRIFFIN_LIM_ITERS, IMAGE_SIZE
from spectrogan.audio.vocoder import SHIPPED_ANALYSIS, WorldAnalysis
from spectrogan.audio.vocoders import Vocoder
from spectrogan.conversion.pipeline import convert
from spectrogan.core.cli import import_keras
from spectrogan.core.strength import FULL_STRENGTH, check_strength
from spectrogan.data.corpus import EMOTION_ALIASES, canonical_emotion
from spectrogan.model.numpy_generator import NumpyGenerator, load_numpy_generator
from spectrogan.model.runs import (CONFIG_NAME, check_config, find_generator, generator_path,
                                   read_config, weights_file_error)
from spectrogan.model.settings import INFERENCE_PRECISIONS, PRECISION_POLICIES
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.stages.stage import DEFAULT_BATCH_SIZE, StageContext

if TYPE_CHECKING:  # keras is imported lazily so scripts' --help and argument errors stay instant
    import keras

# Inputs whose peak is below this are treated as silence: there is no speech to convert, and
# the image (normalised to the clip's own maximum) would only show amplified noise.
SILENCE_DBFS = -90.0


def converted_name(stem: str, target: str, *, strength: float = FULL_STRENGTH, prosody: bool = True,
                   normalized: bool = False, level_change: float | str = 0.0,
                   source_format: str | None = None) -> str:
    """File name of a clip `stem` converted to `target`, the one scheme of convert.py and the
    page, so that outputs made with other options never share a name:
    '<stem>[_<format>]_<emotion>[_<strength %>][_noprosody][_normalized][_level<change>].wav',
    the emotion by its RAVDESS name whatever alias was asked ('anger' -> 'speech_angry.wav'),
    the strength in percent below full strength ('speech_happy_50.wav'), the level change as
    asked ('_level+6dB', '_level-3dB', '_levelmodel'), and `source_format` (the input's
    extension, e.g. 'mp3') where inputs of one stem in several formats meet in one folder."""
    percent = round(100 * check_strength(strength))
    parts = [stem] + ([source_format.lstrip(".").lower()] if source_format else [])
    parts.append(canonical_emotion(target))
    if percent != 100:
        parts.append(str(percent))
    if not prosody:
        parts.append("noprosody")
    if normalized:
        parts.append("normalized")
    if isinstance(level_change, str):
        parts.append(f"level{level_change}")
    elif level_change:
        parts.append(f"level{level_change:+g}dB")
    return "_".join(parts) + ".wav"


def is_converted_name(name: str, target: str) -> bool:
    """Whether file name `name` looks like an earlier output for `target` (`converted_name`
    with any options, or the '_anger.wav' spelling of earlier versions)."""
    import re

    emotion = canonical_emotion(target)
    spellings = [emotion] + [alias for alias, name_ in EMOTION_ALIASES.items()
                             if name_ == emotion]
    options = r"(_\d{1,3})?(_noprosody)?(_normalized)?(_level[-+.\w]+)?"
    pattern = rf".+_({'|'.join(map(re.escape, spellings))}){options}\.wav"
    return re.fullmatch(pattern, name, flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class Converter:
    """A model ready to convert: the generator network (None: `settings` alone, e.g. a
    prosody change with no envelope model, or the vocoder alone), what its config asks to be
    applied around it, and where it came from. What convert.py, the page, evaluate.py and
    make_results_page.py all convert with."""

    # NumpyGenerator or keras.Model: predict_on_batch maps (b, IMAGE_SIZE, IMAGE_SIZE, 1)
    # images in [-1, 1] to the same shape.
    generator: Any = None
    settings: ConversionSettings = field(default_factory=ConversionSettings)
    folder: Path | None = None
    direction: str = "AtoB"

    def convert(self, audio: np.ndarray, *, strength: float = FULL_STRENGTH, prosody: bool = True,
                level_change_db: float = 0.0, n_iter: int = GRIFFIN_LIM_ITERS,
                phase: str = "source", seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: Callable[[float], None] | None = None) -> np.ndarray:
        """`convert_audio` with this model and its settings (see there for the arguments)."""
        return convert_audio(audio, self.generator, settings=self.settings, strength=strength,
                             prosody=prosody, level_change_db=level_change_db, n_iter=n_iter,
                             phase=phase, seed=seed, batch_size=batch_size, progress=progress)

    def with_settings(self, settings: ConversionSettings) -> Converter:
        """The same network applied another way (a candidate the tools score). The envelope
        cut is built into the network: a different cut needs `open_converter(settings=...)`."""
        return dataclasses.replace(self, settings=settings)


def open_converter(model_dir: str | os.PathLike, direction: str = "AtoB", *,
                   config: dict | None = None, precision: str = "float32",
                   settings: ConversionSettings | None = None) -> Converter:
    """The Converter of one model folder (a run folder or a snapshot): the plain network from
    model_files.load_generator, with the post-hoc envelope cut its config's "inference" asks
    for (models.with_envelope_cut), and the rest of that section as its settings.

    `precision` 'float32' runs the network in NumPy (numpy_generator: the Keras network's
    outputs to float32 rounding, without importing Keras, so a conversion starts in about a
    second); 'bfloat16' builds it in Keras under the mixed_bfloat16 policy (float32 weights,
    bfloat16 arithmetic, float32 output; see settings.PRECISION_POLICIES), with windows
    always IMAGE_SIZE square so TensorFlow plans the graph once. `settings` replaces the
    config's own (a candidate a tool scores), cut included.
    """
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision must be one of {INFERENCE_PRECISIONS}, got {precision!r}")
    model_dir = Path(model_dir)
    config = read_config(model_dir) if config is None else config
    if settings is None:
        settings = ConversionSettings.from_config(config, where=str(model_dir / CONFIG_NAME))
    if precision == "float32":
        generator = _numpy_generator(model_dir, direction, config,
                                     cut=settings.envelope_cut)
    else:
        generator = _keras_generator(model_dir, direction, config, precision=precision,
                                     cut=settings.envelope_cut)
    return Converter(generator, settings, model_dir, direction)


def _numpy_generator(model_dir: Path, direction: str, config: dict, *, cut: int
                     ) -> NumpyGenerator:
    """The run's generator in NumPy; UserError, as model_files.load_generator's, when the
    weights are missing or do not fit the config."""
    weights = generator_path(model_dir, direction)
    if not weights.is_file():
        raise weights_file_error(weights, model_dir)
    try:
        return load_numpy_generator(weights, config["generator"], cut=cut)
    except (OSError, KeyError, ValueError) as exc:
        raise weights_file_error(weights, model_dir, problem=exc) from None


def _keras_generator(model_dir: Path, direction: str, config: dict, *, precision: str,
                     cut: int) -> Any:
    """The run's generator as a Keras model under `precision`'s dtype policy, with the
    post-hoc envelope cut `cut` (models.with_envelope_cut) when > 0."""
    keras = import_keras()  # quiet: TensorFlow's start-up lines stay off the terminal
    # builds on Keras, so imported only once a Keras model is needed
    from spectrogan.model import model_files
    from spectrogan.model import models

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISION_POLICIES[precision])  # global: restored below
    try:
        generator = model_files.load_generator(model_dir, direction, config=config,
                                               input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1))
        if cut:
            generator = models.with_envelope_cut(generator, coefficients=cut)
    finally:
        keras.config.set_dtype_policy(previous)
    return generator


def load_converter(models_root: str | os.PathLike, source: str, target: str, *,
                   precision: str = "float32") -> Converter:
    """Find, check and load the `source` -> `target` model of `models_root`
    (`find_converter`, then `open_converter`).

    Raises UserError when no model exists, when its config was made with other STFT settings
    or another pair than spectro.py / the request, or when the weights are missing or do not
    fit the config.
    """
    model_dir, direction, config = find_converter(models_root, source, target)
    return open_converter(model_dir, direction, config=config, precision=precision)


def find_converter(models_root: str | os.PathLike, source: str, target: str
                   ) -> tuple[Path, str, dict]:
    """(model folder, generator direction, checked config) of the `source` -> `target` model,
    without Keras: UserError at once when there is none or its config does not fit, so a
    script can say so before the slow model load."""
    model_dir, direction = find_generator(models_root, source, target)
    config = read_config(model_dir)
    check_config(config, model_dir, source=canonical_emotion(source),
                 target=canonical_emotion(target), direction=direction)
    return model_dir, direction, config


def check_not_silent(audio: np.ndarray, name: str | os.PathLike) -> None:
    """AudioError when `audio`'s peak is below SILENCE_DBFS (nothing to convert)."""
    check_audible_peak(float(np.max(np.abs(audio))) if np.size(audio) else 0.0, name)


def check_audible_peak(peak: float, name: str | os.PathLike) -> None:
    """AudioError when a clip whose largest absolute sample is `peak` (full scale 1.0) is
    silent: below SILENCE_DBFS. For a file, `audio_files.file_peak` gives the peak before the
    slow model load."""
    if peak <= 0.0:
        raise AudioError(f"{name}: silent input (every sample is zero); nothing to convert")
    peak_db = 20.0 * math.log10(peak)
    if peak_db < SILENCE_DBFS:
        raise AudioError(f"{name}: silent input (peak {peak_db:.1f} dBFS, below "
                         f"{SILENCE_DBFS:.0f} dBFS); nothing to convert")


def fit_full_scale(audio: np.ndarray, *, peak_dbfs: float | None = None
                   ) -> tuple[np.ndarray, float]:
    """Make converted audio fit a 16-bit file: returns (audio, its peak before, in dBFS).

    With `peak_dbfs` the audio is scaled to that peak (loudness normalisation); otherwise
    only the peaks above OUTPUT_PEAK are limited (loudness.limit_peaks), so the level stays.
    """
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if peak > 0 and peak_dbfs is not None:
        return (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32), peak_db
    return limit_peaks(audio, ceiling=OUTPUT_PEAK), peak_db


def vocoder_only(audio: np.ndarray, *, vocoder: str | Vocoder, n_iter: int = GRIFFIN_LIM_ITERS,
                 phase: str = "source", seed: int = 0,
                 analysis: WorldAnalysis = SHIPPED_ANALYSIS) -> np.ndarray:
    """`audio` through a vocoder with no change: what the representation alone costs.
    `vocoder`: a Vocoder or its name ('griffin-lim': spectro.round_trip's path; 'world':
    WORLD analysis (`analysis`) and synthesis). float32, L samples, at the input's loudness."""
    return convert_audio(audio, None, settings=ConversionSettings.of(vocoder),
                         n_iter=n_iter, phase=phase, seed=seed, analysis=analysis)


def convert_audio(audio: np.ndarray, generator: keras.Model | None, *,
                  n_iter: int = GRIFFIN_LIM_ITERS, phase: str = "source", seed: int = 0,
                  batch_size: int = DEFAULT_BATCH_SIZE, strength: float = FULL_STRENGTH,
                  settings: ConversionSettings | None = None, prosody: bool = True,
                  level_change_db: float = 0.0, analysis: WorldAnalysis = SHIPPED_ANALYSIS,
                  progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Convert a whole utterance of any length with a loaded generator, at the input's
    loudness (conversion/pipeline.py: analysis, stages, synthesis, loudness).

    Args:
        audio: mono float32 audio at SAMPLE_RATE (16 kHz), L >= 1 samples, finite.
        generator: a `Converter`'s network, taking (b, IMAGE_SIZE, IMAGE_SIZE, 1) images;
            None converts with `settings`' other stages alone (a prosody change with no
            envelope model, or the vocoder alone). `Converter.convert` passes both.
        n_iter, phase, seed: Griffin-Lim's iterations (0 = keep the initial phase), initial
            phase ('source': the input's own STFT phase; 'random' drawn with `seed`); the
            Griffin-Lim vocoder only.
        batch_size: windows per generator call.
        strength: how much of the model's change to apply, 0..1: 0 gives the vocoder alone
            (the same path with no change), 1 the full conversion; values between scale
            every stage (Stage.scaled: the generator's correction exactly for identity-start
            generators, shifts times it, ratios to its power).
        settings: the vocoder and the stages (stages/conversion_settings.py); None: the
            defaults (Griffin-Lim with the generator's change).
        prosody: False leaves the input's pitch and timing (the vocoder and the other stages
            stay): convert.py --no-prosody.
        level_change_db: a change of loudness on top of the input's, in dB (0: the input's
            own loudness); e.g. the model's learned `settings.level_change_db`.
        analysis: how the WORLD vocoder analyses (vocoder.WorldAnalysis; WORLD only).
        progress: called with the estimated fraction of the work done, in [0, 1].
    Returns:
        float32 audio at SAMPLE_RATE whose integrated loudness (BS.1770,
        loudness.loudness_db) is the input's plus `level_change_db`, peak-limited below
        OUTPUT_PEAK; L samples long except where a stage changes the duration.
    """
    strength = check_strength(strength)
    settings = settings if settings is not None else ConversionSettings()
    if not prosody:
        settings = settings.without_prosody()
    vocoder = settings.vocoder.with_options(n_iter=n_iter, phase=phase, seed=seed,
                                            analysis=analysis)
    settings = dataclasses.replace(settings.scaled(strength), vocoder=vocoder)
    context = StageContext(source=np.asarray(audio, dtype=np.float32), generator=generator,
                           batch_size=batch_size)
    return convert(audio, settings, context, level_change_db=level_change_db,
                   progress=progress)

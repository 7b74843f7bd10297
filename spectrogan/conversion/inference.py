"""Inference: load a trained generator and convert whole utterances with it.

The library half of convert.py (which only parses arguments and handles files), shared by
evaluate.py and make_results_page.py so every converted clip comes out of the same code:
`load_converter` finds a run folder (runs.find_generator), checks its config against this
spectrogram transform and the requested emotions, and rebuilds the generator from config.json
plus weights; `convert_audio` converts an utterance of any length: the generator's change to
its spectrogram with Griffin-Lim (spectro.round_trip), or that change applied to WORLD's
spectral envelope together with the model's prosody change (vocoder.py, prosody.py) in one
synthesis; either way at the input's loudness (loudness.keep_loudness).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from spectrogan.core.cli import import_keras
from spectrogan.data.corpus import EMOTION_ALIASES, canonical_emotion
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.audio.loudness import OUTPUT_PEAK, keep_loudness, limit_peaks
from spectrogan.audio.pitch import shift_pitch
from spectrogan.stages.prosody import map_f0
from spectrogan.stages.spectral_balance import apply_balance
from spectrogan.stages.cepstral_change import apply_cepstral_change
from spectrogan.model.numpy_generator import NumpyGenerator, load_numpy_generator
from spectrogan.model.runs import (CONFIG_NAME, check_config, find_generator, generator_path,
                                   read_config, weights_file_error)
from spectrogan.model.settings import INFERENCE_PRECISIONS, PRECISION_POLICIES
from spectrogan.audio.audio_files import AudioError
from spectrogan.audio.spectro import (GRIFFIN_LIM_ITERS, IMAGE_SIZE, N_BINS, TOP_DB,
                                      envelope_projection, join_windows, n_frames_for, round_trip,
                                      scale_change, utterance_to_windows)
from spectrogan.core.strength import FULL_STRENGTH, check_strength
from spectrogan.audio.vocoder import (SHIPPED_ANALYSIS, WorldAnalysis, correct_envelope,
                                      stretch_time, with_f0, world_analyse, world_synthesise)

if TYPE_CHECKING:  # keras is imported lazily so scripts' --help and argument errors stay instant
    import keras

DEFAULT_BATCH_SIZE = 8  # windows per generator call, unless the caller says otherwise
# Inputs whose peak is below this are treated as silence: there is no speech to convert, and
# the image (normalised to the clip's own maximum) would only show amplified noise.
SILENCE_DBFS = -90.0
# Share of one conversion's time spent in the generator (the rest is Griffin-Lim), measured
# with the default 6-block generator on a 2-core CPU (benchmarks/bench_convert.py); used only
# to move progress bars evenly.
GENERATOR_SHARE = 0.85
# The same for the WORLD path, from a 55-s file on a 2-core CPU: the F0 tracking comes first
# and takes most of it, the network next, the envelope, aperiodicity and synthesis the rest.
WORLD_F0_SHARE = 0.55
WORLD_GENERATOR_SHARE = 0.3


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
                                     cut=settings.envelope_coefficients)
    else:
        generator = _keras_generator(model_dir, direction, config, precision=precision,
                                     cut=settings.envelope_coefficients)
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
                  strength: float = FULL_STRENGTH,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Pass spectrogram windows through the generator a batch at a time.

    Args:
        windows: float32 (N, IMAGE_SIZE, IMAGE_SIZE) images in [-1, 1].
        generator: a model mapping (b, IMAGE_SIZE, IMAGE_SIZE, 1) to the same shape.
        batch_size: windows per generator call; bounds activation memory, so long files
            never hold all windows' activations at once.
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
    check_strength(strength)
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


def envelope_change_db(audio: np.ndarray, generator: keras.Model, *,
                       strength: float = FULL_STRENGTH,
                       batch_size: int = DEFAULT_BATCH_SIZE,
                       progress: Callable[[float], None] | None = None) -> np.ndarray:
    """The generator's change to an utterance's spectrogram, in dB per STFT bin and frame.

    Args:
        audio: mono float32 audio at SAMPLE_RATE, L >= 1 samples, finite.
        generator: takes (b, IMAGE_SIZE, IMAGE_SIZE, 1) images.
        strength: how much of its change (spectro.scale_change), >= 0.
        batch_size: windows per generator call.
        progress: called with the fraction of windows done.
    Returns:
        float32 (N_BINS, 1 + L // HOP_LENGTH): output image minus input image, in dB
        (TOP_DB / 2 per image unit), windows joined as spectro.join_windows does.
    """
    windows, _ = utterance_to_windows(audio)
    before = join_windows(windows, n_frames=n_frames_for(len(audio)))
    after = run_generator(windows, generator, batch_size=batch_size, out=windows,
                          strength=strength,
                          progress=(lambda done: progress(done / len(windows))) if progress
                          else None)
    return (join_windows(after, n_frames=n_frames_for(len(audio))) - before) * (TOP_DB / 2.0)


def convert_with_world(audio: np.ndarray, generator: keras.Model | None, *,
                       settings: ConversionSettings, strength: float = FULL_STRENGTH,
                       batch_size: int = DEFAULT_BATCH_SIZE,
                       analysis: WorldAnalysis = SHIPPED_ANALYSIS,
                       progress: Callable[[float], None] | None = None) -> np.ndarray:
    """One WORLD pass: analyse (`analysis`), apply the generator's envelope change (kept
    frequency-smooth, `settings.smoothing_coefficients`), the cepstral change, the spectral
    balance and the prosody change, all scaled by `strength`, synthesise once. Strength 0 (or
    no generator and no prosody) is WORLD's analysis and synthesis alone. Returns float32
    audio, `duration_ratio ** strength` times as long, at WORLD's level (the caller sets the
    loudness)."""
    report = progress or (lambda fraction: None)
    features = world_analyse(audio, analysis=analysis,
                             progress=lambda f: report(WORLD_F0_SHARE * f))
    analysed = 1.0 - WORLD_GENERATOR_SHARE - (1.0 - WORLD_F0_SHARE - WORLD_GENERATOR_SHARE) / 2
    report(analysed)
    if generator is not None and settings.envelope_change and strength > 0:
        change = envelope_change_db(audio, generator, strength=strength, batch_size=batch_size,
                                    progress=lambda f: report(analysed
                                                              + WORLD_GENERATOR_SHARE * f))
        smooth = envelope_projection(N_BINS, coefficients=settings.smoothing_coefficients)
        features = correct_envelope(features, smooth @ change)
    if settings.cepstral_change is not None:
        features = apply_cepstral_change(features, settings.cepstral_change.scaled(strength))
    if settings.spectral_balance is not None:
        features = apply_balance(features, settings.spectral_balance.scaled(strength))
    prosody = settings.prosody.scaled(strength) if settings.prosody is not None else None
    if prosody is not None and not prosody.is_identity:
        features = stretch_time(with_f0(features, map_f0(features.f0, prosody)),
                                prosody.duration_ratio)
    # WORLD's frame grid rounds the length: give back exactly the input's, times the ratio.
    length = max(1, int(round(len(audio) * (prosody.duration_ratio if prosody else 1.0))))
    converted = world_synthesise(features)[:length]
    report(1.0)
    return np.pad(converted, (0, length - len(converted)))


def vocoder_only(audio: np.ndarray, *, vocoder: str, n_iter: int = GRIFFIN_LIM_ITERS,
                 phase: str = "source", seed: int = 0,
                 analysis: WorldAnalysis = SHIPPED_ANALYSIS) -> np.ndarray:
    """`audio` through a vocoder with no change: what the representation alone costs.
    'griffin-lim': spectro.round_trip; 'world': WORLD analysis (`analysis`) and synthesis.
    float32, L samples, at the input's loudness."""
    return convert_audio(audio, None, settings=ConversionSettings(vocoder=vocoder),
                         n_iter=n_iter, phase=phase, seed=seed, analysis=analysis)


def convert_audio(audio: np.ndarray, generator: keras.Model | None, *,
                  n_iter: int = GRIFFIN_LIM_ITERS, phase: str = "source", seed: int = 0,
                  batch_size: int = DEFAULT_BATCH_SIZE, strength: float = FULL_STRENGTH,
                  settings: ConversionSettings | None = None, prosody: bool = True,
                  level_change_db: float = 0.0, analysis: WorldAnalysis = SHIPPED_ANALYSIS,
                  progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Convert a whole utterance of any length with a loaded generator, at the input's
    loudness.

    Args:
        audio: mono float32 audio at SAMPLE_RATE (16 kHz), L >= 1 samples, finite.
        generator: a `Converter`'s network, taking (b, IMAGE_SIZE, IMAGE_SIZE, 1) images;
            None converts with `settings` alone (a prosody change with no envelope model, or
            the vocoder alone). `Converter.convert` passes both.
        n_iter, phase, seed: Griffin-Lim's iterations (0 = keep the initial phase), initial
            phase ('source': the input's own STFT phase; 'random' drawn with `seed`); the
            Griffin-Lim vocoder only.
        batch_size: windows per generator call.
        strength: how much of the model's change to apply, 0..1: 0 gives the vocoder alone
            (the same path with no change), 1 the full conversion; values between scale the
            generator's correction (spectro.scale_change; exact for identity-start
            generators), the prosody change (prosody.ProsodyChange.scaled) and the pitch
            shift (ratio ** strength).
        settings: what to apply around the generator (vocoder, prosody, spectral balance,
            cepstral change, pitch shift); None: the defaults (Griffin-Lim, nothing around
            the generator).
        prosody: False leaves the input's pitch and timing (the vocoder and the envelope
            change stay): convert.py --no-prosody.
        level_change_db: a change of loudness on top of the input's, in dB (0: the input's
            own loudness); e.g. the model's learned `settings.level_change_db`.
        analysis: how the WORLD vocoder analyses (vocoder.WorldAnalysis; WORLD only).
        progress: called with the estimated fraction of the work done, in [0, 1].
    Returns:
        float32 audio at SAMPLE_RATE whose integrated loudness (BS.1770,
        loudness.loudness_db) is the input's plus `level_change_db`, peak-limited below
        OUTPUT_PEAK; L samples long except where a prosody change alters the duration.
    """
    check_strength(strength)
    if settings is None:
        settings = ConversionSettings()
    if not prosody:
        settings = settings.without_prosody()
    if settings.vocoder == "world":
        converted = convert_with_world(audio, generator, settings=settings, strength=strength,
                                       batch_size=batch_size, analysis=analysis,
                                       progress=progress)
    else:
        def generate(windows: np.ndarray, report: Callable[[float], None]) -> np.ndarray:
            # The converted windows overwrite the input ones: one windows array for a
            # 10-minute file (about 200 x 260 x 260 float32 = 54 MB) instead of two.
            return run_generator(windows, generator, batch_size=batch_size, out=windows,
                                 strength=strength,
                                 progress=lambda done: report(done / len(windows)))

        converted = round_trip(audio, transform=generate if generator is not None else None,
                               transform_share=GENERATOR_SHARE if generator is not None else 0,
                               n_iter=n_iter, phase=phase, seed=seed, progress=progress)
        converted = shift_pitch(converted, ratio=settings.pitch_ratio ** strength)
    return keep_loudness(converted, audio, change_db=level_change_db)

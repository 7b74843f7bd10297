"""Helpers the test modules share (not a test module): a tiny model folder as training writes
one, the tiny training command lines, and synthetic speech-like audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

# The smallest networks that still run every code path, for train_cyclegan.py's command line.
TINY = ["--preset", "original", "--filters", "4", "--res-blocks", "1", "--pool-size", "2",
        "--eval-images", "2", "--sample-clips", "0", "--xla", "off", "--quiet"]
FAST_TINY = ["--pair", "calm2anger", "--preset", "fast", "--filters", "4", "--res-blocks", "1",
             "--crop-frames", "16", "--steps-per-epoch", "2", "--pool-size", "2",
             "--eval-images", "2", "--sample-clips", "0", "--sample-every", "0", "--xla", "off",
             "--quiet"]


def randomised(generator: Any, seed: int = 3) -> Any:
    """The generator with its zero-initialised correction layer given random weights, as
    training would, so an identity-start model's correction is far from zero."""
    rng = np.random.default_rng(seed)
    layer = generator.get_layer("out_conv")
    layer.set_weights([rng.normal(0, 0.02, w.shape).astype(np.float32)
                       for w in layer.get_weights()])
    return generator


def save_tiny_model(folder: Path, *, pair: str = "calm2anger", source: str = "calm",
                    target: str = "angry", filters: int = 4, identity_start: bool = False,
                    randomise: int | None = None, seed: int | None = None,
                    directions: Sequence[str] = ("AtoB", "BtoA"), dtype: str = "float32",
                    **config: Any) -> Path:
    """A run folder as train_cyclegan.py writes it, with a tiny (1-block) generator per
    direction at the product's window size; returns `folder`.

    identity_start: build identity-start generators; randomise: give their correction layer
    random weights from this seed (`randomised`); seed: Keras' random seed before each build
    (the same network whichever tests ran before); config: further config.json keys (e.g.
    "inference", "test_actors", "stft"), overriding the defaults.
    """
    import keras

    from spectrogan.model import model_files
    from spectrogan.model import models
    from spectrogan.model import runs
    from spectrogan.data.corpus import STFT_SETTINGS
    from spectrogan.audio.spectro import IMAGE_SIZE

    runs.write_config(folder, {
        "pair": pair, "source": source, "target": target, "image_size": IMAGE_SIZE,
        "generator": {"filters": filters, "res_blocks": 1, "identity_start": identity_start},
        "discriminator": {"filters": filters}, "stft": dict(STFT_SETTINGS), **config})
    for number, direction in enumerate(directions):
        if seed is not None:
            keras.utils.set_random_seed(seed + number)
        generator = models.build_generator((IMAGE_SIZE, IMAGE_SIZE, 1), filters=filters,
                                           res_blocks=1, identity_start=identity_start)
        if randomise is not None:
            generator = randomised(generator, seed=randomise)
        model_files.save_generator(generator, folder, direction, dtype=dtype)
    return folder


def synthetic_emotion(emotion: str, actor: int, take: int, *, seconds: float = 0.7
                      ) -> np.ndarray:
    """Toy 'emotions' a classifier can learn across 'actors': calm = low, quiet, steady
    voice; angry = higher, loud, bright voice with a pitch glide; sad = low and breathy."""
    from spectrogan.audio.spectro import SAMPLE_RATE as SR

    rng = np.random.default_rng(actor * 100 + take)
    voice = 1.0 + 0.15 * (actor % 3)  # each actor has its own pitch
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if emotion == "calm":
        f0, amplitude, bright, glide, breath = 120 * voice, 0.08, 0.0, 0.0, 0.002
    elif emotion == "angry":
        f0, amplitude, bright, glide, breath = 230 * voice, 0.5, 0.6, 60.0, 0.002
    else:
        f0, amplitude, bright, glide, breath = 100 * voice, 0.05, 0.0, 0.0, 0.02
    f0 *= 1.0 + 0.03 * rng.standard_normal()
    phase = 2 * np.pi * np.cumsum(f0 + glide * t / seconds) / SR
    wave = sum(np.sin(k * phase) * (1.0 / k + bright * (k > 3)) for k in range(1, 9))
    wave = amplitude * wave / np.max(np.abs(wave)) + breath * rng.standard_normal(n)
    return wave.astype(np.float32)


def toy_emotion_features() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`metrics.clip_features` of `synthetic_emotion` calm, angry and sad clips, two takes of
    actors 1-6: (features (36, D), emotion labels, actors)."""
    from spectrogan.evaluation import metrics

    rows = [(e, actor, take) for e in ("calm", "angry", "sad") for actor in range(1, 7)
            for take in range(2)]
    features = np.stack([metrics.clip_features(synthetic_emotion(*row)) for row in rows])
    return features, np.array([row[0] for row in rows]), np.array([row[1] for row in rows])


def speech(seconds: float) -> np.ndarray:
    """A voiced, speech-like test signal: a gliding tone with a chirp and a little noise."""
    from conftest import chirp, tone

    rng = np.random.default_rng(7)
    audio = tone(seconds, 180.0) + 0.5 * chirp(seconds, f0=300.0, f1=2500.0)
    return (audio + 0.01 * rng.standard_normal(audio.shape[0])).astype(np.float32)


def speech_wav(path: Path, seconds: float, *, sr: int | None = None) -> Path:
    """`speech` written as a 16-bit wav at `sr` (default: SAMPLE_RATE), lasting `seconds`."""
    import soundfile

    from spectrogan.audio.spectro import SAMPLE_RATE

    sr = SAMPLE_RATE if sr is None else sr
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), speech(seconds) if sr == SAMPLE_RATE
                    else speech(seconds * sr / SAMPLE_RATE), sr, subtype="PCM_16")
    return path


def run_convert(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """convert.py's main on `argv`: (exit status, stdout, stderr)."""
    import convert

    code = convert.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- A tiny training set ---------------------------------------------------------------------
def spectrogram_like(rng: np.random.Generator, count: int, tilt: float) -> np.ndarray:
    """(count, H, W) smooth band images in [-1, 1]; `tilt` separates the two domains."""
    from spectrogan.audio.spectro import IMAGE_SIZE

    rows = np.linspace(-1, 1, IMAGE_SIZE)[None, :, None]
    cols = np.linspace(-1, 1, IMAGE_SIZE)[None, None, :]
    offsets = rng.uniform(-0.3, 0.3, (count, 1, 1))
    images = np.tanh(4 * (rows + tilt * cols + offsets))
    return np.clip(images + 0.05 * rng.standard_normal((count, IMAGE_SIZE, IMAGE_SIZE)), -1, 1)


_FIRST_ACTOR = {"train": 1, "val": 15, "test": 19}  # each split: this actor and the next


def write_training_data(folder: Path, sizes: dict[tuple[str, str], int], *, seed: int = 7) -> Path:
    """calm2anger.npz in `folder` with `sizes` images per (split, domain): actors 1, 2 train,
    15, 16 validate, 19, 20 test."""
    from spectrogan.data import corpus

    rng = np.random.default_rng(seed)
    images = {key: spectrogram_like(rng, n, 0.5 if key[1] == "A" else -0.5)
              for key, n in sizes.items()}
    actors = {key: [_FIRST_ACTOR[key[0]] + i % 2 for i in range(n)] for key, n in sizes.items()}
    files = {key: [f"Actor_{a:02d}/clip_{i}.wav" for i, a in enumerate(actors[key])]
             for key in sizes}
    corpus.save_pair_npz(folder / "calm2anger.npz", pair="calm2anger", images=images,
                            files=files, actors=actors)
    return folder


# --- Stand-ins for what a model does to a spectrogram -----------------------------------------
def comb(n_bins: int, period: int) -> np.ndarray:
    """A harmonic-like ripple along frequency: +1 on every `period`-th row, else 0."""
    ripple = np.zeros(n_bins, np.float32)
    ripple[::period] = 1.0
    return ripple - ripple.mean()


def smearing_generator(n_bins: int | None = None) -> Any:
    """A stand-in for a model that smears the harmonics: it raises the image by a smooth tilt
    (an envelope change) and fills the valleys between harmonics (a 9-bin running maximum
    along frequency: the broadband smear)."""
    import keras

    from spectrogan.audio.spectro import IMAGE_SIZE

    n_bins = IMAGE_SIZE if n_bins is None else n_bins
    inputs = keras.Input((n_bins, n_bins, 1))
    smeared = keras.layers.MaxPooling2D((9, 1), strides=1, padding="same")(inputs)
    tilt = np.linspace(0.15, -0.05, n_bins, dtype=np.float32)[None, :, None, None]
    outputs = keras.layers.Lambda(lambda x: keras.ops.clip(x + tilt, -1.0, 1.0))(smeared)
    return keras.Model(inputs, outputs)


def save_tiny_contour_model(folder: Path, *, channels: int = 4, seed: int = 0,
                            rise: float = 0.0, log2_rate: float = 0.0,
                            energy_gain: float | None = None) -> Any:
    """A contour model of random small weights written as tools/train_contour.py writes one;
    `rise` (octaves) and `log2_rate` are added to its first two outputs' biases, so a test
    knows roughly what it predicts. With `energy_gain` it has the energy output too, wired to
    predict a level change of (energy_gain - 1) x the input's level re its loudest frame (so
    the clip's level contour is `energy_gain` times as deep). Returns the ContourNetwork."""
    from spectrogan.stages.contour_prosody import (CONTOUR_EMOTIONS, INPUT_NAMES,
                                                   ContourNetwork, save_contour_network)

    rng = np.random.default_rng(seed)
    width, dilations = len(INPUT_NAMES) + len(CONTOUR_EMOTIONS), (1, 2)
    outputs = 2 if energy_gain is None else 3

    def layer(taps: int, inputs: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
        return (rng.normal(0.0, 0.05, (taps, inputs, outputs)).astype(np.float32),
                np.zeros(outputs, np.float32))

    weights = {}
    for name, shape in (("input", (3, width, channels)), ("block_0", (3, channels, channels)),
                        ("block_1", (3, channels, channels)),
                        ("output", (1, channels, outputs))):
        weights[f"{name}_kernel"], weights[f"{name}_bias"] = layer(*shape)
    weights["output_bias"][:2] += np.float32([rise, log2_rate])
    if energy_gain is not None:
        # hidden channel 0 carries -level (level <= 0) through blocks that add nothing
        energy = INPUT_NAMES.index("energy")
        weights["input_kernel"][:, :, 0] = 0.0
        weights["input_kernel"][1, energy, 0] = -1.0
        weights["input_bias"][0] = 0.0
        for block in ("block_0", "block_1"):
            weights[f"{block}_kernel"][:, 0, :] = 0.0
            weights[f"{block}_kernel"][:, :, 0] = 0.0
            weights[f"{block}_bias"][0] = 0.0
        weights["output_kernel"][0, :, 2] = 0.0
        weights["output_kernel"][0, 0, 2] = 1.0 - energy_gain
        weights["output_bias"][2] = 0.0
    config = {"inputs": list(INPUT_NAMES), "emotions": list(CONTOUR_EMOTIONS), "hop_ms": 10.0,
              "network": {"channels": channels, "kernel": 3, "dilations": list(dilations),
                          "outputs": outputs}}
    network = ContourNetwork(weights, dilations, config)
    save_contour_network(folder, network)
    return network

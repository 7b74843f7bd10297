"""numpy_generator.py: the generator's forward pass in NumPy gives the Keras network's outputs
(to float32 rounding) for every architecture option and every shipped model, and a
conversion through it never imports Keras or TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from spectrogan.conversion import inference
from spectrogan.model import model_files
from spectrogan.model import models
from spectrogan.model import numpy_generator
from spectrogan.model import runs
from spectrogan.audio.spectro import IMAGE_SIZE

from conftest import REPO
from helpers import save_tiny_model

SHAPE = (32, 32, 1)  # fully convolutional: a small image checks the same arithmetic


def _random_weights(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype(np.float32)
                       for w in model.get_weights()])


@pytest.mark.parametrize("identity_start, envelope, blocks, cut", [
    (False, 0, 1, 0), (True, 0, 2, 0), (True, 8, 1, 0), (False, 0, 0, 6), (True, 8, 2, 6)])
def test_the_numpy_forward_pass_is_the_keras_one(tmp_path, identity_start, envelope, blocks,
                                                 cut):
    network = models.build_generator(SHAPE, filters=4, res_blocks=blocks,
                                     identity_start=identity_start,
                                     envelope_coefficients=envelope)
    _random_weights(network, seed=blocks + envelope + cut)
    model_files.save_generator(network, tmp_path, "AtoB")
    reference = models.with_envelope_cut(network, coefficients=cut) if cut else network
    config = {"filters": 4, "res_blocks": blocks, "identity_start": identity_start,
              "envelope_coefficients": envelope}
    ours = numpy_generator.load_numpy_generator(runs.generator_path(tmp_path, "AtoB"), config,
                                                cut=cut)
    images = np.random.default_rng(7).uniform(-1, 1, (3, *SHAPE)).astype(np.float32)
    expected = np.asarray(reference.predict_on_batch(images))
    np.testing.assert_allclose(ours.predict_on_batch(images), expected, atol=5e-5)
    np.testing.assert_allclose(ours(images[:1]), expected[:1], atol=5e-5)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    save_tiny_model(tmp_path / "calm2anger", filters=4)
    weights = runs.generator_path(tmp_path / "calm2anger", "AtoB")
    with pytest.raises(ValueError, match="do not fit a generator of 8 filters"):
        numpy_generator.load_numpy_generator(weights, {"filters": 8, "res_blocks": 1})
    with pytest.raises(ValueError, match="divisible by 4"):
        numpy_generator.load_numpy_generator(weights, {"filters": 4, "res_blocks": 1}
                                             ).predict_on_batch(np.zeros((1, 30, 32, 1)))


@pytest.mark.slow
def test_every_shipped_model_runs_the_same_in_numpy():
    found = runs.model_folders(REPO / "results")
    if not found:
        pytest.skip("no shipped models")
    window = np.random.default_rng(3).uniform(-1, 0.6, (1, IMAGE_SIZE, IMAGE_SIZE, 1))
    window = window.astype(np.float32)
    for pair, folder in found.items():
        numpy_side = inference.open_converter(folder).generator
        keras_side = inference._keras_generator(
            folder, "AtoB", runs.read_config(folder), precision="float32",
            cut=inference.open_converter(folder).settings.envelope_cut)
        assert isinstance(numpy_side, numpy_generator.NumpyGenerator)
        np.testing.assert_allclose(numpy_side.predict_on_batch(window),
                                   np.asarray(keras_side.predict_on_batch(window)), atol=1e-4,
                                   err_msg=pair)


@pytest.mark.slow
def test_a_conversion_imports_no_deep_learning_framework(tmp_path):
    """Issue 56.2: the README's example starts in about a second because nothing imports
    Keras or TensorFlow (4 s on a 2-core CPU) to run a network of half a million weights."""
    script = ("import sys, convert; "
              "code = convert.main([sys.argv[1], '--emotion', 'angry', '-o', sys.argv[2]]); "
              "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
              "{'keras', 'tensorflow', 'jax', 'torch', 'librosa', 'numba'}); "
              "print(code, heavy)")
    done = subprocess.run([sys.executable, "-c", script,
                           str(REPO / "examples" / "calm_speech.wav"), str(tmp_path / "out.wav")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
    assert (tmp_path / "out.wav").is_file()

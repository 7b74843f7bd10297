"""models.py and model_files.py: generator and PatchGAN discriminator shapes and structure,
identity start, the envelope-constrained generator and the post-hoc cut, and the inference
weight files."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from spectrogan.model import model_files
from spectrogan.model import models
from spectrogan.model import runs
from spectrogan.audio import spectro
from spectrogan.core.errors import UserError
from spectrogan.audio.spectro import IMAGE_SIZE, PAD_VALUE

from helpers import comb, randomised as _randomised, smearing_generator


def _expected_generator_params(filters: int, res_blocks: int) -> int:
    """Parameter count of the issue's generator, from its layer list (convs without bias
    before instance norm, whose scale and offset add 2 per channel; biased output conv)."""
    f = filters
    norm = lambda channels: 2 * channels  # noqa: E731
    count = 7 * 7 * 1 * f + norm(f)  # c7s1-64
    count += 3 * 3 * f * 2 * f + norm(2 * f)  # d128
    count += 3 * 3 * 2 * f * 4 * f + norm(4 * f)  # d256
    count += res_blocks * 2 * (3 * 3 * 4 * f * 4 * f + norm(4 * f))  # R256 x N
    count += 3 * 3 * 4 * f * 2 * f + norm(2 * f)  # u128 (transposed)
    count += 3 * 3 * 2 * f * f + norm(f)  # u64 (transposed)
    count += 7 * 7 * f * 1 + 1  # c7s1-1
    return count


@pytest.mark.parametrize("res_blocks", [3, 6, 9])
def test_generator_maps_images_to_same_shape_in_tanh_range(res_blocks, rng):
    generator = models.build_generator((32, 32, 1), filters=4, res_blocks=res_blocks)
    images = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    out = np.asarray(generator(images))
    assert out.shape == (2, 32, 32, 1)
    assert out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)
    blocks = [layer for layer in generator.layers if layer.name.endswith("_add")]
    assert len(blocks) == res_blocks
    assert generator.count_params() == _expected_generator_params(4, res_blocks)


def test_generator_at_full_size_has_about_7_8_million_parameters():
    generator = models.build_generator((IMAGE_SIZE, IMAGE_SIZE, 1))
    count = generator.count_params()
    assert count == _expected_generator_params(64, 6)
    assert 7.7e6 < count < 7.9e6
    # Residual blocks add their input back; nothing concatenates (the original did).
    assert not [layer for layer in generator.layers
                if isinstance(layer, keras.layers.Concatenate)]


def test_generator_layers_follow_the_paper():
    generator = models.build_generator((32, 32, 1), filters=8, res_blocks=3)
    convs = [layer for layer in generator.layers
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    described = [(type(c).__name__, c.filters, c.kernel_size[0], c.strides[0]) for c in convs]
    assert described[:3] == [("Conv2D", 8, 7, 1), ("Conv2D", 16, 3, 2), ("Conv2D", 32, 3, 2)]
    assert described[3:9] == [("Conv2D", 32, 3, 1)] * 6
    assert described[9:] == [("Conv2DTranspose", 16, 3, 2), ("Conv2DTranspose", 8, 3, 2),
                             ("Conv2D", 1, 7, 1)]
    norms = [layer for layer in generator.layers
             if isinstance(layer, keras.layers.GroupNormalization)]
    # Instance norm: one group per channel (groups=-1 is resolved to the channel count).
    assert norms and all(norm.groups == norm.gamma.shape[0] for norm in norms)
    pads = {layer.padding for layer in generator.layers
            if isinstance(layer, models.ReflectionPadding2D)}
    assert pads == {1, 3}  # around the 3x3 block convs and the two 7x7 convs


def test_generator_is_fully_convolutional_for_sizes_divisible_by_4(rng):
    generator = models.build_generator((None, None, 1), filters=4, res_blocks=1)
    for shape in ((1, 64, 48, 1), (1, 20, 36, 1)):
        assert generator(rng.uniform(-1, 1, shape).astype("float32")).shape == shape
    with pytest.raises(ValueError, match="divisible by 4"):
        models.build_generator((30, 32, 1))


def test_instance_norm_makes_every_image_independent_of_its_batch(rng):
    # The fused training step batches passes of one network; that is only exact when no
    # layer mixes images of a batch.
    generator = models.build_generator((32, 32, 1), filters=4, res_blocks=2)
    discriminator = models.build_discriminator((32, 32, 1), filters=4)
    first = rng.uniform(-1, 1, (1, 32, 32, 1)).astype("float32")
    other = rng.uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    batch = np.concatenate([first, other])
    np.testing.assert_allclose(np.asarray(generator(batch))[:1], np.asarray(generator(first)),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(discriminator(batch))[:1],
                               np.asarray(discriminator(first)), atol=1e-5)


@pytest.mark.parametrize("size, patches", [(IMAGE_SIZE, 17), (32, 2), (64, 4)])
def test_discriminator_scores_one_value_per_patch(size, patches, rng):
    discriminator = models.build_discriminator((size, size, 1), filters=4)
    scores = discriminator(rng.uniform(-1, 1, (2, size, size, 1)).astype("float32"))
    assert tuple(scores.shape) == (2, patches, patches, 1)
    assert np.asarray(scores).dtype == np.float32


def test_discriminator_layers_follow_the_patchgan():
    discriminator = models.build_discriminator((64, 64, 1), filters=8)
    convs = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size[0], c.strides[0]) for c in convs] == [
        (8, 4, 2), (16, 4, 2), (32, 4, 2), (64, 4, 2), (64, 4, 1), (1, 4, 1)]
    norms = [layer.name for layer in discriminator.layers
             if isinstance(layer, keras.layers.GroupNormalization)]
    assert norms == ["c2_norm", "c3_norm", "c4_norm", "c5_norm"]  # none after C64
    slopes = [layer.negative_slope for layer in discriminator.layers
              if isinstance(layer, keras.layers.LeakyReLU)]
    assert slopes == pytest.approx([0.2] * 5)


def test_generator_inference_files_round_trip(tmp_path, rng):
    config = {"pair": "calm2anger", "image_size": 32,
              "generator": {"filters": 4, "res_blocks": 1}}
    runs.write_config(tmp_path, config)
    generator = models.build_generator((32, 32, 1), filters=4, res_blocks=1)
    path = model_files.save_generator(generator, tmp_path, "BtoA")
    assert path == tmp_path / "generator_BtoA.weights.h5"
    loaded = model_files.load_generator(tmp_path, "BtoA")
    images = rng.uniform(-1, 1, (1, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(images)), np.asarray(generator(images)),
                               atol=1e-6)
    with pytest.raises(UserError, match="no such file"):
        model_files.load_generator(tmp_path, "AtoB")


def test_float16_inference_file_is_half_the_size_and_loads_into_float32(tmp_path, rng):
    config = {"pair": "calm2anger", "image_size": 32,
              "generator": {"filters": 8, "res_blocks": 2}}
    generator = models.build_generator((32, 32, 1), filters=8, res_blocks=2)
    full, half = tmp_path / "full", tmp_path / "half"
    for folder in (full, half):
        runs.write_config(folder, config)
    full_path = model_files.save_generator(generator, full)  # dtype float32 by default
    half_path = model_files.save_generator(generator, half, dtype="float16")
    assert half_path == half / "generator_AtoB.weights.h5"
    # The arrays halve; the file layout (groups, names, attributes) is a fixed overhead.
    full_size, half_size = full_path.stat().st_size, half_path.stat().st_size
    weight_bytes = 4 * generator.count_params()
    assert full_size - half_size == pytest.approx(weight_bytes / 2, rel=0.01)
    assert not list(half.glob(".*"))  # no temporary file left behind

    loaded_full = model_files.load_generator(full)
    loaded_half = model_files.load_generator(half)
    for original, exact, rounded in zip(generator.weights, loaded_full.weights,
                                        loaded_half.weights):
        assert exact.path == rounded.path and rounded.dtype == "float32"
        np.testing.assert_array_equal(np.asarray(exact), np.asarray(original))
        np.testing.assert_array_equal(
            np.asarray(rounded), np.asarray(original).astype(np.float16).astype(np.float32))
    images = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    expected = np.asarray(generator(images))
    np.testing.assert_allclose(np.asarray(loaded_full(images)), expected, atol=1e-6)
    out_half = np.asarray(loaded_half(images))
    assert out_half.dtype == np.float32
    np.testing.assert_allclose(out_half, expected, atol=2e-2)
    assert not np.array_equal(out_half, expected)  # it really is the rounded file


def test_float16_refuses_weights_out_of_range_and_unknown_dtypes(tmp_path):
    generator = models.build_generator((32, 32, 1), filters=4, res_blocks=0)
    model_files.save_generator(generator, tmp_path, dtype="float16")
    before = (tmp_path / "generator_AtoB.weights.h5").read_bytes()
    generator.weights[0].assign(np.full(generator.weights[0].shape, 1e6, np.float32))
    with pytest.raises(ValueError, match="does not fit in float16"):
        model_files.save_generator(generator, tmp_path, dtype="float16")
    assert (tmp_path / "generator_AtoB.weights.h5").read_bytes() == before  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["generator_AtoB.weights.h5"]
    with pytest.raises(ValueError, match="dtype must be one of"):
        model_files.save_generator(generator, tmp_path, dtype="bfloat16")


# --- The envelope-constrained generator and the cut ----------------------------------------------
def test_an_envelope_generator_starts_as_the_identity_and_corrects_only_the_envelope():
    images = np.random.default_rng(0).uniform(-0.95, 0.95, (2, 32, 24, 1)).astype(np.float32)
    generator = models.build_generator((32, None, 1), filters=4, res_blocks=1,
                                       identity_start=True, envelope_coefficients=4)
    np.testing.assert_allclose(np.asarray(generator(images)), images,
                               atol=2 * models.IDENTITY_EPSILON)
    _randomised(generator)
    output = np.asarray(generator(images))
    correction = np.arctanh(np.clip(output, -0.9999, 0.9999)) \
        - np.arctanh(np.clip(images, -0.9999, 0.9999))
    assert np.abs(correction).max() > 0.05  # it does change the image...
    projection = spectro.envelope_projection(32, coefficients=4)
    smooth = np.einsum("fg,bgtc->bftc", projection, correction)
    np.testing.assert_allclose(correction, smooth, atol=2e-3)  # ...only along the envelope
    # The unconstrained generator with the same weights changes the fine structure too.
    free = _randomised(models.build_generator((32, None, 1), filters=4, res_blocks=1,
                                              identity_start=True))
    free_correction = np.arctanh(np.clip(np.asarray(free(images)), -0.9999, 0.9999)) \
        - np.arctanh(np.clip(images, -0.9999, 0.9999))
    rough = free_correction - np.einsum("fg,bgtc->bftc", projection, free_correction)
    assert np.abs(rough).max() > 0.05


def test_envelope_generator_needs_identity_start_and_a_known_height():
    with pytest.raises(ValueError, match="identity_start"):
        models.build_generator((32, 32, 1), filters=4, res_blocks=1, envelope_coefficients=4)
    with pytest.raises(ValueError, match="envelope_coefficients"):
        models.build_generator((None, None, 1), filters=4, res_blocks=1, identity_start=True,
                               envelope_coefficients=4)
    with pytest.raises(ValueError, match="envelope_coefficients"):
        models.build_generator((32, 32, 1), filters=4, res_blocks=1, identity_start=True,
                               envelope_coefficients=33)


def test_the_cut_keeps_the_models_envelope_change_and_drops_its_smear():
    rng = np.random.default_rng(4)
    images = np.clip(rng.uniform(-0.8, -0.2, (1, 32, 32, 1))
                     + 0.5 * comb(32, 4)[None, :, None, None], -1, 1).astype(np.float32)
    generator = smearing_generator(32)
    cut = models.with_envelope_cut(generator, coefficients=6)
    change = np.asarray(generator(images)) - images
    projection = spectro.envelope_projection(32, coefficients=6)
    expected = np.clip(images + np.einsum("fg,bgtc->bftc", projection, change), -1, 1)
    np.testing.assert_allclose(np.asarray(cut(images)), expected, atol=1e-5)
    # The harmonic ripple of every frame survives the cut and not the smear.
    ripple = comb(32, 4)
    def strength(x):  # noqa: E306
        return float(np.mean(np.einsum("f,btf->bt", ripple, x[..., 0].transpose(0, 2, 1))))
    assert strength(np.asarray(cut(images))) > 0.8 * strength(images)
    assert strength(np.asarray(generator(images))) < 0.5 * strength(images)


# --- Identity start ------------------------------------------------------------------------------
def test_a_fresh_identity_start_generator_returns_its_input():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, 32, 48, 1)).astype(np.float32)
    images[0, :, :8] = PAD_VALUE  # the floor must survive too
    keras.utils.set_random_seed(1)
    generator = models.build_generator((32, None, 1), filters=4, res_blocks=1,
                                       identity_start=True)
    output = np.asarray(generator(images))
    assert output.shape == images.shape
    np.testing.assert_allclose(output, images, atol=2 * models.IDENTITY_EPSILON)
    assert np.all(np.abs(output) < 1)
    # The paper's generator draws a new image: far from its input when fresh.
    plain = models.build_generator((32, None, 1), filters=4, res_blocks=1)
    assert np.mean(np.abs(np.asarray(plain(images)) - images)) > 0.2


def test_identity_start_gradients_reach_every_layer():
    generator = models.build_generator((32, 32, 1), filters=4, res_blocks=1,
                                       identity_start=True)
    images = np.random.default_rng(2).uniform(-0.9, 0.9, (1, 32, 32, 1)).astype(np.float32)
    target = np.clip(images + 0.3, -1, 1)
    optimizer = keras.optimizers.Adam(1e-2)
    first = np.mean(np.abs(np.asarray(generator(images)) - target))
    for _ in range(20):
        _train_one(generator, optimizer, images, target)
    assert np.mean(np.abs(np.asarray(generator(images)) - target)) < 0.8 * first


def test_weights_that_do_not_match_the_config_are_one_line(tmp_path, capsys):
    run = tmp_path / "calm2anger"
    runs.write_config(run, {"pair": "calm2anger", "generator": {"filters": 4,
                                                                  "res_blocks": 1}})
    model_files.save_generator(models.build_generator((32, 32, 1), filters=4, res_blocks=1), run)
    runs.write_config(run, {"pair": "calm2anger", "generator": {"filters": 8,
                                                                  "res_blocks": 1}})
    with pytest.raises(UserError) as caught:
        model_files.load_generator(run)
    assert "does not match" in str(caught.value) and "\n" not in str(caught.value)
    assert capsys.readouterr().err.count("\n") <= 1


def _train_one(generator, optimizer, images, target):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.abs(generator(images, training=True) - target))
        grads = tape.gradient(loss, generator.trainable_variables)
        optimizer.apply(grads, generator.trainable_variables)
    else:  # the suite runs on TensorFlow (the default backend)
        pytest.skip(f"gradient check written for TensorFlow, not {backend}")

"""CycleGAN networks for SpectroGAN: ResNet-block generator and PatchGAN discriminator (Keras 3).

Both builders are plain functions that take shapes as arguments and return a `keras.Model`;
both networks are fully convolutional, so any image size divisible by 4 works (the product
uses 260x260 spectrogram images, tests use 32x32).

Generator (Zhu et al. 2017, as the original project): c7s1-64, d128, d256, N residual blocks
of 256 channels, u128, u64, c7s1-1 with tanh. Instance norm is
`GroupNormalization(groups=-1)`; reflection padding surrounds every 3x3 and 7x7 convolution.
Unlike the original, whose "residual" blocks concatenated, so channels grew block by block
(18.45 M parameters at N = 6 by benchmarks/bench_train.py's re-implementation), the blocks here
add their input back (7.83 M parameters at N = 6).

Discriminator: 70x70 PatchGAN, C64-C128-C256-C512 (4x4, stride 2, LeakyReLU 0.2, no norm on
the first), then a 4x4 stride-1 512 layer and a 1-channel 4x4 output: 17x17 patch scores for
a 260x260 input.

The files these networks are saved in and loaded from are model_files.py's; nothing here reads
or writes a file.

Usage:
    from spectrogan.model.models import build_generator, build_discriminator
    g = build_generator((260, 260, 1), res_blocks=6)
    d = build_discriminator((260, 260, 1))
"""

from __future__ import annotations

from typing import Any

from spectrogan.core.cli import import_keras
from spectrogan.model.numpy_generator import NORM_EPSILON
from spectrogan.audio.spectro import IDENTITY_EPSILON, IMAGE_SIZE, envelope_projection

keras = import_keras()
from keras import layers  # noqa: E402 - after the quiet import above



@keras.saving.register_keras_serializable(package="spectrogan")
class ReflectionPadding2D(layers.Layer):
    """Pad height and width by reflecting the image at its edges (no new edge artefacts)."""

    def __init__(self, padding: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (batch, None if height is None else height + grow,
                None if width is None else width + grow, channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="spectrogan")
class IdentityLogits(layers.Layer):
    """atanh of an image in [-1, 1], squeezed by IDENTITY_EPSILON so that +-1 stay finite:
    the input's position in tanh's logit space, where an identity-start generator adds its
    correction. Computed in float32."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        bound = 1.0 - IDENTITY_EPSILON
        return keras.ops.arctanh(keras.ops.clip(keras.ops.cast(inputs, "float32"),
                                                -bound, bound))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="spectrogan")
class EnvelopeProjection(layers.Layer):
    """Keep the frequency-smooth part of a correction: spectro.envelope_projection (its first
    `coefficients` DCT coefficients over the frequency rows) applied to every frame's column of
    (batch, frequency, time, channels) images. A fixed map, no weights; computed in float32;
    needs the frequency size at build time."""

    def __init__(self, coefficients: int, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.coefficients = int(coefficients)

    def build(self, input_shape) -> None:
        n_bins = input_shape[1]
        if n_bins is None:
            raise ValueError(f"{type(self).__name__} needs a known frequency size (input height)")
        self.map = keras.ops.convert_to_tensor(
            envelope_projection(int(n_bins), coefficients=self.coefficients))

    def call(self, inputs):
        return keras.ops.einsum("fg,bgtc->bftc", self.map, keras.ops.cast(inputs, "float32"))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "coefficients": self.coefficients}


def _instance_norm(name: str) -> layers.Layer:
    return layers.GroupNormalization(groups=-1, epsilon=NORM_EPSILON, name=name)


def _conv_norm_relu(x, filters: int, kernel: int, *, strides: int = 1, name: str,
                    transpose: bool = False):
    init = keras.initializers.RandomNormal(stddev=0.02)
    if transpose:
        x = layers.Conv2DTranspose(filters, kernel, strides=strides, padding="same",
                                   use_bias=False, kernel_initializer=init,
                                   name=f"{name}_conv")(x)
    else:
        if kernel > 1 and strides == 1:
            x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
            padding = "valid"
        else:
            padding = "same"
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                          kernel_initializer=init, name=f"{name}_conv")(x)
    x = _instance_norm(f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x, filters: int, *, name: str):
    init = keras.initializers.RandomNormal(stddev=0.02)
    shortcut = x
    x = _conv_norm_relu(x, filters, 3, name=f"{name}_a")
    x = ReflectionPadding2D(1, name=f"{name}_b_pad")(x)
    x = layers.Conv2D(filters, 3, padding="valid", use_bias=False, kernel_initializer=init,
                      name=f"{name}_b_conv")(x)
    x = _instance_norm(f"{name}_b_norm")(x)
    return layers.Add(name=f"{name}_add")([shortcut, x])


def build_generator(input_shape: tuple[int | None, int | None, int] = (IMAGE_SIZE, IMAGE_SIZE, 1),
                    *, filters: int = 64, res_blocks: int = 6, identity_start: bool = False,
                    envelope_coefficients: int = 0, name: str = "generator") -> keras.Model:
    """Encoder - residual blocks - decoder generator.

    Args:
        input_shape: (height, width, channels); height and width divisible by 4 (or None).
        filters: channels of the first layer (64 as the paper); later layers use 2x and 4x.
        res_blocks: number of residual blocks at 4x `filters` channels (3, 6 or 9 usual).
        identity_start: predict a correction to the input instead of a new image:
            output = tanh(atanh(input) + correction), the correction layer initialised to
            zero, so a freshly built generator returns its input (to IDENTITY_EPSILON) and
            training only has to learn what changes. The sum is taken in tanh's logit space,
            so the output stays in (-1, 1) with a gradient everywhere (no clipping). False:
            the paper's generator, output = tanh(network(input)).
        envelope_coefficients: with identity_start, K > 0 keeps only the frequency-smooth
            part of the correction (its first K DCT coefficients along frequency in every
            frame, spectro.envelope_projection) before it is added: the generator can move the
            spectral envelope (formants, tilt, level) but cannot fill the valleys between
            harmonics, so the voicing and the words of the input survive by construction.
            Needs a known height. 0: the correction is unconstrained.
    Returns:
        keras.Model mapping float (batch, H, W, C) in [-1, 1] to the same shape in [-1, 1]
        (tanh; computed in float32 even under a mixed-precision policy).
    """
    height, width, channels = input_shape
    for size in (height, width):
        if size is not None and size % 4:
            raise ValueError(f"generator input height/width must be divisible by 4, got {input_shape}")
    if filters < 1 or res_blocks < 0:
        raise ValueError(f"filters must be >= 1 and res_blocks >= 0, got {filters}, {res_blocks}")
    if envelope_coefficients and not identity_start:
        raise ValueError("envelope_coefficients needs identity_start (a correction to constrain)")
    if envelope_coefficients and (height is None or not 1 <= envelope_coefficients <= height):
        raise ValueError(f"envelope_coefficients must be in 1..input height, got "
                         f"{envelope_coefficients} for input shape {input_shape}")
    init = keras.initializers.RandomNormal(stddev=0.02)
    inputs = keras.Input(shape=input_shape, name="spectrogram")
    x = _conv_norm_relu(inputs, filters, 7, name="c7s1")
    x = _conv_norm_relu(x, filters * 2, 3, strides=2, name="d1")
    x = _conv_norm_relu(x, filters * 4, 3, strides=2, name="d2")
    for index in range(res_blocks):
        x = _residual_block(x, filters * 4, name=f"res{index + 1}")
    x = _conv_norm_relu(x, filters * 2, 3, strides=2, name="u1", transpose=True)
    x = _conv_norm_relu(x, filters, 3, strides=2, name="u2", transpose=True)
    x = ReflectionPadding2D(3, name="out_pad")(x)
    if identity_start:
        x = layers.Conv2D(channels, 7, padding="valid", kernel_initializer="zeros",
                          name="out_conv")(x)
        if envelope_coefficients:
            x = EnvelopeProjection(envelope_coefficients, name="out_envelope")(x)
        logits = IdentityLogits(name="input_logits")(inputs)
        x = layers.Add(dtype="float32", name="out_add")([logits, x])
    else:
        x = layers.Conv2D(channels, 7, padding="valid", kernel_initializer=init,
                          name="out_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="out_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def build_discriminator(input_shape: tuple[int | None, int | None, int] = (IMAGE_SIZE, IMAGE_SIZE, 1),
                        *, filters: int = 64, name: str = "discriminator") -> keras.Model:
    """PatchGAN discriminator: one real/fake score per overlapping 70x70 patch.

    Args:
        input_shape: (height, width, channels).
        filters: channels of the first layer (64); later layers use 2x, 4x, 8x.
    Returns:
        keras.Model mapping (batch, H, W, C) to float32 scores (batch, ceil(H/16), ceil(W/16), 1)
        (17x17 for 260x260). Scores are unbounded (least-squares GAN: real -> 1, fake -> 0).
    """
    init = keras.initializers.RandomNormal(stddev=0.02)
    inputs = keras.Input(shape=input_shape, name="spectrogram")
    x = inputs
    for index, multiple in enumerate((1, 2, 4, 8)):
        x = layers.Conv2D(filters * multiple, 4, strides=2, padding="same",
                          kernel_initializer=init, use_bias=index == 0,
                          name=f"c{index + 1}_conv")(x)
        if index > 0:
            x = _instance_norm(f"c{index + 1}_norm")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"c{index + 1}_lrelu")(x)
    x = layers.Conv2D(filters * 8, 4, padding="same", kernel_initializer=init, use_bias=False,
                      name="c5_conv")(x)
    x = _instance_norm("c5_norm")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="c5_lrelu")(x)
    x = layers.Conv2D(1, 4, padding="same", kernel_initializer=init, name="patch_conv")(x)
    outputs = layers.Activation("linear", dtype="float32", name="patch_scores")(x)
    return keras.Model(inputs, outputs, name=name)


def with_envelope_cut(generator: keras.Model, *, coefficients: int) -> keras.Model:
    """The post-hoc envelope cut: `generator` with only the frequency-smooth part of its change
    applied, out = clip(x + P (G(x) - x), -1, 1), P = spectro.envelope_projection over the
    frequency rows (image units, every frame).

    For generators trained without the envelope constraint (their config.json's
    "inference": {"envelope_coefficients": K}): what they change between neighbouring
    harmonics (the smear that costs voicing and words) is dropped, what they change in the
    envelope is kept. Takes and returns (batch, H, W, 1) float32 images in [-1, 1]; H known.
    """
    inputs = keras.Input(shape=generator.input_shape[1:], name="spectrogram")
    change = layers.Subtract(dtype="float32", name="cut_change")([generator(inputs), inputs])
    smooth = EnvelopeProjection(coefficients, name="cut_envelope")(change)
    moved = layers.Add(dtype="float32", name="cut_add")([inputs, smooth])
    outputs = layers.Activation(lambda x: keras.ops.clip(x, -1.0, 1.0), dtype="float32",
                                name="cut_clip")(moved)
    return keras.Model(inputs, outputs, name=f"{generator.name}_envelope_cut")

"""The generator network run in NumPy: conversion without importing Keras or TensorFlow.

A conversion applies one small, fixed network to a few spectrogram windows; importing a deep
learning framework to do it costs seconds before the first window (TensorFlow's import alone
is about 4 s on a 2-core CPU) and a few hundred MB. `NumpyGenerator` computes the same
forward pass as models.build_generator (and models.with_envelope_cut around it) from the
arrays of a weights file, one BLAS matrix product per kernel tap: the same outputs as the
Keras network to float32 rounding (tests/test_numpy_generator.py holds it to that on random
and on every shipped model's weights), in a fraction of the start-up time.

Keras 3 stores a functional model's weights under `layers/<class>[_<n>]/vars/<i>`, numbered
per layer class in the order the layers were built; the builder's order is known (first
convolution, two down-sampling ones, the residual blocks, two transposed, the output), so
the arrays are taken in that order and each is checked against the shape the config implies.
Training, evaluation of snapshots and mixed precision stay on Keras.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from spectrogan.audio.spectro import IDENTITY_EPSILON, envelope_projection

NORM_EPSILON = 1e-5  # the generator's instance norm (models.py builds it with this epsilon)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding (before, after) of one axis: the extra goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, kernel: np.ndarray, *, stride: int = 1, padding: str = "valid",
           bias: np.ndarray | None = None) -> np.ndarray:
    """2-D convolution (cross-correlation, as Keras' Conv2D) of channels-last images.

    Args:
        x: float32 (B, H, W, C_in). kernel: (kh, kw, C_in, C_out). stride: both axes.
        padding: 'valid' or 'same' (TensorFlow's rule: the odd pixel after). bias: (C_out,).
    Returns:
        float32 (B, H', W', C_out).
    """
    kh, kw, c_in, c_out = kernel.shape
    if x.ndim != 4 or x.shape[-1] != c_in:
        raise ValueError(f"conv2d: input (B, H, W, {c_in}) expected, got {x.shape}")
    if padding == "same":
        (top, bottom), (left, right) = (_same_padding(x.shape[1], kh, stride),
                                        _same_padding(x.shape[2], kw, stride))
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    elif padding != "valid":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    out_h = (x.shape[1] - kh) // stride + 1
    out_w = (x.shape[2] - kw) // stride + 1
    # One matrix product per kernel tap over shifted views: no im2col copy (which for the
    # 7x7 output layer of a 260x260 window would be 49 times the image).
    out = np.zeros((x.shape[0], out_h, out_w, c_out), np.float32)
    for i in range(kh):
        for j in range(kw):
            tap = x[:, i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride]
            out += tap @ kernel[i, j]
    if bias is not None:
        out += bias
    return out


def conv2d_transpose(x: np.ndarray, kernel: np.ndarray, *, stride: int = 2) -> np.ndarray:
    """Keras' Conv2DTranspose with 'same' padding and no bias: (B, H, W, C_in) ->
    (B, stride H, stride W, C_out); `kernel` (kh, kw, C_out, C_in), as Keras stores it.

    The adjoint of a 'same' stride-`stride` convolution of the output size: the input spread
    onto a zero-filled grid `stride` apart, then fully convolved with the kernel, and the
    first padding's worth of rows and columns dropped."""
    kh, kw, c_out, c_in = kernel.shape
    batch, height, width, channels = x.shape
    if channels != c_in:
        raise ValueError(f"conv2d_transpose: input (B, H, W, {c_in}) expected, got {x.shape}")
    out_h, out_w = height * stride, width * stride
    (top, _), (left, _) = (_same_padding(out_h, kh, stride), _same_padding(out_w, kw, stride))
    spread = np.zeros((batch, out_h + kh - 1 + top, out_w + kw - 1 + left, c_in), np.float32)
    # A full convolution is a correlation with the flipped kernel over a grid padded by
    # kernel - 1; the 'same' offset (top, left) shifts which outputs are kept.
    spread[:, kh - 1:kh - 1 + out_h:stride, kw - 1:kw - 1 + out_w:stride] = x
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)  # (kh, kw, C_in, C_out)
    full = conv2d(spread, np.ascontiguousarray(flipped))
    return full[:, top:top + out_h, left:left + out_w]


def instance_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """GroupNormalization(groups=-1): every channel of every image to zero mean and unit
    variance over its pixels, then scaled by `gamma` and shifted by `beta` (C,)."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    variance = x.var(axis=(1, 2), keepdims=True)
    return ((x - mean) / np.sqrt(variance + NORM_EPSILON) * gamma + beta).astype(np.float32)


def reflect_pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Reflection padding of height and width (models.ReflectionPadding2D)."""
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


class NumpyGenerator:
    """models.build_generator's forward pass on NumPy arrays, with the post-hoc envelope cut
    (models.with_envelope_cut) when `cut` > 0. `predict_on_batch` takes and returns float32
    (B, H, W, 1) images in [-1, 1], as the Keras model's does, so inference.run_generator
    drives either."""

    def __init__(self, arrays: dict[str, list[np.ndarray]], *, filters: int, res_blocks: int,
                 identity_start: bool = False, envelope_coefficients: int = 0,
                 cut: int = 0) -> None:
        self.filters, self.res_blocks = int(filters), int(res_blocks)
        self.identity_start = bool(identity_start)
        self.envelope_coefficients, self.cut = int(envelope_coefficients), int(cut)
        self._layers = _ordered_layers(arrays, filters=self.filters, res_blocks=self.res_blocks)
        self._projections: dict[tuple[int, int], np.ndarray] = {}

    def _projection(self, bins: int, coefficients: int) -> np.ndarray:
        key = (bins, coefficients)
        if key not in self._projections:
            self._projections[key] = envelope_projection(bins, coefficients=coefficients
                                                         ).astype(np.float32)
        return self._projections[key]

    def _network(self, images: np.ndarray) -> np.ndarray:
        layers = iter(self._layers)

        def conv_norm_relu(x: np.ndarray, *, kind: str, stride: int = 1) -> np.ndarray:
            (kernel,), (gamma, beta) = next(layers), next(layers)
            if kind == "transpose":
                x = conv2d_transpose(x, kernel, stride=stride)
            elif stride == 1:
                x = conv2d(reflect_pad(x, kernel.shape[0] // 2), kernel)
            else:
                x = conv2d(x, kernel, stride=stride, padding="same")
            return np.maximum(instance_norm(x, gamma, beta), 0.0)

        x = conv_norm_relu(images, kind="conv")
        x = conv_norm_relu(x, kind="conv", stride=2)
        x = conv_norm_relu(x, kind="conv", stride=2)
        for _ in range(self.res_blocks):
            inner = conv_norm_relu(x, kind="conv")
            (kernel,), (gamma, beta) = next(layers), next(layers)
            x = x + instance_norm(conv2d(reflect_pad(inner, 1), kernel), gamma, beta)
        x = conv_norm_relu(x, kind="transpose", stride=2)
        x = conv_norm_relu(x, kind="transpose", stride=2)
        out = next(layers)
        x = conv2d(reflect_pad(x, 3), out[0], bias=out[1] if len(out) > 1 else None)
        if self.identity_start:
            if self.envelope_coefficients:
                x = np.einsum("fg,bgtc->bftc",
                              self._projection(x.shape[1], self.envelope_coefficients), x)
            bound = 1.0 - IDENTITY_EPSILON
            x = np.arctanh(np.clip(images, -bound, bound)) + x
        return np.tanh(x).astype(np.float32)

    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        """The generator's output for float (B, H, W, 1) images in [-1, 1]; H and W
        divisible by 4."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 1 or images.shape[1] % 4 \
                or images.shape[2] % 4:
            raise ValueError(f"images must be (B, H, W, 1) with H and W divisible by 4, got "
                             f"{images.shape}")
        out = self._network(images)
        if self.cut:
            change = np.einsum("fg,bgtc->bftc", self._projection(images.shape[1], self.cut),
                               out - images)
            out = np.clip(images + change, -1.0, 1.0).astype(np.float32)
        return out

    __call__ = predict_on_batch  # called like a Keras model, as some tools and tests do


def _ordered_layers(arrays: dict[str, list[np.ndarray]], *, filters: int, res_blocks: int
                    ) -> list[list[np.ndarray]]:
    """The weight-holding layers of build_generator in the order its forward pass uses them,
    each checked against the shape `filters` and `res_blocks` imply: ValueError if not."""
    def numbered(prefix: str) -> list[list[np.ndarray]]:
        names = [name for name in arrays if name == prefix or (
            name.startswith(prefix + "_") and name[len(prefix) + 1:].isdigit())]
        names.sort(key=lambda name: int(name.rsplit("_", 1)[1]) if name != prefix else 0)
        return [arrays[name] for name in names]

    convs, transposed = numbered("conv2d"), numbered("conv2d_transpose")
    norms = numbered("group_normalization")
    wide = 4 * filters
    conv_shapes = [(7, 7, 1, filters), (3, 3, filters, 2 * filters), (3, 3, 2 * filters, wide)]
    conv_shapes += [(3, 3, wide, wide)] * (2 * res_blocks) + [(7, 7, filters, 1)]
    norm_sizes = [filters, 2 * filters, wide] + [wide] * (2 * res_blocks) + [2 * filters,
                                                                              filters]
    found = ([tuple(c[0].shape) for c in convs], [tuple(t[0].shape) for t in transposed],
             [n[0].shape[0] for n in norms])
    expected = (conv_shapes, [(3, 3, 2 * filters, wide), (3, 3, filters, 2 * filters)],
                norm_sizes)
    if found != expected:
        raise ValueError(f"the weights do not fit a generator of {filters} filters and "
                         f"{res_blocks} blocks: convolutions {found[0]}, transposed {found[1]}, "
                         f"norms {found[2]}")
    norms_iter, convs_iter = iter(norms), iter(convs)
    ordered = []
    for _ in range(3 + 2 * res_blocks):
        ordered += [next(convs_iter), next(norms_iter)]
    for layer in transposed:
        ordered += [layer, next(norms_iter)]
    ordered.append(next(convs_iter))
    return ordered


def read_weight_arrays(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """{layer name: its variables in order, float32} of a Keras 3 `.weights.h5` file
    (model_files.save_generator's, float32 or float16)."""
    import h5py  # Keras' own file library, light to import

    arrays: dict[str, list[np.ndarray]] = {}
    with h5py.File(str(path), "r") as handle:
        for name, group in handle["layers"].items():
            variables = group.get("vars")
            if variables is None or not len(variables):
                continue
            arrays[name] = [np.asarray(variables[str(i)][()], dtype=np.float32)
                            for i in range(len(variables))]
    return arrays


def load_numpy_generator(weights: str | os.PathLike, generator_config: dict[str, Any], *,
                         cut: int = 0) -> NumpyGenerator:
    """A NumpyGenerator from a weights file and the run config's "generator" section
    (filters, res_blocks, identity_start, envelope_coefficients), with the post-hoc envelope
    cut `cut` (the config's inference.envelope_coefficients; 0: none). ValueError when the
    file does not fit the config; OSError when it cannot be read."""
    return NumpyGenerator(read_weight_arrays(Path(weights)),
                          filters=int(generator_config["filters"]),
                          res_blocks=int(generator_config["res_blocks"]),
                          identity_start=bool(generator_config.get("identity_start", False)),
                          envelope_coefficients=int(
                              generator_config.get("envelope_coefficients", 0)),
                          cut=cut)

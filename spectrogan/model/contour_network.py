"""The contour model's network in Keras, for training (stages/contour_prosody.py runs the same
network in NumPy at conversion, from the weights this module exports).

Dilated 1-D convolutions over the sentence: an input layer, residual blocks whose dilations
double (so the last frames see about a second either side), and a 1x1 output layer giving
OUTPUTS numbers per frame (the target's log2 F0 relative to the input's median, log2 of the
local rate, and the change of the frame energy relative to the loudest frame; models trained
before the energy output give the first two). Fully convolutional: any number of frames. The emotion comes in as a one-hot code
repeated on every frame, beside the prosody inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spectrogan.core.cli import import_keras

keras = import_keras()
from keras import layers  # noqa: E402 - after the quiet import above

# log2 F0 relative to the input's median; log2 local rate; energy change / ENERGY_SCALE_DB
OUTPUTS = 3


def build_contour_network(*, inputs: int, channels: int = 48, kernel: int = 5,
                          dilations: tuple[int, ...] = (1, 2, 4, 8, 16),
                          outputs: int = OUTPUTS) -> keras.Model:
    """The network for (batch, frames, `inputs`) float32 inputs (prosody features and the
    emotion code), returning (batch, frames, `outputs`) (2: without the energy change).
    `kernel` must be odd."""
    if kernel % 2 == 0 or kernel < 1:
        raise ValueError(f"kernel must be odd and positive, got {kernel}")
    if outputs not in (2, 3):
        raise ValueError(f"outputs must be 2 or 3, got {outputs}")
    x = keras.Input((None, inputs), name="frames")
    hidden = layers.Conv1D(channels, kernel, padding="same", activation="relu",
                           name="input")(x)
    for block, dilation in enumerate(dilations):
        step = layers.Conv1D(channels, kernel, padding="same", dilation_rate=dilation,
                             activation="relu", name=f"block_{block}")(hidden)
        hidden = layers.Add(name=f"residual_{block}")([hidden, step])
    out = layers.Conv1D(outputs, 1, name="output")(hidden)
    return keras.Model(x, out, name="contour_network")


def exported_weights(network: keras.Model) -> dict[str, np.ndarray]:
    """The network's weights by the names stages/contour_prosody.ContourNetwork reads:
    '<layer>_kernel' (frames, in, out) and '<layer>_bias' for every convolution."""
    weights: dict[str, Any] = {}
    for layer in network.layers:
        if isinstance(layer, layers.Conv1D):
            kernel, bias = layer.get_weights()
            weights[f"{layer.name}_kernel"] = np.asarray(kernel, dtype=np.float32)
            weights[f"{layer.name}_bias"] = np.asarray(bias, dtype=np.float32)
    return weights

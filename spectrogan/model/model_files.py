"""The files a trained generator lives in: `<run>/generator_<direction>.weights.h5` beside the
run's `config.json`.

`save_generator` writes one generator's weights atomically; `load_generator` rebuilds the
network from `config.json` (models.build_generator) and loads the weights; what is applied
around it at conversion is inference.open_converter's. A weights file holds arrays only, so loading one cannot run
code (the guarantee Keras' safe mode gives for whole-model files).
`save_generator(..., dtype="float16")` writes the same file layout with every float array
rounded to float16 (half the size), for shipped models and per-epoch snapshots;
`load_generator` reads either kind into a float32 network (Keras casts on assignment), so
nothing else changes.

Usage:
    from spectrogan.model.model_files import load_generator
    generator = load_generator("results/calm2anger")     # (1, 260, 260, 1) -> same shape
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from spectrogan.model import models
from spectrogan.core.atomic_files import atomic_output
from spectrogan.model.runs import generator_path, read_config, weights_file_error
from spectrogan.audio.spectro import IMAGE_SIZE

keras = models.keras

WEIGHT_DTYPES = ("float32", "float16")  # what save_generator can write


def save_generator(model: keras.Model, model_dir: str | os.PathLike,
                   direction: str = "AtoB", *, dtype: str = "float32") -> Path:
    """Write one generator's inference weights into `model_dir` atomically.

    Args:
        model: a generator from build_generator (any input shape).
        model_dir: folder of the run (created); the file is generator_<direction>.weights.h5.
        direction: "AtoB" (source -> target) or "BtoA".
        dtype: "float32" (exact) or "float16": every float array rounded to half precision in
            the same layer/variable layout, so the file is half the size and load_generator
            reads it into a float32 network unchanged. ValueError when a weight does not fit
            in float16 (|w| > 65504), rather than saving an infinity.
    Returns:
        the written path.
    """
    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {WEIGHT_DTYPES}, got {dtype!r}")
    path = generator_path(model_dir, direction)
    with atomic_output(path) as tmp:
        model.save_weights(str(tmp))
        if dtype != "float32":
            _cast_weights_file(tmp, np.dtype(dtype))
    return path


def _cast_weights_file(path: Path, dtype: np.dtype) -> None:
    """Rewrite a Keras .weights.h5 with its float arrays cast to `dtype`, same groups,
    datasets and attributes. A new file is written (HDF5 does not give back the space of
    replaced datasets) and renamed onto `path`."""
    import h5py  # a Keras dependency; only needed here

    with atomic_output(path) as tmp, h5py.File(path, "r") as source, \
            h5py.File(tmp, "w") as target:
        target.attrs.update(source.attrs)

        def copy(name: str, item: Any) -> None:
            if isinstance(item, h5py.Group):
                made = target.require_group(name)
            else:
                data = item[()]
                if np.issubdtype(data.dtype, np.floating):
                    with np.errstate(over="ignore"):  # reported below, as one error
                        cast = np.asarray(data).astype(dtype)
                    if not np.array_equal(np.isfinite(cast), np.isfinite(data)):
                        raise ValueError(f"weight {name} does not fit in {dtype}")
                    data = cast
                made = target.create_dataset(name, data=data)
            made.attrs.update(item.attrs)

        source.visititems(copy)


def load_generator(model_dir: str | os.PathLike, direction: str = "AtoB",
                   *, input_shape: tuple[int | None, int | None, int] | None = None,
                   config: dict[str, Any] | None = None) -> keras.Model:
    """Rebuild a generator from `<model_dir>/config.json` and load its weights.

    The plain network the config describes: what is applied around it at conversion (the
    config's "inference" section, the post-hoc envelope cut included) is
    inference.open_converter's.

    `input_shape` defaults to the config's `image_size` square (260x260x1); pass
    (None, None, 1) for a size-agnostic model; pass `config` when the caller has already read
    and checked it (runs.read_config), so the file is read once. The weights file may be
    float32 or float16 (save_generator's dtype); the network is float32 either way, because Keras casts each
    stored array to its variable's dtype when assigning it (Keras 3.15 does on TensorFlow and
    JAX; tests/test_models.py checks it). Raises UserError when the folder, config or weights
    are missing or do not match.
    """
    config = read_config(model_dir) if config is None else config
    weights = generator_path(model_dir, direction)
    if not weights.is_file():
        raise weights_file_error(weights, model_dir)
    if input_shape is None:
        size = int(config.get("image_size", IMAGE_SIZE))
        input_shape = (size, size, 1)
    generator_config = config["generator"]
    model = models.build_generator(input_shape, filters=int(generator_config["filters"]),
                            res_blocks=int(generator_config["res_blocks"]),
                            identity_start=generator_config.get("identity_start", False),
                            envelope_coefficients=int(
                                generator_config.get("envelope_coefficients", 0)),
                            name=f"generator_{direction}")
    try:
        with warnings.catch_warnings():
            # Keras warns per layer (hundreds of lines) before it raises on mismatched
            # weights; the one line below says it instead.
            warnings.simplefilter("ignore")
            model.load_weights(str(weights))
    except Exception as exc:  # h5py/keras raise several types for a mismatched or broken file
        raise weights_file_error(weights, model_dir, problem=exc) from None
    return model

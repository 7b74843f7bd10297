"""Training throughput: train_cyclegan's fused step against a copy of the original's loop.

For every residual-block count and batch size asked for, in the same process, on the same
random 260x260 data:

- ours: train_cyclegan.CycleGAN run by Keras fit() (the data pipeline included), one fused
  step updating both generators and both discriminators;
- the original's loop, re-implemented here from its description: two discriminators and two
  composite generator models compiled separately, per step `predict` for both fakes, a numpy
  history pool, and six `train_on_batch` calls (composite B->A, D_A on real, D_A on fake,
  composite A->B, D_B on real, D_B on fake), with the original's generator whose "residual"
  blocks concatenate their input (--original-blocks add swaps in ours, to separate the loop's
  share of the difference from the architecture's).

Seconds per step are the median of --steps timed steps after --warmup untimed ones; images
per second = batch / (seconds per step), one image per domain per batch element. FLOPs per
step are counted analytically from the convolution layers (2 x multiply-adds; norms and
activations are not counted), with a pass's backward costing 2x its forward when its weights
are trained and 1x when only a gradient flows through it:
  ours      = 18 G + 16 D  (6 generator passes, 2 discriminator passes per domain on real and
                            pooled fakes, 1 per domain for the generators' adversarial loss)
  original  = 26 G' + 16 D (2 predicts; per composite 3 trained + 1 gradient-only + 1
                            forward-only generator pass and 1 gradient-only discriminator pass;
                            4 discriminator train_on_batch calls)
with G, G', D the forward FLOPs of one image through each network.

Usage:
    python benchmark.py train                                    # N = 3/6/9, batch 1 and 4
    python benchmark.py train --res-blocks 6 --batch-sizes 1 --steps 3
    python benchmark.py train --image-size 64 --steps 5           # a quick look
    KERAS_BACKEND=jax python benchmark.py train --mixed-precision bfloat16 --batch-sizes 1 8
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
from typing import Any
import statistics
import time

import numpy as np

from spectrogan.core.cli import import_keras
from spectrogan.model.settings import PRESETS, TRAIN_PRECISIONS, TrainingSettings

# Keras and the modules built on it are imported by run(), not here, so that
# `benchmark.py train --help` answers at once.
keras: Any = None
layers: Any = None
models: Any = None
cg: Any = None
step_timing: Any = None


def _import_keras_modules() -> None:
    global keras, layers, models, cg, step_timing
    keras = import_keras()
    from keras import layers

    from spectrogan.model import cyclegan as cg
    from spectrogan.model import models
    from tools import step_timing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python benchmark.py train`."""
    parser.add_argument("--res-blocks", type=int, nargs="+", default=[3, 6, 9],
                        help="generator residual-block counts to measure")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4],
                        help="batch sizes to measure")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed steps first (tracing, compilation, allocation)")
    parser.add_argument("--image-size", type=int, default=260,
                        help="square image size (divisible by 4)")
    parser.add_argument("--filters", type=int, default=64, help="base width of all networks")
    parser.add_argument("--mixed-precision", choices=TRAIN_PRECISIONS, default="none",
                        help="our step's precision (the original's loop stays float32)")
    parser.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                        help="XLA for our TensorFlow step, as train_cyclegan.py --xla")
    parser.add_argument("--original-blocks", choices=("concat", "add"), default="concat",
                        help="residual blocks of the original's generator in the copy: "
                             "concatenating as the original, or ours (adding)")
    parser.add_argument("--skip-original", action="store_true",
                        help="measure only ours")
    parser.add_argument("--presets", nargs="+", choices=tuple(PRESETS), default=None,
                        help="instead of the table above, time train_cyclegan.py's presets "
                             "(their crops, widths and blocks; batch 1) side by side: FLOP "
                             "and seconds per update, updates per hour, and the ratio to the "
                             "first preset named")


# --- The original's networks and loop (re-implemented from the description) -------------------
def original_generator(shape: tuple[int, int, int], *, filters: int, res_blocks: int,
                       concatenate: bool = True) -> keras.Model:
    """The original's generator: zero 'same' padding, biased convolutions, instance norm,
    residual blocks that concatenate their input to their output (so each block widens the
    next by 4 x filters channels), and an instance norm before the output tanh."""
    init = keras.initializers.RandomNormal(stddev=0.02)

    def unit(x, width: int, kernel: int, strides: int = 1, *, up: bool = False, relu=True):
        conv = layers.Conv2DTranspose if up else layers.Conv2D
        x = conv(width, kernel, strides=strides, padding="same", kernel_initializer=init)(x)
        x = layers.GroupNormalization(groups=-1)(x)
        return layers.ReLU()(x) if relu else x

    inputs = keras.Input(shape)
    x = unit(inputs, filters, 7)
    x = unit(x, 2 * filters, 3, 2)
    x = unit(x, 4 * filters, 3, 2)
    for _ in range(res_blocks):
        y = unit(unit(x, 4 * filters, 3), 4 * filters, 3, relu=False)
        x = layers.Concatenate()([y, x]) if concatenate else layers.Add()([y, x])
    x = unit(x, 2 * filters, 3, 2, up=True)
    x = unit(x, filters, 3, 2, up=True)
    x = unit(x, shape[-1], 7, relu=False)
    return keras.Model(inputs, layers.Activation("tanh")(x))


def _adam() -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


class OriginalLoop:
    """Two generators, two discriminators and two composite models, trained as the original
    did. Keras 2 froze a model's trainable set at compile time; Keras 3 reads it when a train
    function runs, so the flags are set before every call to give each call the original's
    trainable set (the compute is the same either way)."""

    def __init__(self, shape: tuple[int, int, int], *, filters: int, res_blocks: int,
                 concatenate: bool, pool_size: int = 50, seed: int = 0) -> None:
        make = lambda: original_generator(shape, filters=filters,  # noqa: E731
                                          res_blocks=res_blocks, concatenate=concatenate)
        self.g_AB, self.g_BA = make(), make()
        self.d_A = models.build_discriminator(shape, filters=filters, name="d_A")
        self.d_B = models.build_discriminator(shape, filters=filters, name="d_B")
        for disc in (self.d_A, self.d_B):
            disc.compile(optimizer=_adam(), loss="mse", loss_weights=[0.5])
        self.c_AB = self._composite(self.g_AB, self.d_B, self.g_BA, shape)
        self.c_BA = self._composite(self.g_BA, self.d_A, self.g_AB, shape)
        self.pools: dict[str, list[np.ndarray]] = {"A": [], "B": []}
        self.pool_size = pool_size
        self.rng = np.random.default_rng(seed)
        self.patch = self.d_A.output_shape[1:]

    @staticmethod
    def _composite(g_main, disc, g_other, shape) -> keras.Model:
        source, target = keras.Input(shape), keras.Input(shape)
        fake = g_main(source)
        outputs = [disc(fake), g_main(target), g_other(fake), g_main(g_other(target))]
        composite = keras.Model([source, target], outputs)
        composite.compile(optimizer=_adam(), loss=["mse", "mae", "mae", "mae"],
                          loss_weights=[1, 5, 10, 10])
        return composite

    def _train_only(self, *trained: keras.Model) -> None:
        for net in (self.g_AB, self.g_BA, self.d_A, self.d_B):
            net.trainable = any(net is t for t in trained)

    def _pool(self, domain: str, fakes: np.ndarray) -> np.ndarray:
        pool, chosen = self.pools[domain], []
        for image in fakes:
            if len(pool) < self.pool_size:
                pool.append(image)
                chosen.append(image)
            elif self.rng.random() < 0.5:
                chosen.append(image)
            else:
                slot = int(self.rng.integers(len(pool)))
                chosen.append(pool[slot])
                pool[slot] = image
        return np.stack(chosen)

    def step(self, images_A: np.ndarray, images_B: np.ndarray, batch: int) -> None:
        """One training step on random batches of the two domains."""
        real_A = images_A[self.rng.integers(len(images_A), size=batch)]
        real_B = images_B[self.rng.integers(len(images_B), size=batch)]
        ones = np.ones((batch, *self.patch), np.float32)
        zeros = np.zeros_like(ones)
        fake_A = self._pool("A", self.g_BA.predict(real_B, verbose=0))
        fake_B = self._pool("B", self.g_AB.predict(real_A, verbose=0))
        self._train_only(self.g_BA)
        self.c_BA.train_on_batch([real_B, real_A], [ones, real_A, real_B, real_A])
        self._train_only(self.d_A)
        self.d_A.train_on_batch(real_A, ones)
        self.d_A.train_on_batch(fake_A, zeros)
        self._train_only(self.g_AB)
        self.c_AB.train_on_batch([real_A, real_B], [ones, real_B, real_A, real_B])
        self._train_only(self.d_B)
        self.d_B.train_on_batch(real_B, ones)
        self.d_B.train_on_batch(fake_B, zeros)


# --- FLOPs -----------------------------------------------------------------------------------
def forward_flops(model: keras.Model) -> int:
    """Forward FLOPs (2 x multiply-adds) of one image through a functional model's convs."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2DTranspose):
            _, height, width, channels = layer.input.shape
            total += 2 * np.prod(layer.kernel_size) * channels * layer.filters * height * width
        elif isinstance(layer, layers.Conv2D):
            channels = layer.input.shape[-1]
            _, height, width, _ = layer.output.shape
            total += 2 * np.prod(layer.kernel_size) * channels * layer.filters * height * width
    return int(total)


# --- Timing ----------------------------------------------------------------------------------
def time_ours(images_A: np.ndarray, images_B: np.ndarray, *, settings: TrainingSettings,
              steps: int, warmup: int) -> tuple[float, int, int]:
    """Median seconds per fused step through fit() of the model `settings` describe (as a run
    builds it); also G and D forward FLOPs per training image (a crop when cropping)."""
    durations = step_timing.time_training_steps(images_A, images_B, settings=settings,
                                                steps=steps, warmup=warmup)
    # Counted on fixed-shape copies: a cropping model's width is left open.
    train_shape = (images_A.shape[1], settings.crop_frames or images_A.shape[2], 1)
    flops = (forward_flops(models.build_generator(train_shape, filters=settings.filters,
                                                  res_blocks=settings.res_blocks)),
             forward_flops(models.build_discriminator(train_shape, filters=settings.filters)))
    return float(statistics.median(durations)), *flops


def time_original(images_A: np.ndarray, images_B: np.ndarray, *, batch: int, res_blocks: int,
                  filters: int, steps: int, warmup: int, concatenate: bool
                  ) -> tuple[float, int, int]:
    """Median seconds per step of the original's loop; also its G' and D forward FLOPs."""
    loop = OriginalLoop((*images_A.shape[1:], 1), filters=filters, res_blocks=res_blocks,
                        concatenate=concatenate)
    A = images_A.astype(np.float32)[..., None]
    B = images_B.astype(np.float32)[..., None]
    durations = []
    for index in range(warmup + steps):
        started = time.perf_counter()
        loop.step(A, B, batch)
        if index >= warmup:
            durations.append(time.perf_counter() - started)
    return (float(statistics.median(durations)), forward_flops(loop.g_AB),
            forward_flops(loop.d_A))


def _params(model: keras.Model) -> float:
    return cg.count_params(model) / 1e6


def run(args: argparse.Namespace) -> int:
    """Print the throughput table (stdout) for `python benchmark.py train`."""
    _import_keras_modules()
    if args.image_size % 4 or args.image_size < 16:
        raise SystemExit("--image-size must be a multiple of 4, at least 16")
    size = args.image_size
    rng = np.random.default_rng(0)
    images_A = rng.uniform(-1, 1, (16, size, size)).astype(np.float16)
    images_B = rng.uniform(-1, 1, (16, size, size)).astype(np.float16)
    device = "GPU" if _has_gpu() else "CPU"
    if args.presets:
        return run_presets(args, images_A, images_B, device=device)
    print(f"backend {keras.backend.backend()} on {device}, {size}x{size} images, filters "
          f"{args.filters}, ours in {args.mixed_precision} precision (XLA {args.xla}), the "
          f"original's loop in float32 with {args.original_blocks} blocks; median of "
          f"{args.steps} steps after {args.warmup} warm-up")
    header = ("N", "batch", "ours s/step", "ours img/s", "orig s/step", "orig img/s", "speed-up",
              "ours GFLOP/step", "orig GFLOP/step", "ours GFLOP/s", "orig GFLOP/s")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for res_blocks in args.res_blocks:
        for batch in args.batch_sizes:
            settings = dataclasses.replace(
                TrainingSettings.for_preset("original"), batch_size=batch,
                res_blocks=res_blocks, filters=args.filters,
                mixed_precision=args.mixed_precision, xla=args.xla)
            ours, g, d = time_ours(images_A, images_B, settings=settings, steps=args.steps,
                                   warmup=args.warmup)
            ours_flops = batch * (18 * g + 16 * d)
            cells = [res_blocks, batch, f"{ours:.3f}", f"{batch / ours:.3f}"]
            if args.skip_original:
                cells += ["-", "-", "-", f"{ours_flops / 1e9:.0f}", "-",
                          f"{ours_flops / ours / 1e9:.0f}", "-"]
            else:
                keras.backend.clear_session()
                gc.collect()
                orig, g_orig, d_orig = time_original(
                    images_A, images_B, batch=batch, res_blocks=res_blocks,
                    filters=args.filters, steps=args.steps, warmup=args.warmup,
                    concatenate=args.original_blocks == "concat")
                orig_flops = batch * (26 * g_orig + 16 * d_orig)
                cells += [f"{orig:.3f}", f"{batch / orig:.3f}", f"{orig / ours:.2f}x",
                          f"{ours_flops / 1e9:.0f}", f"{orig_flops / 1e9:.0f}",
                          f"{ours_flops / ours / 1e9:.0f}", f"{orig_flops / orig / 1e9:.0f}"]
            print(" | ".join(str(c) for c in cells), flush=True)
            keras.backend.clear_session()
            gc.collect()
    for res_blocks in args.res_blocks:
        g_ours = models.build_generator((size, size, 1), filters=args.filters,
                                        res_blocks=res_blocks)
        g_orig = original_generator((size, size, 1), filters=args.filters,
                                    res_blocks=res_blocks,
                                    concatenate=args.original_blocks == "concat")
        print(f"N={res_blocks}: generator parameters ours {_params(g_ours):.2f} M, the "
              f"original's copy {_params(g_orig):.2f} M; forward GFLOPs per image ours "
              f"{forward_flops(g_ours) / 1e9:.1f}, original {forward_flops(g_orig) / 1e9:.1f}")
        keras.backend.clear_session()
    return 0


def run_presets(args: argparse.Namespace, images_A: np.ndarray, images_B: np.ndarray, *,
                device: str) -> int:
    """`--presets`: one row per train_cyclegan.py preset, batch 1, as it trains."""
    print(f"backend {keras.backend.backend()} on {device}, {images_A.shape[1]}x"
          f"{images_A.shape[2]} windows, batch 1, XLA {args.xla}; median of {args.steps} "
          f"steps after {args.warmup} warm-up")
    header = ("preset", "crop", "filters", "blocks", "identity start", "GFLOP/update",
              "s/update", "updates/hour", "GFLOP/s", "FLOP ratio", "time ratio")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    first = None
    for name in args.presets:
        settings = dataclasses.replace(TrainingSettings.for_preset(name), batch_size=1,
                                       mixed_precision=args.mixed_precision, xla=args.xla)
        seconds, g, d = time_ours(images_A, images_B, settings=settings, steps=args.steps,
                                  warmup=args.warmup)
        flops = 18 * g + 16 * d
        first = first or (flops, seconds)
        print(" | ".join(str(c) for c in (
            name, settings.crop_frames or "whole", settings.filters,
            settings.res_blocks, settings.identity_start, f"{flops / 1e9:.1f}",
            f"{seconds:.3f}", f"{3600 / seconds:.0f}", f"{flops / seconds / 1e9:.0f}",
            f"1/{first[0] / flops:.1f}", f"1/{first[1] / seconds:.1f}")), flush=True)
        keras.backend.clear_session()
        gc.collect()
    return 0


def _has_gpu() -> bool:
    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].platform == "gpu"
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


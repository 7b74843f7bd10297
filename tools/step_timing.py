"""Timing full-size CycleGAN training steps, as a training run takes them: the measurement
behind tools/release_preflight.py (how many pairs fit a lent GPU at which batch size) and
`python benchmark.py train`.

Usage:
    from spectrogan.model.settings import TrainingSettings
    from tools.step_timing import time_training_steps
    seconds = time_training_steps(images_A, images_B, steps=5,
                                  settings=TrainingSettings.for_preset("fast"))
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spectrogan.training.batches import UnpairedBatches, backend_dataset  # noqa: E402
from spectrogan.model.cyclegan import build_from_settings, compile_cyclegan, keras  # noqa: E402
from spectrogan.model.settings import PRECISION_POLICIES, TrainingSettings  # noqa: E402
from spectrogan.training.trainer import resolve_jit  # noqa: E402


class _StepClock(keras.callbacks.Callback):
    """Records when each training step has finished (reading a loss waits for the device)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        float(next(iter((logs or {"x": 0.0}).values())))
        self.ends.append(time.perf_counter())


def time_training_steps(images_A: np.ndarray, images_B: np.ndarray, *,
                        settings: TrainingSettings, steps: int, warmup: int = 1) -> list[float]:
    """Seconds of each of `steps` fused training steps, after `warmup` untimed ones (tracing,
    compilation, allocation), run through fit() as a training run does (data pipeline
    included) with the networks, crops and precision of `settings` (settings.TrainingSettings).

    Args:
        images_A, images_B: (N, H, W) image stacks in [-1, 1] (N >= the batch size).
        settings: training settings; the model is built from them as a run builds it
            (cyclegan.build_from_settings), with their batch_size, lr, mixed_precision, xla.
    Keras' global dtype policy is restored afterwards.
    """
    batch, total = int(settings.batch_size), warmup + steps
    shape = (*images_A.shape[1:], 1)
    crop = int(settings.crop_frames)
    policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(PRECISION_POLICIES[settings.mixed_precision])
    try:
        model = build_from_settings(settings, shape)
        compile_cyclegan(model, lr=settings.lr,
                         jit_compile=resolve_jit(settings.xla, replicas=1))
        stream = UnpairedBatches(images_A, images_B, batch_size=batch, steps_per_epoch=total,
                                 seed=settings.seed, crop_frames=crop)
        clock = _StepClock()
        started = time.perf_counter()
        model.fit(backend_dataset(stream, batch_size=batch,
                                  image_shape=(shape[0], crop or shape[1], shape[2])),
                  epochs=1, steps_per_epoch=total, shuffle=False, verbose=0, callbacks=[clock])
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
    return [float(d) for d in np.diff([started, *clock.ends])[warmup:]]

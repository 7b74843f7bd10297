"""One conversion, in order: the vocoder's analysis, the stages, the vocoder's synthesis, the
stages that act on audio, and the loudness step.

Every change is a stage (stages/stage.py) and every vocoder an object (audio/vocoders.py), so
this loop is the whole of how a conversion runs, whatever the settings hold.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from spectrogan.audio.loudness import keep_loudness
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.stages.stage import StageContext

Progress = Callable[[float], None]


def _spread(progress: Progress | None, works: list[float]) -> list[Progress]:
    """One callback per step, each mapping its own fraction done onto `progress`'s overall
    fraction, steps weighted by `works` (all equal when every work is 0)."""
    report = progress or (lambda fraction: None)
    total = sum(works)
    weights = [w / total for w in works] if total > 0 else [1.0 / len(works)] * len(works)
    starts = np.concatenate([[0.0], np.cumsum(weights)[:-1]])
    return [lambda f, s=start, w=weight: report(min(1.0, s + w * f))
            for start, weight in zip(starts, weights)]


def run_stages(audio: np.ndarray, settings: ConversionSettings, context: StageContext, *,
               progress: Progress | None = None) -> np.ndarray:
    """`audio` (float32 (L,) at spectro.SAMPLE_RATE) analysed by `settings.vocoder`, changed
    by each of `settings.stages` in order (those `after_synthesis` after the synthesis), and
    synthesised once: float32 audio of round(L x the stages' duration ratios) samples, at
    whatever level the synthesis gives (`convert` sets the loudness)."""
    vocoder = settings.vocoder
    before = [stage for stage in settings.stages if not stage.after_synthesis]
    after = [stage for stage in settings.stages if stage.after_synthesis]
    steps = _spread(progress, [vocoder.analysis_work, *(s.work for s in before),
                               vocoder.synthesis_work, *(s.work for s in after)])
    features = vocoder.analyse(audio, steps[0])
    context = context.analysed(features)
    ratios = []
    for stage, report in zip(before, steps[1:]):
        changed = stage.apply(features, context.reporting(report))
        ratios.append(stage.timing_ratio(features, changed))
        features = changed
        report(1.0)
    ratio = math.prod(ratios + [stage.duration_ratio for stage in after])
    length = max(1, int(round(len(audio) * ratio)))
    converted = vocoder.synthesise(features, length=length, progress=steps[len(before) + 1])
    for stage, report in zip(after, steps[len(before) + 2:]):
        converted = stage.apply(converted, context.reporting(report))
        report(1.0)
    return converted


def convert(audio: np.ndarray, settings: ConversionSettings, context: StageContext, *,
            level_change_db: float = 0.0, progress: Progress | None = None) -> np.ndarray:
    """`run_stages`, then the loudness step: float32 audio whose integrated loudness (BS.1770,
    audio/loudness.py) is the input's plus `level_change_db`, peaks below full scale."""
    converted = run_stages(audio, settings, context, progress=progress)
    result = keep_loudness(converted, audio, change_db=level_change_db)
    if progress is not None:
        progress(1.0)
    return result

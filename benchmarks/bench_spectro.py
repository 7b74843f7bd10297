"""Benchmark of the spectrogram image + Griffin-Lim path (spectro.py).

Reports, on RAVDESS clips: spectral convergence (dB, lower is better) of the resynthesis at
32 iterations from random and from source phase and at 100 iterations; time per second of
audio; forward + inverse time of a 4 s clip at 32 iterations (target <= 0.15 s); and the peak
resident memory of resynthesising a 10-minute file, measured in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from spectrogan.audio import audio_files
from spectrogan.evaluation import metrics
from spectrogan.audio import spectro
from spectrogan.core.errors import UserError

DEFAULT_RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ravdess", type=Path, default=DEFAULT_RAVDESS,
                        help="RAVDESS folder (Actor_XX/*.wav)")
    parser.add_argument("--clips", type=int, default=20, help="number of clips to measure")
    parser.add_argument("--long-minutes", type=float, default=10.0,
                        help="length of the synthetic long file for the memory figure")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repeats of the 4 s clip (the median is reported)")


def _long_file_peak_rss(minutes: float) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of resynthesising a synthetic `minutes`-long file, measured
    in a fresh Python process so nothing else counts."""
    code = f"""
import numpy as np, resource, time, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from spectrogan.audio import spectro
sr = spectro.SAMPLE_RATE
n = int({minutes} * 60 * sr)
t = np.arange(n, dtype=np.float64) / sr
audio = (0.3 * np.sin(2 * np.pi * (200 + 150 * np.sin(2 * np.pi * 0.3 * t)) * t)
         + 0.01 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
del t
start = time.perf_counter()
out = spectro.round_trip(audio, phase="random")
assert out.shape == audio.shape and np.isfinite(out).all()
# VmHWM is this program's own peak: ru_maxrss would include the parent's size at fork time.
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
peak_mib = int(peak[0]) / 1024 if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(time.perf_counter() - start, peak_mib)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    seconds, peak = result.stdout.split()[-2:]
    return float(seconds), float(peak)


def run(args: argparse.Namespace) -> int:
    clips = sorted(args.ravdess.glob("Actor_*/03-01-*.wav"))
    if not clips:
        raise UserError(f"{args.ravdess}: no RAVDESS clips found; pass --ravdess DIR")
    step = max(1, len(clips) // args.clips)
    chosen = clips[::step][:args.clips]
    rows = {"random phase, 32 it": (32, False), "source phase, 32 it": (32, True),
            "random phase, 100 it": (100, False), "source phase, 100 it": (100, True)}
    scores: dict[str, list[float]] = {name: [] for name in rows}
    seconds: dict[str, float] = {name: 0.0 for name in rows}
    total_audio = 0.0
    spectro.round_trip(audio_files.load_audio(chosen[0]), n_iter=1)  # warm-up (JIT)
    for clip in chosen:
        audio = audio_files.load_audio(clip)
        total_audio += len(audio) / spectro.SAMPLE_RATE
        for name, (n_iter, source) in rows.items():
            start = time.perf_counter()
            out = spectro.round_trip(audio, n_iter=n_iter, phase="source" if source else "random")
            seconds[name] += time.perf_counter() - start
            scores[name].append(metrics.spectral_convergence_db(audio, out))
    print(f"spectral convergence over {len(chosen)} RAVDESS clips ({total_audio:.1f} s of audio)")
    print(f"{'path':<24}{'SC mean dB':>12}{'SC std':>9}{'s per s audio':>15}{'x real time':>13}")
    for name in rows:
        per_second = seconds[name] / total_audio
        print(f"{name:<24}{np.mean(scores[name]):>12.2f}{np.std(scores[name]):>9.2f}"
              f"{per_second:>15.4f}{1 / per_second:>13.1f}")

    audio = audio_files.load_audio(chosen[0])
    four = np.resize(audio, 4 * spectro.SAMPLE_RATE)  # exactly 4 s
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        spectro.round_trip(four, n_iter=32, phase="random")
        timings.append(time.perf_counter() - start)
    median = float(np.median(timings))
    print(f"4 s clip, forward + inverse, 32 iterations: median {median:.3f} s "
          f"({4 / median:.0f}x real time; target <= 0.15 s)")
    long_seconds, peak = _long_file_peak_rss(args.long_minutes)
    print(f"{args.long_minutes:g}-minute file, forward + inverse, 32 iterations: "
          f"{long_seconds:.1f} s, peak RSS {peak:.0f} MiB (fresh process)")
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process' peak RSS: {own_peak:.0f} MiB)")
    return 0

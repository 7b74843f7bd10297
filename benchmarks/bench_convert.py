"""convert.py benchmark: model load, real-time factor, peak memory on a long file, batch runs.

A randomly initialised generator of the requested size (default: 6 residual blocks, 64
filters -- weights do not change speed) is saved like train_cyclegan.py does into a temporary
models folder, and synthetic speech-like audio is written beside it. Every figure is measured
in a fresh child process, as a user would run it:

0. the README's example as a newcomer runs it (`python convert.py examples/calm_speech.wav
   --emotion angry` with the shipped model): wall time from launch to the written file, the
   seconds until the model is ready (imports and load), and peak RSS;
1. in one process: import time, model load, first conversion of a clip, then the per-clip
   time over further conversions (split into generator and Griffin-Lim time) -> real-time
   factor (audio seconds per second of work);
2. `python convert.py long.wav` on a long file (default 10 minutes): wall time and peak RSS
   of that process (os.wait4);
3. `python convert.py` on N clips (default 20) in one run, against N separate runs (the
   latter from a few real launches, scaled to N; the table says how many were launched).

Usage:
    python benchmark.py convert
    python benchmark.py convert --long-minutes 2 --separate-runs 20
    python benchmark.py convert --res-blocks 9 --files 10
    python benchmark.py convert --vocoder world --long-minutes 1   # the shipped models' path
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from spectrogan.core.cli import TF_LOG_LEVEL

REPO = Path(__file__).resolve().parents[1]
PAIR = ("calm2anger", "calm", "angry")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python benchmark.py convert`."""
    parser.add_argument("--res-blocks", type=int, default=6, help="generator residual blocks")
    parser.add_argument("--filters", type=int, default=64, help="generator base filters")
    parser.add_argument("--clip-seconds", type=float, default=4.0,
                        help="length of the short clips (the real-time factor's clip)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="conversions of the clip timed after the first one")
    parser.add_argument("--long-minutes", type=float, default=10.0,
                        help="length of the long file for the memory test (0 = skip)")
    parser.add_argument("--files", type=int, default=20, help="clips converted in one run")
    parser.add_argument("--separate-runs", type=int, default=3,
                        help="real one-file launches timed to estimate --files separate runs")
    parser.add_argument("--iters", type=int, default=32, help="Griffin-Lim iterations")
    parser.add_argument("--batch-size", type=int, default=4, help="windows per generator call")
    parser.add_argument("--vocoder", choices=("griffin-lim", "world"), default="griffin-lim",
                        help="the model's vocoder; 'world' also applies a prosody change, a "
                             "spectral balance and a cepstral change in the same pass, as the "
                             "shipped models may")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="generator arithmetic of the CLI runs (the per-clip figures are "
                             "measured for both)")


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    """Voiced syllables: a harmonic tone with gliding pitch, a 4 Hz envelope and some noise."""
    from spectrogan.audio.spectro import SAMPLE_RATE

    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    pitch = 140.0 + 40.0 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.5
    audio = 0.2 * envelope * voiced + 0.005 * rng.standard_normal(t.shape[0])
    return audio.astype(np.float32)


# A prosody change of the size the shipped models learned (pitch up, range wider, faster).
BENCH_PROSODY = {"f0_shift_semitones": 6.0, "f0_spread_ratio": 1.7, "duration_ratio": 0.9}


def _bench_world_inference() -> dict:
    """The WORLD path with every change the shipped models may ask for: BENCH_PROSODY, a
    spectral balance tilt and a cepstral change (the spectrum moving 1.2 times as far)."""
    from spectrogan.stages.cepstral_change import DIMENSIONS, CepstralChange
    from spectrogan.stages.spectral_balance import BAND_COUNT, SpectralBalance

    tilt = SpectralBalance(tuple(float(g) for g in np.linspace(-3.0, 3.0, BAND_COUNT)))
    return {"vocoder": "world", "prosody": BENCH_PROSODY, "spectral_balance": tilt.to_config(),
            "cepstral_change": CepstralChange(spread_ratio=(1.2,) * DIMENSIONS).to_config()}


def _make_models(root: Path, *, filters: int, res_blocks: int, vocoder: str = "griffin-lim"
                 ) -> Path:
    """Save a randomly initialised generator pair and config as train_cyclegan.py does (with
    the WORLD vocoder and every change it applies in "inference" for `vocoder` 'world')."""
    from spectrogan.model import model_files
    from spectrogan.model import models
    from spectrogan.model import runs
    from spectrogan.data.corpus import STFT_SETTINGS
    from spectrogan.audio.spectro import IMAGE_SIZE

    pair, source, target = PAIR
    run = root / pair
    runs.write_config(run, {"pair": pair, "source": source, "target": target,
                            "image_size": IMAGE_SIZE, "stft": dict(STFT_SETTINGS),
                              "generator": {"filters": filters, "res_blocks": res_blocks},
                              "discriminator": {"filters": filters}, "note": "benchmark",
                              **({"inference": _bench_world_inference()}
                                 if vocoder == "world" else {})})
    generator = models.build_generator((IMAGE_SIZE, IMAGE_SIZE, 1), filters=filters,
                                       res_blocks=res_blocks)
    for direction in runs.DIRECTIONS:
        model_files.save_generator(generator, run, direction)
    return root


def _worker(spec_json: str) -> None:
    """Child process: time import, load, first and later conversions; print one JSON line."""
    spec = json.loads(spec_json)
    started = time.perf_counter()
    import convert  # noqa: F401 - imported to time it
    from spectrogan.conversion import inference
    from spectrogan.stages import envelope_model
    from spectrogan.audio.audio_files import load_audio
    from spectrogan.audio.spectro import (N_BINS, SAMPLE_RATE, TOP_DB, n_frames_for, stft,
                                          utterance_to_windows, windows_to_utterance)

    imported = time.perf_counter()
    converter = inference.load_converter(spec["models"], "calm", "anger")
    generator = converter.generator
    loaded = time.perf_counter()
    audio = load_audio(spec["clip"])
    converter.convert(audio, n_iter=spec["iters"], batch_size=spec["batch_size"])
    first = time.perf_counter()
    # The opt-in bfloat16 generator on the same windows: its speed and its deviation.
    windows, _ = utterance_to_windows(audio)
    fast = inference.load_converter(spec["models"], "calm", "anger",
                                    precision="bfloat16").generator
    exact = envelope_model.run_generator(windows, generator)
    envelope_model.run_generator(windows, fast)  # trace once
    bf16_s = []
    for _ in range(spec["repeats"]):
        t0 = time.perf_counter()
        rough = envelope_model.run_generator(windows, fast)
        bf16_s.append(time.perf_counter() - t0)
    # Image units -> dB: the image maps [-TOP_DB, 0] dB linearly onto [-1, 1].
    deviation_db = np.abs(rough - exact)[:, :N_BINS] / 2 * TOP_DB
    totals, cpu, generator_s, griffin_s = [], [], [], []
    for _ in range(spec["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        audio = load_audio(spec["clip"])
        converter.convert(audio, n_iter=spec["iters"], batch_size=spec["batch_size"])
        totals.append(time.perf_counter() - t0)
        # CPU seconds (all threads): less sensitive than wall time to other processes.
        cpu.append(time.process_time() - c0)
        # The same work in its two stages, to say what dominates.
        t0 = time.perf_counter()
        windows, ref = utterance_to_windows(audio)
        converted = envelope_model.run_generator(windows, generator, batch_size=spec["batch_size"])
        t1 = time.perf_counter()
        if converter.settings.vocoder.name == "world":  # analysis and synthesis, no change
            inference.vocoder_only(audio, vocoder="world")
        else:
            windows_to_utterance(converted, ref=ref, length=audio.shape[0],
                                 n_iter=spec["iters"], init_phase=np.angle(stft(audio)))
        generator_s.append(t1 - t0)
        griffin_s.append(time.perf_counter() - t1)
    print(json.dumps({"import_s": imported - started, "load_s": loaded - imported,
                      "first_s": first - loaded, "clip_s": float(np.median(totals)),
                      "clip_cpu_s": float(np.median(cpu)),
                      "generator_s": float(np.median(generator_s)),
                      "griffin_lim_s": float(np.median(griffin_s)),  # or WORLD's
                      "bf16_generator_s": float(np.median(bf16_s)),
                      "bf16_mean_db": float(deviation_db.mean()),
                      "bf16_max_db": float(deviation_db.max()),
                      "audio_s": audio.shape[0] / SAMPLE_RATE,
                      "windows": len(windows), "frames": n_frames_for(audio.shape[0])}))


GNU_TIME = "/usr/bin/time"
PEAK_MARK = "peak-rss-kib="


def _run_child(command: list[str]) -> tuple[float, float, str]:
    """Run a child process; returns (wall seconds, peak RSS in MiB, stdout). Raises on failure.

    Output goes to temporary files (not pipes) so the child can be reaped with os.wait4. Linux
    carries the forking process' high-water RSS into a child's ru_maxrss across exec, so where
    GNU time exists the child runs under it: its own child starts from a tiny process, and the
    figure it prints (%M, KiB) is the converter's own peak.
    """
    env = dict(os.environ,
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        measured = ([GNU_TIME, "-f", f"{PEAK_MARK}%M", *command]
                    if os.access(GNU_TIME, os.X_OK) else command)
        child = subprocess.Popen(measured, cwd=REPO, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... exited {child.returncode}:\n"
                           f"{stderr[-2000:]}")
    peak_kib = [line[len(PEAK_MARK):] for line in stderr.splitlines() if line.startswith(PEAK_MARK)]
    peak = float(peak_kib[-1]) if peak_kib else usage.ru_maxrss
    return wall, peak / 1024, stdout


def _cli(models_root: Path, inputs: list[Path], out_dir: Path, args: argparse.Namespace
         ) -> list[str]:
    return [sys.executable, str(REPO / "convert.py"), *map(str, inputs), "--emotion", "anger",
            "--models", str(models_root), "--out-dir", str(out_dir), "--iters", str(args.iters),
            "--batch-size", str(args.batch_size), "--precision", args.precision, "--force"]


EXAMPLE = REPO / "examples" / "calm_speech.wav"


def _example_rows(tmp_path: Path) -> list[tuple[str, str]]:
    """The README's example with the shipped calm2anger model, as a fresh process: wall time,
    seconds until the model is ready, peak RSS (rows of the table; none without the model)."""
    if not (REPO / "results" / "calm2anger").is_dir() or not EXAMPLE.is_file():
        return []
    probe = ("import time, sys; t = time.perf_counter(); import convert, inference; "
             "inference.load_converter(sys.argv[1], 'calm', 'angry'); "
             "print(time.perf_counter() - t)")
    ready = float(_run_child([sys.executable, "-c", probe, str(REPO / "results")])[2].split()[-1])
    wall, peak, _ = _run_child([sys.executable, str(REPO / "convert.py"), str(EXAMPLE),
                                "--emotion", "angry", "-o", str(tmp_path / "example.wav")])
    return [("README example (examples/calm_speech.wav -> angry), whole run", f"{wall:.2f} s"),
            ("  of which imports and model ready (in-process)", f"{ready:.2f} s"),
            ("  peak RSS", f"{peak:.0f} MiB")]


def run(args: argparse.Namespace) -> int:
    """Measure and print the table (see the module docstring)."""
    import soundfile

    from spectrogan.core.errors import UserError
    from spectrogan.audio.spectro import SAMPLE_RATE

    if args.files < 1 or args.separate_runs < 1 or args.repeats < 1:
        raise UserError("--files, --separate-runs and --repeats must be >= 1")
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        tmp_path = Path(tmp)
        rows += _example_rows(tmp_path)
        models_root = _make_models(tmp_path / "models", filters=args.filters,
                                   res_blocks=args.res_blocks, vocoder=args.vocoder)
        clips = []
        for index in range(args.files):
            clips.append(tmp_path / "clips" / f"clip{index:02d}.wav")
            clips[-1].parent.mkdir(exist_ok=True)
            soundfile.write(str(clips[-1]), _speechlike(args.clip_seconds, index), SAMPLE_RATE)

        spec = {"models": str(models_root), "clip": str(clips[0]), "iters": args.iters,
                "repeats": args.repeats, "batch_size": args.batch_size}
        _, _, out = _run_child([sys.executable, "-c",
                                "import sys; from benchmarks.bench_convert import _worker; "
                                "_worker(sys.argv[1])", json.dumps(spec)])
        m = json.loads(out.strip().splitlines()[-1])
        rtf = m["audio_s"] / m["clip_s"]
        rows += [
            ("import convert (the NumPy generator: no Keras)", f"{m['import_s']:.2f} s"),
            (f"model load ({args.res_blocks} blocks, {args.filters} filters)",
             f"{m['load_s']:.2f} s"),
            (f"first conversion ({m['audio_s']:.1f} s clip)",
             f"{m['first_s']:.2f} s"),
            (f"per {m['audio_s']:.1f} s clip after that (median of {args.repeats})",
             f"{m['clip_s']:.3f} s = {rtf:.1f}x real time"),
            ("  CPU time per clip (all threads)", f"{m['clip_cpu_s']:.3f} s"),
            (f"  of which generator ({m['windows']} window(s))", f"{m['generator_s']:.3f} s"),
            ((f"  of which Griffin-Lim ({args.iters} iterations, {m['frames']} frames)"
              if args.vocoder == "griffin-lim" else
              "  of which WORLD analysis and synthesis (Harvest, CheapTrick, D4C)"),
             f"{m['griffin_lim_s']:.3f} s"),
            ("  generator with --precision bfloat16",
             f"{m['bf16_generator_s']:.3f} s ({m['generator_s'] / m['bf16_generator_s']:.1f}x; "
             f"clip {m['audio_s'] / (m['clip_s'] - m['generator_s'] + m['bf16_generator_s']):.1f}x "
             "real time)"),
            ("  bfloat16 deviation of the generated image (mean / max)",
             f"{m['bf16_mean_db']:.2f} / {m['bf16_max_db']:.2f} dB"),
        ]

        if args.long_minutes > 0:
            long_path = tmp_path / "long.wav"
            soundfile.write(str(long_path), _speechlike(args.long_minutes * 60, 99), SAMPLE_RATE)
            wall, peak, _ = _run_child(_cli(models_root, [long_path], tmp_path / "out_long", args))
            seconds = args.long_minutes * 60
            rows += [(f"{args.long_minutes:g}-minute file, whole CLI run",
                      f"{wall:.1f} s = {seconds / wall:.1f}x real time"),
                     (f"{args.long_minutes:g}-minute file, peak RSS of the process",
                      f"{peak:.0f} MiB")]

        wall_batch, _, _ = _run_child(_cli(models_root, clips, tmp_path / "out_batch", args))
        singles = [_run_child(_cli(models_root, [clips[i % len(clips)]],
                                   tmp_path / f"out_single{i}", args))[0]
                   for i in range(args.separate_runs)]
        per_run = float(np.mean(singles))
        launched = ("measured" if args.separate_runs >= args.files
                    else f"estimated: mean of {args.separate_runs} launches x {args.files}")
        rows += [(f"{args.files} clips in one run", f"{wall_batch:.1f} s"),
                 (f"{args.files} separate runs ({launched})",
                  f"{per_run * args.files:.1f} s ({per_run:.1f} s per run)"),
                 ("one run vs separate runs", f"{per_run * args.files / wall_batch:.1f}x faster")]

    width = max(len(name) for name, _ in rows)
    print(f"convert.py benchmark ({args.vocoder} vocoder): {os.cpu_count()} CPU(s), keras "
          f"backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}, load average "
          f"{load_before:.2f} before / {os.getloadavg()[0]:.2f} after")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0

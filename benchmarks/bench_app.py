"""`python benchmark.py app`: how fast the web page (app.py) is up, and how fast it converts.

Page ready: seconds from starting `python app.py` until the page answers (HTTP 200), each
start a fresh process (models load in the background afterwards). Conversion: seconds of
webpage.PageConverter.convert (the page's own function: conversion, wav and spectrogram PNG)
for a 4-second clip once its model is loaded, at 100% and 50% strength.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python benchmark.py app`."""
    parser.add_argument("--models", type=Path, default=ROOT / "results",
                        help="models folder the page serves")
    parser.add_argument("--pair", default="calm2anger", help="model to convert with")
    parser.add_argument("--starts", type=int, default=3, help="page starts to time")
    parser.add_argument("--repeats", type=int, default=3, help="conversions to time")


def time_page_ready(models: Path, port: int) -> float:
    """Seconds until a fresh `app.py` answers on `port`."""
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port),
                               "--models", str(models)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                return time.perf_counter() - started
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"app.py exited with {server.returncode}") from None
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(args: argparse.Namespace) -> int:
    """Print the page's start-up and conversion times (stdout)."""
    sys.path.insert(0, str(ROOT))
    from spectrogan import webpage
    from spectrogan.audio.audio_files import load_audio, write_audio
    from spectrogan.audio.spectro import SAMPLE_RATE

    ready = []
    for _ in range(args.starts):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ready.append(time_page_ready(args.models, port))
    print(f"page ready after start: median {statistics.median(ready):.2f} s over {args.starts} "
          f"starts (min {min(ready):.2f} s, max {max(ready):.2f} s)", flush=True)

    with tempfile.TemporaryDirectory() as work:
        example = load_audio(webpage.EXAMPLE_CLIP)
        clip = np.zeros(4 * SAMPLE_RATE, np.float32)  # exactly 4 s: the example, then silence
        clip[:min(len(example), len(clip))] = example[:len(clip)]
        path = write_audio(Path(work) / "four_seconds.wav", clip)
        converter = webpage.PageConverter(args.models, work_dir=work)
        started = time.perf_counter()
        converter.converter_for(args.pair)
        print(f"{args.pair}: model loaded in {time.perf_counter() - started:.2f} s")
        converter.convert(path, args.pair, 1.0)  # the first call traces the network
        for strength in (1.0, 0.5):
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                converter.convert(path, args.pair, strength)
                seconds.append(time.perf_counter() - started)
            print(f"{args.pair}: a 4.0 s clip at {100 * strength:.0f}% strength converted in "
                  f"median {statistics.median(seconds):.2f} s over {args.repeats} (min "
                  f"{min(seconds):.2f} s), wav and spectrogram PNG included", flush=True)
    return 0

"""SpectroGAN benchmarks: speed, memory and quality figures quoted in the project's notes.

Each subcommand lives in benchmarks/bench_<name>.py and prints a table to stdout.

Usage:
    python benchmark.py spectro --ravdess ../shared/data/ravdess
    python benchmark.py train
    python benchmark.py convert
    python benchmark.py app
"""

from __future__ import annotations

import argparse
import importlib
import sys

from spectrogan.core.cli import cli_main

SUITES = {
    "spectro": "audio <-> image transform and Griffin-Lim: quality, speed, memory",
    "train": "CycleGAN training step throughput against the original project's loop",
    "convert": "convert.py: load time, real-time factor, peak memory, batch efficiency",
    "app": "app.py: seconds until the page is up, seconds to convert a 4 s clip in it",
}


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__.split("\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only the chosen suite's module is imported (some import Keras, which takes seconds), so
    # `benchmark.py --help` is instant.
    chosen = next((word for word in argv if not word.startswith("-")), None)
    module = None
    for name, summary in SUITES.items():
        sub = commands.add_parser(name, help=summary, description=summary,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if name == chosen:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            module.add_arguments(sub)
    args = parser.parse_args(argv)
    assert module is not None  # parse_args has rejected anything but a known suite
    return module.run(args)


if __name__ == "__main__":
    sys.exit(main())

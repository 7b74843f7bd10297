"""SpectroGAN benchmarks: speed, memory and quality figures quoted in the project's notes.

Each subcommand lives in benchmarks/bench_<name>.py and prints a table to stdout.

Usage:
    python benchmark.py spectro --ravdess ../shared/data/ravdess
    python benchmark.py train
    python benchmark.py convert
"""

from __future__ import annotations

import argparse
import importlib
import sys

from spectro import cli_main

SUITES = {
    "spectro": "audio <-> image transform and Griffin-Lim: quality, speed, memory",
    "train": "CycleGAN training step throughput against the original project's loop",
    "convert": "convert.py: load time, real-time factor, peak memory, batch efficiency",
}


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__.split("\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    modules = {}
    for name, summary in SUITES.items():
        sub = commands.add_parser(name, help=summary, description=summary,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        try:
            modules[name] = importlib.import_module(f"benchmarks.bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"benchmarks.bench_{name}":
                raise
            continue
        modules[name].add_arguments(sub)
    args = parser.parse_args(argv)
    if args.suite not in modules:
        parser.error(f"the {args.suite} benchmark is not available in this checkout")
    return modules[args.suite].run(args)


if __name__ == "__main__":
    sys.exit(main())

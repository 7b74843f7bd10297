"""Work spread over CPU processes, safe for libraries that compile code on first use.

librosa compiles its inner loops with numba and keeps the compiled code in an on-disk cache.
Two processes compiling the same function at once can leave that cache half written, and every
later process that loads it crashes (numba issue 10128): on a fresh install, `evaluate.py
--jobs 2` would break librosa's pitch tracker for good. So the first item is computed here, in
this process, which compiles and writes the cache alone; the worker processes then only read it.

Usage:
    from spectrogan.core.processes import map_in_processes
    for result in map_in_processes(measure, paths, jobs=2):
        ...
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Any, Callable, Iterator, Sequence


def map_in_processes(function: Callable[[Any], Any], items: Sequence[Any], *, jobs: int,
                     chunksize: int = 1) -> Iterator[Any]:
    """`function(item)` for every item, in order, the first here and the rest in `jobs` fresh
    processes (in this process only, when `jobs` is 1 or there are fewer than three items).

    `function` must be importable by name (a module-level function) and its items and results
    picklable. Worker processes are spawned, not forked: forking a process that has loaded
    TensorFlow can deadlock, and the workers need only what `function`'s module imports.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if chunksize < 1:
        raise ValueError(f"chunksize must be at least 1, got {chunksize}")
    if not items:
        return
    yield function(items[0])
    rest = items[1:]
    if jobs == 1 or len(rest) < 2:
        for item in rest:
            yield function(item)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(function, rest, chunksize=chunksize)

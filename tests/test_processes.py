"""Work spread over processes (processes.py): order, the first item at home, input checks."""

from __future__ import annotations

import os

import pytest

from spectrogan.core.processes import map_in_processes


def square_and_pid(value: int) -> tuple[int, int]:
    return value * value, os.getpid()


def test_results_keep_order_and_the_first_item_runs_in_this_process():
    results = list(map_in_processes(square_and_pid, list(range(7)), jobs=2, chunksize=2))
    assert [square for square, _ in results] == [v * v for v in range(7)]
    pids = [pid for _, pid in results]
    # The first compiles whatever is compiled on first use; the rest go to other processes.
    assert pids[0] == os.getpid()
    assert all(pid != os.getpid() for pid in pids[1:])


def test_one_job_or_few_items_stay_in_this_process():
    assert [pid for _, pid in map_in_processes(square_and_pid, [1, 2, 3], jobs=1)] == \
        [os.getpid()] * 3
    assert [pid for _, pid in map_in_processes(square_and_pid, [1, 2], jobs=4)] == \
        [os.getpid()] * 2
    assert list(map_in_processes(square_and_pid, [], jobs=2)) == []


@pytest.mark.parametrize("jobs, chunksize", [(0, 1), (2, 0)])
def test_bad_counts_are_refused_with_the_value(jobs, chunksize):
    with pytest.raises(ValueError, match=str(min(jobs, chunksize))):
        list(map_in_processes(square_and_pid, [1, 2, 3], jobs=jobs, chunksize=chunksize))

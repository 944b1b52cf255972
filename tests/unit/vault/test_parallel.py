"""The bounded thread-pool loop: every item once, a bounded queue, the first failure raised."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from t4o.vault.parallel import for_each


def test_every_item_runs_once_with_at_most_twice_the_workers_queued() -> None:
    done: list[int] = []
    taken = 0
    lock = threading.Lock()
    most_ahead = 0

    def items() -> Iterator[int]:
        nonlocal taken, most_ahead
        for i in range(50):
            with lock:
                most_ahead = max(most_ahead, taken - len(done))
            taken += 1
            yield i

    def work(i: int) -> None:
        time.sleep(0.001)
        with lock:
            done.append(i)

    for_each(items(), work, workers=3, name="test")
    assert sorted(done) == list(range(50))
    assert most_ahead <= 6


def test_the_first_failure_stops_the_loop_and_is_raised() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(1000):
            taken.append(i)
            yield i

    def work(i: int) -> None:
        if i == 5:
            raise ValueError("block 5 is bad")
        time.sleep(0.002)

    with pytest.raises(ValueError, match="block 5"):
        for_each(items(), work, workers=2, name="test")
    assert len(taken) < 50  # items after the failure were not taken


def test_a_failing_producer_is_raised_in_the_callers_thread() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise OSError("the source went away")

    with pytest.raises(OSError, match="went away"):
        for_each(items(), lambda i: None, workers=2, name="test")

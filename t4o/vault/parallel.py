"""The one bounded thread-pool loop of the vault (backup, restore, verify, read-back checksums).

BLAKE3, zstd, file and socket I/O release the GIL, so a few threads keep two cores and a store's
latency busy. At most ``2 * workers`` items are queued, so memory does not grow with the disk: an item
may carry a block's data (backup) or only its index. The first failure stops the loop (items not yet
taken are never taken, queued ones are skipped) and is raised in the caller's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def for_each(items: Iterable[T], work: Callable[[T], None], *, workers: int, name: str) -> None:
    """Run ``work(item)`` for every item on ``workers`` threads; the iterator is advanced in the
    caller's thread (a backup reads its source there, in order)."""
    slots = threading.BoundedSemaphore(workers * 2)
    failure: list[BaseException] = []

    def run(item: T) -> None:
        try:
            if not failure:
                work(item)
        except BaseException as exc:
            failure.append(exc)
        finally:
            slots.release()

    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        while True:
            slots.acquire()
            if failure:
                slots.release()
                break
            try:
                item = next(it)
            except StopIteration:
                slots.release()
                break
            except BaseException as exc:  # the producer failed (a source read): drop what is queued
                slots.release()
                failure.append(exc)
                break
            pool.submit(run, item)
    if failure:
        raise failure[0]

"""ReadAhead: blocks read ahead on extra connections equal direct reads, in and out of the plan."""

from __future__ import annotations

import threading

import pytest

from t4o.datamover.disks.nbd import NbdError
from t4o.datamover.disks.read_ahead import ReadAhead, blocks_over

BLOCK = 16
SIZE = 16 * 10 + 5  # a short last block
DATA = bytes((i * 7 + 3) % 251 for i in range(SIZE))


class FakeClient:
    def __init__(self, log: list[int]) -> None:
        self.log = log
        self.closed = False

    def read(self, offset: int, length: int) -> bytes:
        self.log.append(offset)
        return DATA[offset : offset + length]

    def close(self) -> None:
        self.closed = True


def direct_reader(log: list[int]):
    lock = threading.Lock()

    def read(offset: int, length: int) -> bytes:
        with lock:
            log.append(offset)
        return DATA[offset : offset + length]

    return read


def test_blocks_over_extents() -> None:
    assert blocks_over([(0, 1), (40, 8), (150, 100)], SIZE, BLOCK) == {0, 2, 9, 10}
    assert blocks_over([(5, 0)], SIZE, BLOCK) == set()


def test_reads_in_plan_order_come_from_the_extra_connections() -> None:
    ahead_log: list[int] = []
    direct_log: list[int] = []
    clients: list[FakeClient] = []

    def connect() -> FakeClient:
        clients.append(FakeClient(ahead_log))
        return clients[-1]

    plan = [0, 2, 3, 7, 10]
    ra = ReadAhead(SIZE, connect, lambda block: plan, direct_reader(direct_log), connections=2, depth=3)
    for i in plan:
        off = i * BLOCK
        assert ra.read(off, min(BLOCK, SIZE - off)) == DATA[off : off + BLOCK]
    ra.close()
    assert direct_log == [0]  # only the first block: every later one was read ahead
    assert sorted(ahead_log) == [i * BLOCK for i in plan[1:]]
    assert 1 <= len(clients) <= 2 and all(c.closed for c in clients)


def test_reads_off_the_plan_are_direct_and_stale_blocks_are_dropped() -> None:
    direct_log: list[int] = []
    ra = ReadAhead(SIZE, lambda: FakeClient([]), lambda block: [0, 1, 2, 3, 4, 5], direct_reader(direct_log))
    assert ra.read(0, BLOCK) == DATA[:BLOCK]
    assert ra.read(5 * BLOCK, BLOCK) == DATA[5 * BLOCK : 6 * BLOCK]  # skipped 1..4
    assert ra.read(3, 10) == DATA[3:13]  # unaligned: read directly
    assert ra._ahead == {}  # blocks behind the caller were dropped, none is left after the last
    ra.close()
    assert direct_log == [0, 3]


def test_an_export_refusing_more_clients_falls_back_to_direct_reads() -> None:
    direct_log: list[int] = []

    def refuse() -> FakeClient:
        raise NbdError("only one client")

    ra = ReadAhead(SIZE, refuse, lambda block: list(range(11)), direct_reader(direct_log), depth=2)
    got = b"".join(ra.read(i * BLOCK, min(BLOCK, SIZE - i * BLOCK)) for i in range(11))
    ra.close()
    assert got == DATA
    assert sorted(direct_log) == [i * BLOCK for i in range(11)]


def test_a_failed_read_ahead_is_raised_to_the_caller() -> None:
    class Broken(FakeClient):
        def read(self, offset: int, length: int) -> bytes:
            raise NbdError("connection reset")

    ra = ReadAhead(SIZE, lambda: Broken([]), lambda block: [0, 1], direct_reader([]))
    ra.read(0, BLOCK)
    with pytest.raises(NbdError, match="connection reset"):
        ra.read(BLOCK, BLOCK)
    ra.close()

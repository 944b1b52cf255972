"""The file browser's cache of open disks, around a disk that cannot be opened."""

from __future__ import annotations

import pytest

from t4o.common.config import CONF
from t4o.workloads.file_browser import FileBrowser


def test_a_failed_open_raises_and_leaves_nothing_behind() -> None:
    calls = []

    def target_gone(target_id: str | None, conf: object) -> None:
        calls.append((target_id, conf))
        raise RuntimeError("the backup target is not mounted")

    browser = FileBrowser(CONF, open_target=target_gone)  # type: ignore[arg-type]
    for _ in range(2):  # the second call tries again, it does not wait on a lock left behind
        with pytest.raises(RuntimeError, match="not mounted"), browser.lease("snap/disk", "t1"):
            pass
    assert calls == [("t1", CONF)] * 2
    assert browser.open_refs() == [] and browser._opening == {}
    browser.close_all()


def test_an_encrypted_workloads_key_is_unlocked_in_the_opened_target_or_the_target_closed() -> None:
    class Backend:
        closed = 0

        def close(self) -> None:
            Backend.closed += 1

    class Repo:
        backend = Backend()

    unlocked: list[object] = []

    def unlock_refused(repo: object) -> None:
        unlocked.append(repo)
        raise RuntimeError("encrypted workload w1: secret s1 does not exist (deleted?)")

    browser = FileBrowser(CONF, open_target=lambda target_id, conf: Repo())  # type: ignore[arg-type,return-value]
    with (
        pytest.raises(RuntimeError, match="does not exist"),
        browser.lease("snap/disk", None, unlock_refused),
    ):
        pass
    assert len(unlocked) == 1 and isinstance(unlocked[0], Repo)
    assert Backend.closed == 1 and browser.open_refs() == []
    browser.close_all()

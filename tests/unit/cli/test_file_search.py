"""The client side of file search: following a search until it ends, and its results as rows."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from t4o.cli.file_search import results, snapshot_ids
from t4o.client import exceptions as exc
from t4o.client.file_search import FileSearch, FileSearchManager, result_rows


def manager(*answers: dict[str, Any]) -> tuple[FileSearchManager, mock.Mock]:
    http = mock.Mock()
    http.get.side_effect = [{"file_search": a} for a in answers]
    return FileSearchManager(http), http


def test_create_sends_only_what_is_given() -> None:
    http = mock.Mock()
    http.post.return_value = {"file_search": {"id": "f1", "status": "executing"}}
    search = FileSearchManager(http).create("vm", "/etc/hosts", snapshot_ids=["a", "b"], end=2)
    assert search.id == "f1"
    http.post.assert_called_once_with(
        "/search",
        {"file_search": {"vm_id": "vm", "filepath": "/etc/hosts", "snapshot_ids": ["a", "b"], "end": 2}},
    )


def test_wait_until_completed_reporting_every_poll() -> None:
    searches, http = manager(
        {"id": "f1", "status": "executing", "progress_percent": 0},
        {"id": "f1", "status": "executing", "progress_percent": 50},
        {"id": "f1", "status": "completed", "progress_percent": 100},
    )
    seen: list[int] = []
    done = searches.wait("f1", on_progress=lambda s: seen.append(s["progress_percent"]), sleep=lambda s: None)
    assert done["status"] == "completed" and seen == [0, 50, 100]
    assert http.get.call_args_list == [mock.call("/search/f1")] * 3


def test_wait_fails_with_the_error_and_times_out() -> None:
    searches, _ = manager({"id": "f2", "status": "error", "error_msg": "no worker"})
    with pytest.raises(exc.JobFailed, match="File search f2 failed: no worker"):
        searches.wait("f2", sleep=lambda s: None)
    searches, _ = manager(*[{"id": "f3", "status": "executing"}] * 3)
    ticks = iter([0.0, 1.0, 5.0])
    with pytest.raises(exc.WaitTimeout, match=r"still executing after 2 s.*file search show f3"):
        searches.wait("f3", timeout=2, sleep=lambda s: None, clock=lambda: next(ticks))


SEARCH = FileSearch(
    json_resp=[
        {
            "snapshot_id": "s2", "snapshot_name": "new", "snapshot_created_at": "T2", "status": "completed",
            "disks": [
                {"disk": "vda", "partition": None, "filesystem": "ext4", "truncated": False,
                 "entries": [{"path": "/a", "size": 1, "mtime": 0}, {"path": "/b", "size": 2, "mtime": 0}]},
                {"disk": "vdb", "partition": 1, "filesystem": "xfs", "truncated": True, "entries": []},
            ],
        },
        {"snapshot_id": "s1", "snapshot_name": "mid", "status": "completed", "disks": [
            {"disk": "vda", "partition": None, "filesystem": "ext4", "truncated": False, "entries": []}]},
        {"snapshot_id": "s0", "snapshot_name": "old", "status": "error", "error_msg": "disk gone",
         "disks": []},
    ]
)  # fmt: skip


def test_result_rows() -> None:
    rows = [
        (r["snapshot_id"], r.get("disk"), r.get("partition"), r.get("path"), r["note"])
        for r in result_rows(SEARCH)
    ]
    assert rows == [
        ("s2", "vda", None, "/a", ""),
        ("s2", "vda", None, "/b", ""),
        ("s2", "vdb", 1, None, "more matches than a search keeps: narrow the pattern"),
        ("s1", None, None, None, "no match"),
        ("s0", None, None, None, "error: disk gone"),
    ]
    headers, table = results(SEARCH)
    assert headers[5] == "Path" and headers[-2:] == ("Modified", "Note")
    assert table[0][5:10] == ("/a", "", 1, "", "1970-01-01T00:00:00Z")
    assert table[3][3:8] == ("", "", "", "", "")  # blanks, not None, where no file is


def test_snapshot_ids_option() -> None:
    assert snapshot_ids(None) is None and snapshot_ids([" , "]) is None
    assert snapshot_ids(["a,b", "c"]) == ["a", "b", "c"]

"""t4o.workloads.file_search alone: the choice of the snapshots to search, the checks of a request,
the shape of the results, and how a worker runs a search (the database and the snapshot search
replaced by recorders)."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from t4o.common import errors
from t4o.filerecovery import Entry, SearchResult, Volume
from t4o.workloads import file_search
from t4o.workloads.file_search import Criteria

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


def snaps(*statuses: str) -> list[Any]:
    """Snapshots s0 (newest) .. sN, one day apart going back from T0."""
    return [
        SimpleNamespace(id=f"s{i}", status=status, created_at=T0 - dt.timedelta(days=i))
        for i, status in enumerate(statuses)
    ]


def chosen(held: list[Any], maximum: int = 100, **criteria: Any) -> list[str]:
    return [s.id for s in file_search.select_candidates(held, Criteria("vm", "/x", **criteria), maximum)]


def test_candidates_are_the_available_snapshots_newest_first() -> None:
    held = snaps("available", "error", "available", "executing", "available")
    assert chosen(held) == ["s0", "s2", "s4"]
    assert chosen(held, snapshot_ids=["s4", "s0"]) == ["s0", "s4"]  # the order stays newest first
    assert chosen(held, start=1) == ["s2", "s4"]
    assert chosen(held, start=1, end=2) == ["s2"]
    assert chosen(held, end=2) == ["s0", "s2"]
    assert chosen(held, end=0) == ["s0", "s2", "s4"]


def test_candidates_by_date() -> None:
    held = snaps("available", "available", "available", "available")  # 03-01, 02-28, 02-27, 02-26 at noon
    assert chosen(held, date_from="2026-02-28") == ["s0", "s1"]
    # a bare date_to ends with its day
    assert chosen(held, date_to="2026-02-27") == ["s2", "s3"]
    assert chosen(held, date_from="2026-02-27", date_to="2026-02-28") == ["s1", "s2"]
    assert chosen(held, date_from="2026-02-28T12:00:00Z", date_to="2026-02-28T12:00:00") == ["s1"]
    # offsets are converted to UTC: 13:30+01:00 is 12:30 UTC, after s1's noon
    assert chosen(held, date_from="2026-02-28T13:30:00+01:00") == ["s0"]
    assert chosen(held, date_from="2026-02-27", start=1) == ["s1", "s2"]


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"snapshot_ids": ["s1"]}, "Snapshot s1 is error: only available snapshots can be searched."),
        ({"start": 3}, "No available snapshot of VM vm matches"),
        ({"snapshot_ids": ["nope"]}, "No available snapshot of VM vm matches"),
        ({"date_from": "2030-01-01"}, "No available snapshot"),
        ({"start": 2, "end": 2}, "end (2) must be more than start (2)"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "is after date_to"),
        ({"date_to": "last week"}, "date_to is not an ISO 8601 date or date-time: 'last week'."),
        ({"date_from": "0001-01-01T00:00:00+01:00"}, "date_from is not an ISO 8601 date or date-time"),
        ({"date_from": "2026-02-30"}, "date_from is not an ISO 8601 date or date-time"),
    ],
)
def test_candidates_refused(criteria: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.BadRequest) as err:
        chosen(snaps("available", "error", "available"), **criteria)
    assert message in str(err.value)


def test_more_candidates_than_allowed() -> None:
    held = snaps(*["available"] * 5)
    with pytest.raises(errors.BadRequest, match="5 snapshots match; a search covers at most 4"):
        chosen(held, maximum=4)
    assert chosen(held, maximum=4, end=4) == ["s0", "s1", "s2", "s3"]


def test_criteria_of_a_body() -> None:
    body = {"vm_id": "v", "filepath": "/etc", "snapshot_ids": "a, b,,", "start": None, "date_from": ""}
    assert file_search.criteria_of(body) == Criteria("v", "/etc", ["a", "b"], 0, 0, None, None)
    assert file_search.criteria_of({"vm_id": "v", "filepath": "x", "snapshot_ids": []}).snapshot_ids is None
    assert file_search.criteria_of(
        {"vm_id": "v", "filepath": "x", "snapshot_ids": ["c"], "end": 3}
    ) == Criteria("v", "x", ["c"], 0, 3)


def test_patterns() -> None:
    assert file_search.check_filepath("/etc/hosts") == "path"
    assert file_search.check_filepath("*.conf") == "glob"
    assert file_search.check_filepath(r"^/home/.*\.txt$") == "regex"
    for bad, words in (
        ("  ", "must name"),
        ("^(x", "not a valid regular expression"),
        ("(" * 2000 + ")" * 2000, "not a valid regular expression"),
        ("^a{99999999999}$", "not a valid regular expression"),
        ("/a\0b", "Invalid filepath"),
    ):
        with pytest.raises(errors.BadRequest, match=words):
            file_search.check_filepath(bad)
    # a relative path or glob naming directories is searched from the root; names and regexes as given
    assert file_search.search_pattern("etc/hosts") == "/etc/hosts"
    assert file_search.search_pattern("etc/*.conf") == "/etc/*.conf"
    assert file_search.search_pattern("hosts") == "hosts"
    assert file_search.search_pattern("*.log") == "*.log"
    assert file_search.search_pattern("logs/") == "logs/"
    assert file_search.search_pattern("var/log/.*") == "var/log/.*"


ENTRY = Entry("/etc/hosts", "hosts", "file", 20, 0o100644, 1_700_000_000, 12)


def test_result_shapes() -> None:
    whole = Volume(0, 0, 1 << 20, "ext4", "none")
    part = Volume(2, 1 << 20, 1 << 20, "xfs", "gpt")
    lv = Volume(101, 3 << 20, 1 << 20, "ext4", "lvm", "linear", "vg0/root")
    assert [file_search.partition_of(v) for v in (whole, part, lv)] == [None, 2, "vg0/root"]
    assert file_search.disk_result("vda", part, SearchResult([ENTRY], True)) == {
        "disk": "vda",
        "partition": 2,
        "filesystem": "xfs",
        "truncated": True,
        "entries": [
            {"name": "hosts", "path": "/etc/hosts", "type": "file", "size": 20, "mode": "0644",
             "mtime": 1_700_000_000, "uid": 0, "gid": 0, "link_target": None}
        ],
    }  # fmt: skip
    ok = file_search.snapshot_entry("s1", "daily", dt.datetime(2026, 1, 2, 3, 4, 5), [{"disk": "vda"}])
    assert ok == {
        "snapshot_id": "s1",
        "snapshot_name": "daily",
        "snapshot_created_at": "2026-01-02T03:04:05.000000Z",
        "status": "completed",
        "error_msg": None,
        "disks": [{"disk": "vda"}],
    }
    bad = file_search.snapshot_entry("s2", problems=["disk vda: gone", "disk vdb: gone too"])
    assert (bad["status"], bad["error_msg"], bad["disks"]) == (
        "error",
        "disk vda: gone; disk vdb: gone too",
        [],
    )
    assert file_search.match_count([ok, {"disks": [{"entries": [1, 2]}, {"entries": []}]}]) == 2


class Recorder:
    """The search rows of t4o.db.search_api, in memory."""

    def __init__(self, candidates: list[str], accept_progress: int = 1000) -> None:
        self.row = SimpleNamespace(
            id="search-1",
            project_id="p",
            vm_id="vm",
            filepath="etc/hosts",
            criteria={"candidates": candidates},
            created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
        self.progress: list[tuple[int, list[str]]] = []
        self.finished: tuple[str, str | None, list[dict[str, Any]]] | None = None
        self.accept_progress = accept_progress
        self.lock = threading.Lock()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        api = file_search.search_api
        monkeypatch.setattr(api, "search_claim", lambda search_id, host: True)
        monkeypatch.setattr(api, "search_get", lambda search_id, project_id: self.row)
        monkeypatch.setattr(api, "search_progress", self._progress)
        monkeypatch.setattr(api, "search_finish", self._finish)

    def _progress(self, search_id: str, percent: int, json_resp: list[dict[str, Any]]) -> bool:
        with self.lock:
            self.progress.append((percent, [r["snapshot_id"] for r in json_resp]))
            return len(self.progress) <= self.accept_progress

    def _finish(
        self, search_id: str, status: str, error_msg: str | None = None, json_resp: Any = None
    ) -> bool:
        self.finished = (status, error_msg, json_resp)
        return True


def conf(timeout: int = 3600) -> Any:
    return SimpleNamespace(file_recovery=SimpleNamespace(search_timeout=timeout))


def test_run_records_each_snapshot_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(["s0", "s1", "s2"])
    rec.install(monkeypatch)
    release = {sid: threading.Event() for sid in ("s0", "s1", "s2")}
    patterns: list[str] = []

    def searched(
        browser: Any, project_id: str, vm_id: str, snapshot_id: str, pattern: str, trusts: dict[str, str]
    ) -> dict[str, Any]:
        assert trusts == {}  # no encrypted workload among them
        patterns.append(pattern)
        assert release[snapshot_id].wait(5)
        if snapshot_id == "s1":
            raise RuntimeError("the disk went away")
        return file_search.snapshot_entry(
            snapshot_id, disks=[{"disk": "vda", "entries": [{"path": "/etc/hosts"}]}]
        )

    monkeypatch.setattr(file_search, "search_snapshot", searched)
    # the newest finishes last: results still list the snapshots newest first
    release["s2"].set()
    worker = threading.Thread(target=file_search.run, args=("search-1", "h1", None, conf(), 3))
    worker.start()
    while not rec.progress:
        threading.Event().wait(0.01)
    release["s1"].set()
    release["s0"].set()
    worker.join(5)
    assert patterns == ["/etc/hosts"] * 3  # the relative path searched from the root
    assert rec.progress[0] == (33, ["s2"])
    assert rec.progress[-1] == (100, ["s0", "s1", "s2"])
    assert [p for p, _ in rec.progress] == sorted(p for p, _ in rec.progress)
    assert rec.finished is not None
    status, message, results = rec.finished
    assert (status, message) == ("completed", None)  # one snapshot's failure fails only its entry
    assert [(r["snapshot_id"], r["status"]) for r in results] == [
        ("s0", "completed"),
        ("s1", "error"),
        ("s2", "completed"),
    ]
    assert results[1]["error_msg"] == "The search of this snapshot failed: the disk went away"


def test_run_every_snapshot_failing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(["s0", "s1"])
    rec.install(monkeypatch)
    monkeypatch.setattr(
        file_search,
        "search_snapshot",
        lambda *a: file_search.snapshot_entry(a[3], problems=["disk vda cannot be read"]),
    )
    file_search.run("search-1", "h1", None, conf(), 1)  # type: ignore[arg-type]
    assert rec.finished is not None
    assert rec.finished[:2] == ("error", "No snapshot could be searched: disk vda cannot be read")
    assert len(rec.finished[2]) == 2


def test_run_stops_when_the_search_was_resolved_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(["s0", "s1", "s2", "s3"], accept_progress=1)
    rec.install(monkeypatch)
    monkeypatch.setattr(file_search, "search_snapshot", lambda *a: file_search.snapshot_entry(a[3]))
    file_search.run("search-1", "h1", None, conf(), 1)  # type: ignore[arg-type]
    assert len(rec.progress) == 2 and rec.finished is None  # not overwritten


def test_run_out_of_time(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(["s0", "s1"])
    rec.row.created_at -= dt.timedelta(seconds=120)  # older than its 60 s
    rec.install(monkeypatch)
    monkeypatch.setattr(file_search, "search_snapshot", lambda *a: pytest.fail("searched after its time"))
    file_search.run("search-1", "h1", None, conf(timeout=60), 1)  # type: ignore[arg-type]
    assert rec.finished is not None
    status, message, results = rec.finished
    assert status == "error" and "ran out of time ([file_recovery] search_timeout 60 s): 0 of 2" in str(
        message
    )
    assert [r["error_msg"] for r in results] == [file_search.NOT_SEARCHED] * 2


def test_run_of_a_search_taken_elsewhere_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_search.search_api, "search_claim", lambda search_id, host: False)
    monkeypatch.setattr(
        file_search.search_api, "search_get", lambda *a: pytest.fail("read a search not taken")
    )
    file_search.run("search-1", "h1", None, conf())  # type: ignore[arg-type]


def test_an_encrypted_workloads_snapshot_is_searched_through_its_trust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker unlocks an encrypted workload's key through the trust the API recorded for it; without
    one the snapshot says so instead of failing on a locked key."""
    vm = SimpleNamespace(vm_id="vm", disks=[{"ref": "s0/vda", "target": "vda"}])
    snap = SimpleNamespace(
        id="s0", name="daily", created_at=T0, status="available", vms=[vm], workload_id="w1"
    )
    workload = SimpleNamespace(id="w1", user_id="u1", encryption=True, backup_target_id=None)
    monkeypatch.setattr(file_search.db, "snapshot_get", lambda sid, project: snap)
    monkeypatch.setattr(file_search.db, "workload_get", lambda wid, project: workload)
    leased: list[tuple[str, Any, Any]] = []

    class Browser:
        def lease(self, ref: str, target_id: Any, unlock: Any) -> Any:
            leased.append((ref, target_id, unlock))
            raise file_search.FileRecoveryError("stop here")

    entry = file_search.search_snapshot(Browser(), "p1", "vm", "s0", "hosts", {"w1": "trust-1"})  # type: ignore[arg-type]
    ((ref, target_id, unlock),) = leased
    assert (ref, target_id) == ("s0/vda", None)
    assert unlock.keywords["workload"] is workload and unlock.keywords["ctx"].trust_id == "trust-1"
    assert unlock.keywords["ctx"].project_id == "p1" and unlock.keywords["ctx"].user_id == "u1"
    assert "stop here" in entry["error_msg"]

    leased.clear()
    entry = file_search.search_snapshot(Browser(), "p1", "vm", "s0", "hosts", {})  # type: ignore[arg-type]
    assert leased == [] and "encrypted workload that was not unlocked" in entry["error_msg"]

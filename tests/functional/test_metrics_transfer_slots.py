"""The transfer slots' queue on GET /metrics: waiting VM transfers by what they wait for (a full per-host,
per-target or total limit, or only the next grant pass), running ones, and the longest wait, read from
slot rows the real grant passes wrote, parsed by prometheus_client's own parser."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from t4o.api import prometheus
from t4o.db import transfer_slots_api as api
from t4o.db.models import utcnow
from t4o.workloads.flows import config as flows_config
from t4o.workloads.flows.transfer_slots import configured_limits

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(conf: Any) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(generate_latest(prometheus.registry(conf)).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def waiting(m: Samples) -> dict[tuple[str, str], float]:
    """(kind, limited_by) -> count, every one of the eight combinations present."""
    got = {(dict(k)["kind"], dict(k)["limited_by"]): v for k, v in m["t4o_transfer_slots_waiting"].items()}
    assert set(got) == {(k, why) for k in ("snapshot", "restore") for why in api.LIMITED_BY}
    return {k: v for k, v in got.items() if v}


def running(m: Samples) -> dict[str, float]:
    return {dict(k)["kind"]: v for k, v in m["t4o_transfer_slots_running"].items()}


def test_queue_depth_by_what_limits_it(t4o_conf: Any) -> None:
    flows_config.ensure_registered(t4o_conf)
    for name, value in (("per_host", 1), ("per_target", 2), ("total", 3)):
        t4o_conf.set_override(f"max_transfers_{name}", value, group="workflows")
    limits = configured_limits(t4o_conf)
    t0 = utcnow() - dt.timedelta(seconds=60)

    def ask(slot: str, kind: str, project: str, host: str, target: str) -> None:
        api.request(
            slot, job_kind=kind, job_id=f"job-{slot}", project_id=project, host=host, target=target,
            worker="w1", now=t0, lease=3600,
        )  # fmt: skip
        api.grant_pass(limits, t0)

    # three running: host A and B on target T1 (full), host C on T2; the total (3) is full
    ask("r1", "snapshot", "p1", "A", "T1")
    ask("r2", "snapshot", "p1", "B", "T1")
    ask("r3", "restore", "p2", "C", "T2")
    ask("w1", "snapshot", "p2", "A", "T2")  # host A is full
    ask("w2", "restore", "p3", "D", "T1")  # its host is free, target T1 is full
    ask("w3", "snapshot", "p3", "E", "T2")  # host and target are free, the total is full
    assert {r.id for r in api.listing() if r.state == api.RUNNING} == {"r1", "r2", "r3"}

    m = scrape(t4o_conf)
    assert waiting(m) == {("snapshot", "host"): 1, ("restore", "target"): 1, ("snapshot", "total"): 1}
    assert running(m) == {"snapshot": 2, "restore": 1}
    oldest = {dict(k)["kind"]: v for k, v in m["t4o_transfer_slot_wait_oldest_seconds"].items()}
    assert 60 <= oldest["snapshot"] < 120 and 60 <= oldest["restore"] < 120

    # r3's worker died: its lease ran out. The scrape does not count it, and w3 now fits every limit:
    # the next grant pass serves it.
    assert api.renew("r3", t0 - dt.timedelta(hours=1), 30)
    m = scrape(t4o_conf)
    assert waiting(m) == {("snapshot", "host"): 1, ("restore", "target"): 1, ("snapshot", "none"): 1}
    assert running(m) == {"snapshot": 2, "restore": 0}
    assert api.grant_pass(limits, utcnow()) == ["w3"]

    # nothing waits: zeros, not missing samples
    for slot in ("r1", "r2", "w1", "w2", "w3"):
        api.release(slot, limits, utcnow())
    m = scrape(t4o_conf)
    assert waiting(m) == {} and running(m) == {"snapshot": 0, "restore": 0}
    oldest = {dict(k)["kind"]: v for k, v in m["t4o_transfer_slot_wait_oldest_seconds"].items()}
    assert oldest == {"snapshot": 0, "restore": 0}

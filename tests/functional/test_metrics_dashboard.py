"""The metrics /metrics serves, the operator guide's table of them and the Grafana dashboard agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from t4o.api import prometheus
from t4o.db import api as db

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "etc" / "grafana" / "t4o.json"
GUIDE = ROOT / "docs" / "operations.md"


def scraped(conf: Any) -> dict[str, Any]:
    db.service_heartbeat("node-1", "workloadmgr-workloads", "workloadmgr-workloads")  # a labelled sample
    page = generate_latest(prometheus.registry(conf)).decode()
    return {f.name: f for f in text_string_to_metric_families(page)}


def guide_table() -> dict[str, tuple[str, str]]:
    """metric -> (type, labels cell) from the table of docs/operations.md's "Metrics" section."""
    section = GUIDE.read_text().split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(t4o_[a-z_]+)` \| (\w+) \|([^|]*)\|", section, re.M)
    return {name: (kind, labels) for name, kind, labels in rows}


def test_every_metric_has_help_and_is_in_the_guide_with_its_labels(t4o_conf: Any) -> None:
    families, table = scraped(t4o_conf), guide_table()
    assert set(families) == set(table), set(families) ^ set(table)
    for name, family in families.items():
        assert family.documentation.strip(), name
        kind, labels_cell = table[name]
        assert family.type == kind, (name, family.type, kind)
        documented = set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", labels_cell)))
        for sample in family.samples:
            assert set(sample.labels) - {"le"} <= documented, (name, sample.labels, labels_cell)


def test_the_dashboard_uses_only_served_metrics(t4o_conf: Any) -> None:
    families = scraped(t4o_conf)
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            used |= {
                re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"t4o_[a-z_]+", target["expr"])
            }
    assert used and used <= set(families), used - set(families)
    # What the issue asks the dashboard to show: jobs, failures, queue, durations, last-snapshot age vs RPO.
    for needed in (
        "t4o_jobs",
        "t4o_jobs_queued",
        "t4o_job_duration_seconds",
        "t4o_workload_last_snapshot_age_seconds",
        "t4o_workload_rpo_seconds",
        "t4o_workload_rpo_breached",
    ):
        assert needed in used, needed

"""Trilio's admin paths, the audit log, trusts and secret settings through a real ``t4o all-in-one``
(stub cloud and workflows): /workloads/metrics/*, /workloads/service/update, the test email to an aiosmtpd
server that checks the SMTP password, the audit entries of calls and jobs, and a password that neither
``GET /settings`` nor a dump of the database shows."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from t4o.api import spec
from tests.fixtures.control_plane import ControlPlane, admin, member
from tests.fixtures.smtp import Inbox, smtp_server

PASSWORD = "s3cret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("trilio-admin"), {"DEFAULT": {"settings_key": "k" * 20}})
    try:
        plane.start_all_in_one()
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """The SMTP server asking for T4O's login."""
    with smtp_server(password=PASSWORD) as server:
        yield server


def project() -> str:
    return "p" + uuid.uuid4().hex[:10]


def valid(resp: Any, operation_id: str) -> Any:
    op = next(o for o in spec.OPERATIONS if o.operation_id == operation_id)
    assert resp.status_code == op.status, resp.text
    jsonschema.validate(resp.json(), op.response or {})
    return resp.json()


def smtp_settings(port: int, password: str = PASSWORD) -> list[dict[str, str]]:
    values = {
        "smtp_server_name": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_default_sender": "t4o@example.org",
        "smtp_default_recipient": "ops@example.org",
        "smtp_server_username": "mailer",
        "smtp_server_password": password,
    }
    return [{"name": k, "value": v} for k, v in values.items()]


def test_metrics_paths_answer_admins_only(cp: ControlPlane) -> None:
    proj = project()
    vms = cp.add_servers(proj, 2)
    body = {"workload": {"name": "m", "instances": [{"instance-id": v} for v in vms]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=body).json()["workload"]["id"]
    snap = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "s"}})
    assert cp.wait_job("snapshot", snap.json()["snapshot"]["id"], proj, member(proj))["status"] == "available"

    for part in ("nodes", "storage_usage", "tenants_usage", "vms_protected", "recentactivities"):
        resp = cp.request("GET", f"/workloads/metrics/{part}", proj, member(proj))
        assert resp.status_code == 403, (part, resp.text)
    usage = valid(
        cp.request("GET", "/workloads/metrics/storage_usage", proj, admin(proj)), "getMetricsStorageUsage"
    )
    (mine,) = [r for r in usage["storage_usage"] if r["project_id"] == proj]
    assert mine["snapshots"] == 1
    tenants = valid(
        cp.request("GET", "/workloads/metrics/tenants_usage", proj, admin(proj)), "getMetricsTenantsUsage"
    )
    assert tenants["tenants_usage"][proj]["snapshots"] == 1
    assert tenants["global_usage"]["snapshots"] >= 1 and tenants["global_usage"]["projects"] >= 1
    protected = valid(
        cp.request("GET", "/workloads/metrics/vms_protected", proj, admin(proj)), "getMetricsVmsProtected"
    )
    assert protected["protected_vms"] >= 2
    recent = valid(
        cp.request("GET", "/workloads/metrics/recentactivities?limit=5", proj, admin(proj)),
        "getMetricsRecentActivities",
    )
    assert snap.json()["snapshot"]["id"] in [j["id"] for j in recent["recentactivities"]]
    assert (
        cp.request("GET", "/workloads/metrics/recentactivities?limit=0", proj, admin(proj)).status_code == 400
    )
    nodes = valid(cp.request("GET", "/workloads/metrics/nodes", proj, admin(proj)), "getMetricsNodes")
    assert "workloadmgr-workloads" in [n["binary"] for n in nodes["nodes"]]
    # /workloads/metrics is the whole set (as /t4o_metrics), not a workload named "metrics".
    whole = valid(cp.request("GET", "/workloads/metrics", proj, admin(proj)), "getWorkloadsMetrics")
    assert whole["metrics"]["protected_vms"] == protected["protected_vms"]
    # A static path of Trilio is never mistaken for a workload id.
    assert cp.request("GET", "/workloads/audit", proj, member(proj)).status_code == 404


def test_service_update_disables_and_enables_a_node(cp: ControlPlane) -> None:
    proj = project()
    nodes = cp.request("GET", "/workloads/metrics/nodes", proj, admin(proj)).json()["nodes"]
    (host,) = [n["host"] for n in nodes if n["binary"] == "workloadmgr-workloads"]

    def update(status: str, token: str, target: str = host) -> Any:
        body = {"service": {"host": target, "status": status, "reason": "maintenance"}}
        return cp.request("POST", "/workloads/service/update", proj, token, json=body)

    assert update("disable", member(proj)).status_code == 403
    assert update("off", admin(proj)).status_code == 400
    assert update("disable", admin(proj), "no-such-host").status_code == 404
    node = valid(update("disable", admin(proj)), "updateService")["service"]
    assert (node["host"], node["disabled"]) == (host, True)
    listed = cp.request("GET", "/t4o_nodes", proj, admin(proj)).json()["nodes"]
    assert [
        n["disabled"] for n in listed if n["host"] == host and n["binary"] == "workloadmgr-workloads"
    ] == [True]
    assert valid(update("enable", admin(proj)), "updateService")["service"]["disabled"] is False


def test_smtp_password_is_sealed_masked_and_used(cp: ControlPlane, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    proj = project()
    # Incomplete settings: a 400 that says what is missing.
    resp = cp.request("GET", "/workloads/email/test_email", proj, member(proj))
    assert resp.status_code == 400 and "smtp_server_name" in resp.text

    resp = cp.request("PUT", "/settings", proj, member(proj), json={"settings": smtp_settings(port)})
    assert resp.status_code == 200, resp.text
    shown = {s["name"]: s["value"] for s in resp.json()["settings"]}
    assert shown["smtp_server_password"] == "****" and shown["smtp_server_username"] == "mailer"
    listed = {
        s["name"]: s["value"] for s in cp.request("GET", "/settings", proj, member(proj)).json()["settings"]
    }
    assert listed["smtp_server_password"] == "****"
    one = cp.request("GET", "/settings/smtp_server_password", proj, member(proj)).json()["setting"]
    assert one["value"] == "****"
    # A dump of the database does not hold the password.
    with sqlite3.connect(cp.workdir / "t4o.sqlite") as conn:
        dump = "\n".join(conn.iterdump())
        (stored,) = conn.execute(
            "SELECT value FROM settings WHERE project_id = ? AND name = 'smtp_server_password'", (proj,)
        ).fetchone()
    assert PASSWORD not in dump and stored.startswith("fernet:")

    # The test email logs in with the real password.
    sent = valid(cp.request("GET", "/workloads/email/test_email", proj, member(proj)), "sendTestEmail")
    assert sent["email"] == {"sent": True, "recipients": ["ops@example.org"], "server": f"127.0.0.1:{port}"}
    assert inbox.logins == [("mailer", PASSWORD)]
    mail = inbox.mails.get(timeout=10)
    assert mail.rcpt_tos == ["ops@example.org"] and b"T4O test email" in mail.content

    # The mask sent back keeps the stored password; a new one replaces it.
    keep = [{"name": "smtp_server_password", "value": "****"}]
    assert cp.request("PUT", "/settings", proj, member(proj), json={"settings": keep}).status_code == 200
    assert cp.request("GET", "/workloads/email/test_email", proj, member(proj)).status_code == 200
    assert inbox.logins[-1] == ("mailer", PASSWORD)
    wrong = [{"name": "smtp_server_password", "value": "wrong"}]
    assert cp.request("PUT", "/settings", proj, member(proj), json={"settings": wrong}).status_code == 200
    resp = cp.request("GET", "/workloads/email/test_email", proj, member(proj))
    assert resp.status_code == 409 and f"127.0.0.1:{port}" in resp.text
    assert inbox.logins[-1] == ("mailer", "wrong")
    # A mask for a setting never stored is refused.
    new = [{"name": "other_password", "value": "****"}]
    assert cp.request("POST", "/settings", proj, member(proj), json={"settings": new}).status_code == 400


def test_audit_log_records_calls_and_jobs(cp: ControlPlane) -> None:
    proj = project()
    vm = cp.add_servers(proj, 1)[0]
    body = {"workload": {"name": "a", "instances": [{"instance-id": vm}]}}
    wid = cp.request("POST", "/workloads", proj, member(proj, "carol"), json=body).json()["workload"]["id"]
    snap = cp.request(
        "POST", f"/workloads/{wid}", proj, member(proj, "carol"), json={"snapshot": {"name": "s"}}
    )
    sid = snap.json()["snapshot"]["id"]
    cp.wait_job("snapshot", sid, proj, member(proj))
    missing = cp.request("DELETE", "/settings/nothing-here", proj, member(proj, "carol"))
    assert missing.status_code == 404
    cp.request("GET", "/workloads", proj, member(proj))  # a read: not audited

    assert cp.request("GET", "/workloads/audit/auditlog", proj, member(proj)).status_code == 403
    bad = cp.request("GET", "/workloads/audit/auditlog?time_in_minutes=0", proj, admin(proj))
    assert bad.status_code == 400
    log = valid(
        cp.request("GET", "/workloads/audit/auditlog?time_in_minutes=10", proj, admin(proj)), "getAuditLog"
    )
    mine = [e for e in log["auditlog"] if e["project_id"] == proj]
    got = [
        (e["kind"], e["action"], e["object_id"], e["result"], e["status_code"], e["user_id"]) for e in mine
    ]
    # newest first: the refused delete, the job's end and start, the snapshot call, the workload call
    assert got == [
        ("api", "DELETE deleteSetting", "nothing-here", "failure", 404, "carol"),
        ("job", "snapshot.end", sid, "available", None, "carol"),
        ("job", "snapshot.start", sid, "executing", None, "carol"),
        ("api", "POST snapshotWorkload", wid, "success", 202, "carol"),
        ("api", "POST createWorkload", wid, "success", 202, "carol"),
    ]
    assert "nothing-here" in (mine[0]["message"] or "")
    assert mine[-1]["path"] == f"/v1/{proj}/workloads" and mine[-1]["object_type"] == "workload"
    assert all(e["request_id"] and e["request_id"].startswith("req-") for e in mine if e["kind"] == "api")
    # the admin sees every project's entries
    assert {e["project_id"] for e in log["auditlog"]} > {proj}


def test_trusts_without_keystone(cp: ControlPlane) -> None:
    proj = project()
    assert valid(cp.request("GET", "/trusts", proj, member(proj)), "listTrusts") == {"trust": []}
    resp = cp.request("GET", "/trusts/trust-nobody", proj, member(proj))
    assert resp.status_code == 404 and "trust-nobody" in resp.text
    # A setting that is not a trust is not shown as one.
    plain = {"settings": [{"name": "plain", "value": "x"}]}
    assert cp.request("POST", "/settings", proj, member(proj), json=plain).status_code == 200
    assert cp.request("GET", "/trusts/plain", proj, member(proj)).status_code == 404
    assert cp.request("DELETE", "/trusts/plain", proj, member(proj)).status_code == 404
    bad = {"trusts": {"role_name": "member", "is_cloud_trust": "yes"}}
    assert cp.request("POST", "/trusts", proj, member(proj), json=bad).status_code == 400
    cloud = {"trusts": {"role_name": "admin", "is_cloud_trust": True}}
    resp = cp.request("POST", "/trusts", proj, member(proj), json=cloud)
    assert resp.status_code == 403 and "administrator" in resp.text
    # No Keystone here: the call says which configuration is missing.
    resp = cp.request("POST", "/trusts", proj, member(proj), json={"trusts": {"role_name": "member"}})
    assert resp.status_code == 403 and "[trustee]" in resp.text

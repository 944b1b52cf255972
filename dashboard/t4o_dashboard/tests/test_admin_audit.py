"""The Backups-Admin Audit Log panel: entries with users and projects by name, and the time window."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

AUDIT = reverse("horizon:admin:backup_audit:index")


def entry(eid: str, **extra: Any) -> workloadmgr.AuditEntry:
    values = {
        "id": eid,
        "timestamp": "2026-11-26T09:53:52.123456Z",
        "kind": "api",
        "action": "POST createWorkload",
        "method": "POST",
        "path": "/v1/p/workloads",
        "object_type": "workload",
        "object_id": "wl-1",
        "status_code": 202,
        "result": "success",
        "message": None,
        "user_id": "u1",
        "project_id": data.PROJECT,
        "request_id": "req-1",
    }
    return workloadmgr.AuditEntry({**values, **extra})


class AuditTests(base.AdminTestCase):
    def _mock_names(self) -> None:
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        user = self.users.first()
        self.mock_user_list.return_value = [user]
        self.user_name, self.user_id = user.name, user.id

    @helpers.create_mocks({workloadmgr: ("auditlog_list",), os_api.keystone: ("tenant_list", "user_list")})
    def test_entries_with_names(self) -> None:
        self._mock_names()
        project = self.tenants.first()
        self.mock_auditlog_list.return_value = [
            entry("a1", user_id=self.user_id, project_id=project.id),
            entry(
                "a2",
                action="DELETE deleteSnapshot",
                status_code=403,
                result="failure",
                message="Not allowed by policy",
                object_type="snapshot",
                object_id="sn-9",
                user_id="gone-user",
                project_id="gone-project",
            ),
            entry("a3", kind="job", action="snapshot.end", result="error", status_code=None, message="boom"),
        ]
        res = self.client.get(AUDIT)
        self.assertTemplateUsed(res, "t4o_dashboard/admin_audit.html")
        self.mock_auditlog_list.assert_called_once_with(helpers.IsHttpRequest(), 24 * 60)  # the default
        rows = {r.datum.id: r for r in res.context["table"].get_rows()}
        cells = {eid: [str(c.data) for c in row.cells.values()] for eid, row in rows.items()}
        self.assertEqual(
            ["2026-11-26 09:53:52", self.user_name, project.name, "Create workload", "workload wl-1",
             "Success (202)"],
            cells["a1"][:6],
        )  # fmt: skip
        self.assertEqual(["gone-user", "gone-project", "Delete snapshot", "snapshot sn-9", "Failure (403)"],
                         cells["a2"][1:6])  # fmt: skip
        self.assertEqual(
            ["Snapshot ended", "Error", "boom"], [cells["a3"][3], cells["a3"][5], cells["a3"][6]]
        )
        self.assertContains(res, 'value="24h" selected')

    @helpers.create_mocks({workloadmgr: ("auditlog_list",), os_api.keystone: ("tenant_list", "user_list")})
    def test_windows(self) -> None:
        self._mock_names()
        self.mock_auditlog_list.return_value = [entry("a1")]
        for window, minutes in (("1h", 60), ("7d", 7 * 24 * 60), ("nonsense", 24 * 60)):
            res = self.client.get(AUDIT, {"window": window})
            self.assertEqual(200, res.status_code)
            self.mock_auditlog_list.assert_called_with(helpers.IsHttpRequest(), minutes)
        res = self.client.get(AUDIT, {"window": "7d"})
        self.assertContains(res, 'value="7d" selected')
        for label in ("Last hour", "Last 24 hours", "Last 7 days"):
            self.assertContains(res, label)

    @helpers.create_mocks({workloadmgr: ("auditlog_list",)})
    def test_error_is_a_message(self) -> None:
        self.mock_auditlog_list.side_effect = data.api_error("Not allowed by policy", 403)
        res = self.client.get(AUDIT)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)


class MemberSeesNoAuditLog(base.TestCase):
    def test_member_is_refused(self) -> None:
        self.assertEqual(403, self.client.get(AUDIT).status_code)


class AuditApiTests(base.TestCase):
    def test_call(self) -> None:
        from unittest import mock

        with mock.patch.object(workloadmgr, "call") as call:
            call.return_value = {"auditlog": [entry("a1").to_dict()]}
            self.assertEqual(["a1"], [e.id for e in workloadmgr.auditlog_list(self.request, 60)])
            call.assert_called_once_with(
                self.request, "GET", "/workloads/audit/auditlog", params={"time_in_minutes": 60}
            )

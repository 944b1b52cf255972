"""The RPO state of workloads (from the API's workload view) in the project's and the admin's tables and on
a workload's page."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content.workloads import tables as workload_tables
from t4o_dashboard.tests import base, data

INDEX = reverse("horizon:project:workloads:index")
ADMIN = reverse("horizon:admin:backup_workloads:index")
DETAIL = reverse("horizon:project:workloads:detail", args=["wl-1"])
MISSED = "RPO missed since 2026-11-27 09:00:00"


def breached(wid: str = "wl-1", **extra: Any) -> workloadmgr.Workload:
    """A workload whose newest available snapshot (30 h 5 min old) is beyond its RPO of 26 h."""
    fields: dict[str, Any] = {
        "rpo_hours": 26,
        "rpo_breached": True,
        "last_snapshot_at": "2026-11-26T07:00:00.000000Z",
        "last_snapshot_age_seconds": 30 * 3600 + 300.5,
        "rpo_missed_since": "2026-11-27T09:00:00.000000Z",
    }
    return data.workload(wid, **{**fields, **extra})


def within(wid: str = "wl-2") -> workloadmgr.Workload:
    return data.workload(
        wid,
        rpo_hours=1.5,
        rpo_breached=False,
        last_snapshot_at="2026-11-26T07:00:00.000000Z",
        last_snapshot_age_seconds=2400,
        rpo_missed_since=None,
    )


def without(wid: str = "wl-3") -> workloadmgr.Workload:
    return data.workload(
        wid,
        rpo_hours=None,
        rpo_breached=False,
        last_snapshot_at=None,
        last_snapshot_age_seconds=None,
        rpo_missed_since=None,
    )


def row(html: str, table: str, wid: str) -> str:
    return html.split(f'id="{table}__row__{wid}"')[1].split("</tr>")[0]


class RpoTextTests(base.TestCase):
    def test_ages_in_words(self) -> None:
        self.assertEqual(
            ["0 min", "59 min", "1 h 0 min", "47 h 59 min", "2 d 0 h", "12 d 3 h"],
            [
                workload_tables.age_text(s)
                for s in (20, 3599, 3600, 48 * 3600 - 1, 48 * 3600, 12 * 86400 + 3 * 3600 + 59)
            ],
        )

    def test_parts_come_from_the_api_fields(self) -> None:
        self.assertEqual(
            {"rpo": "26 h", "age": "30 h 5 min", "missed_since": "2026-11-27 09:00:00"},
            workload_tables.rpo_parts(breached()),
        )
        self.assertEqual(
            {"rpo": "1.5 h", "age": "40 min", "missed_since": None}, workload_tables.rpo_parts(within())
        )
        # A workload view without the fields (an older API): nothing to say.
        self.assertEqual(
            {"rpo": None, "age": None, "missed_since": None}, workload_tables.rpo_parts(data.workload())
        )


class ProjectTableTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("workload_list", "snapshot_list")})
    def test_each_workload_shows_its_rpo_and_a_missed_one_a_warning(self) -> None:
        self.mock_workload_list.return_value = [breached(), within(), without()]
        self.mock_snapshot_list.return_value = []
        res = self.client.get(INDEX)
        html = res.content.decode()
        self.assertIn(">RPO<", html.replace("\n", "").replace(" ", ""))  # the column's header
        late = row(html, "workloads", "wl-1")
        self.assertIn("26 h; newest snapshot 30 h 5 min old", late)
        self.assertIn('class="label label-warning t4o-rpo-missed"', late)
        self.assertIn(MISSED, late)
        fine = row(html, "workloads", "wl-2")
        self.assertIn("1.5 h; newest snapshot 40 min old", fine)
        self.assertNotIn("label-warning", fine)
        self.assertNotIn("RPO missed", fine)
        self.assertIn("No RPO; no snapshot yet", row(html, "workloads", "wl-3"))
        self.assertEqual(1, html.count("RPO missed since"))

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_the_polled_row_shows_the_warning_too(self) -> None:
        self.mock_workload_get.return_value = breached(status="locked")
        self.mock_snapshot_list.return_value = [data.snapshot(status="executing")]
        url = INDEX + "?action=row_update&table=workloads&obj_id=wl-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, MISSED)
        self.assertContains(res, "label-warning")

    @helpers.create_mocks({workloadmgr: ("workload_list", "snapshot_list")})
    def test_text_from_the_api_is_escaped(self) -> None:
        odd = breached(rpo_missed_since="<script>alert(1)</script>")
        self.mock_workload_list.return_value = [odd]
        self.mock_snapshot_list.return_value = []
        res = self.client.get(INDEX)
        self.assertNotContains(res, "<script>alert(1)</script>")
        self.assertContains(res, "&lt;script&gt;")


class AdminTableTests(base.AdminTestCase):
    @helpers.create_mocks(
        {workloadmgr: ("workload_list", "snapshot_list"), os_api.keystone: ("tenant_list",)}
    )
    def test_all_projects_show_the_rpo_state(self) -> None:
        self.mock_workload_list.return_value = [breached(), within()]
        self.mock_snapshot_list.return_value = []
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(ADMIN)
        html = res.content.decode()
        late = row(html, "admin_workloads", "wl-1")
        self.assertIn(MISSED, late)
        self.assertIn("label-warning", late)
        self.assertIn("1.5 h; newest snapshot 40 min old", row(html, "admin_workloads", "wl-2"))
        self.assertNotIn("label-warning", row(html, "admin_workloads", "wl-2"))


class DetailPageTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_a_missed_rpo_is_said_at_the_top_and_in_the_header(self) -> None:
        self.mock_workload_get.return_value = breached()
        self.mock_snapshot_list.return_value = [data.snapshot()]
        res = self.client.get(DETAIL)
        html = res.content.decode()
        alert = html.split('id="workload_rpo_alert"')[1].split("</div>")[0]
        self.assertIn(MISSED, alert)
        self.assertIn("the RPO of 26 h", alert)
        header = row(html, "summary", "wl-1")
        self.assertIn("26 h; newest snapshot 30 h 5 min old", header)
        self.assertIn(MISSED, header)

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_within_the_rpo_there_is_no_warning(self) -> None:
        self.mock_workload_get.return_value = within("wl-1")
        self.mock_snapshot_list.return_value = [data.snapshot()]
        res = self.client.get(DETAIL)
        self.assertNotContains(res, "workload_rpo_alert")
        self.assertNotContains(res, "RPO missed")
        self.assertIn("1.5 h; newest snapshot 40 min old", row(res.content.decode(), "summary", "wl-1"))

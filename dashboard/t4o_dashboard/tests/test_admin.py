"""Views and forms of the Backups-Admin panels."""

from __future__ import annotations

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

WORKLOADS = reverse("horizon:admin:backup_workloads:index")
USAGE = reverse("horizon:admin:backup_usage:index")
SETTINGS = reverse("horizon:admin:backup_settings:index")


class AdminWorkloadsTests(base.AdminTestCase):
    @helpers.create_mocks(
        {workloadmgr: ("workload_list", "snapshot_list"), os_api.keystone: ("tenant_list",)}
    )
    def test_all_projects_with_names(self) -> None:
        project = self.tenants.first()
        self.mock_workload_list.return_value = [data.workload(project_id=project.id), data.workload("wl-2")]
        self.mock_snapshot_list.return_value = [data.snapshot()]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(WORKLOADS)
        self.assertContains(res, project.name)
        self.assertContains(res, "name-wl-2")
        self.mock_workload_list.assert_called_once_with(helpers.IsHttpRequest(), all_projects=True)
        self.mock_snapshot_list.assert_called_once_with(helpers.IsHttpRequest(), all_projects=True)

    @helpers.create_mocks({workloadmgr: ("workload_list",)})
    def test_error_is_a_message(self) -> None:
        self.mock_workload_list.side_effect = data.api_error("Not allowed by policy", 403)
        res = self.client.get(WORKLOADS)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)


class ProjectUserSeesNoAdminPanels(base.TestCase):
    def test_member_is_refused(self) -> None:
        res = self.client.get(WORKLOADS)
        self.assertEqual(403, res.status_code)


GIB = 1024**3


def storage_row(project_id: str, stored: int, full: int, provisioned: int = 0, snapshots: int = 1) -> dict:
    return {
        "project_id": project_id,
        "snapshots": snapshots,
        "bytes": provisioned,
        "stored_bytes": stored,
        "full_stored_bytes": full,
        "incremental_stored_bytes": stored - full,
    }


def target(**extra: object) -> workloadmgr.BackupTarget:
    values = {
        "url": "/mnt/t4o",
        "type": "posix",
        "default": True,
        "mount_point": "/mnt/t4o",
        "total_bytes": 100 * GIB,
        "free_bytes": 60 * GIB,
        "used_bytes": 40 * GIB,
        "stored_bytes": 5 * GIB,
        "reason": None,
    }
    return workloadmgr.BackupTarget({**values, **extra})


class AdminUsageTests(base.AdminTestCase):
    @helpers.create_mocks(
        {
            workloadmgr: ("storage_usage", "workload_list", "snapshot_list"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_target_capacity_and_chart_per_project(self) -> None:
        first, second = self.tenants.list()[:2]
        self.mock_storage_usage.return_value = (
            [
                # Stored bytes as the API counts them (the Storage quota's usage), not the provisioned size.
                storage_row(first.id, 4 * GIB, 3 * GIB, provisioned=99 * GIB, snapshots=2),
                storage_row(second.id, GIB, GIB, provisioned=50 * GIB, snapshots=2),
            ],
            [target()],
        )
        self.mock_workload_list.return_value = [
            data.workload(project_id=first.id),
            data.workload("wl-2", project_id=second.id),
        ]
        self.mock_snapshot_list.return_value = [
            data.snapshot("a", project_id=first.id),
            data.snapshot("b", project_id=first.id, snapshot_type="incremental"),
            data.snapshot("c", project_id=second.id),
            data.snapshot("d", project_id=second.id, status="error"),
        ]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(USAGE)
        self.assertTemplateUsed(res, "t4o_dashboard/admin_usage.html")
        rows = res.context["rows"]
        self.assertEqual([first.name, second.name], [r["project"] for r in rows])
        self.assertEqual((450, 150), (rows[0]["full_px"], rows[0]["incremental_px"]))
        self.assertEqual((150, 0), (rows[1]["full_px"], rows[1]["incremental_px"]))
        self.assertEqual([2, 1], [r["snapshots"] for r in rows])  # the failed snapshot is not counted
        self.assertEqual(("4.0 GiB", "99.0 GiB"), (rows[0]["total"], rows[0]["provisioned"]))
        (tgt,) = res.context["targets"]
        self.assertEqual(
            ("100.0 GiB", "60.0 GiB", "40.0 GiB", 40, "5.0 GiB"),
            (tgt["total"], tgt["free"], tgt["used"], tgt["percent_used"], tgt["stored"]),
        )
        self.assertEqual((30, 210, 360), (tgt["stored_px"], tgt["other_px"], tgt["free_px"]))
        self.assertContains(res, "Other data on the filesystem: 35.0 GiB")
        self.assertContains(res, 'id="target_table"')
        self.assertContains(res, "/mnt/t4o")
        # Sizes are IEC only (a bare "GB" could be part of the page's random CSRF token).
        self.assertNotRegex(res.content.decode(), r"\d GB\b")
        self.assertContains(res, 'id="usage_chart"')

    @helpers.create_mocks(
        {
            workloadmgr: ("storage_usage", "workload_list", "snapshot_list"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_s3_target_says_why_capacity_is_unknown(self) -> None:
        reason = "an S3 bucket has no fixed capacity; see the S3 service's own quota"
        s3 = target(url="s3://backups/t4o", type="s3", mount_point=None, reason=reason,
                    total_bytes=None, free_bytes=None, used_bytes=None, stored_bytes=0)  # fmt: skip
        self.mock_storage_usage.return_value = ([], [s3])
        self.mock_workload_list.return_value = []
        self.mock_snapshot_list.return_value = []
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(USAGE)
        self.assertContains(res, "S3 bucket")
        self.assertContains(res, "s3://backups/t4o")
        self.assertContains(res, "no fixed capacity")
        self.assertNotContains(res, 'class="target_bar"')
        self.assertContains(res, "No workload has snapshots yet.")

    @helpers.create_mocks({workloadmgr: ("storage_usage",), os_api.keystone: ("tenant_list",)})
    def test_error_is_a_message(self) -> None:
        self.mock_storage_usage.side_effect = data.api_error("The backup service does not answer", 503)
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(USAGE)
        self.assertEqual(200, res.status_code)
        self.assertContains(res, "No workload has snapshots yet.")
        self.assertMessageCount(res, error=1)


class UsageAgreesWithQuotas(base.AdminTestCase):
    """The same stored bytes from the API read the same on Storage Usage and on a project's Quotas page."""

    @helpers.create_mocks(
        {
            workloadmgr: ("storage_usage", "workload_list", "snapshot_list", "quota_type_list", "quota_list"),
            os_api.keystone: ("tenant_list", "tenant_get"),
        }
    )
    def test_same_figure(self) -> None:
        project = self.tenants.first()
        stored = 5 * GIB + 300 * 1024**2  # 5.3 GiB
        self.mock_storage_usage.return_value = ([storage_row(project.id, stored, stored)], [target()])
        self.mock_workload_list.return_value = [data.workload(project_id=project.id)]
        self.mock_snapshot_list.return_value = [data.snapshot(project_id=project.id)]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_tenant_get.return_value = project
        storage_type = "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0005"
        self.mock_quota_type_list.return_value = [
            workloadmgr.QuotaType({"id": storage_type, "display_name": "Storage"})
        ]
        self.mock_quota_list.return_value = [
            workloadmgr.Quota({"id": "q", "project_id": project.id, "quota_type_id": storage_type,
                               "allowed_value": 10 * GIB, "high_watermark": 8 * GIB, "usage": stored})
        ]  # fmt: skip
        usage = self.client.get(USAGE)
        (row,) = usage.context["rows"]
        quotas = self.client.get(reverse("horizon:admin:backup_quotas:detail", args=[project.id]))
        self.assertEqual("5.3 GiB", row["total"])
        self.assertContains(quotas, "5.3 GiB (53%)")


class AdminSettingsTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("setting_list", "global_scheduler_enabled")})
    def test_index_shows_scheduler_and_settings(self) -> None:
        self.mock_setting_list.return_value = [workloadmgr.Setting({"name": "smtp_server", "value": "x"})]
        self.mock_global_scheduler_enabled.return_value = False
        res = self.client.get(SETTINGS)
        self.assertContains(res, "smtp_server")
        self.assertContains(res, "label-warning")
        self.assertContains(res, "Global Job Scheduler")

    @helpers.create_mocks({workloadmgr: ("global_scheduler_enabled", "global_scheduler_set")})
    def test_switch_scheduler_off(self) -> None:
        self.mock_global_scheduler_enabled.return_value = True
        self.mock_global_scheduler_set.return_value = False
        url = reverse("horizon:admin:backup_settings:scheduler")
        res = self.client.get(url)
        self.assertEqual("on", res.context["form"].initial["enabled"])
        res = self.client.post(url, {"enabled": "off"})
        self.assertRedirectsNoFollow(res, SETTINGS)
        self.mock_global_scheduler_set.assert_called_once_with(helpers.IsHttpRequest(), False)

    @helpers.create_mocks({workloadmgr: ("global_scheduler_enabled", "global_scheduler_set")})
    def test_switch_refused_shows_message(self) -> None:
        self.mock_global_scheduler_enabled.return_value = True
        self.mock_global_scheduler_set.side_effect = data.api_error("Not allowed by policy", 403)
        res = self.client.post(reverse("horizon:admin:backup_settings:scheduler"), {"enabled": "off"})
        self.assertRedirectsNoFollow(res, SETTINGS)
        self.assertMessageCount(error=1)

    @helpers.create_mocks({workloadmgr: ("setting_set",)})
    def test_create_setting(self) -> None:
        url = reverse("horizon:admin:backup_settings:create")
        res = self.client.post(url, {"name": "smtp_port", "value": "25", "description": "d"})
        self.assertNoFormErrors(res)
        self.mock_setting_set.assert_called_once_with(helpers.IsHttpRequest(), "smtp_port", "25", "d")
        res = self.client.post(url, {"name": "bad name!", "value": "1"})
        self.assertFormErrors(res, 1)

    @helpers.create_mocks({workloadmgr: ("setting_list", "setting_set")})
    def test_update_setting(self) -> None:
        self.mock_setting_list.return_value = [
            workloadmgr.Setting({"name": "a", "value": "1", "description": ""})
        ]
        url = reverse("horizon:admin:backup_settings:update", args=["a"])
        res = self.client.get(url)
        self.assertEqual("1", res.context["form"].initial["value"])
        res = self.client.post(url, {"name": "a", "value": "2"})
        self.assertRedirectsNoFollow(res, SETTINGS)
        self.mock_setting_set.assert_called_once_with(helpers.IsHttpRequest(), "a", "2", "")

    @helpers.create_mocks({workloadmgr: ("setting_list", "global_scheduler_enabled", "setting_delete")})
    def test_delete_setting(self) -> None:
        self.mock_setting_list.return_value = [workloadmgr.Setting({"name": "a", "value": "1"})]
        self.mock_global_scheduler_enabled.return_value = True
        res = self.client.post(SETTINGS, {"action": "settings__delete__a"})
        self.assertRedirectsNoFollow(res, SETTINGS)
        self.mock_setting_delete.assert_called_once_with(helpers.IsHttpRequest(), "a")

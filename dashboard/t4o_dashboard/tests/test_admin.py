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


class AdminUsageTests(base.AdminTestCase):
    @helpers.create_mocks(
        {workloadmgr: ("workload_list", "snapshot_list"), os_api.keystone: ("tenant_list",)}
    )
    def test_chart_per_project(self) -> None:
        first, second = self.tenants.list()[:2]
        self.mock_workload_list.return_value = [
            data.workload(project_id=first.id),
            data.workload("wl-2", project_id=second.id),
        ]
        self.mock_snapshot_list.return_value = [
            # Stored bytes count (uploaded_size), as in the Storage quota; not the provisioned size.
            data.snapshot("a", project_id=first.id, size=99 * 1024**3, uploaded_size=3 * 1024**3),
            data.snapshot("b", project_id=first.id, uploaded_size=1024**3, snapshot_type="incremental"),
            data.snapshot("c", project_id=second.id, size=50 * 1024**3, uploaded_size=1024**3),
            data.snapshot("d", project_id=second.id, uploaded_size=10 * 1024**3, status="error"),
        ]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(USAGE)
        self.assertTemplateUsed(res, "t4o_dashboard/admin_usage.html")
        rows = res.context["rows"]
        self.assertEqual([first.name, second.name], [r["project"] for r in rows])
        self.assertEqual((450, 150), (rows[0]["full_px"], rows[0]["incremental_px"]))
        self.assertEqual(150, rows[1]["full_px"])  # the failed snapshot counts for nothing
        self.assertContains(res, "4.0 GiB")
        self.assertNotContains(res, "GB")
        self.assertContains(res, 'id="usage_chart"')

    @helpers.create_mocks({workloadmgr: ("workload_list",), os_api.keystone: ("tenant_list",)})
    def test_error_is_a_message(self) -> None:
        self.mock_workload_list.side_effect = data.api_error("The backup service does not answer", 503)
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(USAGE)
        self.assertEqual(200, res.status_code)
        self.assertContains(res, "No workload has snapshots yet.")
        self.assertMessageCount(res, error=1)


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

"""Views and forms of the Snapshots and Restores panels."""

from __future__ import annotations

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

SNAPSHOTS = reverse("horizon:project:backup_snapshots:index")
RESTORES = reverse("horizon:project:backup_restores:index")
DETAIL = reverse("horizon:project:backup_snapshots:detail", args=["sn-1"])
SELECTIVE = reverse("horizon:project:backup_snapshots:selective_restore", args=["sn-1"])
INPLACE = reverse("horizon:project:backup_snapshots:inplace_restore", args=["sn-1"])
VM1_KEY = data.VM1.replace("-", "_")


class SnapshotViewTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list")})
    def test_index_lists_snapshots_with_workload_names(self) -> None:
        self.mock_snapshot_list.return_value = [
            data.snapshot("sn-1"),
            data.snapshot("sn-2", status="executing"),
        ]
        self.mock_workload_list.return_value = [data.workload()]
        res = self.client.get(SNAPSHOTS + "?workload_id=wl-1")
        self.assertContains(res, "name-wl-1")
        self.assertContains(res, "40% Uploading vda")
        self.mock_snapshot_list.assert_called_once_with(helpers.IsHttpRequest(), workload_id="wl-1")
        # One-click restore is a danger action: Horizon asks for confirmation before posting it.
        button = (
            res.content.decode().split('id="snapshots__row_sn-1__action_oneclick_restore"')[1].split(">")[0]
        )
        self.assertIn("btn-danger", button)

    @helpers.create_mocks({workloadmgr: ("snapshot_list",)})
    def test_index_error_is_a_message(self) -> None:
        self.mock_snapshot_list.side_effect = data.api_error()
        res = self.client.get(SNAPSHOTS)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_detail_shows_vms_disks_and_restores(self) -> None:
        self.mock_mounted_list.return_value = []
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_restore_list.return_value = [data.restore()]
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(DETAIL)
        self.assertTemplateUsed(res, "t4o_dashboard/snapshot_detail.html")
        self.assertContains(res, '<a href="/project/workloads/wl-1/">name-wl-1</a>', html=True)
        self.assertContains(res, "2026-11-26 07:00:00")  # the snapshot's time
        self.assertContains(res, "2026-11-26 08:00:00")  # its restore's start
        self.assertNotContains(res, "T07:00:00Z")
        self.assertContains(res, data.VM1)
        self.assertContains(res, "vda: image disk (1.0 MiB)")
        self.assertContains(res, "55% Creating VM web")
        self.mock_restore_list.assert_called_once_with(helpers.IsHttpRequest(), snapshot_id="sn-1")

    @helpers.create_mocks({workloadmgr: ("snapshot_get",)})
    def test_detail_of_missing_snapshot_redirects(self) -> None:
        self.mock_snapshot_get.side_effect = workloadmgr.WorkloadmgrNotFound("No such snapshot", 404)
        res = self.client.get(DETAIL)
        self.assertRedirectsNoFollow(res, SNAPSHOTS)

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "workload_get")})
    def test_row_update_of_running_snapshot(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot(status="executing")
        self.mock_workload_get.return_value = data.workload()
        url = SNAPSHOTS + "?action=row_update&table=snapshots&obj_id=sn-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, "40% Uploading vda")
        self.assertContains(res, 'class="ajax-update warning"')
        self.assertContains(res, "name-wl-1")  # the workload's name, as on the page, not its short id

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "workload_get")})
    def test_row_update_when_the_workload_cannot_be_read(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot(status="executing")
        self.mock_workload_get.side_effect = data.api_error("The backup service does not answer", 503)
        url = SNAPSHOTS + "?action=row_update&table=snapshots&obj_id=sn-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertEqual(200, res.status_code)
        self.assertContains(res, ">wl-1<")  # the short id stands in

    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list", "restore_create")})
    def test_one_click_restore(self) -> None:
        self.mock_snapshot_list.return_value = [data.snapshot()]
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_restore_create.return_value = data.restore(status="queued")
        res = self.client.post(SNAPSHOTS, {"action": "snapshots__oneclick_restore__sn-1"})
        self.assertRedirectsNoFollow(res, RESTORES)
        self.mock_restore_create.assert_called_once_with(
            helpers.IsHttpRequest(), "sn-1", "oneclick", name="One-click restore of snap-sn-1"
        )

    @helpers.create_mocks(
        {workloadmgr: ("snapshot_list", "workload_list", "snapshot_cancel", "snapshot_delete")}
    )
    def test_cancel_and_delete(self) -> None:
        self.mock_snapshot_list.return_value = [
            data.snapshot("sn-1", status="executing"),
            data.snapshot("sn-2"),
        ]
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_snapshot_cancel.return_value = data.snapshot(status="cancelling")
        res = self.client.post(SNAPSHOTS, {"action": "snapshots__cancel__sn-1"})
        self.assertRedirectsNoFollow(res, SNAPSHOTS)
        self.mock_snapshot_cancel.assert_called_once_with(helpers.IsHttpRequest(), "sn-1")
        res = self.client.post(SNAPSHOTS, {"action": "snapshots__delete__sn-2"})
        self.assertRedirectsNoFollow(res, SNAPSHOTS)
        self.mock_snapshot_delete.assert_called_once_with(helpers.IsHttpRequest(), "sn-2")


class RestoreFormTests(base.TestCase):
    def _other_services(self) -> None:
        self.mock_flavor_list.return_value = self.flavors.list()
        self.mock_network_list_for_tenant.return_value = self.networks.list()
        self.mock_volume_type_list.return_value = self.cinder_volume_types.list()

    # The selective form's per-VM and per-volume fields: test_selective_restore.py.
    @helpers.create_mocks(
        {
            workloadmgr: ("snapshot_get",),
            os_api.nova: ("flavor_list",),
            os_api.neutron: ("network_list_for_tenant",),
            os_api.cinder: ("volume_type_list", "availability_zone_list"),
        }
    )
    def test_selective_restore_needs_a_vm(self) -> None:
        self._other_services()
        self.mock_availability_zone_list.return_value = []
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.post(SELECTIVE, {"snapshot_id": "sn-1", "name": "sel"})
        self.assertContains(res, "Choose at least one VM to restore.")

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_create")})
    def test_inplace_needs_confirmation(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_restore_create.return_value = data.restore(restore_type="inplace")
        res = self.client.post(INPLACE, {"snapshot_id": "sn-1", f"include_{VM1_KEY}": "on"})
        self.assertFormErrors(res, 1)
        self.mock_restore_create.assert_not_called()
        res = self.client.post(INPLACE, {"snapshot_id": "sn-1", f"include_{VM1_KEY}": "on", "confirm": "on"})
        self.assertRedirectsNoFollow(res, RESTORES)
        args, kwargs = self.mock_restore_create.call_args
        self.assertEqual("inplace", args[2])
        self.assertEqual([{"id": data.VM1, "include": True, "restore_boot_disk": True}],
                         kwargs["openstack"]["instances"])  # fmt: skip

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_create")})
    def test_restore_refused_shows_message(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_restore_create.side_effect = data.api_error("Workload is locked", 409)
        res = self.client.post(INPLACE, {"snapshot_id": "sn-1", f"include_{VM1_KEY}": "on", "confirm": "on"})
        self.assertEqual(200, res.status_code)  # the form stays open with the API's text
        self.assertEqual(["Workload is locked"], res.context["form"].non_field_errors())
        self.mock_restore_create.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.post(INPLACE, {"snapshot_id": "sn-1", f"include_{VM1_KEY}": "on", "confirm": "on"})
        self.assertRedirectsNoFollow(res, RESTORES)
        self.assertMessageCount(error=1)


class RestoreViewTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("restore_list", "snapshot_list")})
    def test_index_shows_progress(self) -> None:
        self.mock_restore_list.return_value = [data.restore(), data.restore("rs-2", status="available")]
        self.mock_snapshot_list.return_value = [data.snapshot()]
        res = self.client.get(RESTORES)
        self.assertContains(res, "55% Creating VM web")
        self.assertContains(res, ">snap-sn-1<")  # the snapshot by its name
        self.assertEqual(["rs-1", "rs-2"], [r.id for r in res.context["table"].data])

    @helpers.create_mocks({workloadmgr: ("restore_list", "snapshot_list")})
    def test_index_without_snapshot_names_shows_short_ids(self) -> None:
        self.mock_restore_list.return_value = [data.restore(snapshot_id="sn-12345678-gone")]
        self.mock_snapshot_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(RESTORES)
        self.assertContains(res, ">sn-12345<")
        self.assertMessageCount(res, error=0)

    @helpers.create_mocks({workloadmgr: ("restore_list",)})
    def test_index_error_is_a_message(self) -> None:
        self.mock_restore_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(RESTORES)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get")})
    def test_row_update_refreshes_progress(self) -> None:
        self.mock_restore_get.return_value = data.restore(progress_percent=80, progress_msg="Starting VM web")
        self.mock_snapshot_get.return_value = data.snapshot()
        url = RESTORES + "?action=row_update&table=restores&obj_id=rs-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, "80% Starting VM web")
        self.assertContains(res, ">snap-sn-1<")  # still named like on the page
        self.mock_restore_get.return_value = data.restore(status="available", progress_percent=100)
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, "status_up")
        self.assertNotContains(res, "warning")  # finished: Horizon stops polling the row

    @helpers.create_mocks(
        {workloadmgr: ("restore_list", "snapshot_list", "restore_cancel", "restore_delete")}
    )
    def test_cancel_and_delete(self) -> None:
        self.mock_restore_list.return_value = [data.restore(), data.restore("rs-2", status="error")]
        self.mock_snapshot_list.return_value = []
        self.mock_restore_cancel.return_value = data.restore(status="cancelling")
        res = self.client.post(RESTORES, {"action": "restores__cancel__rs-1"})
        self.assertRedirectsNoFollow(res, RESTORES)
        self.mock_restore_cancel.assert_called_once_with(helpers.IsHttpRequest(), "rs-1")
        res = self.client.post(RESTORES, {"action": "restores__delete__rs-2"})
        self.assertRedirectsNoFollow(res, RESTORES)
        self.mock_restore_delete.assert_called_once_with(helpers.IsHttpRequest(), "rs-2")

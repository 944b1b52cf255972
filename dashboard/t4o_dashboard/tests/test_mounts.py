"""Snapshot mounts: Mount and Dismount on a snapshot's page, and the project's mounted snapshots."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

DETAIL = reverse("horizon:project:backup_snapshots:detail", args=["sn-1"])
MOUNT = reverse("horizon:project:backup_snapshots:mount", args=["sn-1"])
DISMOUNT = reverse("horizon:project:backup_snapshots:dismount", args=["sn-1"])
MOUNTED = reverse("horizon:project:backup_snapshots:mounted")
SNAPSHOTS = reverse("horizon:project:backup_snapshots:index")
RECOVERY_VM = "33333333-3333-3333-3333-333333333333"


def mount(snapshot_id: str = "sn-1", vm: str = RECOVERY_VM, **extra: Any) -> workloadmgr.Mount:
    return workloadmgr.Mount(
        {
            "id": f"m-{snapshot_id}",
            "snapshot_id": snapshot_id,
            "snapshot_name": f"snap-{snapshot_id}",
            "workload_id": "wl-1",
            "mount_vm_id": vm,
            "host": "compute-1",
            "status": "mounted",
            "error_msg": None,
            "disks": [
                {"vm_id": data.VM1, "disk": "vda", "device": "vdb", "serial": "t4o-1"},
                {"vm_id": data.VM1, "disk": "vdb", "device": "vdc", "serial": "t4o-2"},
            ],
            "mounted_at": "2026-11-28T10:00:00.000000Z",
            "last_used_at": None,
            "expires_at": "2026-11-28T11:00:00.000000Z",
            "dismounted_at": None,
            "dismount_reason": None,
            **extra,
        }
    )


class Server:
    def __init__(self, sid: str, name: str) -> None:
        self.id, self.name = sid, name


class SnapshotPageMountTests(base.TestCase):
    def _page(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_unmounted_snapshot_offers_mount(self) -> None:
        self._page()
        self.mock_mounted_list.return_value = [mount("sn-other")]
        res = self.client.get(DETAIL)
        self.assertContains(res, f'href="{MOUNT}"')
        self.assertNotContains(res, 'id="snapshot_mount"')
        self.assertNotContains(res, DISMOUNT)

    @helpers.create_mocks(
        {
            workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list"),
            os_api.nova: ("server_list",),
        }
    )
    def test_mounted_snapshot_names_its_vm_devices_and_offers_dismount(self) -> None:
        self._page()
        self.mock_mounted_list.return_value = [mount("sn-other"), mount("sn-1")]
        self.mock_server_list.return_value = ([Server(RECOVERY_VM, "rescue")], False)
        res = self.client.get(DETAIL)
        self.assertContains(res, 'id="snapshot_mount"')
        box = res.content.decode().split('id="snapshot_mount"')[1].split("</div>")[0]
        self.assertIn(f'action="{DISMOUNT}"', box)
        self.assertIn("csrfmiddlewaretoken", box)
        self.assertIn(">rescue</a>: its disks are vdb, vdc there.", box)
        self.assertIn("Since 2026-11-28 10:00:00 UTC.", box)
        self.assertIn("Dismounted when idle at 2026-11-28 11:00:00 UTC.", box)
        self.assertNotContains(res, f'href="{MOUNT}"')

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_mounts_that_cannot_be_read_hide_both_buttons(self) -> None:
        self._page()
        self.mock_mounted_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(DETAIL)
        self.assertEqual(200, res.status_code)
        self.assertNotContains(res, MOUNT)
        self.assertNotContains(res, DISMOUNT)
        self.assertMessageCount(res, error=0)

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get")})
    def test_running_snapshot_has_no_mount(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot(status="executing")
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(DETAIL)  # mounted_list is not mocked: it must not be called
        self.assertNotContains(res, MOUNT)


class MountFormTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_get",), os_api.nova: ("server_list",)})
    def test_form_offers_the_projects_servers_but_the_snapshots_own(self) -> None:
        own, other = self.servers.list()[:2]
        self.mock_snapshot_get.return_value = data.snapshot(instances=[{"id": own.id, "name": own.name}])
        self.mock_server_list.return_value = (self.servers.list(), False)
        res = self.client.get(MOUNT)
        self.assertTemplateUsed(res, "t4o_dashboard/form.html")
        choices = [c[0] for c in res.context["form"].fields["mount_vm_id"].choices]
        self.assertIn(other.id, choices)
        self.assertNotIn(own.id, choices)

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "snapshot_mount"), os_api.nova: ("server_list",)})
    def test_mount_goes_back_to_the_snapshot_with_its_devices(self) -> None:
        server = self.servers.first()
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_snapshot_mount.return_value = mount(vm=server.id)
        res = self.client.post(MOUNT, {"snapshot_id": "sn-1", "mount_vm_id": server.id})
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, DETAIL)
        self.mock_snapshot_mount.assert_called_once_with(helpers.IsHttpRequest(), "sn-1", server.id)
        self.assertMessageCount(success=1)

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "snapshot_mount"), os_api.nova: ("server_list",)})
    def test_refused_mount_is_a_message_on_the_snapshot(self) -> None:
        server = self.servers.first()
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_snapshot_mount.side_effect = data.api_error("Snapshot sn-1 is already mounted", 409)
        res = self.client.post(MOUNT, {"snapshot_id": "sn-1", "mount_vm_id": server.id})
        self.assertRedirectsNoFollow(res, DETAIL)
        self.assertMessageCount(error=1)


class DismountTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_dismount",)})
    def test_dismount_button(self) -> None:
        self.mock_snapshot_dismount.return_value = mount(status="dismounted")
        res = self.client.post(DISMOUNT)
        self.assertRedirectsNoFollow(res, DETAIL)
        self.mock_snapshot_dismount.assert_called_once_with(helpers.IsHttpRequest(), "sn-1")
        self.assertMessageCount(success=1)

    @helpers.create_mocks({workloadmgr: ("snapshot_dismount",)})
    def test_refused_dismount_is_a_message(self) -> None:
        self.mock_snapshot_dismount.side_effect = data.api_error("Snapshot sn-1 is not mounted", 409)
        res = self.client.post(DISMOUNT)
        self.assertRedirectsNoFollow(res, DETAIL)
        self.assertMessageCount(error=1)

    def test_get_is_not_allowed(self) -> None:
        self.assertEqual(405, self.client.get(DISMOUNT).status_code)


class MountedListTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("mounted_list",), os_api.nova: ("server_list",)})
    def test_lists_mounts_with_vm_names_and_devices(self) -> None:
        self.mock_mounted_list.return_value = [mount("sn-1"), mount("sn-2", vm="gone-vm", last_used_at=None)]
        self.mock_server_list.return_value = ([Server(RECOVERY_VM, "rescue")], False)
        res = self.client.get(MOUNTED)
        self.assertTemplateUsed(res, "horizon/common/_data_table_view.html")
        row = res.content.decode().split('id="mounts__row__sn-1"')[1].split("</tr>")[0]
        self.assertIn("rescue", row)
        self.assertIn("vdb, vdc", row)
        self.assertIn("2026-11-28 11:00:00", row)
        self.assertIn(f'href="{DETAIL}"', row)
        row2 = res.content.decode().split('id="mounts__row__sn-2"')[1].split("</tr>")[0]
        self.assertIn("gone-vm", row2)  # a server Nova does not list: its id
        self.assertIn("Never", row2)
        self.assertContains(res, 'id="mounts__row_sn-1__action_dismount"')

    @helpers.create_mocks({workloadmgr: ("mounted_list", "snapshot_dismount"), os_api.nova: ("server_list",)})
    def test_dismount_row_action(self) -> None:
        self.mock_mounted_list.return_value = [mount("sn-1")]
        self.mock_server_list.return_value = ([], False)
        self.mock_snapshot_dismount.return_value = mount(status="dismounted")
        res = self.client.post(MOUNTED, {"action": "mounts__dismount__sn-1"})
        self.assertRedirectsNoFollow(res, MOUNTED)
        self.mock_snapshot_dismount.assert_called_once_with(helpers.IsHttpRequest(), "sn-1")

    @helpers.create_mocks({workloadmgr: ("mounted_list",)})
    def test_list_error_is_a_message(self) -> None:
        self.mock_mounted_list.side_effect = data.api_error("down", 503)
        res = self.client.get(MOUNTED)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list")})
    def test_snapshots_page_links_to_the_mounts(self) -> None:
        self.mock_snapshot_list.return_value = [data.snapshot()]
        self.mock_workload_list.return_value = [data.workload()]
        res = self.client.get(SNAPSHOTS)
        self.assertContains(res, f'href="{MOUNTED}"')

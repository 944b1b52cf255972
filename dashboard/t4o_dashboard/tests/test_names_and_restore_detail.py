"""Objects named in lists, confirmations and messages; one wording and unit system; empty pages that
say what to do; the restore detail page and the restore types without VMs."""

from __future__ import annotations

import html
from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.tests import base, data

SNAPSHOTS = reverse("horizon:project:backup_snapshots:index")
SNAPSHOT_DETAIL = reverse("horizon:project:backup_snapshots:detail", args=["sn-1"])
RESTORES = reverse("horizon:project:backup_restores:index")
RESTORE_DETAIL = reverse("horizon:project:backup_restores:detail", args=["rs-1"])
NODES = reverse("horizon:admin:backup_nodes:index")
ADMIN_WORKLOADS = reverse("horizon:admin:backup_workloads:index")
SERVER, VOLUME, NETWORK, GROUP, OTHER_GROUP = (f"{n}0000000-0000-0000-0000-000000000000" for n in "abcde")


def row_of(res: Any, table: str, obj_id: str) -> str:
    """The HTML of one table row, its attributes included."""
    page = res.content.decode()
    at = page.index(f'id="{table}__row__{obj_id}"')
    return page[page.rindex("<tr", 0, at) : page.index("</tr>", at)]


class HelpersTests(base.TestCase):
    def test_sizes_are_iec(self) -> None:
        self.assertEqual(
            ["0 B", "54 B", "1.0 KiB", "2.0 GiB", "1.5 TiB"],
            [common.size(n) for n in (None, 54, 1024, 2 * 1024**3, 3 * 1024**4 // 2)],
        )

    def test_an_unnamed_job_is_named_by_its_start(self) -> None:
        self.assertEqual("Snapshot of 2026-11-26 07:00:00", common.snapshot_name(data.snapshot(name="")))
        self.assertEqual("snap-sn-1", common.snapshot_name(data.snapshot()))
        self.assertEqual("Restore of 2026-11-26 08:00:00", common.restore_name(data.restore(name=None)))


class SnapshotNamesTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list")})
    def test_unnamed_snapshot_is_listed_and_confirmed_by_its_time(self) -> None:
        self.mock_snapshot_list.return_value = [data.snapshot(name="", snapshot_type="incremental")]
        self.mock_workload_list.return_value = [data.workload()]
        res = self.client.get(SNAPSHOTS)
        row = row_of(res, "snapshots", "sn-1")
        self.assertIn('data-display="Snapshot of 2026-11-26 07:00:00"', row)  # what Delete asks to confirm
        self.assertIn(">Snapshot of 2026-11-26 07:00:00</a>", row)
        self.assertNotIn(">sn-1<", row)
        self.assertIn(">Incremental<", row.replace("\n", "").replace(" ", ""))
        # Stored bytes and the disks' provisioned size, each in its own column, in IEC units.
        self.assertIn("4.0 KiB", row)
        self.assertIn("1.0 MiB", row)

    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list", "snapshot_delete")})
    def test_delete_message_names_the_snapshot(self) -> None:
        self.mock_snapshot_list.return_value = [data.snapshot(name="")]
        self.mock_workload_list.return_value = [data.workload()]
        res = self.client.post(SNAPSHOTS, {"action": "snapshots__delete__sn-1"}, follow=True)
        texts = [str(m) for m in res.context["messages"]]
        self.assertEqual(
            ["Deleted Snapshot: Snapshot of 2026-11-26 07:00:00"], [html.unescape(t) for t in texts]
        )

    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list")})
    def test_empty_snapshots_page_says_how_to_take_one(self) -> None:
        self.mock_snapshot_list.return_value = []
        self.mock_workload_list.return_value = []
        res = self.client.get(SNAPSHOTS)
        self.assertContains(res, "choose Snapshot Now on a workload")
        self.assertNotContains(res, "No items to display.")

    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list", "restore_create")})
    def test_network_topology_and_security_groups_restores(self) -> None:
        self.mock_snapshot_list.return_value = [data.snapshot()]
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_restore_create.return_value = data.restore(status="queued")
        res = self.client.get(SNAPSHOTS)
        self.assertContains(res, "Restore Network Topology")
        self.assertContains(res, "Restore Security Groups")
        for action, kind, name in (
            ("network_topology_restore", "network-topology", "Network topology restore of snap-sn-1"),
            ("security_groups_restore", "security-groups", "Security groups restore of snap-sn-1"),
        ):
            res = self.client.post(SNAPSHOTS, {"action": f"snapshots__{action}__sn-1"})
            self.assertRedirectsNoFollow(res, RESTORES)
            self.mock_restore_create.assert_called_with(helpers.IsHttpRequest(), "sn-1", kind, name=name)

    @helpers.create_mocks({workloadmgr: ("snapshot_list", "workload_list")})
    def test_restores_without_vms_need_an_available_snapshot(self) -> None:
        self.mock_snapshot_list.return_value = [data.snapshot(status="error")]
        self.mock_workload_list.return_value = [data.workload()]
        res = self.client.get(SNAPSHOTS)
        self.assertNotContains(res, "snapshots__row_sn-1__action_network_topology_restore")


class SnapshotDetailTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_detail_has_the_actions_capitalised_texts_and_named_volumes(self) -> None:
        self.mock_mounted_list.return_value = []
        vm = {
            "id": data.VM1,
            "name": "web",
            "status": "available",
            "size": 2 * 1024**3,
            "metadata": {"volumes": [{"id": VOLUME, "name": "ux-data-1", "target": "/dev/vdb"}]},
            "vdisks": [
                {"id": "d1", "target": "vda", "size": 1024**3},
                {"id": "d2", "target": "vdb", "volume_id": VOLUME, "size": 1024**3},
            ],
        }
        self.mock_snapshot_get.return_value = data.snapshot(name="", instances=[vm])
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(SNAPSHOT_DETAIL)
        page = res.content.decode()
        self.assertIn("Snapshot Snapshot of 2026-11-26 07:00:00", page)  # the title, not an id
        self.assertInHTML("<dd>Full</dd>", page)
        self.assertInHTML("<dd>Available</dd>", page)
        self.assertInHTML("<dd>4.0 KiB</dd>", page)  # stored
        self.assertInHTML("<dd>1.0 MiB</dd>", page)  # the disks' provisioned size
        self.assertIn("vda: image disk (1.0 GiB)", page)
        self.assertIn("vdb: volume ux-data-1 (1.0 GiB)", page)
        # The snapshot's actions, posted to the snapshots page that runs them (danger ones confirmed).
        header = page.split('class="detail-actions-form')[1].split("</form>")[0]
        self.assertIn(f'action="{SNAPSHOTS}"', header)
        for action in ("oneclick_restore", "selective_restore", "network_topology_restore", "delete"):
            self.assertIn(f"snapshots__row_sn-1__action_{action}", header)


class RestoreTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("restore_list", "snapshot_list")})
    def test_list_names_and_links_each_restore(self) -> None:
        self.mock_restore_list.return_value = [data.restore(name="", restore_type="network-topology")]
        self.mock_snapshot_list.return_value = [data.snapshot()]
        res = self.client.get(RESTORES)
        row = row_of(res, "restores", "rs-1")
        self.assertIn(f'<a href="{RESTORE_DETAIL}"', row)
        self.assertIn("Restore of 2026-11-26 08:00:00", row)
        self.assertIn('data-display="Restore of 2026-11-26 08:00:00"', row)
        self.assertIn("Network topology", row)
        self.assertIn(">Running<", row.replace("\n", "").replace(" ", ""))

    @helpers.create_mocks({workloadmgr: ("restore_list", "snapshot_list")})
    def test_empty_restores_page_says_how_to_make_one(self) -> None:
        self.mock_restore_list.return_value = []
        self.mock_snapshot_list.return_value = []
        res = self.client.get(RESTORES)
        self.assertContains(res, "choose a restore in an available snapshot")

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get")})
    def test_detail_links_what_the_restore_created_and_shows_its_options(self) -> None:
        instance = {
            "id": SERVER,
            "name": "web-restored",
            "source_vm_id": data.VM1,
            "status": "ACTIVE",
            "ports": [{"id": "p1", "fixed_ips": [{"ip_address": "10.0.0.5"}], "ip_kept": True}],
            "volumes": [
                {"id": VOLUME, "source_volume_id": "old-vol", "target": "/dev/vdb", "volume_type": "lvm"}
            ],
            "networks": {"old-net": {"id": NETWORK, "name": "private", "action": "created"}},
            "security_groups": [GROUP, OTHER_GROUP],
            "created": [{"kind": "security_group", "id": GROUP, "name": "web-sg"}],
        }
        options = {"restore_type": "selective", "openstack": {"restore_topology": True}}
        self.mock_restore_get.return_value = data.restore(
            status="available", restore_type="selective", instances=[instance], restore_options=options
        )
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.get(RESTORE_DETAIL)
        self.assertTemplateUsed(res, "t4o_dashboard/restore_detail.html")
        page = res.content.decode()
        links = {
            reverse("horizon:project:instances:detail", args=[SERVER]): "web-restored",
            reverse("horizon:project:volumes:detail", args=[VOLUME]): VOLUME,
            reverse("horizon:project:networks:detail", args=[NETWORK]): "private",
            reverse("horizon:project:security_groups:detail", args=[GROUP]): "web-sg",
            reverse("horizon:project:security_groups:detail", args=[OTHER_GROUP]): OTHER_GROUP,
        }
        for url, text in links.items():
            self.assertInHTML(f'<a href="{url}">{text}</a>', page)
        self.assertIn("10.0.0.5 (address kept)", page)
        self.assertEqual(1, page.count(f"<td>{GROUP}</td>"))  # the re-created group is listed once
        self.assertIn("disk /dev/vdb, from volume old-vol, type lvm", page)
        self.assertIn("created for the snapshot&#x27;s network old-net", page)
        self.assertInHTML(f'<a href="{SNAPSHOT_DETAIL}">snap-sn-1</a>', page)
        self.assertInHTML("<dd>Selective</dd>", page)
        self.assertInHTML("<dd>Available</dd>", page)
        self.assertIn("&quot;restore_topology&quot;: true", page)

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get")})
    def test_a_security_group_found_in_the_project_is_named_as_the_snapshot_recorded_it(self) -> None:
        instance = {"id": SERVER, "name": "web-restored", "source_vm_id": data.VM1, "status": "ACTIVE",
                    "security_groups": [OTHER_GROUP]}  # fmt: skip
        self.mock_restore_get.return_value = data.restore(
            status="available", restore_type="oneclick", instances=[instance]
        )
        vm = {
            "id": data.VM1,
            "name": "web",
            "metadata": {"security_groups": [{"id": OTHER_GROUP, "name": "default"}]},
        }
        self.mock_snapshot_get.return_value = data.snapshot(instances=[vm])
        page = self.client.get(RESTORE_DETAIL).content.decode()
        url = reverse("horizon:project:security_groups:detail", args=[OTHER_GROUP])
        self.assertInHTML(f'<a href="{url}">default</a>', page)

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get")})
    def test_detail_of_a_restore_without_vms(self) -> None:
        self.mock_restore_get.return_value = data.restore(status="available", restore_type="security-groups")
        self.mock_snapshot_get.side_effect = data.api_error("gone", 404)
        res = self.client.get(RESTORE_DETAIL)
        self.assertContains(res, "This kind of restore creates no server")
        self.assertInHTML("<dd>Security groups</dd>", res.content.decode())

    @helpers.create_mocks({workloadmgr: ("restore_get",)})
    def test_detail_of_a_missing_restore_redirects(self) -> None:
        self.mock_restore_get.side_effect = workloadmgr.WorkloadmgrNotFound("No such restore", 404)
        res = self.client.get(RESTORE_DETAIL)
        self.assertRedirectsNoFollow(res, RESTORES)


def node(host: str, state: str = "up", disabled: bool = False) -> workloadmgr.Node:
    return workloadmgr.Node(
        {
            "host": host,
            "binary": "workloadmgr-workloads",
            "state": state,
            "disabled": disabled,
            "last_heartbeat": "2026-11-26T09:00:00",
        }
    )


class NodeNamesTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("node_list",)})
    def test_disabling_the_last_live_enabled_worker_is_warned(self) -> None:
        self.mock_node_list.return_value = [node("n1"), node("n2", state="down")]
        res = self.client.get(NODES)
        row = row_of(res, "nodes", "workloadmgr-workloads@n1")
        self.assertIn('data-display="n1 (workloadmgr-workloads)"', row)  # what the confirmation names
        self.assertIn("This is the last live, enabled workloads worker", row)

    @helpers.create_mocks({workloadmgr: ("node_list",)})
    def test_no_warning_while_another_worker_takes_jobs(self) -> None:
        self.mock_node_list.return_value = [node("n1"), node("n2")]
        res = self.client.get(NODES)
        self.assertNotContains(res, "This is the last live, enabled workloads worker")

    @helpers.create_mocks({workloadmgr: ("node_list", "node_set_disabled")})
    def test_disable_message_names_the_host(self) -> None:
        self.mock_node_list.return_value = [node("n1"), node("n2")]
        res = self.client.post(NODES, {"action": "nodes__disable__workloadmgr-workloads@n1"}, follow=True)
        texts = [html.unescape(str(m)) for m in res.context["messages"]]
        self.assertEqual(["Disabled Node: n1 (workloadmgr-workloads)"], texts)


class AdminCountsTests(base.AdminTestCase):
    @helpers.create_mocks(
        {workloadmgr: ("workload_list", "snapshot_list"), os_api.keystone: ("tenant_list",)}
    )
    def test_failed_snapshots_are_not_counted_as_in_the_quotas(self) -> None:
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_snapshot_list.return_value = [data.snapshot("a"), data.snapshot("b", status="error")]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(ADMIN_WORKLOADS)
        (row,) = res.context["table"].data
        self.assertEqual((1, 4096), (row.snapshot_count, row.size))

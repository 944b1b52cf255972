"""A restore's page says which volumes each VM's restore left out and what was asked per VM (name,
flavor, networks, volumes) by name; a snapshot's page shows each VM's guest hook results and a failed
pre-freeze hook's consistency warning. Whatever the records hold is escaped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content.snapshots import hooks
from t4o_dashboard.tests import base, data

RESTORE_DETAIL = reverse("horizon:project:backup_restores:detail", args=["rs-1"])
SNAPSHOT_DETAIL = reverse("horizon:project:backup_snapshots:detail", args=["sn-1"])
WEB, DB = data.VM1, data.VM2
DATA, LOGS = "vol-data", "vol-logs"
SERVER = "a0000000-0000-0000-0000-000000000000"
GiB = 1 << 30
EVIL = "<script>alert(1)</script>"


def snapshot(web_name: str = "web", data_name: str = "ux-data-1") -> workloadmgr.Snapshot:
    """``web``: one port on ``private`` and two volumes; ``db``: nothing but its disk."""
    web = {
        "id": WEB, "name": web_name, "status": "available", "size": 3 * GiB,
        "metadata": {
            "flavor": {"name": "small"},
            "ports": [{"id": "port-1", "network_id": "net-old", "mac_address": "fa:16:3e:00:00:01",
                       "fixed_ips": [{"ip_address": "10.0.0.5"}]}],
            "topology": {"networks": [{"id": "net-old", "name": "private"}]},
            "volumes": [{"id": DATA, "name": data_name, "volume_type": "lvm"},
                        {"id": LOGS, "name": "ux-logs-1", "volume_type": "__DEFAULT__"}],
        },
        "vdisks": [{"target": "vda", "size": GiB},
                   {"target": "vdb", "size": GiB, "volume_id": DATA},
                   {"target": "vdc", "size": GiB, "volume_id": LOGS}],
    }  # fmt: skip
    db = {"id": DB, "name": "db", "status": "available", "metadata": {"ports": []}, "vdisks": []}
    return data.snapshot(instances=[web, db])


def restored_web(**extra: Any) -> dict[str, Any]:
    """The restored ``web`` as the restore's result records it: its port on network ``dmz``."""
    return {
        "id": SERVER,
        "name": "web-copy",
        "source_vm_id": WEB,
        "status": "ACTIVE",
        "ports": [{"id": "p-new", "network_id": "net-dmz", "network_name": "dmz", "fixed_ips": []}],
        "volumes": [{"id": "v-new", "source_volume_id": LOGS, "target": "/dev/vdc", "volume_type": "fast"}],
        "volumes_left_out": [DATA],
        **extra,
    }


def selective(web: dict[str, Any], instances: list[dict[str, Any]] | None = None) -> workloadmgr.Restore:
    return data.restore(
        status="available",
        restore_type="selective",
        instances=[restored_web()] if instances is None else instances,
        restore_options={"type": "openstack", "restore_type": "selective", "openstack": {"instances": [web]}},
    )


def web_choices(**extra: Any) -> dict[str, Any]:
    return {
        "id": WEB,
        "include": True,
        "name": "web-copy",
        "flavor": {"id": "f-2"},
        "nics": [{"id": "port-1", "network": {"id": "net-dmz"}}],
        "vdisks": [{"id": DATA, "include": False}, {"id": LOGS, "new_volume_type": "fast"}],
        **extra,
    }


def choices_row(page: str, vm_id: str) -> str:
    at = page.index(f'id="restore_choices__{vm_id}"')
    return page[at : page.index("</tr>", at)]


class RestoreChoicesTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_left_out_volumes_and_each_vms_choices_by_name(self) -> None:
        self.mock_restore_get.return_value = selective(web_choices())
        self.mock_snapshot_get.return_value = snapshot()
        self.mock_flavor_list.return_value = [SimpleNamespace(id="f-2", name="m1.large")]
        res = self.client.get(RESTORE_DETAIL)
        page = res.content.decode()
        self.assertInHTML(
            '<p class="volumes_left_out"><strong>Volumes left out:</strong> ux-data-1 (vdb)</p>', page
        )
        self.assertIn("web-copy (from VM web, ACTIVE)", page)
        self.assertIn("disk /dev/vdc, from volume ux-logs-1, type fast", page)  # the original by name
        web = choices_row(page, WEB)
        for text in (
            "<td>web</td><td>Yes</td><td>web-copy</td>",
            "<td>m1.large</td>",
            "10.0.0.5 on private: to dmz, chosen for this VM",
            "ux-data-1 (vdb): left out",
            "ux-logs-1 (vdc): restored as type fast (was Default)",
        ):
            self.assertIn(text, web)
        self.assertNotIn("f-2", web)
        # db is in the snapshot but not in the options: it was not restored.
        self.assertIn("<td>db</td><td>No: not listed in the options</td>", choices_row(page, DB))
        self.mock_flavor_list.assert_called_once_with(helpers.IsHttpRequest())

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_what_the_records_hold_is_escaped(self) -> None:
        web = web_choices(name=EVIL, flavor={"id": EVIL})
        self.mock_restore_get.return_value = selective(web)
        self.mock_snapshot_get.return_value = snapshot(web_name=f"<b>{EVIL}</b>", data_name=EVIL)
        self.mock_flavor_list.return_value = []
        page = self.client.get(RESTORE_DETAIL).content.decode()
        self.assertNotIn(EVIL, page)
        self.assertNotIn("<b>", page)
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        self.assertIn(f"Volumes left out:</strong> {escaped} (vdb)", page)
        self.assertIn(f"<td>&lt;b&gt;{escaped}&lt;/b&gt;</td><td>Yes</td><td>{escaped}</td>", page)
        self.assertIn(f"<td>{escaped}</td>", choices_row(page, WEB))  # the flavor no list names

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_flavors_that_cannot_be_listed_show_as_given(self) -> None:
        self.mock_restore_get.return_value = selective(web_choices())
        self.mock_snapshot_get.return_value = snapshot()
        self.mock_flavor_list.side_effect = RuntimeError("nova down")
        res = self.client.get(RESTORE_DETAIL)
        self.assertEqual(200, res.status_code)
        self.assertIn("<td>f-2</td>", choices_row(res.content.decode(), WEB))

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_defaults_sizes_mapping_and_zone(self) -> None:
        web = {
            "id": WEB,
            "flavor": {"vcpus": 2, "ram": 4096, "disk": 20},
            "availability_zone": "az-2",
            "vdisks": [{"id": DATA, "name": "data-copy"}],
        }
        restore = selective(web, instances=[])
        restore.options["openstack"]["networks_mapping"] = {
            "networks": [{"snapshot_network": {"id": "net-old"}, "target_network": {"id": "net-x"}}]
        }
        self.mock_restore_get.return_value = restore
        self.mock_snapshot_get.return_value = snapshot()
        page = self.client.get(RESTORE_DETAIL).content.decode()
        web_row = choices_row(page, WEB)
        for text in (
            "<td>Named after the original and the snapshot</td>",
            "Sizes: 2 vCPU, 4.0 GiB RAM, 20 GiB disk<br>Availability zone az-2",
            "10.0.0.5 on private: to net-x, by the network mapping",
            "ux-data-1 (vdb): restored, type lvm as in the snapshot, named data-copy",
            "ux-logs-1 (vdc): restored, type Default as in the snapshot",
        ):
            self.assertIn(text, web_row)
        self.mock_flavor_list.assert_not_called()  # no flavor named by id
        self.assertIn("No server is recorded", page)
        self.assertNotIn("volumes_left_out", page)

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_vm_without_interfaces_and_the_snapshots_flavor(self) -> None:
        restore = selective({"id": WEB}, instances=[])
        restore.options["openstack"]["instances"].append({"id": DB, "include": True})
        self.mock_restore_get.return_value = restore
        self.mock_snapshot_get.return_value = snapshot()
        page = self.client.get(RESTORE_DETAIL).content.decode()
        self.assertIn("None: the VM had no network interface in the snapshot", choices_row(page, DB))
        self.assertIn("<td>As in the snapshot</td>", choices_row(page, DB))
        self.assertIn("<td>As in the snapshot (small)</td>", choices_row(page, WEB))

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_a_gone_snapshot_leaves_ids(self) -> None:
        self.mock_restore_get.return_value = selective(web_choices(flavor=None))
        self.mock_snapshot_get.side_effect = data.api_error("gone", 404)
        page = self.client.get(RESTORE_DETAIL).content.decode()
        self.assertIn(f"Volumes left out:</strong> {DATA}</p>", page)
        self.assertIn(f"from VM {WEB}, ACTIVE", page)
        web = choices_row(page, WEB)
        self.assertIn(f"{DATA}: left out", web)
        self.assertIn("interface 1: to dmz", web)  # the result's port still names the network
        self.assertIn("<td>As in the snapshot</td>", web)

    @helpers.create_mocks({workloadmgr: ("restore_get", "snapshot_get"), os_api.nova: ("flavor_list",)})
    def test_oneclick_restore_has_no_choices(self) -> None:
        self.mock_restore_get.return_value = data.restore(
            status="available",
            instances=[restored_web(volumes_left_out=[])],
            restore_options={"type": "openstack"},
        )
        self.mock_snapshot_get.return_value = snapshot()
        page = self.client.get(RESTORE_DETAIL).content.decode()
        self.assertNotIn("restore_choices", page)
        self.assertNotIn("Volumes left out", page)
        self.mock_flavor_list.assert_not_called()


def hook(phase: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "phase": phase,
        "command": "fsflush --all",
        "source": "workload",
        "status": status,
        "exit_code": 0 if status == "ok" else None,
        "signal": None,
        "stdout": "",
        "stderr": "",
        "stdout_truncated": False,
        "stderr_truncated": False,
        "duration_seconds": 0.25,
        "reason": "",
        **extra,
    }


def hooked_vm(results: list[dict[str, Any]], **definition: Any) -> dict[str, Any]:
    return {
        "id": WEB,
        "name": "web",
        "status": "available",
        "size": GiB,
        "metadata": {"guest_hooks": {"timeout": 30, "on_failure": "crash", "results": results}, **definition},
        "vdisks": [{"target": "vda", "size": GiB}],
    }


class SnapshotHooksTests(base.TestCase):
    def _page(self, vms: list[dict[str, Any]], **snapshot: Any) -> str:
        self.mock_snapshot_get.return_value = data.snapshot(instances=vms, **snapshot)
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        self.mock_mounted_list.return_value = []
        res = self.client.get(SNAPSHOT_DETAIL)
        self.assertEqual(200, res.status_code)
        return res.content.decode()

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_results_outputs_and_the_failed_pre_hooks_warning(self) -> None:
        reason = "pre-freeze hook failed (exit code 3: cannot flush): the guest was not frozen"
        pre = hook(
            "pre_freeze",
            "failed",
            command=f"sh -c 'echo {EVIL}'",
            source="vm",
            exit_code=3,
            stderr=f"{EVIL}\ncannot flush",
            stderr_truncated=True,
            duration_seconds=1.25,
        )
        post = hook("post_thaw", "ok", stdout="thawed\n")
        warning = f"VM web ({WEB}): {reason} (crash-consistent)"
        page = self._page(
            [hooked_vm([pre, post], consistency="crash-consistent", consistency_reason=reason)],
            warning_msg=warning,
        )
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        self.assertNotIn(EVIL, page)
        self.assertInHTML(f'<dd id="snapshot_warnings">{warning}</dd>', page)
        self.assertIn("Consistency: Crash-consistent.", page)
        self.assertIn("Each hook may run 30 s.", page)
        self.assertIn("If the pre-freeze hook fails, the VM is not frozen (a crash-consistent point).", page)
        alert = f"The pre-freeze hook did not succeed: {reason}"
        self.assertInHTML(f'<div class="alert alert-warning pre_hook_failed">{alert}</div>', page)
        rows = page.split('id="guest_hooks_1"')[1].split("</table>")[0]
        self.assertInHTML(
            f"<tr><td>Pre-freeze</td><td><code>sh -c &#x27;echo {escaped}&#x27;</code></td>"
            "<td>VM metadata</td>"
            '<td><span class="label label-danger">Failed</span></td><td>3</td><td>1.2 s</td>'
            '<td><details class="hook_stderr"><summary>stderr (its last bytes only)</summary>'
            f"<pre>{escaped}\ncannot flush</pre></details></td></tr>",
            rows,
        )
        self.assertInHTML(
            "<tr><td>Post-thaw</td><td><code>fsflush --all</code></td><td>workload metadata</td>"
            '<td><span class="label label-success">Succeeded</span></td><td>0</td><td>0.2 s</td>'
            '<td><details class="hook_stdout"><summary>stdout</summary>'
            "<pre>thawed\n</pre></details></td></tr>",
            rows,
        )

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_timeout_signal_and_skipped_hooks(self) -> None:
        pre = hook("pre_freeze", "timed-out", reason="did not end within 30 s")
        post = hook("post_thaw", "failed", signal=9)
        shut_off = {**hooked_vm([hook("pre_freeze", "skipped", reason="the VM is shut off")]), "id": DB}
        shut_off["name"] = "db"
        page = self._page([hooked_vm([pre, post], consistency="crash-consistent"), shut_off])
        first = page.split('id="guest_hooks_1"')[1].split("</table>")[0]
        self.assertIn("The pre-freeze hook did not succeed: the point is crash-consistent", first)
        self.assertInHTML(
            '<td><span class="label label-danger">Timed out</span> did not end within 30 s</td>', first
        )
        self.assertInHTML("<td>signal 9</td>", first)
        second = page.split('id="guest_hooks_2"')[1].split("</table>")[0]
        self.assertNotIn("pre_hook_failed", second)  # a shut-off VM needs no freeze
        self.assertInHTML(
            '<td><span class="label label-default">Skipped</span> the VM is shut off</td>', second
        )

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_no_hooks_no_section(self) -> None:
        vm = hooked_vm([], consistency="fs-frozen")
        vm["metadata"]["guest_hooks"] = None
        page = self._page([vm])
        self.assertNotIn("Guest hooks", page)
        self.assertNotIn("snapshot_warnings", page)


class HookSummaryTests(base.TestCase):
    def test_only_a_failed_pre_hook_warns(self) -> None:
        ok = hooks.vm_hooks(hooked_vm([hook("pre_freeze", "ok"), hook("post_thaw", "error")]))
        assert ok is not None
        self.assertEqual("", ok["warning"])
        self.assertEqual(["Succeeded", "Could not run"], [r["status"] for r in ok["results"]])
        failed = hooks.vm_hooks(hooked_vm([hook("pre_freeze", "error")], consistency="crash-consistent"))
        assert failed is not None
        self.assertEqual(
            "The pre-freeze hook did not succeed: the point is crash-consistent", failed["warning"]
        )
        self.assertIsNone(hooks.vm_hooks({"id": WEB, "metadata": {"guest_hooks": None}}))
        self.assertIsNone(hooks.vm_hooks({"id": WEB}))

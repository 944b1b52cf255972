"""The selective restore form: per VM a flavor and the network its interfaces join, per volume whether
to restore it, its type (named as people read them) and its Cinder availability zone, why a VM has no
network to choose, and an API refusal shown on the field it names."""

from __future__ import annotations

import html
from types import SimpleNamespace
from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

SELECTIVE = reverse("horizon:project:backup_snapshots:selective_restore", args=["sn-1"])
RESTORES = reverse("horizon:project:backup_restores:index")
WEB, DB = data.VM1, data.VM2
WEB_KEY, DB_KEY = WEB.replace("-", "_"), DB.replace("-", "_")
DATA, LOGS, ROOT = "vol-data", "vol-logs", "vol-root"
GiB = 1 << 30
SERVICES = {
    workloadmgr: ("snapshot_get", "restore_create"),
    os_api.nova: ("flavor_list",),
    os_api.neutron: ("network_list_for_tenant",),
    os_api.cinder: ("volume_type_list", "availability_zone_list"),
}


def snapshot() -> workloadmgr.Snapshot:
    """``web``: two NICs, a local root disk and two volumes; ``db``: no NIC, boots from a volume."""
    web = {
        "id": WEB, "name": "web", "status": "available", "size": 3 * GiB,
        "metadata": {
            "flavor": {"name": "small"},
            "ports": [{"id": "port-1", "network_id": "net-old"}, {"id": "port-2", "network_id": "net-old"}],
            "volumes": [{"id": DATA, "name": "ux-data-1", "volume_type": "__DEFAULT__"},
                        {"id": LOGS, "name": "ux-logs-1", "volume_type": "fast"}],
        },
        "vdisks": [{"target": "vda", "size": GiB, "volume_id": None},
                   {"target": "vdb", "size": GiB, "volume_id": DATA},
                   {"target": "vdc", "size": 2 * GiB, "volume_id": LOGS}],
    }  # fmt: skip
    db = {
        "id": DB, "name": "db", "status": "available", "size": GiB,
        "metadata": {"boot": {"source": "volume", "volume_id": ROOT},
                     "volumes": [{"id": ROOT, "name": "db-root", "volume_type": "fast"}]},
        "vdisks": [{"target": "vda", "size": GiB, "volume_id": ROOT}],
    }  # fmt: skip
    return data.snapshot(instances=[web, db])


class SelectiveRestoreFormTests(base.TestCase):
    def _services(self, networks: Any = None, zones: Any = None) -> None:
        self.mock_snapshot_get.return_value = snapshot()
        self.mock_flavor_list.return_value = self.flavors.list()
        if isinstance(networks, Exception):
            self.mock_network_list_for_tenant.side_effect = networks
        else:
            self.mock_network_list_for_tenant.return_value = (
                self.networks.list() if networks is None else networks
            )
        self.mock_volume_type_list.return_value = [
            SimpleNamespace(name="__DEFAULT__"),
            SimpleNamespace(name="fast"),
        ]
        if isinstance(zones, Exception):
            self.mock_availability_zone_list.side_effect = zones
        else:
            self.mock_availability_zone_list.return_value = (
                [
                    SimpleNamespace(zoneName="nova", zoneState={"available": True}),
                    SimpleNamespace(zoneName="az-2", zoneState={"available": True}),
                    SimpleNamespace(zoneName="az-down", zoneState={"available": False}),
                ]
                if zones is None
                else zones
            )

    def _post(self, **fields: str) -> Any:
        post = {"snapshot_id": "sn-1", "name": "sel", f"include_{WEB_KEY}": "on", f"include_{DB_KEY}": "on",
                f"volume_{WEB_KEY}_vol_data": "on", f"volume_{WEB_KEY}_vol_logs": "on", **fields}  # fmt: skip
        return self.client.post(SELECTIVE, {k: v for k, v in post.items() if v != ""})

    @helpers.create_mocks(SERVICES)
    def test_each_vm_has_its_flavor_and_network_and_each_volume_its_checkbox_and_type(self) -> None:
        self._services()
        res = self.client.get(SELECTIVE)
        page = html.unescape(res.content.decode())
        for field in (f"flavor_{WEB_KEY}", f"flavor_{DB_KEY}", f"network_{WEB_KEY}",
                      f"volume_{WEB_KEY}_vol_data", f"volume_type_{WEB_KEY}_vol_data",
                      f"volume_type_{WEB_KEY}_vol_logs", f"volume_type_{DB_KEY}_vol_root"):  # fmt: skip
            self.assertIn(f'name="{field}"', page)
        self.assertIn("Restore volume ux-data-1 (vdb, 1.0 GiB)", page)
        self.assertIn("As in the snapshot (small)", page)
        self.assertIn(self.flavors.first().name, page)
        self.assertIn(self.networks.first().name, page)
        # Cinder's default type reads "Default", never its raw name.
        self.assertIn(">As in the snapshot (Default)<", page)
        self.assertIn(">Default<", page)
        self.assertNotIn(">__DEFAULT__<", page)
        self.assertNotIn("(__DEFAULT__)", page)
        # The volume db boots from is always restored: no checkbox to leave it out.
        self.assertNotIn(f'name="volume_{DB_KEY}_vol_root"', page)
        self.assertIn("db boots from this volume: it is always restored.", page)
        # A VM without NICs says so where its network would be chosen.
        self.assertIn("None: db had no network interface in the snapshot", page)

    @helpers.create_mocks(SERVICES)
    def test_the_choices_become_per_vm_and_per_volume_options(self) -> None:
        self._services()
        self.mock_restore_create.return_value = data.restore(status="queued")
        flavor, network = self.flavors.first(), self.networks.first()
        choices = {f"flavor_{WEB_KEY}": flavor.id, f"network_{WEB_KEY}": network.id,
                   f"name_{WEB_KEY}": "web-2", f"volume_{WEB_KEY}_vol_data": "",
                   f"volume_type_{WEB_KEY}_vol_logs": "__DEFAULT__", f"include_{DB_KEY}": ""}  # fmt: skip
        res = self._post(**choices)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, RESTORES)
        args, kwargs = self.mock_restore_create.call_args
        self.assertEqual(("sn-1", "selective"), args[1:])
        self.assertEqual(
            {
                "instances": [
                    {
                        "id": WEB, "include": True, "name": "web-2", "flavor": {"id": flavor.id},
                        "nics": [{"id": "port-1", "network": {"id": network.id}},
                                 {"id": "port-2", "network": {"id": network.id}}],
                        "vdisks": [{"id": DATA, "include": False},
                                   {"id": LOGS, "new_volume_type": "__DEFAULT__"}],
                    },
                    {"id": DB, "include": False},
                ]
            },
            kwargs["openstack"],
        )  # fmt: skip

    @helpers.create_mocks(SERVICES)
    def test_without_a_network_to_choose_the_form_says_why_and_restores_the_snapshots(self) -> None:
        self._services(networks=[])
        self.mock_restore_create.return_value = data.restore(status="queued")
        res = self.client.get(SELECTIVE)
        self.assertContains(res, "The snapshot&#x27;s networks: the project has no network to choose")
        res = self._post(**{f"volume_type_{DB_KEY}_vol_root": "fast"})
        self.assertNoFormErrors(res)
        openstack = self.mock_restore_create.call_args.kwargs["openstack"]
        self.assertTrue(openstack["restore_topology"])
        web, db = openstack["instances"]
        self.assertNotIn("nics", web)
        self.assertNotIn("vdisks", web)  # both volumes restored as they were
        self.assertEqual([{"id": ROOT, "new_volume_type": "fast"}], db["vdisks"])

    @helpers.create_mocks(SERVICES)
    def test_a_volume_goes_to_the_cinder_zone_chosen_for_it(self) -> None:
        self._services()
        self.mock_restore_create.return_value = data.restore(status="queued")
        page = html.unescape(self.client.get(SELECTIVE).content.decode())
        self.assertIn(f'name="volume_zone_{WEB_KEY}_vol_logs"', page)
        self.assertIn(f'name="volume_zone_{DB_KEY}_vol_root"', page)  # the boot volume too
        self.assertIn(">Cinder's default zone<", page)
        self.assertIn(">az-2<", page)
        self.assertNotIn("az-down", page)  # a zone Cinder says is not available is no choice
        res = self._post(
            **{f"volume_zone_{WEB_KEY}_vol_logs": "az-2", f"volume_zone_{WEB_KEY}_vol_data": "nova",
               f"volume_{WEB_KEY}_vol_data": "", f"include_{DB_KEY}": ""}
        )  # fmt: skip
        self.assertNoFormErrors(res)
        web = self.mock_restore_create.call_args.kwargs["openstack"]["instances"][0]
        # A volume left out takes no zone.
        self.assertEqual(
            [{"id": DATA, "include": False}, {"id": LOGS, "availability_zone": "az-2"}], web["vdisks"]
        )
        text = (
            "options.openstack.instances[0].vdisks[1].availability_zone: Cinder has no availability zone az-2"
        )
        self.mock_restore_create.side_effect = data.api_error(text, 400)
        res = self._post(**{f"volume_zone_{WEB_KEY}_vol_logs": "az-2", f"volume_{WEB_KEY}_vol_data": ""})
        self.assertEqual([text], res.context["form"].errors[f"volume_zone_{WEB_KEY}_vol_logs"])

    @helpers.create_mocks(SERVICES)
    def test_without_zones_to_list_no_zone_is_offered(self) -> None:
        self._services(zones=self.exceptions.cinder)
        res = self.client.get(SELECTIVE)
        self.assertEqual(200, res.status_code)
        self.assertNotContains(res, "volume_zone_")

    @helpers.create_mocks(SERVICES)
    def test_a_network_list_that_failed_is_said(self) -> None:
        self._services(networks=self.exceptions.neutron)
        res = self.client.get(SELECTIVE)
        self.assertContains(res, "the project&#x27;s networks could not be listed")

    @helpers.create_mocks(SERVICES)
    def test_an_api_refusal_lands_on_the_field_it_names(self) -> None:
        self._services()
        text = "options.openstack.instances[0].vdisks[0].new_volume_type: volume type fast does not exist"
        self.mock_restore_create.side_effect = data.api_error(text, 400)
        res = self._post(**{f"volume_type_{WEB_KEY}_vol_data": "fast"})
        self.assertEqual(200, res.status_code)  # the form stays open with what was chosen
        form = res.context["form"]
        self.assertEqual([text], form.errors[f"volume_type_{WEB_KEY}_vol_data"])
        text = "options.openstack.instances[0].flavor.id: flavor x does not exist"
        self.mock_restore_create.side_effect = data.api_error(text, 400)
        res = self._post(**{f"flavor_{WEB_KEY}": self.flavors.first().id})
        self.assertEqual([text], res.context["form"].errors[f"flavor_{WEB_KEY}"])

"""The disaster-recovery drill on devcloud: a workload comes back after its cloud objects and T4O's
database are gone, from the backup target alone.

In project ``demo``: two VMs on a tenant network behind a router, with a security group and fixed IPs —
one booted from its own image with an attached volume, one booted from a volume — on a flavor and with a
keypair of their own. The test writes known data into every disk and keeps a model of each disk's bytes;
full snapshot, about 1% changed, incremental. Then the disaster: the servers, volumes, image, flavor,
keypair, security group, router, subnet and network are deleted and T4O's database is dropped and synced
anew. Admin imports the workload from the target. Then:

- the drill: reassign to project ``other`` (and its user), who restores it in one click;
- the variant: reassign back to ``demo``, who restores selectively with ``networks_mapping`` onto an
  existing network.

Every restored disk must hold the bytes of the test's model at the incremental; the VMs must be ACTIVE
with ports holding the original fixed IPs and MACs, in a security group with the original's rules. The
time of each phase goes to ``test-artifacts/dr-drill.json`` and the test's output."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from sqlalchemy.engine import make_url

from demo.services import T4OServices, create_database, drop_database
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import disk_sha256
from tests.integration.test_restore_without_source import public_key, rules_of
from tests.integration.test_snapshot_restore import DiskKey, Disks, domain_disk_path

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]
CIDR = "10.93.0.0/24"
FIXED_IPS = ("10.93.0.11", "10.93.0.12")
RULES = (
    {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"},
    {"protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"},
    {"protocol": "tcp", "port_range_min": 5432, "port_range_max": 5432, "remote_group_id": "self"},
)


class Phases:
    """Wall time of each phase of the drill, printed and kept in test-artifacts/dr-drill.json."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.times[name] = round(time.monotonic() - start, 1)
            print(f"dr-drill: {name} {self.times[name]} s")

    def save(self) -> None:
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        (out / "dr-drill.json").write_text(json.dumps(self.times, indent=2) + "\n")


class Cloud:
    """Everything the drill or a restore made, removed at the end whatever happened (as admin, who sees
    every project's objects; keypairs through their owner's connection)."""

    def __init__(self, admin: Connection) -> None:
        self.admin = admin
        self.servers: list[str] = []
        self.volumes: list[str] = []
        self.routers: list[str] = []
        self.networks: list[str] = []
        self.groups: list[str] = []
        self.flavors: list[str] = []
        self.images: list[str] = []
        self.keypairs: list[tuple[Connection, str]] = []
        self.server_groups: list[str] = []
        self.problems: list[str] = []

    def adopt(self, job: dict[str, Any], owner: Connection) -> None:
        for inst in job.get("instances") or []:
            self.servers.append(inst["id"])
            self.volumes.extend(v["id"] for v in inst.get("volumes") or [])
            for made in inst.get("created") or []:
                if made["kind"] == "keypair":
                    self.keypairs.append((owner, made["name"]))
                elif made["kind"] == "flavor":
                    self.flavors.append(made["id"])
                elif made["kind"] == "security_group":
                    self.groups.append(made["id"])
                elif made["kind"] == "server_group":
                    self.server_groups.append(made["id"])
            for net in (inst.get("networks") or {}).values():
                if net.get("action") == "created":
                    self.networks.append(net["id"])

    def adopt_project(self, project_id: str, tag: str) -> None:
        """Networks, routers and groups of the drill's names a restore made in a project."""
        a = self.admin.network
        self.routers += [r.id for r in a.routers(project_id=project_id) if tag in (r.name or "")]
        self.networks += [n.id for n in a.networks(project_id=project_id) if tag in (n.name or "")]
        self.groups += [g.id for g in a.security_groups(project_id=project_id) if tag in (g.name or "")]

    def _try(self, what: str, call: Any, *args: Any, **kwargs: Any) -> None:
        try:
            call(*args, **kwargs)
        except Exception as exc:  # keep cleaning; the leftovers are reported at the end
            self.problems.append(f"{what}: {exc}")

    def delete_servers(self) -> None:
        c = self.admin.compute
        for sid in self.servers:
            self._try(f"server {sid}", c.delete_server, sid, ignore_missing=True)
        for sid in self.servers:
            with contextlib.suppress(Exception):
                c.wait_for_delete(c.get_server(sid), wait=180)
        self.servers.clear()

    def delete_volumes(self) -> None:
        b = self.admin.block_storage
        for vid in self.volumes:
            with contextlib.suppress(Exception):
                b.wait_for_status(b.get_volume(vid), "available", failures=["error"], wait=120)
            self._try(f"volume {vid}", b.delete_volume, vid, ignore_missing=True)
        for vid in self.volumes:
            with contextlib.suppress(Exception):
                b.wait_for_delete(b.get_volume(vid), wait=120)
        self.volumes.clear()

    def delete_network(self) -> None:
        n = self.admin.network
        for rid in dict.fromkeys(self.routers):
            for port in list(n.ports(device_id=rid, device_owner="network:router_interface")):
                self._try(f"interface {port.id}", n.remove_interface_from_router, rid, port_id=port.id)
            self._try(f"router {rid}", n.delete_router, rid, ignore_missing=True)
        for nid in dict.fromkeys(self.networks):
            for port in list(n.ports(network_id=nid)):
                if port.device_owner == "network:router_interface":  # a router this test did not make
                    self._try(
                        f"interface {port.id}",
                        n.remove_interface_from_router,
                        port.device_id,
                        port_id=port.id,
                    )
                elif port.device_owner != "network:dhcp":
                    self._try(f"port {port.id}", n.delete_port, port, ignore_missing=True)
            self._try(f"network {nid}", n.delete_network, nid, ignore_missing=True)
        for gid in dict.fromkeys(self.groups):
            self._try(f"security group {gid}", n.delete_security_group, gid, ignore_missing=True)
        self.routers.clear()
        self.networks.clear()
        self.groups.clear()

    def delete_all(self) -> None:
        self.delete_servers()
        self.delete_volumes()
        self.delete_network()
        for fid in self.flavors:
            self._try(f"flavor {fid}", self.admin.compute.delete_flavor, fid, ignore_missing=True)
        for iid in self.images:
            self._try(f"image {iid}", self.admin.image.delete_image, iid, ignore_missing=True)
        for conn, name in self.keypairs:
            self._try(f"keypair {name}", conn.compute.delete_keypair, name, ignore_missing=True)
        for gid in dict.fromkeys(self.server_groups):
            self._try(f"server group {gid}", self.admin.compute.delete_server_group, gid, ignore_missing=True)
        self.server_groups.clear()
        self.flavors.clear()
        self.images.clear()
        self.keypairs.clear()

    def check_clean(self) -> None:
        problems, self.problems = self.problems, []
        assert not problems, f"the drill left objects behind: {problems}"


@dataclass
class Drill:
    """The state after the disaster and the import: what the restores must give back."""

    tag: str
    devcloud: Devcloud
    admin: Connection
    cloud: Cloud
    services: T4OServices
    workload_id: str
    incremental_id: str
    source_vms: dict[str, str]  # source server id -> its name
    source_network: str  # the network the VMs' ports were on (deleted in the disaster)
    fixed_ips: dict[str, str]  # source server id -> its fixed IP
    macs: dict[str, str]  # source server id -> its MAC
    rules: set[tuple[Any, ...]]
    expected: dict[DiskKey, str]  # (source server, target) -> sha256 at the incremental
    snapshot: dict[str, Any]  # the incremental's record, after the import
    phases: Phases = field(default_factory=Phases)

    def api(self, conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
        return self.services.request(method, path, conn.auth_token, conn.current_project_id, **kwargs)

    def wait(self, conn: Connection, kind: str, job_id: str) -> dict[str, Any]:
        return self.services.wait_job(kind, job_id, conn.auth_token, conn.current_project_id)

    def reassign(self, project: str, user: str) -> None:
        project_id = self.admin.identity.find_project(project, ignore_missing=False).id
        user_id = self.admin.identity.find_user(user, ignore_missing=False).id
        body = {"workload_ids": [self.workload_id], "new_tenant_id": project_id, "user_id": user_id}
        got = self.api(self.admin, "POST", "/workloads/reassign_workloads", json=body)["workloads"]
        (moved,) = got["reassigned_workloads"]
        assert (moved["id"], moved["project_id"], moved["user_id"]) == (self.workload_id, project_id, user_id)

    def restore(self, conn: Connection, options: dict[str, Any]) -> dict[str, Any]:
        made = self.api(
            conn, "POST", f"/snapshots/{self.incremental_id}", json={"restore": {"options": options}}
        )
        job = self.wait(conn, "restore", made["restore"]["id"])
        self.cloud.adopt(job, conn)
        self.cloud.adopt_project(conn.current_project_id, self.tag)
        assert job["status"] == "available", job["error_msg"]
        return job

    def assert_restored(self, conn: Connection, job: dict[str, Any], network_id: str, tmp: Path) -> None:
        """Both VMs ACTIVE, every disk the model's bytes, one port each on ``network_id`` with the original
        fixed IP and MAC, in a group of the original's rules."""
        assert sorted(i["source_vm_id"] for i in job["instances"]) == sorted(self.source_vms)
        source_target = {
            d["ref"]: (i["id"], d["target"]) for i in self.snapshot["instances"] for d in i["vdisks"]
        }
        for inst in job["instances"]:
            source = inst["source_vm_id"]
            server = conn.compute.get_server(inst["id"])
            assert server.status == "ACTIVE", (server.status, server.fault)
            assert server.id not in self.source_vms
            restored = {source_target[d["ref"]]: d["target"] for d in inst["disks"]}
            assert sorted(restored) == sorted(k for k in self.expected if k[0] == source), (restored, inst)
            for key, target in restored.items():
                got = disk_sha256(domain_disk_path(self.devcloud, inst["id"], target), tmp)
                assert got == self.expected[key], f"{inst['id']}'s {target} is not {key} at the incremental"
            (port,) = list(conn.network.ports(device_id=inst["id"]))
            assert port.network_id == network_id
            assert [ip["ip_address"] for ip in port.fixed_ips] == [self.fixed_ips[source]]
            assert port.mac_address == self.macs[source]
            bound = self.admin.network.get_port(port.id)  # binding attributes are the admin's to read
            assert (port.status, bound.binding_vif_type) == ("ACTIVE", "ovs")
            (group_id,) = port.security_group_ids
            assert rules_of(conn, group_id) == self.rules
        groups = [g for g in conn.compute.server_groups() if g.name == f"dr-{self.tag}-group"]
        assert len(groups) == 1, [(g.id, g.name) for g in groups]
        assert (groups[0].policy or (groups[0].policies or [None])[0]) == "affinity"
        assert sorted(groups[0].member_ids) == sorted(i["id"] for i in job["instances"])


def lose_database(services: T4OServices) -> None:
    """T4O's database is gone: stop the services, drop it, create it empty and start them (db sync)."""
    name = make_url(services.database_url).database
    assert name
    services.stop()
    drop_database(name)
    create_database(name)
    services.start()


def build_world(devcloud: Devcloud, cloud: Cloud, demo: Connection, tag: str) -> dict[str, Any]:
    """The source side of the drill in project demo; returns what the test needs to know of it."""
    admin = cloud.admin
    base = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    image = demo.image.create_image(
        name=f"dr-{tag}-image", data=demo.image.download_image(base).content, disk_format=base.disk_format,
        container_format="bare", visibility="private", os_distro="cirros", wait=True, timeout=120,
    )  # fmt: skip
    cloud.images.append(image.id)
    tiny = admin.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    flavor = admin.compute.create_flavor(
        name=f"dr-{tag}-flavor", vcpus=tiny.vcpus, ram=tiny.ram, disk=tiny.disk, is_public=True
    )
    cloud.flavors.append(flavor.id)
    key = f"dr-{tag}-key"
    demo.compute.create_keypair(name=key, public_key=public_key())
    cloud.keypairs.append((demo, key))
    net = demo.network.create_network(name=f"dr-{tag}-net")
    cloud.networks.append(net.id)
    subnet = demo.network.create_subnet(network_id=net.id, cidr=CIDR, ip_version=4, name=f"dr-{tag}-subnet")
    router = demo.network.create_router(name=f"dr-{tag}-router")
    cloud.routers.append(router.id)
    demo.network.add_interface_to_router(router, subnet_id=subnet.id)
    group = demo.network.create_security_group(name=f"dr-{tag}-sg", description="DR drill")
    cloud.groups.append(group.id)
    for rule in RULES:
        rule = {**rule, "remote_group_id": group.id} if rule.get("remote_group_id") == "self" else rule
        demo.network.create_security_group_rule(security_group_id=group.id, direction="ingress", **rule)
    ports = [
        demo.network.create_port(
            network_id=net.id, name=f"dr-{tag}-port{i}", security_group_ids=[group.id],
            fixed_ips=[{"subnet_id": subnet.id, "ip_address": ip}],
        )
        for i, ip in enumerate(FIXED_IPS)
    ]  # fmt: skip
    # both in one server group (affinity: devcloud has one compute host)
    server_group = demo.compute.create_server_group(name=f"dr-{tag}-group", policy="affinity")
    cloud.server_groups.append(server_group.id)
    hints = {"group": server_group.id}
    # vm0 boots from the image and has a data volume; vm1 boots from a volume made from the image
    data = demo.block_storage.create_volume(size=1, name=f"dr-{tag}-data")
    boot = demo.block_storage.create_volume(size=1, name=f"dr-{tag}-boot", image_id=image.id)
    cloud.volumes += [data.id, boot.id]
    for vol in (data, boot):
        demo.block_storage.wait_for_status(vol, "available", failures=["error"], wait=300)
    vm0 = demo.compute.create_server(
        name=f"dr-{tag}-vm0", flavor_id=flavor.id, image_id=image.id, key_name=key,
        networks=[{"port": ports[0].id}], scheduler_hints=hints,
    )  # fmt: skip
    vm1 = demo.compute.create_server(
        name=f"dr-{tag}-vm1", flavor_id=flavor.id, key_name=key, networks=[{"port": ports[1].id}],
        scheduler_hints=hints,
        block_device_mapping=[{"boot_index": 0, "uuid": boot.id, "source_type": "volume",
                               "destination_type": "volume", "delete_on_termination": False}],
    )  # fmt: skip
    cloud.servers += [vm0.id, vm1.id]
    for vm in (vm0, vm1):
        demo.compute.wait_for_server(vm, wait=300)
    demo.compute.create_volume_attachment(vm0.id, volume_id=data.id)
    demo.block_storage.wait_for_status(data, "in-use", failures=["error"], wait=120)
    return {
        "vms": {vm0.id: vm0.name, vm1.id: vm1.name},
        "fixed_ips": {vm0.id: FIXED_IPS[0], vm1.id: FIXED_IPS[1]},
        "macs": {vm0.id: ports[0].mac_address, vm1.id: ports[1].mac_address},
        "group": group.id,
        "network": net.id,
        "disks": [(vm0.id, "vda"), (vm0.id, "vdb"), (vm1.id, "vda")],
    }


@pytest.fixture(scope="module")
def drill(
    devcloud: Devcloud, t4o_services: T4OServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Drill]:
    tag = uuid.uuid4().hex[:6]
    admin, demo = devcloud.connection("devcloud-admin"), devcloud.connection("devcloud-demo")
    cloud = Cloud(admin)
    phases = Phases()
    tmp = tmp_path_factory.mktemp("dr-drill")
    try:
        with phases("build the source workload (2 VMs, network, router, group)"):
            world = build_world(devcloud, cloud, demo, tag)
        rules = rules_of(demo, world["group"])
        disks = Disks(devcloud, tmp, world["disks"])
        vm0, vm1 = world["vms"]
        for i, (sid, dev) in enumerate(world["disks"]):
            disks.write(sid, (100 + 200 * i) * MiB, 24 * MiB, 0xD0 + i, dev=dev)
        wl = t4o_services.request(
            "POST", "/workloads", demo.auth_token, demo.current_project_id,
            json={"workload": {"name": f"dr-{tag}", "instances": [{"instance-id": v} for v in (vm0, vm1)]}},
        )["workload"]  # fmt: skip

        def snapshot(full: bool) -> str:
            made = t4o_services.request(
                "POST", f"/workloads/{wl['id']}", demo.auth_token, demo.current_project_id,
                params={"full": "1"} if full else {}, json={"snapshot": {"name": "full" if full else "incr"}},
            )["snapshot"]  # fmt: skip
            job = t4o_services.wait_job("snapshot", made["id"], demo.auth_token, demo.current_project_id)
            assert job["status"] == "available", job["error_msg"]
            return str(made["id"])

        with phases("full snapshot"):
            snapshot(True)
        for i, (sid, dev) in enumerate(world["disks"]):  # about 1% of each 1 GiB disk
            disks.write(sid, (40 + 300 * i) * MiB, 10 * MiB, 0xE0 + i, dev=dev)
        with phases("incremental snapshot"):
            incremental = snapshot(False)
        expected = disks.at_snapshot()

        with phases("disaster: delete servers, volumes, image, flavor, keypair, group, network"):
            cloud.delete_all()
        cloud.check_clean()
        assert not list(admin.network.networks(name=f"dr-{tag}-net"))
        with phases("disaster: drop T4O's database, start on an empty one"):
            lose_database(t4o_services)
        with pytest.raises(RuntimeError, match="404"):
            t4o_services.request("GET", f"/workloads/{wl['id']}", admin.auth_token, admin.current_project_id)

        def as_admin(method: str, path: str, **kwargs: Any) -> Any:
            return t4o_services.request(method, path, admin.auth_token, admin.current_project_id, **kwargs)

        with phases("list import candidates"):
            listed = as_admin("GET", "/workloads/get_list/import_workloads")["workloads"]
        (candidate,) = [w for w in listed if w["id"] == wl["id"]]
        assert candidate["snapshots"] == 2 and not candidate["in_database"], candidate
        with phases("import"):
            done = as_admin("POST", "/workloads/import_workloads", json={"workload_ids": [wl["id"]]})[
                "workloads"
            ]
        (imported,) = done["imported_workloads"]
        assert imported["id"] == wl["id"] and len(imported["snapshots"]) == 2, done
        again = as_admin("POST", "/workloads/import_workloads", json={"workload_ids": [wl["id"]]})[
            "workloads"
        ]
        assert [w["id"] for w in again["unchanged_workloads"]] == [wl["id"]], again
        snap = t4o_services.request(
            "GET", f"/snapshots/{incremental}", demo.auth_token, demo.current_project_id
        )["snapshot"]
        assert snap["snapshot_type"] == "incremental" and snap["status"] == "available"
        yield Drill(
            tag, devcloud, admin, cloud, t4o_services, wl["id"], incremental, world["vms"], world["network"],
            world["fixed_ips"],
            world["macs"], rules, expected, snap, phases,
        )  # fmt: skip
    finally:
        phases.save()
        cloud.delete_all()
    cloud.check_clean()


def test_drill_import_reassign_to_another_project_and_restore_in_one_click(
    drill: Drill, devcloud: Devcloud, tmp_path: Path
) -> None:
    other = devcloud.connection("devcloud-other")
    with drill.phases("reassign to project other"):
        drill.reassign("other", "other")
    listed = drill.api(other, "GET", "/workloads")["workloads"]
    assert drill.workload_id in [w["id"] for w in listed]
    try:
        with drill.phases("one-click restore in project other"):
            job = drill.restore(other, {"restore_type": "oneclick"})
        # nothing of the source cloud was there to use: network, group and keypair were re-created
        (net,) = list(other.network.networks(name=f"dr-{drill.tag}-net"))
        assert net.project_id == other.current_project_id
        kinds = {c["kind"] for i in job["instances"] for c in i["created"]}
        assert {"keypair", "security_group", "server_group"} <= kinds, kinds
        assert "flavor" not in kinds, kinds  # devcloud.tiny has the deleted flavor's sizes: it is chosen
        (router,) = list(other.network.routers(name=f"dr-{drill.tag}-router"))
        interfaces = list(other.network.ports(device_id=router.id, device_owner="network:router_interface"))
        assert [ip["ip_address"] for p in interfaces for ip in p.fixed_ips] == ["10.93.0.1"]
        image_vm = next(i for i in job["instances"] if i["source_vm_id"] == next(iter(drill.source_vms)))
        assert image_vm["boot"]["source"] == "volume"  # its image is gone
        drill.assert_restored(other, job, net.id, tmp_path)
    finally:
        drill.cloud.delete_servers()
        drill.cloud.delete_volumes()
        drill.cloud.delete_network()
    drill.cloud.check_clean()


def test_drill_variant_restore_into_demo_onto_an_existing_network(
    drill: Drill, devcloud: Devcloud, tmp_path: Path
) -> None:
    demo = devcloud.connection("devcloud-demo")
    drill.reassign("demo", "demo")
    existing = demo.network.create_network(name=f"dr-{drill.tag}-existing")
    drill.cloud.networks.append(existing.id)
    demo.network.create_subnet(network_id=existing.id, cidr=CIDR, ip_version=4)
    mapping = {"snapshot_network": {"id": drill.source_network}, "target_network": {"id": existing.id}}
    try:
        with drill.phases("selective restore into demo with networks_mapping"):
            job = drill.restore(
                demo,
                {
                    "restore_type": "selective",
                    "openstack": {
                        "instances": [{"id": vm, "include": True} for vm in drill.source_vms],
                        "networks_mapping": {"networks": [mapping]},
                    },
                },
            )
        assert not list(demo.network.networks(name=f"dr-{drill.tag}-net"))  # mapped, not re-created
        drill.assert_restored(demo, job, existing.id, tmp_path)
    finally:
        drill.cloud.delete_servers()
        drill.cloud.delete_volumes()
        drill.cloud.delete_network()
    drill.cloud.check_clean()

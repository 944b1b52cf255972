"""The agent's snapshot mounts with libvirt faked (a domain whose live XML follows attaches and detaches)
and a real vault and NBD exports: disk XML, device naming, state files, restart decisions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from t4o.datamover.agent import mounts
from t4o.datamover.agent.mounts import MountRegistry, check_request
from t4o.datamover.disks import DomainNotFound, DomainStateError
from t4o.datamover.disks.domain_xml import disk_name, free_targets, nbd_disk_xml, nbd_sockets
from t4o.vault import PosixBackend, Repository, SnapshotNotFound, backup_source

CS = 64 * 1024


class FakeDomain:
    """A domain with a file disk vda; NBD disks attached live appear in its XML until detached."""

    def __init__(self, uuid_: str, active: bool = True, answers: bool = True) -> None:
        self.uuid = uuid_
        self.active = active
        self.answers = answers  # the guest releases a disk when asked
        self.disks: list[str] = []
        self.detached: list[str] = []

    def name(self) -> str:
        return f"instance-{self.uuid[:4]}"

    def isActive(self) -> bool:
        return self.active

    def XMLDesc(self, flags: int = 0) -> str:
        return (
            "<domain><devices><disk type='file' device='disk'><source file='/d'/><target dev='vda'/></disk>"
            + "".join(self.disks)
            + "</devices></domain>"
        )

    def attachDeviceFlags(self, xml: str, flags: int) -> None:
        self.disks.append(xml)

    def detachDeviceAlias(self, alias: str, flags: int) -> None:
        self.detached.append(alias)
        if self.answers:
            self.disks = [d for d in self.disks if f'name="{alias}"' not in d]


@pytest.fixture
def short_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="t4o-mu-")  # unix socket paths below it stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def vault_spec(short_dir: str) -> dict[str, Any]:
    """A vault holding snapshot s1 with disks vda (3 blocks) and vdb (1 block)."""
    url = os.path.join(short_dir, "vault")
    repo = Repository.init(PosixBackend(url, fsync=False), chunk_size=CS)
    for disk, blocks in (("vda", 3), ("vdb", 1)):
        path = os.path.join(short_dir, f"{disk}.raw")
        with open(path, "wb") as f:
            f.write(os.urandom(blocks * CS))
        backup_source(repo, path, disk, snapshot_id="s1", workload_id="w")
    return {"url": url, "password": None}


@pytest.fixture
def libvirt_world() -> Iterator[dict[str, FakeDomain]]:
    """Domains by uuid, as the fake libvirt connection finds them."""
    domains: dict[str, FakeDomain] = {}

    def lookup(_conn: object, uuid_: str) -> FakeDomain:
        if uuid_ not in domains:
            raise DomainNotFound(f"no libvirt domain {uuid_!r}")
        return domains[uuid_]

    with (
        mock.patch.object(mounts, "connect", return_value=mock.MagicMock()),
        mock.patch.object(mounts, "lookup_domain", side_effect=lookup),
    ):
        yield domains


def registry(short_dir: str, **kw: Any) -> MountRegistry:
    kw.setdefault("detach_timeout", 0.5)
    return MountRegistry("host-1", os.path.join(short_dir, "m"), "qemu:///system", **kw)


def spec(vault: dict[str, Any], *refs: str) -> dict[str, Any]:
    return {"vault": vault, "disks": [{"ref": r, "serial": f"t4o-{i}"} for i, r in enumerate(refs)]}


# -- domain XML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "name"),
    [(0, "vda"), (1, "vdb"), (25, "vdz"), (26, "vdaa"), (27, "vdab"), (51, "vdaz"), (52, "vdba"),
     (701, "vdzz"), (702, "vdaaa")],
)  # fmt: skip
def test_disk_names_count_like_libvirt(index: int, name: str) -> None:
    assert disk_name(index) == name


def test_free_targets_skip_every_name_in_use() -> None:
    domain = """<domain><devices>
      <disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='disk'><target dev='vdc' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><target dev='vdd' bus='sata'/></disk>
      <disk type='file' device='cdrom'><target dev='hda' bus='ide'/></disk></devices></domain>"""
    assert free_targets(domain, 3) == ["vdb", "vde", "vdf"]
    used = "".join(f"<disk><target dev='{disk_name(i)}'/></disk>" for i in range(26))
    assert free_targets(f"<domain><devices>{used}</devices></domain>", 1) == ["vdaa"]


def test_nbd_disk_xml_is_a_read_only_virtio_disk_on_the_unix_socket() -> None:
    disk = ET.fromstring(nbd_disk_xml("vdb", "/m/x/d0.sock", "s1/vda", "t4o-0", "ua-t4o-x-vdb", 30))
    assert (disk.tag, disk.get("type"), disk.get("device")) == ("disk", "network", "disk")
    assert disk.find("driver").attrib == {"name": "qemu", "type": "raw"}  # type: ignore[union-attr]
    assert disk.find("source").attrib == {"protocol": "nbd", "name": "s1/vda"}  # type: ignore[union-attr]
    assert disk.find("source/host").attrib == {"transport": "unix", "socket": "/m/x/d0.sock"}  # type: ignore[union-attr]
    assert disk.find("source/reconnect").attrib == {"delay": "30"}  # type: ignore[union-attr]
    assert disk.find("target").attrib == {"dev": "vdb", "bus": "virtio"}  # type: ignore[union-attr]
    assert disk.find("readonly") is not None
    assert disk.findtext("serial") == "t4o-0"
    assert disk.find("alias").attrib == {"name": "ua-t4o-x-vdb"}  # type: ignore[union-attr]
    no_reconnect = ET.fromstring(nbd_disk_xml("vdb", "/s", "e", "s", "ua-a", 0))
    assert no_reconnect.find("source/reconnect") is None


def test_nbd_sockets_finds_the_unix_nbd_disks_only() -> None:
    domain = f"""<domain><devices>
      <disk type='file' device='disk'><source file='/d'/><target dev='vda'/></disk>
      <disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h' port='1'/></source>
        <target dev='vdb'/></disk>
      {nbd_disk_xml("vdc", "/m/a.sock", "e", "s", "ua-a")}</devices></domain>"""
    assert nbd_sockets(domain) == {"/m/a.sock": "vdc"}


# -- requests ---------------------------------------------------------------------------------------

ID = "d9bd29f1-9fa3-4a88-9282-17cbc7a3ae1d"  # fixed: in parametrize ids, same in every xdist worker


@pytest.mark.parametrize(
    ("mount_id", "server_id", "body", "message"),
    [
        ("../x", ID, spec({"url": "/v"}, "s/d"), "invalid mount id"),
        (ID, "vm", spec({"url": "/v"}, "s/d"), "invalid server id"),
        (ID, ID, {"disks": [{"ref": "s/d", "serial": "a"}]}, "names no vault"),
        (ID, ID, spec({"url": "/v"}), "1 to 16 disks"),
        (ID, ID, spec({"url": "/v"}, *["s/d"] * 17), "1 to 16 disks"),
        (ID, ID, spec({"url": "/v"}, "../d"), "invalid vault disk ref"),
        (ID, ID, {"vault": {"url": "/v"}, "disks": [{"ref": "s/d", "serial": "a b"}]}, "invalid disk serial"),
        (
            ID,
            ID,
            {"vault": {"url": "/v"}, "disks": [{"ref": "s/d", "serial": "x" * 21}]},
            "invalid disk serial",
        ),
    ],
)
def test_bad_requests_are_refused(mount_id: str, server_id: str, body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_request(mount_id, server_id, body)


# -- mount, state files, dismount ---------------------------------------------------------------------


def test_mount_attaches_serves_and_records_its_state(short_dir, vault_spec, libvirt_world) -> None:
    server = str(uuid.uuid4())
    dom = libvirt_world[server] = FakeDomain(server)
    reg = registry(short_dir)
    mount_id = str(uuid.uuid4())
    view = reg.mount(mount_id, server, spec(vault_spec, "s1/vda", "s1/vdb"))
    assert view["status"] == "mounted" and view["host"] == "host-1" and view["server_id"] == server
    assert view["disks"] == [
        {"ref": "s1/vda", "serial": "t4o-0", "device": "vdb"},
        {"ref": "s1/vdb", "serial": "t4o-1", "device": "vdc"},
    ]
    assert view["last_read_at"] is None and view["mounted_at"].endswith("+00:00")
    sockets = nbd_sockets(dom.XMLDesc())
    sock_dir = os.path.join(reg.mount_dir, mount_id)
    assert sockets == {f"{sock_dir}/d0.sock": "vdb", f"{sock_dir}/d1.sock": "vdc"}
    assert all(stat.S_ISSOCK(os.stat(s).st_mode) for s in sockets)
    assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o700

    path = reg.state_path(mount_id)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    state = json.loads(Path(path).read_text())
    assert state["vault"] == vault_spec and state["status"] == "mounted" and state["server_id"] == server
    assert state["host"] == "host-1"
    assert [(d["ref"], d["device"], d["socket"]) for d in state["disks"]] == [
        ("s1/vda", "vdb", f"{sock_dir}/d0.sock"),
        ("s1/vdb", "vdc", f"{sock_dir}/d1.sock"),
    ]

    # the last read of any disk is reported (and recorded for the next start)
    reg._mounts[mount_id].exports[1].last_read_at = 1_800_000_000.0
    assert reg.get(mount_id)["last_read_at"] == "2027-01-15T08:00:00+00:00"  # type: ignore[index]
    assert json.loads(Path(path).read_text())["last_read_at"] == 1_800_000_000.0

    assert reg.mount(mount_id, server, spec(vault_spec, "s1/vda")) == reg.get(mount_id)  # a retry
    with pytest.raises(ValueError, match="already attaches its disks to server"):
        reg.mount(mount_id, str(uuid.uuid4()), spec(vault_spec, "s1/vda"))
    assert [v["id"] for v in reg.live()] == [mount_id]

    gone = reg.dismount(mount_id)
    assert gone is not None and gone["status"] == "dismounted" and gone["disks"] == view["disks"]
    assert sorted(dom.detached) == [f"ua-t4o-{mount_id}-vdb", f"ua-t4o-{mount_id}-vdc"]
    assert nbd_sockets(dom.XMLDesc()) == {}
    assert os.listdir(reg.mount_dir) == []
    assert reg.dismount(mount_id) == gone and reg.get(mount_id) == gone
    assert reg.live() == []
    # the same id mounted again (workloadmgr does so for a mount its agent lost): a new mount
    again = reg.mount(mount_id, server, spec(vault_spec, "s1/vdb"))
    assert again["status"] == "mounted" and again["disks"][0]["ref"] == "s1/vdb"
    reg.dismount(mount_id)
    assert reg.dismount(str(uuid.uuid4())) is None and reg.get(str(uuid.uuid4())) is None
    assert os.listdir(reg.mount_dir) == []


def test_the_next_mount_takes_the_next_free_devices(short_dir, vault_spec, libvirt_world) -> None:
    server = str(uuid.uuid4())
    libvirt_world[server] = FakeDomain(server)
    reg = registry(short_dir)
    first = reg.mount(str(uuid.uuid4()), server, spec(vault_spec, "s1/vda"))
    second = reg.mount(str(uuid.uuid4()), server, spec(vault_spec, "s1/vda", "s1/vdb"))
    assert [d["device"] for d in first["disks"] + second["disks"]] == ["vdb", "vdc", "vdd"]
    reg.close()


def test_refused_mounts_leave_no_state(short_dir, vault_spec, libvirt_world) -> None:
    server = str(uuid.uuid4())
    dom = libvirt_world[server] = FakeDomain(server)
    reg = registry(short_dir)
    with pytest.raises(SnapshotNotFound):
        reg.mount(str(uuid.uuid4()), server, spec(vault_spec, "s1/vda", "s1/missing"))
    with pytest.raises(DomainNotFound):
        reg.mount(str(uuid.uuid4()), str(uuid.uuid4()), spec(vault_spec, "s1/vda"))
    dom.attachDeviceFlags = mock.Mock(side_effect=[None, RuntimeError("no hotplug")])  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        reg.mount(str(uuid.uuid4()), server, spec(vault_spec, "s1/vda", "s1/vdb"))
    dom.active = False
    with pytest.raises(DomainStateError, match="not running"):
        reg.mount(str(uuid.uuid4()), server, spec(vault_spec, "s1/vda"))
    assert os.listdir(reg.mount_dir) == [] and reg.live() == []


def test_a_guest_that_keeps_its_disks_does_not_keep_the_exports(short_dir, vault_spec, libvirt_world) -> None:
    server = str(uuid.uuid4())
    dom = libvirt_world[server] = FakeDomain(server, answers=False)
    reg = registry(short_dir, detach_timeout=0.3)
    mount_id = str(uuid.uuid4())
    reg.mount(mount_id, server, spec(vault_spec, "s1/vda"))
    assert reg.dismount(mount_id)["status"] == "dismounted"  # type: ignore[index]
    assert dom.detached == [f"ua-t4o-{mount_id}-vdb"] and len(nbd_sockets(dom.XMLDesc())) == 1
    assert os.listdir(reg.mount_dir) == []


def test_a_dismount_of_a_vanished_domain_only_stops_the_exports(short_dir, vault_spec, libvirt_world) -> None:
    server = str(uuid.uuid4())
    libvirt_world[server] = FakeDomain(server)
    reg = registry(short_dir)
    mount_id = str(uuid.uuid4())
    reg.mount(mount_id, server, spec(vault_spec, "s1/vda"))
    del libvirt_world[server]
    assert reg.dismount(mount_id)["status"] == "dismounted"  # type: ignore[index]
    assert os.listdir(reg.mount_dir) == []


# -- agent restart ------------------------------------------------------------------------------------


def test_restart_serves_live_mounts_again_and_drops_the_rest(short_dir, vault_spec, libvirt_world) -> None:
    reg = registry(short_dir)
    doms = {}
    ids = {}
    for case in ("live", "stopped", "gone", "restarted", "half"):
        server = str(uuid.uuid4())
        doms[case] = libvirt_world[server] = FakeDomain(server)
        ids[case] = str(uuid.uuid4())
        reg.mount(ids[case], server, spec(vault_spec, "s1/vda"))
    reg.close()  # the agent stops
    assert sorted(os.listdir(reg.mount_dir)) == sorted([*ids.values(), *(f"{i}.json" for i in ids.values())])
    doms["stopped"].active = False
    del libvirt_world[doms["gone"].uuid]
    doms["restarted"].disks = []  # the VM restarted: live-only disks are gone
    half = reg.state_path(ids["half"])  # the agent died in the middle of this one
    with open(half) as f:
        state = json.load(f)
    with open(half, "w") as f:
        json.dump({**state, "status": "mounting"}, f)
    orphan = os.path.join(reg.mount_dir, str(uuid.uuid4()))
    os.mkdir(orphan)
    # a mount of another agent sharing the directory (its state and sockets are its own)
    other_id = str(uuid.uuid4())
    with open(reg.state_path(other_id), "w") as f:
        json.dump({**state, "id": other_id, "host": "host-2"}, f)
    os.mkdir(reg.socket_dir(other_id))
    with open(os.path.join(reg.mount_dir, f"{uuid.uuid4()}.json"), "w") as f:
        f.write("{not json")

    again = registry(short_dir)
    again.restore()
    assert [v["id"] for v in again.live()] == [ids["live"]]
    live = again.get(ids["live"])
    assert live is not None and live["disks"][0]["device"] == "vdb"
    for sock in nbd_sockets(doms["live"].XMLDesc()):
        assert stat.S_ISSOCK(os.stat(sock).st_mode), "not served again on the same socket"
    for case in ("stopped", "gone", "restarted", "half"):
        assert again.get(ids[case]) is None
        assert not os.path.exists(again.state_path(ids[case])) and not os.path.exists(
            again.socket_dir(ids[case])
        )
    assert doms["half"].detached == [f"ua-t4o-{ids['half']}-vdb"]
    assert doms["live"].detached == doms["stopped"].detached == []
    assert not os.path.exists(orphan)
    assert again.get(other_id) is None
    assert os.path.exists(again.state_path(other_id)) and os.path.isdir(again.socket_dir(other_id))
    assert len([n for n in os.listdir(again.mount_dir) if n.endswith(".json")]) == 3  # live, other, bad
    again.close()


def test_restart_without_libvirt_serves_every_mount(short_dir, vault_spec, libvirt_world) -> None:
    server = str(uuid.uuid4())
    libvirt_world[server] = FakeDomain(server)
    reg = registry(short_dir)
    mount_id = str(uuid.uuid4())
    reg.mount(mount_id, server, spec(vault_spec, "s1/vda"))
    reg.close()
    again = registry(short_dir)
    with mock.patch.object(mounts, "connect", side_effect=mounts.LibvirtUnavailable("down")):
        again.restore()
    assert [v["id"] for v in again.live()] == [mount_id]
    again.close()


def test_no_state_no_libvirt_at_start(short_dir) -> None:
    with mock.patch.object(mounts, "connect", side_effect=AssertionError("libvirt asked")):
        reg = registry(short_dir)
        reg.restore()  # no mount_dir yet: nothing to do, nothing created
    assert not os.path.exists(reg.mount_dir)

"""Snapshot mounts for real: vault disks served over NBD by the agent's mount registry, hot-plugged into
a running QEMU (TCG) domain of libvirtd, read back through QEMU's own block layer, then detached.

The scratch domain boots no OS, so nobody answers QEMU's ACPI unplug request; ``AcpiGuest`` does what a
guest's ACPI code does (read the pending-unplug bits of PCI bus 0, write them to the eject register), so
the detach completes the way it does in a real VM.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.common.rpc import ContextSerializer
from t4o.datamover.agent.mounts import MountRegistry
from t4o.datamover.disks import DiskError, DomainStateError, LibvirtUnavailable, connect
from t4o.datamover.disks.domain_xml import nbd_sockets
from t4o.vault import PosixBackend, Repository, SnapshotNotFound, backup_source
from tests.fixtures.control_plane import ControlPlane, ensure_server
from tests.fixtures.qemu_guest import AcpiGuest, hmp, qmp
from tests.functional.datamover.scratch_domains import MiB, domain_xml

ROOT = Path(__file__).resolve().parents[3]
DETACH_TIMEOUT = 15


@pytest.fixture(scope="module")
def uri(request: pytest.FixtureRequest) -> str:
    """devcloud's libvirtd when it runs here (the one the agent serves), else the tests' own."""
    state = Path(os.environ.get("DEVCLOUD_STATE", ROOT / "devcloud" / "state")).resolve()
    sock = state / "libvirt" / "run" / "libvirt-sock"
    if sock.exists():
        devcloud = f"qemu+unix:///system?socket={sock}"
        try:
            connect(devcloud).close()
            return devcloud
        except LibvirtUnavailable:  # a stale socket: fall back to the tests' libvirtd
            pass
    return str(request.getfixturevalue("libvirtd"))


@pytest.fixture
def lv(uri: str) -> Iterator[libvirt.virConnect]:
    c = connect(uri)
    yield c
    c.close()


@pytest.fixture
def workdir() -> Iterator[str]:
    # short: unix socket paths below it must fit in 107 bytes; readable by QEMU's user
    path = tempfile.mkdtemp(prefix="t4o-mnt-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def domain(lv: libvirt.virConnect, workdir: str) -> Iterator[libvirt.virDomain]:
    """A running persistent domain with one disk (vda) and ACPI (PCI hotplug), booting no OS."""
    name = f"t4o-mount-{uuid.uuid4().hex[:8]}"
    vda = os.path.join(workdir, "vda.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", vda, str(16 * MiB)], check=True)
    xml = domain_xml(name, {"vda": (vda, "qcow2", 16 * MiB)}).replace(
        "<devices>", "<features><acpi/></features><devices>", 1
    )
    dom = lv.defineXML(xml)
    dom.create()
    yield dom
    try:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass


@pytest.fixture
def snapshot(workdir: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A vault with snapshot s1 of two raw disks whose bytes the test wrote: random MiB blocks, holes, a
    few writes off block boundaries. Returns the vault spec and each disk's bytes by ref."""
    rnd = random.Random(7)
    disks = {"s1/vm_vda": 8 * MiB, "s1/vm_vdb": 3 * MiB}
    repo_path = os.path.join(workdir, "vault")
    repo = Repository.init(PosixBackend(repo_path, fsync=False))
    model: dict[str, bytes] = {}
    for ref, size in disks.items():
        data = bytearray(size)
        for i in range(0, size // MiB):
            if i % 3 != 1:
                data[i * MiB : (i + 1) * MiB] = rnd.randbytes(MiB)
        for off in (MiB - 100, size - 4096 - 7):
            data[off : off + 300] = rnd.randbytes(300)
        path = os.path.join(workdir, ref.replace("/", "-") + ".raw")
        Path(path).write_bytes(data)
        backup_source(repo, path, ref.split("/")[1], snapshot_id="s1", workload_id="w")
        model[ref] = bytes(data)
    return {"url": repo_path, "password": None}, model


def node_of(dom: libvirt.virDomain, alias: str) -> str:
    """QEMU's block node behind the virtio device libvirt named ``alias``."""
    for block in qmp(dom, "query-block"):
        if block.get("qdev") == f"/machine/peripheral/{alias}/virtio-backend":
            return str(block["inserted"]["node-name"])
    raise AssertionError(f"QEMU has no block device {alias}")


def read_through_qemu(dom: libvirt.virDomain, alias: str, size: int, out: str) -> bytes:
    """The whole disk as QEMU reads it from the NBD export: a full backup job of its node into a file."""
    with open(out, "wb") as f:
        f.truncate(size)
    os.chmod(out, 0o666)  # QEMU may run as its own user (Debian's libvirtd: libvirt-qemu)
    job = f"read-{uuid.uuid4().hex[:6]}"
    qmp(dom, "drive-backup", **{"job-id": job, "device": node_of(dom, alias)}, target=out, format="raw",
        sync="full", mode="existing")  # fmt: skip
    deadline = time.monotonic() + 60
    while any(j["device"] == job for j in qmp(dom, "query-block-jobs")):
        assert time.monotonic() < deadline, "the read job did not end"
        time.sleep(0.1)
    return Path(out).read_bytes()


def qemu_io(dom: libvirt.virDomain, alias: str, command: str) -> str:
    return hmp(dom, f'qemu-io -d /machine/peripheral/{alias}/virtio-backend "{command}"')


def alias_of(dom: libvirt.virDomain, serial: str) -> str:
    """libvirt's alias (QEMU's device id) of the disk with that serial, from the live XML."""
    for disk in ET.fromstring(dom.XMLDesc(0)).findall("./devices/disk"):
        alias = disk.find("alias")
        if disk.findtext("serial") == serial and alias is not None:
            return alias.get("name", "")
    raise AssertionError(f"no disk with serial {serial}")


def test_mount_reads_through_qemu_survives_a_restart_and_dismounts(
    uri: str, domain: libvirt.virDomain, snapshot: tuple[dict[str, Any], dict[str, bytes]], workdir: str
) -> None:
    vault_spec, model = snapshot
    mount_dir = os.path.join(workdir, "m")
    registry = MountRegistry("host-1", mount_dir, uri, detach_timeout=DETACH_TIMEOUT)
    mount_id, server_id = str(uuid.uuid4()), domain.UUIDString()
    spec = {"vault": vault_spec, "disks": [{"ref": "s1/vm_vda", "serial": "t4o-vda"},
                                           {"ref": "s1/vm_vdb", "serial": "t4o-vdb"}]}  # fmt: skip
    before = time.time()
    view = registry.mount(mount_id, server_id, spec)
    assert view["status"] == "mounted" and view["host"] == "host-1" and view["server_id"] == server_id
    # the domain has vda: the next free names follow it
    assert view["disks"] == [
        {"ref": "s1/vm_vda", "serial": "t4o-vda", "device": "vdb"},
        {"ref": "s1/vm_vdb", "serial": "t4o-vdb", "device": "vdc"},
    ]
    assert registry.mount(mount_id, server_id, spec) == registry.get(mount_id)  # a retried request

    live = domain.XMLDesc(0)
    socks = nbd_sockets(live)
    assert sorted(socks.values()) == ["vdb", "vdc"]
    assert all(s.startswith(os.path.join(mount_dir, mount_id) + "/") for s in socks)
    targets = {d.findtext("serial"): d.find("target").get("dev") for d in ET.fromstring(live).iter("disk")}  # type: ignore[union-attr]
    assert targets == {None: "vda", "t4o-vda": "vdb", "t4o-vdb": "vdc"}
    assert live.count("<readonly/>") == 2
    assert not nbd_sockets(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)), "attached live only"
    state = os.path.join(mount_dir, f"{mount_id}.json")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600

    for ref, device in (("s1/vm_vda", "vdb"), ("s1/vm_vdb", "vdc")):
        got = read_through_qemu(
            domain, alias_of(domain, "t4o-" + ref[-3:]), len(model[ref]), f"{workdir}/{device}.out"
        )
        assert got == model[ref], f"{device} does not hold the bytes of {ref}"
    written = qemu_io(domain, alias_of(domain, "t4o-vda"), "write -P 0x55 0 512")
    assert "read-only" in written, written
    last = registry.get(mount_id)["last_read_at"]  # type: ignore[index]
    assert last is not None and before - 1 <= _epoch(last) <= time.time() + 1

    # the agent stops (exports gone, the disks stay attached), a new one starts from the state files
    registry.close()
    assert not [s for s in socks if os.path.exists(s)]
    restarted = MountRegistry("host-1", mount_dir, uri, detach_timeout=DETACH_TIMEOUT)
    restarted.restore()
    again = restarted.get(mount_id)
    assert again is not None and again["status"] == "mounted" and again["disks"] == view["disks"]
    assert restarted.live() == [again]
    # QEMU's NBD client connects again on its next reads; without <reconnect delay> (libvirt < 9.2) the
    # reads it makes while it finds the connection gone fail, so a few tries may be needed
    for _ in range(20):
        got = read_through_qemu(
            domain, alias_of(domain, "t4o-vdb"), len(model["s1/vm_vdb"]), f"{workdir}/re.out"
        )
        if got == model["s1/vm_vdb"]:
            break
        time.sleep(0.5)
    assert got == model["s1/vm_vdb"], "QEMU does not read the disk again after the agent's restart"

    with AcpiGuest(domain) as guest:
        gone = restarted.dismount(mount_id)
    assert gone is not None and gone["status"] == "dismounted" and gone["disks"] == view["disks"]
    assert len(guest.ejected) == 2
    assert not nbd_sockets(domain.XMLDesc(0)), "the disks are still in the live XML"
    assert not os.path.exists(os.path.join(mount_dir, mount_id)) and not os.path.exists(state)
    assert restarted.dismount(mount_id) == gone  # a retried dismount
    assert restarted.live() == []
    assert MountRegistry("host-1", mount_dir, uri).get(mount_id) is None


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_restart_drops_mounts_whose_domain_is_gone_or_stopped(
    uri: str, domain: libvirt.virDomain, snapshot: tuple[dict[str, Any], dict[str, bytes]], workdir: str
) -> None:
    vault_spec, _ = snapshot
    mount_dir = os.path.join(workdir, "m")
    registry = MountRegistry("host-1", mount_dir, uri)
    mount_id = str(uuid.uuid4())
    spec = {"vault": vault_spec, "disks": [{"ref": "s1/vm_vdb", "serial": "x1"}]}
    registry.mount(mount_id, domain.UUIDString(), spec)
    registry.close()
    # a second mount's state, for a domain that no longer exists
    state = json.loads(Path(mount_dir, f"{mount_id}.json").read_text())
    ghost_id = str(uuid.uuid4())
    ghost = {**state, "id": ghost_id, "server_id": str(uuid.uuid4())}
    Path(mount_dir, f"{ghost_id}.json").write_text(json.dumps(ghost))
    os.mkdir(os.path.join(mount_dir, ghost_id))

    domain.destroy()  # the VM stops: its live-only disk is gone with it
    restarted = MountRegistry("host-1", mount_dir, uri)
    restarted.restore()
    assert restarted.get(mount_id) is None and restarted.get(ghost_id) is None
    assert os.listdir(mount_dir) == [], "state or sockets left behind"


def test_refused_mounts_leave_nothing(
    uri: str, domain: libvirt.virDomain, snapshot: tuple[dict[str, Any], dict[str, bytes]], workdir: str
) -> None:
    vault_spec, _ = snapshot
    mount_dir = os.path.join(workdir, "m")
    registry = MountRegistry("host-1", mount_dir, uri)
    disks = [{"ref": "s1/vm_vda", "serial": "a"}, {"ref": "s1/nope", "serial": "b"}]
    with pytest.raises(SnapshotNotFound):
        registry.mount(str(uuid.uuid4()), domain.UUIDString(), {"vault": vault_spec, "disks": disks})
    assert not nbd_sockets(domain.XMLDesc(0))
    assert os.listdir(mount_dir) == []
    domain.destroy()
    with pytest.raises(DomainStateError, match="not running"):
        registry.mount(str(uuid.uuid4()), domain.UUIDString(), {"vault": vault_spec, "disks": disks[:1]})
    assert registry.live() == []


def test_a_failed_attach_is_rolled_back(
    lv: libvirt.virConnect, uri: str, snapshot: tuple[dict[str, Any], dict[str, bytes]], workdir: str
) -> None:
    """A VM without ACPI has no PCI hotplug: the second disk cannot be attached either, and nothing stays."""
    vault_spec, _ = snapshot
    vda = os.path.join(workdir, "plain.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", vda, str(16 * MiB)], check=True)
    dom = lv.createXML(domain_xml(f"t4o-mount-{uuid.uuid4().hex[:8]}", {"vda": (vda, "qcow2", 16 * MiB)}), 0)
    try:
        mount_dir = os.path.join(workdir, "m")
        registry = MountRegistry("host-1", mount_dir, uri, detach_timeout=2)
        spec = {"vault": vault_spec, "disks": [{"ref": "s1/vm_vda", "serial": "a"}]}
        with pytest.raises(DiskError, match=r"cannot attach s1/vm_vda as vdb to domain t4o-mount-.*hotplug"):
            registry.mount(str(uuid.uuid4()), dom.UUIDString(), spec)
        assert not nbd_sockets(dom.XMLDesc(0))
        assert os.listdir(mount_dir) == []
        assert registry.live() == []
    finally:
        dom.destroy()


def test_a_guest_that_never_releases_its_disks_does_not_keep_the_exports(
    uri: str, domain: libvirt.virDomain, snapshot: tuple[dict[str, Any], dict[str, bytes]], workdir: str
) -> None:
    vault_spec, _ = snapshot
    mount_dir = os.path.join(workdir, "m")
    registry = MountRegistry("host-1", mount_dir, uri, detach_timeout=1)
    mount_id = str(uuid.uuid4())
    spec = {"vault": vault_spec, "disks": [{"ref": "s1/vm_vdb", "serial": "x1"}]}
    registry.mount(mount_id, domain.UUIDString(), spec)
    started = time.monotonic()
    gone = registry.dismount(mount_id)  # nobody answers the unplug request
    assert gone is not None and gone["status"] == "dismounted"
    assert 1 <= time.monotonic() - started < 10
    assert os.listdir(mount_dir) == [], "export socket or state left behind"
    # the unplug request stays pending in the VM; a guest that answers it later completes it
    assert list(nbd_sockets(domain.XMLDesc(0)).values()) == ["vdb"]
    with AcpiGuest(domain):
        deadline = time.monotonic() + 10
        while nbd_sockets(domain.XMLDesc(0)) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not nbd_sockets(domain.XMLDesc(0))


RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


@pytest.fixture
def agent(uri: str, workdir: str, tmp_path: Path) -> Iterator[tuple[ControlPlane, Any, str]]:
    """The ``datamover`` agent as a process over RabbitMQ on the test's libvirtd, and an RPC client of
    it; yields the processes, a call function and the agent's mount_dir."""
    ensure_server("rabbitmq")
    tag = uuid.uuid4().hex[:8]
    mount_dir = os.path.join(workdir, "m")
    cp = ControlPlane(
        tmp_path / "cp",
        {
            "DEFAULT": {
                "host": f"compute-{tag}",
                "transport_url": RABBIT,
                "control_exchange": f"t4o_dm_{tag}",
            },
            "datamover": {
                "topic": f"t4o-dm-{tag}",
                "libvirt_uri": uri,
                "mount_dir": mount_dir,
                "mount_detach_timeout": 10,
            },
        },
    )
    assert cp.manage("db", "sync").returncode == 0
    # the global configuration: oslo.messaging registers its tracing options there only
    transport = messaging.get_rpc_transport(cfg.CONF, url=RABBIT)
    target = messaging.Target(exchange=f"t4o_dm_{tag}", topic=f"t4o-dm-{tag}", server=f"compute-{tag}")
    client = messaging.get_rpc_client(transport, target, serializer=ContextSerializer())
    ctx = RequestContext(user_id="svc", project_id="service", roles=["admin"])

    def call(method: str, **kwargs: Any) -> Any:
        return client.prepare(timeout=30).call(ctx, method, **kwargs)

    try:
        start_agent(cp)
        yield cp, call, mount_dir
    finally:
        cp.stop()
        transport.cleanup()


def start_agent(cp: ControlPlane) -> None:
    started = cp.log("agent").count("datamover started on host")
    proc = cp.start("agent", ["datamover"])
    deadline = time.monotonic() + 60
    while cp.log("agent").count("datamover started on host") == started:
        assert proc.poll() is None and time.monotonic() < deadline, cp.log("agent")[-3000:]
        time.sleep(0.2)


def test_the_agent_process_mounts_and_serves_again_after_being_killed(
    agent: tuple[ControlPlane, Any, str],
    domain: libvirt.virDomain,
    snapshot: tuple[dict[str, Any], dict[str, bytes]],
    workdir: str,
) -> None:
    cp, call, mount_dir = agent
    vault_spec, model = snapshot
    mount_id, server_id = str(uuid.uuid4()), domain.UUIDString()
    spec = {"vault": vault_spec, "disks": [{"ref": "s1/vm_vdb", "serial": "t4o-vdb"}]}
    view = call("mount", mount_id=mount_id, server_id=server_id, spec=spec)
    assert view["status"] == "mounted" and view["disks"] == [
        {"ref": "s1/vm_vdb", "serial": "t4o-vdb", "device": "vdb"}
    ]
    assert call("list_mounts") == [view]
    alias = alias_of(domain, "t4o-vdb")
    assert read_through_qemu(domain, alias, len(model["s1/vm_vdb"]), f"{workdir}/a.out") == model["s1/vm_vdb"]
    assert call("mount_status", mount_id=mount_id)["last_read_at"] is not None

    cp.kill("agent")  # no chance to clean up: its sockets stay behind, nobody listening
    start_agent(cp)
    again = call("mount_status", mount_id=mount_id)
    assert again is not None and again["status"] == "mounted" and again["disks"] == view["disks"]
    assert f"mount {mount_id}: serving vdb=s1/vm_vdb" in cp.log("agent")
    for _ in range(20):  # see test_mount_reads_through_qemu_survives_a_restart_and_dismounts
        got = read_through_qemu(domain, alias, len(model["s1/vm_vdb"]), f"{workdir}/b.out")
        if got == model["s1/vm_vdb"]:
            break
        time.sleep(0.5)
    assert got == model["s1/vm_vdb"], "QEMU does not read the disk again after the agent was killed"

    with AcpiGuest(domain):
        gone = call("dismount", mount_id=mount_id)
    assert gone["status"] == "dismounted"
    assert not nbd_sockets(domain.XMLDesc(0))
    assert os.listdir(mount_dir) == []
    assert call("list_mounts") == []
    with pytest.raises(messaging.RemoteError, match="not running"):
        domain.destroy()
        call("mount", mount_id=str(uuid.uuid4()), server_id=server_id, spec=spec)

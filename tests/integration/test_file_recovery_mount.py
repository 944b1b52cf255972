"""Snapshot mount on devcloud: the disks of snapshot 1 of the file recovery guests
(tests/integration/file_recovery_disks.py) attached read-only to a recovery VM of project demo, read
through QEMU itself, then dismounted.

POST /snapshots/{id}/mount answers with each disk's device and serial; the recovery VM's live libvirt
XML has each of them, read-only, with that serial (and its persistent definition none); QEMU reads, at
the offsets of the changed file's blocks on every volume of every disk, the file's snapshot-1 version
of the test's model (the running guests hold version 2 there), and refuses a write. While mounted: a
second mount is 409, the snapshot's DELETE is 409 naming the mount, GET /snapshots/mounted/list lists
it for demo and not for project other, which gets 404 on mount and dismount with demo's ids. After a
restart of the datamover agent QEMU reads the same bytes again. The dismount (the guest acknowledging
the unplug as its ACPI code would: devcloud guests run no OS) leaves none of the disks in the live XML,
the mounted list empty of it and the snapshot deletable again (it is kept for the other tests)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
import requests
from openstack.connection import Connection

from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.fixtures.qemu_guest import AcpiGuest, hmp, qmp
from tests.integration.file_recovery_disks import BLOCK, CHANGED, FILES, RecoverySnapshots
from tests.integration.file_recovery_disks import call as call_api
from tests.integration.test_restore_without_source import Leftovers

pytest_plugins = ["tests.integration.file_recovery_snapshots"]

# qemu-io's "read -v" dump: "00a00000:  de ad be ef ...  ...." (offset, up to 16 bytes, their text)
DUMP_LINE = re.compile(r"^([0-9a-f]{8,}):  ((?:[0-9a-f]{2} ){1,16})", re.MULTILINE)


class QemuReads:
    """Reads of a domain's disks through QEMU's own block layer: QEMU's NBD server exports, read-only,
    the block node behind a disk's virtio device (for a mounted disk: QEMU's NBD client of the agent's
    export), and qemu-io reads that export. (HMP's qemu-io would print its dump on QEMU's stdout.)"""

    def __init__(self, dom: libvirt.virDomain, socket: Path) -> None:
        self.dom = dom
        self.socket = socket
        self.exports: dict[str, str] = {}  # alias -> export name

    def __enter__(self) -> QemuReads:
        qmp(self.dom, "nbd-server-start", addr={"type": "unix", "data": {"path": str(self.socket)}})
        return self

    def __exit__(self, *exc: object) -> None:
        """The exports end (the disks can be detached again) and the server stops."""
        for name in self.exports.values():
            qmp(self.dom, "block-export-del", id=name)
        deadline = time.monotonic() + 10
        while {e["id"] for e in qmp(self.dom, "query-block-exports")} & set(self.exports.values()):
            assert time.monotonic() < deadline, "QEMU's exports did not end"
            time.sleep(0.1)
        self.exports.clear()
        qmp(self.dom, "nbd-server-stop")

    def _export(self, alias: str) -> str:
        if alias not in self.exports:
            qdev = f"/machine/peripheral/{alias}/virtio-backend"
            node = next(
                b["inserted"]["node-name"] for b in qmp(self.dom, "query-block") if b.get("qdev") == qdev
            )
            name = f"read-{len(self.exports)}"
            qmp(
                self.dom,
                "block-export-add",
                type="nbd",
                id=name,
                **{"node-name": node},
                name=name,
                writable=False,
            )
            self.exports[alias] = name
        return self.exports[alias]

    def read(self, alias: str, pieces: list[tuple[int, int]]) -> bytes:
        """The bytes of (offset, length) pieces of the disk, one after the other."""
        url = f"nbd+unix:///{self._export(alias)}?socket={self.socket}"
        commands = [arg for off, length in pieces for arg in ("-c", f"read -v {off} {length}")]
        done = subprocess.run(
            ["qemu-io", "-r", "-f", "raw", url, *commands],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr or done.stdout
        lines = {int(at, 16): bytes.fromhex(hexes) for at, hexes in DUMP_LINE.findall(done.stdout)}
        out = b""
        for off, length in pieces:
            assert f"read {length}/{length} bytes at offset {off}" in done.stdout, done.stdout[-500:]
            out += b"".join(lines[at] for at in range(off, off + length, 16))
        return out


def disks_by_serial(xml: str) -> dict[str, dict[str, Any]]:
    """The domain's disks that have a serial: target, alias, read-only, source protocol."""
    out: dict[str, dict[str, Any]] = {}
    for disk in ET.fromstring(xml).findall("./devices/disk"):
        serial, target, alias = disk.find("serial"), disk.find("target"), disk.find("alias")
        if serial is None or not serial.text:
            continue
        source = disk.find("source")
        out[serial.text] = {
            "target": target.get("dev") if target is not None else None,
            "alias": alias.get("name") if alias is not None else None,
            "readonly": disk.find("readonly") is not None,
            "protocol": source.get("protocol") if source is not None else None,
        }
    return out


@pytest.fixture
def leftovers(devcloud: Devcloud) -> Iterator[Leftovers]:
    left = Leftovers(devcloud.connection("devcloud-demo"))
    try:
        yield left
    finally:
        left.remove()


def test_mount_attaches_snapshot_disks_read_only_to_a_recovery_vm(
    devcloud: Devcloud,
    t4o_services: T4OServices,
    recovery_snapshots: RecoverySnapshots,
    leftovers: Leftovers,
    tmp_path: Path,
) -> None:
    rs = recovery_snapshots
    conn = leftovers.conn
    other = devcloud.connection("devcloud-other")
    started = time.monotonic()
    log_from = {
        name: len(t4o_services.log(name)) for name in ("workloadmgr-api", "datamover-api", "datamover")
    }

    def call(who: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
        return call_api(t4o_services, who, method, path, **kwargs)

    def mounted_list(who: Connection) -> list[dict[str, Any]]:
        resp = call(who, "GET", "/snapshots/mounted/list")
        assert resp.status_code == 200, resp.text
        return list(resp.json()["mounted_snapshots"])

    # the recovery VM: one more server of project demo
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    srv = conn.compute.create_server(
        name=f"{rs.tag}-recovery", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    leftovers.servers.append(srv.id)
    conn.compute.wait_for_server(srv, wait=300)
    virt = libvirt.open(devcloud.libvirt_uri)
    dom = virt.lookupByUUIDString(srv.id)
    mounted = False
    try:
        own_disks = disks_by_serial(dom.XMLDesc(0))

        resp = call(conn, "POST", f"/snapshots/{rs.snap1}/mount", json={"mount": {"mount_vm_id": srv.id}})
        assert resp.status_code == 200, resp.text
        mounted = True
        mount = resp.json()["mount"]
        assert (mount["snapshot_id"], mount["workload_id"], mount["mount_vm_id"], mount["status"]) == (
            rs.snap1,
            rs.workload_id,
            srv.id,
            "mounted",
        ), mount
        assert mount["error_msg"] is None and mount["mounted_at"] and mount["expires_at"], mount
        # one disk per guest, each with its device in the recovery VM and its serial
        assert sorted((d["vm_id"], d["disk"]) for d in mount["disks"]) == sorted(
            (g.server, "vda") for g in rs.guests
        )
        devices = [d["device"] for d in mount["disks"]]
        serials = [d["serial"] for d in mount["disks"]]
        assert len(set(devices)) == len(set(serials)) == len(rs.guests), mount["disks"]
        assert all(re.fullmatch(r"vd[b-z]", dev) for dev in devices), devices
        print(f"\n[mount] recovery VM active and snapshot mounted: {time.monotonic() - started:.1f} s")

        # the live XML: each disk read-only with the serial of the mount view; the persistent definition
        # has none of them (a VM that stops forgets them)
        live = disks_by_serial(dom.XMLDesc(0))
        for d in mount["disks"]:
            assert d["serial"] in live, (d, live)
            seen = live[d["serial"]]
            assert (seen["target"], seen["readonly"], seen["protocol"]) == (d["device"], True, "nbd"), seen
        assert set(live) - set(serials) == set(own_disks)
        assert not set(disks_by_serial(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))) & set(serials)

        def read_changed(reads: QemuReads) -> None:
            """Every volume's copy of the changed file, read through QEMU: snapshot 1's version."""
            xml = disks_by_serial(dom.XMLDesc(0))
            size = len(FILES[CHANGED])
            for d in mount["disks"]:
                g = next(g for g in rs.guests if g.server == d["vm_id"])
                for vol in g.volumes:
                    pieces = [(off, min(BLOCK, size - i * BLOCK)) for i, off in enumerate(vol.changed_at)]
                    got = reads.read(xml[d["serial"]]["alias"], pieces)
                    assert got == FILES[CHANGED], (g.kind, vol.partition, "not snapshot 1's version")
                    assert got != rs.v2

        with QemuReads(dom, tmp_path / "qemu-nbd.sock") as reads:
            read_changed(reads)
            alias = disks_by_serial(dom.XMLDesc(0))[serials[0]]["alias"]
            written = hmp(dom, f'qemu-io -d /machine/peripheral/{alias}/virtio-backend "write -P 0x55 0 512"')
            assert "read-only" in written, written

            # while mounted: no second mount, no delete; listed for demo only
            resp = call(conn, "POST", f"/snapshots/{rs.snap1}/mount", json={"mount": {"mount_vm_id": srv.id}})
            assert resp.status_code == 409, resp.text
            resp = call(conn, "DELETE", f"/snapshots/{rs.snap1}")
            assert resp.status_code == 409 and mount["id"] in resp.text and srv.id in resp.text, resp.text
            assert call(conn, "GET", f"/snapshots/{rs.snap1}").json()["snapshot"]["mounted"] is True
            assert [(m["id"], m["status"], m["snapshot_id"]) for m in mounted_list(conn)] == [
                (mount["id"], "mounted", rs.snap1)
            ]
            resp = call(
                conn,
                "POST",
                f"/snapshots/{rs.snap2}/mount",
                json={"mount": {"mount_vm_id": str(uuid.uuid4())}},
            )
            assert resp.status_code == 404, resp.text  # no such recovery VM

            # project other: 404 with demo's ids, and demo's mount is not in its list
            for path, body in (
                (f"/snapshots/{rs.snap1}/mount", {"mount": {"mount_vm_id": srv.id}}),
                (f"/snapshots/{rs.snap2}/mount", {"mount": {"mount_vm_id": srv.id}}),
                (f"/snapshots/{rs.snap1}/dismount", {}),
            ):
                resp = call(other, "POST", path, json=body)
                assert resp.status_code == 404, (path, resp.status_code, resp.text)
            assert mount["id"] not in {m["id"] for m in mounted_list(other)}
            assert [m["status"] for m in mounted_list(conn)] == ["mounted"]  # other's calls changed nothing

            # the datamover agent restarts: it serves the mount again and QEMU reads the same bytes
            t0 = time.monotonic()
            t4o_services.kill("datamover", signal.SIGTERM)
            t4o_services.start_one("datamover")
            t4o_services.wait_ready(only="datamover")
            # libvirt < 9.2 cannot ask QEMU to hold reads while the export is away: the reads QEMU makes
            # before its NBD client has connected again fail, so a few tries may be needed
            tries = 1
            while True:
                try:
                    read_changed(reads)
                    break
                except AssertionError:
                    if tries == 20:
                        raise
                    tries += 1
                    time.sleep(0.5)
            restart = time.monotonic() - t0
            assert [m["status"] for m in mounted_list(conn)] == ["mounted"]

        # dismount: the guest acknowledges the unplug; no disk of the mount is left in the live XML
        t0 = time.monotonic()
        with AcpiGuest(dom):
            resp = call(conn, "POST", f"/snapshots/{rs.snap1}/dismount", json={})
        dismount = time.monotonic() - t0
        assert resp.status_code == 200, resp.text
        mounted = False
        gone = resp.json()["mount"]
        assert (gone["id"], gone["status"]) == (mount["id"], "dismounted") and gone["dismounted_at"], gone
        assert conn.current_user_id in gone["dismount_reason"], gone
        left = disks_by_serial(dom.XMLDesc(0))
        assert not set(left) & set(serials), left
        assert set(left) == set(own_disks)
        assert mount["id"] not in {m["id"] for m in mounted_list(conn)}
        assert call(conn, "GET", f"/snapshots/{rs.snap1}").json()["snapshot"]["mounted"] is False
        resp = call(conn, "POST", f"/snapshots/{rs.snap1}/dismount", json={})
        assert resp.status_code == 409, resp.text
    finally:
        if mounted:  # the test failed half-way: leave the snapshot deletable for the other tests
            with AcpiGuest(dom):
                call(conn, "POST", f"/snapshots/{rs.snap1}/dismount", json={})
        virt.close()

    for name, at in log_from.items():  # the session's logs: this test's part
        assert "Traceback" not in t4o_services.log(name)[at:], name
    print(
        f"[mount] agent restart and read again {restart:.1f} s ({tries} tries), dismount {dismount:.1f} s; "
        f"total {time.monotonic() - started:.1f} s"
    )

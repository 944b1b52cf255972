"""Guest hooks in a VM booted by Nova: the pre-freeze and post-thaw commands of the VM's metadata run in
the guest through its qemu-guest-agent, and what they did lands in the snapshot record.

The guest is Debian's kernel with busybox and qemu-ga in an initramfs (tests/fixtures/guest_image.py),
uploaded to devcloud's Glance as kernel, ramdisk and an ext4 root disk that says it has an agent
(``hw_qemu_guest_agent``). One VM serves every case: hooks that succeed (the point is taken frozen,
between them), then a failing pre hook that fails the snapshot when asked and otherwise leaves a
crash-consistent one."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import libvirt
import libvirt_qemu
import pytest
import requests
from openstack.connection import Connection

from demo.services import T4OServices
from tests.fixtures import guest_image
from tests.fixtures.control_plane import missing_server
from tests.fixtures.devcloud import Devcloud

# Nova runs the guest under TCG: the kernel and qemu-ga take a while to come up.
AGENT_TIMEOUT = 300
MARKER = "/t4o-hook"
PRE_HOOK = f"sh -c 'echo pre-freeze ran > /mnt{MARKER}; cat /mnt{MARKER}'"
# appends after the point was taken: the snapshot must not hold this line
POST_HOOK = f"sh -c 'cat /mnt{MARKER}; echo thawed >> /mnt{MARKER}'"
FAILING_HOOK = "sh -c 'echo cannot flush the database >&2; exit 3'"


@dataclass
class HookedVM:
    services: T4OServices
    conn: Connection
    server: str
    workload: str
    token: str
    project: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.services.request(method, path, self.token, self.project, **kwargs)

    def metadata(self, **values: str | None) -> None:
        """Set (a value) or remove (None) keys of the server's Nova metadata."""
        server = self.conn.compute.get_server(self.server)
        gone = [k for k, v in values.items() if v is None]
        if gone:
            self.conn.compute.delete_server_metadata(server, gone)
        kept = {k: v for k, v in values.items() if v is not None}
        if kept:
            self.conn.compute.set_server_metadata(server, **kept)

    def snapshot(self) -> dict[str, Any]:
        """A snapshot through the T4O API, waited for; its record as the API shows it."""
        snap = self.api("POST", f"/workloads/{self.workload}", json={"snapshot": {}})["snapshot"]
        self.services.wait_job("snapshot", snap["id"], self.token, self.project)
        return self.api("GET", f"/snapshots/{snap['id']}")["snapshot"]

    def download(self, snapshot_id: str, path: str) -> requests.Response:
        """A file of the snapshot's root disk, read from the backup target by the file-recovery API."""
        return requests.get(
            f"{self.services.url}/v1/{self.project}/snapshots/{snapshot_id}/vms/"
            f"{self.server}/disks/vda/download",
            params={"path": path},
            headers={"X-Auth-Token": self.token},
            timeout=120,
        )


def _upload(conn: Connection, name: str, path: str, disk_format: str, **properties: str) -> str:
    container = disk_format if disk_format in ("aki", "ari") else "bare"
    image = conn.image.create_image(
        name=name, filename=path, disk_format=disk_format, container_format=container, wait=True,
        timeout=300, meta=dict(properties),
    )  # fmt: skip
    return str(image.id)


def _wait_for_agent(conn: Connection, devcloud: Devcloud, server_id: str) -> None:
    """Until the guest's qemu-guest-agent answers through devcloud's libvirt; a clear failure with the
    guest's console otherwise."""
    virt = libvirt.open(devcloud.libvirt_uri)
    started = time.monotonic()
    try:
        dom = virt.lookupByUUIDString(server_id)
        while True:
            try:
                libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', 5, 0)
                return
            except libvirt.libvirtError as exc:
                if time.monotonic() - started > AGENT_TIMEOUT:
                    console = ""
                    with contextlib.suppress(Exception):
                        console = conn.compute.get_server_console_output(server_id, length=30)["output"]
                    pytest.fail(
                        f"the guest's qemu-guest-agent did not answer within {AGENT_TIMEOUT} s of the boot "
                        f"({exc.get_error_message()}); its console:\n{console}"
                    )
                time.sleep(2)
    finally:
        virt.close()


@pytest.fixture(scope="module")
def vm(
    devcloud: Devcloud, t4o_services: T4OServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HookedVM]:
    absent = guest_image.missing()
    if absent:
        missing_server(f"the test guest needs Debian packages {', '.join(absent)} (run scripts/bootstrap)")
    conn = devcloud.connection("devcloud-demo")
    tag = f"t4o-it-hooks-{uuid.uuid4().hex[:6]}"
    work = tmp_path_factory.mktemp("guest")
    kernel, initrd = guest_image.build(str(work))
    disk = str(work / "root.qcow2")
    guest_image.ext4_qcow2(disk, 64 << 20)
    images: list[str] = []
    server_id = None
    try:
        images.append(_upload(conn, f"{tag}-kernel", kernel, "aki"))
        images.append(_upload(conn, f"{tag}-ramdisk", initrd, "ari"))
        images.append(
            _upload(
                conn, f"{tag}-root", disk, "qcow2", kernel_id=images[0], ramdisk_id=images[1],
                hw_qemu_guest_agent="yes", os_command_line=guest_image.CMDLINE,
            )
        )  # fmt: skip
        for path in (kernel, initrd, disk):
            os.unlink(path)
        flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
        server = conn.compute.create_server(
            name=tag, flavor_id=flavor.id, image_id=images[2], networks="none",
            metadata={"t4o_pre_freeze": PRE_HOOK, "t4o_post_thaw": POST_HOOK},
        )  # fmt: skip
        server_id = server.id
        conn.compute.wait_for_server(server, wait=300)
        _wait_for_agent(conn, devcloud, server_id)
        token, project = str(conn.auth_token), str(conn.current_project_id)
        wl = t4o_services.request(
            "POST", "/workloads", token, project,
            json={"workload": {"name": tag, "instances": [{"instance-id": server_id}]}},
        )["workload"]  # fmt: skip
        yield HookedVM(t4o_services, conn, server_id, wl["id"], token, project)
    finally:
        if server_id:
            conn.compute.delete_server(server_id, ignore_missing=True)
            with contextlib.suppress(Exception):
                conn.compute.wait_for_delete(conn.compute.get_server(server_id), wait=120)
        for image_id in reversed(images):
            conn.image.delete_image(image_id, ignore_missing=True)


def _hooks(snap: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The VM's record (``metadata``: definition, consistency, guest_hooks) and its hook results by phase."""
    (inst,) = snap["instances"]
    record = inst["metadata"]
    return record, {r["phase"]: r for r in record["guest_hooks"]["results"]}


def test_hooks_run_in_the_guest_and_land_in_the_snapshot(vm: HookedVM) -> None:
    snap = vm.snapshot()
    assert snap["status"] == "available", snap["error_msg"]
    record, results = _hooks(snap)
    assert record["consistency"] == "fs-frozen", record["consistency_reason"]
    assert record["guest_hooks"]["on_failure"] == "crash"
    pre, post = results["pre_freeze"], results["post_thaw"]
    assert (pre["status"], pre["exit_code"], pre["stdout"], pre["stderr"]) == (
        "ok",
        0,
        "pre-freeze ran\n",
        "",
    )
    assert (pre["command"], pre["source"]) == (PRE_HOOK, "vm")
    assert (post["status"], post["exit_code"], post["stdout"]) == ("ok", 0, "pre-freeze ran\n")
    assert post["command"] == POST_HOOK
    for result in (pre, post):
        assert 0 < result["duration_seconds"] < 30 and not result["stdout_truncated"], result
    assert "hook" not in (snap["warning_msg"] or "")

    # the point was taken between the hooks: the disk holds the pre hook's line, not the post hook's
    got = vm.download(snap["id"], MARKER)
    assert got.status_code == 200, got.text[:500]
    assert got.content == b"pre-freeze ran\n"


def test_a_failing_pre_hook_fails_the_snapshot_or_leaves_it_crash_consistent(vm: HookedVM) -> None:
    vm.metadata(t4o_pre_freeze=FAILING_HOOK, t4o_hook_failure="fail")
    failed = vm.snapshot()
    assert failed["status"] == "error"
    assert "pre-freeze hook failed (exit code 3: cannot flush the database)" in failed["error_msg"]
    assert "t4o_hook_failure: fail" in failed["error_msg"]

    vm.metadata(t4o_hook_failure=None)  # the default: go on without the freeze
    snap = vm.snapshot()
    assert snap["status"] == "available", snap["error_msg"]
    record, results = _hooks(snap)
    assert record["consistency"] == "crash-consistent"
    assert record["consistency_reason"] == (
        "pre-freeze hook failed (exit code 3: cannot flush the database): the guest was not frozen"
    )
    pre, post = results["pre_freeze"], results["post_thaw"]
    assert (pre["status"], pre["exit_code"], pre["stderr"]) == ("failed", 3, "cannot flush the database\n")
    assert post["status"] == "ok"  # it runs all the same
    assert "pre-freeze hook failed" in snap["warning_msg"]
    assert "crash-consistent" in snap["warning_msg"]

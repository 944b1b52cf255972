"""File search and snapshot mounts in a real browser: demo searches a VM's snapshots from the workload's
page, watches the search finish, opens a match's directory in the file browser and downloads each
snapshot's version of a file, byte for byte against the test's own model; then mounts a snapshot on a
recovery VM from the snapshot's page (the disk attached to the recovery VM serves the snapshot's bytes,
not the source VM's current ones), sees it among the mounted snapshots and dismounts it.

The VM's disk is an ext4 filesystem the test builds itself (mke2fs -d, no root needed) from a tree it
knows; devcloud guests run no OS, so the disk is what matters. Snapshot 1 (full); then the one block
of settings.conf, found with debugfs in the test's image, is overwritten in the running server's disk
through QEMU with new bytes; snapshot 2 (incremental)."""

from __future__ import annotations

import os
import random
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt
import pytest

from demo.guest import write_guest
from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.test_restore_without_source import Leftovers

BLOCK = 4096
SEARCH_TIMEOUT = 300_000  # ms
SETTINGS = "/etc/app/settings.conf"  # one block: snapshot 2 holds other bytes
FILES: dict[str, bytes] = {
    SETTINGS: random.Random(7).randbytes(BLOCK),
    "/home/demo/old.conf": b"# kept from an older release\nlisten = 8080\n",
    "/home/demo/notes.txt": b"buy milk\n" * 40,
    "/home/demo/todo.txt": b"file search in the dashboard\n",
    "/var/log/app.log": random.Random(8).randbytes(300_000),
}
SEED_V2 = 0x51
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{args[0]} failed: {done.stderr or done.stdout}"
    return done.stdout


@dataclass
class Story:
    workload_id: str
    workload_name: str
    server_id: str
    snap1: str
    snap2: str
    settings_v2: bytes  # settings.conf as snapshot 2 holds it
    settings_at: int  # the disk offset of settings.conf's block
    rescue_id: str  # a server of the project that is not in the workload (the recovery VM)
    rescue_name: str


def build_disk(tmp: Path) -> tuple[Path, int]:
    """A qcow2 of an ext4 filesystem holding FILES; returns it and the disk offset of SETTINGS's block."""
    tree = tmp / "tree"
    for path, data in FILES.items():
        target = tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    raw = tmp / "disk.img"
    run("mke2fs", "-q", "-F", "-t", "ext4", "-b", str(BLOCK), "-d", tree, "-E", "root_owner=0:0", raw, "64M")
    blocks = run("debugfs", "-R", f"blocks {SETTINGS}", raw).split()
    assert len(blocks) == 1, blocks
    offset = int(blocks[0]) * BLOCK
    with raw.open("rb") as f:  # the test's own reading of its image: the block holds version 1
        f.seek(offset)
        assert f.read(BLOCK) == FILES[SETTINGS]
    qcow2 = tmp / "disk.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2)
    return qcow2, offset


@pytest.fixture(scope="module")
def story(
    devcloud: Devcloud, workloadmgr: T4OServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    """A server booted from the test's disk in project demo, its workload and two snapshots (API calls)."""
    left = Leftovers(devcloud.connection("devcloud-demo"))
    conn = left.conn
    token, project = str(conn.auth_token), str(conn.current_project_id)
    tag = f"e2e-files-{uuid.uuid4().hex[:6]}"

    def api(method: str, path: str, **kwargs: Any) -> Any:
        return workloadmgr.request(method, path, token, project, **kwargs)

    def snapshot(name: str, full: bool) -> str:
        snap = api(
            "POST", f"/workloads/{wl['id']}", params={"full": "1" if full else "0"},
            json={"snapshot": {"name": name}},
        )["snapshot"]  # fmt: skip
        job = workloadmgr.wait_job("snapshot", snap["id"], token, project)
        assert job["status"] == "available", job.get("error_msg")
        return str(snap["id"])

    try:
        qcow2, offset = build_disk(tmp_path_factory.mktemp("e2e-files"))
        image = conn.image.create_image(
            name=tag, data=qcow2.read_bytes(), disk_format="qcow2", container_format="bare",
            visibility="private", wait=True, timeout=120,
        )  # fmt: skip
        left.images.append(image.id)
        flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
        server = conn.compute.create_server(name=tag, flavor_id=flavor.id, image_id=image.id, networks="none")
        left.servers.append(server.id)
        conn.compute.wait_for_server(server, wait=300)
        wl = api(
            "POST", "/workloads", json={"workload": {"name": tag, "instances": [{"instance-id": server.id}]}}
        )["workload"]
        snap1 = snapshot("before the change", full=True)
        v2 = write_guest(devcloud.libvirt_uri, server.id, offset, BLOCK, SEED_V2)
        assert v2 != FILES[SETTINGS]
        snap2 = snapshot("after the change", full=False)
        base = conn.image.find_image("devcloud-tiny", ignore_missing=False)
        rescue = conn.compute.create_server(
            name=f"{tag}-rescue", flavor_id=flavor.id, image_id=base.id, networks="none"
        )
        left.servers.append(rescue.id)
        conn.compute.wait_for_server(rescue, wait=300)
        yield Story(str(wl["id"]), tag, str(server.id), snap1, snap2, v2, offset, str(rescue.id), rescue.name)
    finally:
        left.remove()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _mark_page(page: Any) -> None:
    page.evaluate("window.t4oNoReload = true")


def _not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.t4oNoReload === true"))


def _no_error_page(page: Any) -> None:
    body = page.inner_text("body")
    assert "Something went wrong" not in body and "Server Error" not in body, body[:500]


def _search(
    page: Any, story: Story, filepath: str, snapshots: list[str] | None = None, screenshot: str = ""
) -> None:
    """Fills the form opened from the workload's page, submits it and waits for the completed results,
    which the page shows without reloading."""
    page.click("#file_search_link")
    page.wait_for_selector("#id_filepath")
    page.select_option("#id_vm_id", story.server_id)
    page.fill("#id_filepath", filepath)
    for snap in snapshots or []:
        page.check(f'input[name="snapshot_ids"][value="{snap}"]')
    if screenshot:
        shot(page, screenshot)
    page.click(".modal-footer .btn-primary")
    page.wait_for_url(f"**/project/workloads/{story.workload_id}/file_search/*/")
    _mark_page(page)
    page.wait_for_selector('#file_search_results:not([data-status="executing"])', timeout=SEARCH_TIMEOUT)
    assert page.get_attribute("#file_search_results", "data-status") == "completed", page.inner_text(
        "#file_search_results"
    )
    assert _not_reloaded(page), "the results must come in without reloading the page"


def _matches(page: Any, snap: str) -> set[str]:
    rows = page.locator(f"#file_search_snapshot_{snap} tr[data-path]")
    return {rows.nth(i).get_attribute("data-path") for i in range(rows.count())}


def _download(page: Any, snap: str, path: str) -> bytes:
    with page.expect_download() as info:
        page.click(f'#file_search_snapshot_{snap} tr[data-path="{path}"] a.file-search-download')
    return Path(info.value.path()).read_bytes()


def test_demo_finds_and_downloads_files_of_both_snapshots(
    browser_as: Callable[[str], Any], horizon: str, story: Story
) -> None:
    page = browser_as("devcloud-demo")
    page.goto(horizon + f"/project/workloads/{story.workload_id}/")

    # A glob over every snapshot: the .conf files at any depth, in each snapshot, newest first.
    _search(page, story, "*.conf")
    expected = {p for p in FILES if p.endswith(".conf")}
    assert _matches(page, story.snap1) == expected
    assert _matches(page, story.snap2) == expected
    text = page.inner_text("#file_search_results")
    assert text.index("after the change") < text.index("before the change"), text
    assert "4 matches in 2 snapshots" in text, text
    assert "vda (ext4)" in text and "4.0 KiB" in text, text
    shot(page, "30-file-search-results")

    # While a search runs the page follows it by itself: its first answer is made to say "executing"
    # here, so the page asks for its results again and puts them in place without reloading.
    def as_running(route: Any) -> None:
        resp = route.fetch()
        body = resp.text().replace('data-status="completed"', 'data-status="executing"', 1)
        route.fulfill(response=resp, body=body)

    page.route("**/file_search/*/", as_running, times=1)
    with page.expect_response(lambda r: "fragment=1" in r.url and r.status == 200):
        page.reload()
        _mark_page(page)
        assert page.get_attribute("#file_search_results", "data-status") == "executing"
    page.wait_for_selector('#file_search_results[data-status="completed"]')
    assert _not_reloaded(page)
    assert _matches(page, story.snap2) == expected

    # Each snapshot's download of the changed file is its own version.
    assert _download(page, story.snap1, SETTINGS) == FILES[SETTINGS]
    assert _download(page, story.snap2, SETTINGS) == story.settings_v2
    assert _download(page, story.snap2, "/home/demo/old.conf") == FILES["/home/demo/old.conf"]

    # A match's directory in the file browser lists its neighbours.
    page.click(f'#file_search_snapshot_{story.snap1} tr[data-path="{SETTINGS}"] a.file-search-browse')
    page.wait_for_selector("#files_breadcrumb")
    assert page.url.split("?")[1] == "path=%2Fetc%2Fapp", page.url  # a bare disk: no partition
    assert "settings.conf" in page.inner_text("#files")
    _no_error_page(page)

    # A regex limited to the first snapshot: the .txt files of /home only, and in that snapshot only.
    page.goto(horizon + f"/project/workloads/{story.workload_id}/")
    page.click("#file_search_link")
    page.wait_for_selector("#recent_file_searches")
    assert "*.conf" in page.inner_text("#recent_file_searches")  # the first search, to open again
    page.goto(horizon + f"/project/workloads/{story.workload_id}/")
    _search(page, story, r"^/home/.*\.txt$", snapshots=[story.snap1], screenshot="29-file-search-form")
    assert _matches(page, story.snap1) == {"/home/demo/notes.txt", "/home/demo/todo.txt"}
    assert page.locator(f"#file_search_snapshot_{story.snap2}").count() == 0
    assert _download(page, story.snap1, "/home/demo/todo.txt") == FILES["/home/demo/todo.txt"]
    _no_error_page(page)


def _attached_disks(devcloud: Devcloud, server_id: str) -> dict[str, str]:
    """A server's disks as libvirt runs them: target dev -> serial ("" when it has none)."""
    conn = libvirt.open(devcloud.libvirt_uri)
    try:
        xml = conn.lookupByUUIDString(server_id).XMLDesc(0)
    finally:
        conn.close()
    disks = {}
    for disk in ET.fromstring(xml).findall("./devices/disk"):
        target = disk.find("target")
        if target is not None:
            disks[str(target.get("dev"))] = disk.findtext("serial") or ""
    return disks


def _nbd_source(devcloud: Devcloud, server_id: str, dev: str) -> tuple[str, str] | None:
    """The unix socket and export name of a server's NBD disk ``dev``; None without such a disk."""
    conn = libvirt.open(devcloud.libvirt_uri)
    try:
        xml = conn.lookupByUUIDString(server_id).XMLDesc(0)
    finally:
        conn.close()
    for disk in ET.fromstring(xml).findall("./devices/disk[@type='network']"):
        target, source = disk.find("target"), disk.find("source")
        host = source.find("host") if source is not None else None
        if target is not None and target.get("dev") == dev and source is not None and host is not None:
            return str(host.get("socket")), source.get("name") or ""
    return None


def _read_attached(devcloud: Devcloud, server_id: str, dev: str, offset: int, length: int) -> bytes:
    """Bytes of a server's NBD disk, read with qemu-io from the export its domain names (the VM's own
    block layer prints its reads to QEMU's log, not to the monitor)."""
    found = _nbd_source(devcloud, server_id, dev)
    assert found is not None, f"{server_id} has no NBD disk {dev}"
    socket_path, export = found
    image = f"driver=nbd,path={socket_path},export={export}"
    out = run("qemu-io", "-r", "--image-opts", image, "-c", f"read -v {offset} {length}")
    # "00001000:  8f 12 ...  ................": 16 bytes a line after the offset
    data = b"".join(
        bytes.fromhex(" ".join(line.split(":", 1)[1].split()[:16]))
        for line in out.splitlines()
        if re.match(r"^[0-9a-f]{8}:", line)
    )
    assert len(data) == length, out[:500]
    return data


def test_demo_mounts_a_snapshot_on_a_recovery_vm(
    browser_as: Callable[[str], Any], horizon: str, devcloud: Devcloud, story: Story
) -> None:
    page = browser_as("devcloud-demo")
    before = _attached_disks(devcloud, story.rescue_id)
    page.goto(horizon + f"/project/backup_snapshots/{story.snap1}/")
    page.click("#mount_snapshot")
    page.wait_for_selector("#id_mount_vm_id")
    offered = page.locator("#id_mount_vm_id option").evaluate_all("els => els.map(e => e.value)")
    assert story.rescue_id in offered and story.server_id not in offered, offered
    page.select_option("#id_mount_vm_id", story.rescue_id)
    shot(page, "31-mount-snapshot")
    page.click(".modal-footer .btn-primary")
    page.wait_for_selector("#snapshot_mount")
    text = page.inner_text("#snapshot_mount")
    assert story.rescue_name in text, text
    shot(page, "32-snapshot-mounted")

    # The recovery VM has one more disk, the one the page names, holding snapshot 1's bytes (the
    # source VM's disk holds version 2 of settings.conf by now).
    added = {
        dev: serial for dev, serial in _attached_disks(devcloud, story.rescue_id).items() if dev not in before
    }
    assert len(added) == 1, added
    (device,) = added
    assert f"its disks are {device} there" in text, text
    assert _read_attached(devcloud, story.rescue_id, device, story.settings_at, 256) == FILES[SETTINGS][:256]

    page.goto(horizon + "/project/backup_snapshots/")
    page.click("#snapshots__action_mounted")
    row = f"#mounts tr[data-object-id='{story.snap1}']"
    page.wait_for_selector(row)
    row_text = page.inner_text(row)
    assert story.rescue_name in row_text and device in row_text and "Mounted" in row_text, row_text
    shot(page, "33-mounted-snapshots")

    page.goto(horizon + f"/project/backup_snapshots/{story.snap1}/")
    page.click("#dismount_snapshot")
    page.click(".modal .btn-danger")  # Horizon asks for confirmation before a danger button's form
    page.wait_for_selector("#mount_snapshot")
    # A guest without an OS (devcloud's) never releases a hot-plugged disk; its export stops anyway.
    source = _nbd_source(devcloud, story.rescue_id, device)
    assert source is None or not os.path.exists(source[0]), source
    page.goto(horizon + "/project/backup_snapshots/mounted/")
    page.wait_for_selector("text=No items to display.")
    _no_error_page(page)

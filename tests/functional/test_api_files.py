"""File recovery through the real API: a snapshot whose disk holds a real ext4 filesystem (``mke2fs -d``
from files the test wrote) is backed up into the vault by the product's backup path, imported, then
browsed and downloaded (whole files, a byte range, a directory as tar) and compared byte for byte with
what the test wrote; names that are not UTF-8 (shown as text, named by their bytes in base64);
isolation, policy and the error answers too."""

from __future__ import annotations

import base64
import io
import os
import random
import shutil
import sqlite3
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from oslo_config import cfg

from t4o.common import config
from t4o.vault import open_target
from t4o.vault import target as vault_target
from t4o.workloads.file_browser import FileBrowser
from tests.fixtures.control_plane import ControlPlane, admin, member
from tests.fixtures.target_documents import Written, write_workload

DEMO, OTHER = "demo", "other"
MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z
POLICY_YAML = '"snapshot:download": "rule:admin_or_owner and not user_id:mallory"\n'


def _files() -> dict[str, bytes]:
    rng = random.Random(14)
    return {
        "etc/hosts": b"127.0.0.1 localhost\n",
        "etc/app/config.yaml": b"name: demo\nreplicas: 3\n",
        "etc/app/empty": b"",
        "data/big.bin": rng.randbytes(1536 * 1024 + 123),  # more than 1 MiB, not block-aligned
        "data/notes with spaces.txt": "caf\u00e9 \u2013 r\u00e9sum\u00e9\n".encode(),
    }


def _raw_files() -> dict[bytes, bytes]:
    """Files whose names are Latin-1 or stray bytes, as a guest may hold them."""
    return {
        b"caf\xe9/menu-\xe9t\xe9.txt": b"soupe du jour\n",
        b"caf\xe9/\xff\xfe-odd": bytes(range(256)) * 10,
        b"caf\xe9/plain.txt": b"plain\n",
    }


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass
class Env:
    cp: ControlPlane
    files: dict[str, bytes]
    raw_files: dict[bytes, bytes]
    ext4: Written  # one snapshot, disk vda holds the ext4 filesystem
    raw: Written  # two snapshots of a disk without any filesystem
    vault_url: str
    elsewhere: Written  # the ext4 disk again, on a second backup target defined through the API
    elsewhere_target: str

    def url(self, written: Written, what: str, index: int = 0, disk: str = "vda") -> str:
        snap, records, _ = written.snapshots[index]
        return f"/snapshots/{snap.id}/vms/{records[0]['vm_id']}/disks/{disk}/{what}"


def _make_ext4(
    root: Path, files: dict[str, bytes], image: Path, raw_files: dict[bytes, bytes] | None = None
) -> bytes:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for raw, data in (raw_files or {}).items():
        name = os.fsencode(root) + b"/" + raw
        os.makedirs(os.path.dirname(name), exist_ok=True)
        with open(name, "wb") as f:
            f.write(data)
    if raw_files:
        os.symlink(b"menu-\xe9t\xe9.txt", os.fsencode(root) + b"/caf\xe9/lnk\xe9")
    (root / "hosts-link").symlink_to("etc/hosts")
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
    os.utime(root, (MTIME, MTIME))
    mke2fs = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
    subprocess.run(
        [mke2fs, "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0", "-d", str(root), str(image), "64M"],
        check=True,
        capture_output=True,
        env={**os.environ, "E2FSPROGS_FAKE_TIME": str(MTIME)},
    )
    return image.read_bytes()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    workdir = tmp_path_factory.mktemp("files")
    files, raw_files = _files(), _raw_files()
    disk = _make_ext4(workdir / "tree", files, workdir / "ext4.img", raw_files)
    url = str(workdir / "vault")
    repo = open_target(url, create_if_missing=True)
    ext4 = write_workload(repo, DEMO, "alice", "files", snapshots=1, disk=disk)
    raw = write_workload(repo, DEMO, "alice", "raw", snapshots=2)
    second = str(workdir / "vault-2")
    elsewhere = write_workload(
        open_target(second, create_if_missing=True), DEMO, "alice", "elsewhere", 1, disk
    )
    policy_file = workdir / "policy.yaml"
    policy_file.write_text(POLICY_YAML)
    cp = ControlPlane(
        workdir / "cp",
        {"backup_target": {"url": url}, "oslo_policy": {"policy_file": str(policy_file)}},
    )
    cp.add_servers(DEMO, 1)
    try:
        cp.start_all_in_one()
        body = {"backup_target": {"name": "second", "type": "posix", "url": second}}
        resp = cp.request("POST", "/backup_targets", "admin", admin("admin"), json=body)
        assert resp.status_code in (200, 201, 202), resp.text
        target_id = resp.json()["backup_target"]["id"]
        # One import reads both targets.
        resp = cp.request("POST", "/workloads/import_workloads", "admin", admin("admin"), json={})
        assert resp.status_code == 200 and not resp.json()["workloads"]["failed_workloads"], resp.text
        imported = {w["id"] for w in resp.json()["workloads"]["imported_workloads"]}
        assert imported == {ext4.workload.id, raw.workload.id, elsewhere.workload.id}, resp.text
        yield Env(cp, files, raw_files, ext4, raw, url, elsewhere, target_id)
    finally:
        cp.stop()


def _get(env: Env, path: str, token: str | None = None, project: str = DEMO, **kwargs: object):
    return env.cp.request("GET", path, project, token or member(DEMO), **kwargs)


def test_browse_lists_volumes_and_entries(env: Env) -> None:
    started = time.monotonic()
    resp = _get(env, env.url(env.ext4, "browse"))
    cold = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    browse = resp.json()["browse"]
    assert (browse["path"], browse["partition"], browse["filesystem"]) == ("/", 0, "ext4")
    assert [(v["partition"], v["start"], v["size"], v["filesystem"]) for v in browse["volumes"]] == [
        (0, 0, 64 << 20, "ext4")
    ]
    names = {e["name"]: e for e in browse["entries"]}
    assert set(names) == {"data", "etc", "hosts-link", "lost+found", "caf\ufffd"}
    assert names["etc"]["type"] == "directory" and names["etc"]["mtime"] == MTIME
    link = names["hosts-link"]
    assert (link["type"], link["link_target"], link["path"]) == ("symlink", "etc/hosts", "/hosts-link")

    started = time.monotonic()
    resp = _get(env, env.url(env.ext4, "browse"), params={"path": "/data", "partition": "0"})
    warm = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    entries = resp.json()["browse"]["entries"]
    big = env.files["data/big.bin"]
    assert [(e["name"], e["type"], e["size"], e["mode"], e["mtime"], e["link_target"]) for e in entries] == [
        ("big.bin", "file", len(big), "0644", MTIME, None),
        ("notes with spaces.txt", "file", len(env.files["data/notes with spaces.txt"]), "0644", MTIME, None),
    ]
    print(f"\nbrowse: first call (cold) {cold * 1000:.0f} ms, next call (warm) {warm * 1000:.0f} ms")
    # the second call reused the disk the first one opened (vault, NBD export, FUSE mount)
    ref = env.ext4.snapshots[0][1][0]["disks"][0]["ref"]
    assert env.cp.log("all-in-one").count(f"opened snapshot disk {ref} for file recovery") == 1

    # a symlink to a directory is followed; the path answered is the directory's
    resp = _get(env, env.url(env.ext4, "browse"), params={"path": "/etc/app/../app"})
    assert resp.status_code == 200 and resp.json()["browse"]["path"] == "/etc/app"
    assert [e["name"] for e in resp.json()["browse"]["entries"]] == ["config.yaml", "empty"]


def test_files_come_from_the_workloads_own_target(env: Env) -> None:
    """A workload imported from a second target is browsed and downloaded from that target, not the
    configured one (which has no such snapshot)."""
    wid = env.elsewhere.workload.id
    resp = env.cp.request("GET", f"/workloads/{wid}", DEMO, member(DEMO))
    assert resp.status_code == 200 and resp.json()["workload"]["backup_target_id"] == env.elsewhere_target
    resp = _get(env, env.url(env.elsewhere, "browse"), params={"path": "/etc"})
    assert resp.status_code == 200, resp.text
    assert [e["name"] for e in resp.json()["browse"]["entries"]] == ["app", "hosts"]
    resp = _get(env, env.url(env.elsewhere, "download"), params={"path": "/data/big.bin"})
    assert resp.status_code == 200 and resp.content == env.files["data/big.bin"]
    # The import listing says where each workload is.
    listed = env.cp.request("GET", "/workloads/get_list/import_workloads", "admin", admin("admin")).json()
    where = {w["id"]: w["backup_target_id"] for w in listed["workloads"]}
    assert where[wid] == env.elsewhere_target and where[env.ext4.workload.id] == "config"
    only = env.cp.request(
        "GET",
        "/workloads/get_list/import_workloads",
        "admin",
        admin("admin"),
        params={"backup_target_id": env.elsewhere_target},
    ).json()["workloads"]
    assert [w["id"] for w in only] == [wid]


def test_download_files_and_ranges(env: Env) -> None:
    url = env.url(env.ext4, "download")
    for rel, data in env.files.items():
        resp = _get(env, url, params={"path": "/" + rel})
        assert resp.status_code == 200, resp.text
        assert resp.content == data, rel
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["Content-Length"] == str(len(data))
        assert resp.headers["Accept-Ranges"] == "bytes"
    resp = _get(env, url, params={"path": "/data/notes with spaces.txt"})
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"notes with spaces.txt\"; filename*=UTF-8''notes%20with%20spaces.txt"
    )
    # through a symlink: the target's bytes
    resp = _get(env, url, params={"path": "/hosts-link"})
    assert resp.status_code == 200 and resp.content == env.files["etc/hosts"]
    assert 'filename="hosts"' in resp.headers["Content-Disposition"]

    big = env.files["data/big.bin"]
    resp = _get(env, url, params={"path": "/data/big.bin"}, headers={"Range": "bytes=1048000-1049999"})
    assert resp.status_code == 206, resp.text
    assert resp.content == big[1048000:1050000]
    assert resp.headers["Content-Range"] == f"bytes 1048000-1049999/{len(big)}"
    assert resp.headers["Content-Length"] == "2000"
    resp = _get(env, url, params={"path": "/data/big.bin"}, headers={"Range": "bytes=-100"})
    assert resp.status_code == 206 and resp.content == big[-100:]
    resp = _get(env, url, params={"path": "/data/big.bin"}, headers={"Range": f"bytes={len(big) - 5}-"})
    assert resp.status_code == 206 and resp.content == big[-5:]
    resp = _get(env, url, params={"path": "/data/big.bin"}, headers={"Range": f"bytes={len(big)}-"})
    assert resp.status_code == 416, resp.text
    assert resp.headers["Content-Range"] == f"bytes */{len(big)}"

    log = env.cp.log("all-in-one")
    assert (
        f"download by user alice of project {DEMO}: snapshot {env.ext4.snapshots[0][0].id} vm "
        f"{env.ext4.snapshots[0][1][0]['vm_id']} disk vda path /data/big.bin" in log
    ), log[-3000:]
    assert f"{len(big)} bytes sent (complete)" in log and "2000 bytes sent (complete)" in log


def test_download_directory_as_tar(env: Env) -> None:
    resp = _get(env, env.url(env.ext4, "download"), params={"path": "/etc"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/x-tar"
    assert 'filename="etc.tar"' in resp.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        got = {
            name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for name, m in members.items()
            if m.isfile()
        }
    want = {rel: data for rel, data in env.files.items() if rel.startswith("etc/")}
    assert got == want
    assert members["etc/app"].isdir() and members["etc/hosts"].mtime == MTIME

    whole = _get(env, env.url(env.ext4, "download"), params={"path": "/"})
    assert whole.status_code == 200 and 'filename="root.tar"' in whole.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(whole.content)) as tar:
        # members of the root are named ./etc/hosts
        got = {
            os.path.normpath(m.name): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
        link = tar.getmember("./hosts-link")
    raw_files = {os.fsdecode(raw): data for raw, data in env.raw_files.items()}  # names as tarfile reads them
    assert got == {**env.files, **raw_files} and link.issym() and link.linkname == "etc/hosts"


def test_names_that_are_not_utf8(env: Env) -> None:
    browse, download = env.url(env.ext4, "browse"), env.url(env.ext4, "download")
    root = {e["name"]: e for e in _get(env, browse).json()["browse"]["entries"]}
    cafe = root["caf\ufffd"]  # readable text: U+FFFD for the byte 0xE9
    assert (cafe["name_raw"], cafe["path_raw"], cafe["path"]) == (
        _b64(b"caf\xe9"),
        _b64(b"/caf\xe9"),
        "/caf\ufffd",
    )
    assert "name_raw" not in root["etc"] and "path_raw" not in root["etc"]

    # the directory by the exact bytes of its path; the readable text names no file
    resp = _get(env, browse, params={"path_raw": cafe["path_raw"]})
    assert resp.status_code == 200, resp.text
    listing = resp.json()["browse"]
    assert (listing["path"], listing["path_raw"]) == ("/caf\ufffd", _b64(b"/caf\xe9"))
    entries = {base64.b64decode(e.get("name_raw") or _b64(e["name"].encode())): e for e in listing["entries"]}
    assert set(entries) == {raw.split(b"/")[1] for raw in env.raw_files} | {b"lnk\xe9"}
    menu = entries[b"menu-\xe9t\xe9.txt"]
    assert (menu["name"], menu["size"]) == (
        "menu-\ufffdt\ufffd.txt",
        len(env.raw_files[b"caf\xe9/menu-\xe9t\xe9.txt"]),
    )
    link = entries[b"lnk\xe9"]
    assert (link["link_target"], link["link_target_raw"]) == (
        "menu-\ufffdt\ufffd.txt",
        _b64(b"menu-\xe9t\xe9.txt"),
    )
    plain = entries[b"plain.txt"]  # a UTF-8 name in a directory whose name is not
    assert "name_raw" not in plain and plain["path_raw"] == _b64(b"/caf\xe9/plain.txt")
    resp = _get(env, browse, params={"path": "/caf\ufffd"})
    assert resp.status_code == 404 and "/caf\ufffd" in resp.json()["itemNotFound"]["message"]

    # each file by the path_raw the listing gave
    for raw, data in env.raw_files.items():
        entry = entries[raw.split(b"/")[1]]
        resp = _get(env, download, params={"path_raw": entry.get("path_raw") or _b64(b"/" + raw)})
        assert resp.status_code == 200 and resp.content == data, raw
    resp = _get(env, download, params={"path_raw": menu["path_raw"]})
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"menu-_t_.txt\"; filename*=UTF-8''menu-%EF%BF%BDt%EF%BF%BD.txt"
    )
    odd = env.raw_files[b"caf\xe9/\xff\xfe-odd"]
    url_safe = base64.urlsafe_b64encode(b"/caf\xe9/\xff\xfe-odd").decode().rstrip("=")
    resp = _get(env, download, params={"path_raw": url_safe}, headers={"Range": "bytes=250-260"})
    assert resp.status_code == 206 and resp.content == odd[250:261]
    resp = _get(env, download, params={"path_raw": link["path_raw"]})  # the symlink, followed
    assert resp.status_code == 200 and resp.content == env.raw_files[b"caf\xe9/menu-\xe9t\xe9.txt"]

    # the directory as tar: members carry the exact bytes of the names
    resp = _get(env, download, params={"path_raw": cafe["path_raw"]})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/x-tar"
    assert "filename*=UTF-8''caf%EF%BF%BD.tar" in resp.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(resp.content), encoding="utf-8", errors="surrogateescape") as tar:
        members = {os.fsencode(m.name): m for m in tar.getmembers()}
        got = {n: tar.extractfile(m).read() for n, m in members.items() if m.isfile()}  # type: ignore[union-attr]
    assert got == env.raw_files
    assert (
        members[b"caf\xe9"].isdir()
        and os.fsencode(members[b"caf\xe9/lnk\xe9"].linkname) == b"menu-\xe9t\xe9.txt"
    )

    # bad input: 400 or 404 with a message, never a 500
    for url in (browse, download):
        for bad in ("%%%", "L2Fi*", "a", _b64(b"/a\0b")):
            resp = _get(env, url, params={"path_raw": bad})
            assert resp.status_code == 400 and "path_raw" in resp.text, (url, bad, resp.text)
        resp = _get(env, url, params={"path": "/etc", "path_raw": _b64(b"/etc")})
        assert resp.status_code == 400 and "not both" in resp.text, resp.text
        resp = _get(env, url, params={"path_raw": _b64(b"/caf\xe9/nope\xff")})
        assert resp.status_code == 404 and "/caf\ufffd/nope\ufffd" in resp.text, resp.text
    log = env.cp.log("all-in-one")
    assert " status: 500" not in log and "Traceback" not in log, log[-4000:]
    assert (
        "path /caf\ufffd/menu-\ufffdt\ufffd.txt (file /caf\ufffd/menu-\ufffdt\ufffd.txt, bytes 0-13 of 14)"
        in log
    )


def test_errors(env: Env) -> None:
    browse, download = env.url(env.ext4, "browse"), env.url(env.ext4, "download")
    resp = _get(env, browse, params={"path": "/etc/nope"})
    assert resp.status_code == 404 and "/etc/nope" in resp.json()["itemNotFound"]["message"]
    resp = _get(env, download, params={"path": "/nope.txt"})
    assert resp.status_code == 404 and "/nope.txt" in resp.text
    resp = _get(env, browse, params={"path": "/etc/hosts"})
    assert resp.status_code == 400 and "not a directory" in resp.text
    resp = _get(env, download, params={"path": "/etc"}, headers={"Range": "bytes=0-10"})
    assert resp.status_code == 400 and "directory" in resp.text
    for bad in ("7", "x"):
        resp = _get(env, browse, params={"partition": bad})
        assert resp.status_code == 400 and "partition" in resp.text, resp.text
    assert _get(env, env.url(env.ext4, "browse", disk="vdz")).status_code == 404
    snap = env.ext4.snapshots[0][0]
    assert _get(env, f"/snapshots/{snap.id}/vms/nope/disks/vda/browse").status_code == 404
    # The disk by its vault ref's last part works as well as by its target name.
    disk_id = env.ext4.snapshots[0][1][0]["disks"][0]["ref"].rsplit("/", 1)[-1]
    assert _get(env, env.url(env.ext4, "browse", disk=disk_id)).status_code == 200

    # a disk without any filesystem: 409 naming what is there
    resp = _get(env, env.url(env.raw, "browse"))
    assert resp.status_code == 409 and "no readable filesystem" in resp.text, resp.text
    # a snapshot that is not available: 409 with its status
    with sqlite3.connect(env.cp.workdir / "t4o.sqlite") as db:
        db.execute("UPDATE snapshots SET status = 'error' WHERE id = ?", (env.raw.snapshots[1][0].id,))
    resp = _get(env, env.url(env.raw, "download", 1), params={"path": "/"})
    assert resp.status_code == 409 and "is error" in resp.text, resp.text


def test_isolation_and_policy(env: Env) -> None:
    browse, download = env.url(env.ext4, "browse"), env.url(env.ext4, "download")
    for url in (browse, download):
        resp = _get(env, url, member(OTHER), OTHER, params={"path": "/etc/hosts"})
        assert resp.status_code == 404, resp.text
    # mallory, a member of demo, may browse but the policy file forbids her downloads
    mallory = member(DEMO, "mallory")
    assert _get(env, browse, mallory).status_code == 200
    resp = _get(env, download, mallory, params={"path": "/etc/hosts"})
    assert resp.status_code == 403 and "snapshot:download" in resp.text
    # an administrator acting in the project may
    resp = _get(env, download, admin(DEMO), params={"path": "/etc/hosts"})
    assert resp.status_code == 200 and resp.content == env.files["etc/hosts"]
    log = env.cp.log("all-in-one")
    assert " status: 500" not in log and "Traceback" not in log, log[-4000:]


def test_open_disks_are_shared_and_expire(env: Env) -> None:
    """The service in-process on the same vault: threads share one open disk; it closes once unused
    for the idle timeout, never while leased."""
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    vault_target.register_opts(conf)
    conf([], project="t4o")
    conf.set_override("url", env.vault_url, group="backup_target")
    conf.set_override("idle_timeout", 60, group="file_recovery")
    browser = FileBrowser(conf)
    ref = env.ext4.snapshots[0][1][0]["disks"][0]["ref"]
    listed: list[list[str]] = []

    def browse() -> None:
        with browser.lease(ref) as opened:
            listed.append([e.name for e in opened.filesystem(None).list("/etc")])

    try:
        threads = [threading.Thread(target=browse) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert listed == [["app", "hosts"]] * 4 and browser.open_refs() == [ref]
        entry = browser._disks[ref]
        assert os.path.exists(entry.export.socket_path or "")
        with browser.lease(ref):
            assert browser.expire(time.monotonic() + 3600) == []  # in use
        assert browser.expire(time.monotonic() + 30) == []  # not idle long enough
        assert browser.expire(time.monotonic() + 61) == [ref]
        assert browser.open_refs() == [] and not os.path.exists(entry.directory)
        browse()  # opened again on demand
        assert browser.open_refs() == [ref]
    finally:
        browser.close_all()
    assert browser.open_refs() == []

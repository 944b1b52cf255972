"""docs/vault-format.md is enough to restore: decode a repository with plain libraries, not with T4O."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import blake3
import zstandard
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from t4o.vault import PosixBackend, Repository

from .conftest import MiB, write_disk


def independent_restore(repo: Path, snapshot: str, disk: str, out: Path, password: str | None) -> str:
    """Follows the document step by step; returns the recomputed whole-disk checksum."""
    cfg = json.loads((repo / "config").read_text())
    if cfg["encryption"] == "password":
        kdf = cfg["kdf"]
        kek = Scrypt(
            salt=base64.b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
        ).derive(password.encode())
        blob = base64.b64decode(cfg["wrapped_keys"])
        keys = json.loads(AESGCM(kek).decrypt(blob[:12], blob[12:], b"t4o-vault config keys v1"))
    else:
        keys = cfg["keys"]
    m = json.loads((repo / "snapshots" / snapshot / "disks" / f"{disk}.json").read_text())
    id_key, enc_key = bytes.fromhex(keys["id_key"]), None
    if m["encrypted"]:
        master = bytes.fromhex(keys["master_key"])

        def hkdf(info: str) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(master)

        id_key = hkdf("t4o-vault workload id-key " + m["workload_id"])
        enc_key = hkdf("t4o-vault workload enc-key " + m["workload_id"])
    cs, size = m["chunk_size"], m["size"]
    where = read_index(repo)

    def blob(cid: str, n: int) -> bytes:
        if cid in where:  # format 2: a blob in a pack, found through the index
            pack, offset, length = where[cid]
            with open(repo / "data" / pack[:2] / pack, "rb") as f:
                f.seek(offset)
                obj = f.read(length)
        else:  # format 1: an object of its own
            obj = (repo / "chunks" / cid[:2] / cid).read_bytes()
        assert obj[0] == 0xC4 and obj[3] == 0
        payload = obj[4:]
        if obj[2] == 1:
            payload = AESGCM(enc_key).decrypt(payload[:12], payload[12:], bytes.fromhex(cid))
        data = zstandard.ZstdDecompressor().decompress(payload) if obj[1] == 1 else payload
        assert len(data) == n and blake3.blake3(data, key=id_key).hexdigest() == cid
        return data

    blocks = m["blocks"] if m["version"] == 2 else m["chunks"]
    ps = m.get("piece_size", 0)
    tree = blake3.blake3()
    with open(out, "wb") as f:
        f.truncate(size)
        for i, entry in enumerate(blocks):
            n = min(cs, size - i * cs)
            if entry is None:
                tree.update(blake3.blake3(bytes(n), key=id_key).digest())
                continue
            if isinstance(entry, list):  # a patched block: base (or zeros), then its pieces
                digest, base, pieces = entry
                data = bytearray(blob(base, n) if base else bytes(n))
                for j, pid in pieces:
                    data[j * ps : (j + 1) * ps] = blob(pid, ps) if pid else bytes(ps)
                assert blake3.blake3(bytes(data), key=id_key).hexdigest() == digest
            else:
                digest, data = entry, blob(entry, n)
            tree.update(bytes.fromhex(digest))
            f.seek(i * cs)
            f.write(data)
    assert tree.hexdigest() == m["checksum"].removeprefix("blake3tree:")
    return m["checksum"]


def read_index(repo: Path) -> dict[str, tuple[str, int, int]]:
    """Blob id -> (pack id, offset, length), from every index file a loaded one does not supersede."""
    files, replaced = {}, set()
    for path in (repo / "index").glob("*") if (repo / "index").is_dir() else []:
        data = path.read_bytes()
        magic, npacks, nold = struct.unpack_from("<8sII", data, 0)
        assert magic == b"T4OIDX02"
        packs = [data[16 + 32 * n : 48 + 32 * n].hex() for n in range(npacks)]
        base = 16 + 32 * npacks
        replaced.update(data[base + 32 * n : base + 32 * (n + 1)].hex() for n in range(nold))
        files[path.name] = (packs, data, base + 32 * nold)
    where: dict[str, tuple[str, int, int]] = {}
    for name, (packs, data, start) in files.items():
        if name in replaced:
            continue
        for pos in range(start, len(data), 48):
            raw_id, pack_no, offset, length, _plain = struct.unpack_from("<32sIIII", data, pos)
            where.setdefault(raw_id.hex(), (packs[pack_no], offset, length))
    return where


def test_plain_repository_restores_from_the_document(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "repo"))
    disk = write_disk(tmp_path / "d.raw", 6, seed=11)
    with open(disk, "ab") as f:
        f.write(b"odd tail")  # a short last block
    m = repo.backup_disk(disk, "vda", snapshot_id="s1")
    out = tmp_path / "out.raw"
    assert independent_restore(tmp_path / "repo", "s1", "vda", out, None) == m.checksum
    assert out.read_bytes() == disk.read_bytes()
    with open(disk, "r+b") as f:  # 4 KiB pages in two blocks: stored as patched blocks
        for off in (100_000, 3 * MiB + 700_000):
            f.seek(off)
            f.write(bytes(range(256)) * 16)
    extents = [(100_000, 4096), (3 * MiB + 700_000, 4096)]
    m2 = repo.backup_disk(disk, "vda", snapshot_id="s2", parent=m.ref, changed_extents=extents)
    assert m2.stats["patched_blocks"] == 2
    assert independent_restore(tmp_path / "repo", "s2", "vda", out, None) == m2.checksum
    assert out.read_bytes() == disk.read_bytes()


def test_encrypted_repository_restores_from_the_document(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "repo"), password="s3cret")
    disk = write_disk(tmp_path / "d.raw", 4, seed=12)
    first = repo.backup_disk(disk, "vda", snapshot_id="s1", workload_id="wl-7")
    with open(disk, "r+b") as f:
        f.write(b"changed")
    repo.backup_disk(
        disk, "vda", snapshot_id="s2", workload_id="wl-7", parent=first.ref, changed_extents=[(0, 7)]
    )
    out = tmp_path / "out.raw"
    independent_restore(tmp_path / "repo", "s2", "vda", out, "s3cret")
    assert out.read_bytes() == disk.read_bytes()
    # sealed documents open as the document says
    repo.put_snapshot_metadata("s2", {"vm": "db-1"}, workload_id="wl-7")
    cfg = json.loads((tmp_path / "repo" / "config").read_text())
    kdf = cfg["kdf"]
    kek = Scrypt(salt=base64.b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        b"s3cret"
    )
    blob = base64.b64decode(cfg["wrapped_keys"])
    master = bytes.fromhex(
        json.loads(AESGCM(kek).decrypt(blob[:12], blob[12:], b"t4o-vault config keys v1"))["master_key"]
    )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"t4o-vault metadata key").derive(master)
    where = "snapshots/s2/snapshot.json"
    sealed = json.loads((tmp_path / "repo" / where).read_text())
    assert sealed["sealed"] == "aes-256-gcm"
    data = base64.b64decode(sealed["data"])
    doc = json.loads(AESGCM(key).decrypt(data[:12], data[12:], where.encode()))
    assert doc["metadata"] == {"vm": "db-1"} and doc["workload_id"] == "wl-7"

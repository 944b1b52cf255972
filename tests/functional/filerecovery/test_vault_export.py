"""File recovery from a disk in the vault, served by the vault's own NBD export: the disk is backed
up with the product's backup, then files are listed, searched and read through ``NbdExport`` and
``nbdfuse``, fetching only the chunks they need."""

from __future__ import annotations

from pathlib import Path

import pytest

from t4o.filerecovery import open_disk, search
from t4o.vault import DiskReader, NbdExport, PosixBackend, Repository, backup_source
from tests.functional.filerecovery.conftest import Tree

MiB = 1 << 20


@pytest.mark.parametrize("name", ["ext4-gpt", "xfs-gpt"])
def test_files_of_a_backed_up_disk(images: dict[str, tuple[Path, Tree]], name: str, tmp_path: Path) -> None:
    image, tree = images[name]
    repo = Repository.init(PosixBackend(tmp_path / "repo", fsync=False))
    backup_source(repo, str(image), "vda", snapshot_id="s1", workload_id="w")
    reader = DiskReader(repo, "s1/vda", cache_mib=8)
    with NbdExport(reader, socket_path=tmp_path / "nbd.sock") as export, open_disk(export.url) as disk:
        fs = disk.filesystem(2)
        assert {e.name for e in fs.list("/etc")} == {"hosts", "app.conf", "abs-link", "conf.d"}
        assert [e.path for e in search(fs, "/etc/**/*.conf").entries] == [
            "/etc/app.conf",
            "/etc/conf.d/net.conf",
        ]
        before = reader.stats().chunks_fetched
        assert b"".join(fs.read("/big.bin")) == tree.files["/big.bin"]
        fetched = reader.stats().chunks_fetched - before
        for path, data in tree.files.items():
            assert b"".join(fs.read(path)) == data, path
    disk_chunks = -(-image.stat().st_size // reader.chunk_size)
    print(f"{name}: {fetched} chunks of {reader.chunk_size} for 3 MiB, disk {disk_chunks} chunks")
    # a 3 MiB file costs a few chunks, not the disk
    assert fetched <= 3 * MiB // reader.chunk_size + 3 < disk_chunks, (fetched, disk_chunks)

"""LVs of a real LVM2 volume group. The first 1,088 KiB of the disk (GPT, PV label, metadata area)
were written by LVM 2.03.16 itself, in the libguestfs appliance:

    truncate -s 400M lvm.disk
    LIBGUESTFS_BACKEND_SETTINGS=force_tcg guestfish -a lvm.disk <<EOF
    run
    part-disk /dev/sda gpt
    pvcreate /dev/sda1
    vgcreate vg0 /dev/sda1
    lvcreate root vg0 68
    lvcreate small vg0 8
    lvcreate data vg0 300
    lvresize /dev/vg0/small 16
    EOF
    head -c 1114112 lvm.disk | gzip -9 > data/lvm-gpt-head.bin.gz

(about 45 s under TCG, so it is kept rather than rebuilt). The test writes its own ext4 and xfs
images into the LVs at the places LVM's metadata gives: partition 1 at 64 KiB, pe_start 2048
sectors, 4 MiB extents; root at extent 0, data at extent 19; small in two pieces (17 and 94)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from t4o.filerecovery import UnsupportedFilesystem, open_disk, search
from tests.functional.filerecovery.conftest import Tree, copy_sparse

HEAD = Path(__file__).parent / "data" / "lvm-gpt-head.bin.gz"
MiB = 1 << 20
PV = 64 * 1024
PE_START = PV + MiB
EXTENT = 4 * MiB


@pytest.fixture(scope="module")
def lvm_disk(images: dict[str, tuple[Path, Tree]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    disk = tmp_path_factory.mktemp("lvm") / "lvm.disk"
    with open(disk, "wb") as f:
        f.truncate(400 * MiB)
        f.write(gzip.decompress(HEAD.read_bytes()))
    copy_sparse(images["ext4"][0], disk, PE_START + 0 * EXTENT)
    copy_sparse(images["xfs"][0], disk, PE_START + 19 * EXTENT)
    return disk


def test_volumes_of_the_volume_group(lvm_disk: Path) -> None:
    with open_disk(str(lvm_disk)) as disk:
        found = [(v.index, v.name, v.offset, v.size, v.filesystem, v.table) for v in disk.volumes]
    assert found == [
        (1, "p1", PV, 419_299_840, "lvm2", "gpt"),  # the GPT partition guestfish made
        (101, "vg0/data", PE_START + 19 * EXTENT, 300 * MiB, "xfs", "lvm"),
        (102, "vg0/root", PE_START, 68 * MiB, "ext4", "lvm"),
        (103, "vg0/small", PV, 16 * MiB, None, "lvm"),
    ]


def test_files_of_the_logical_volumes(lvm_disk: Path, images: dict[str, tuple[Path, Tree]]) -> None:
    with open_disk(str(lvm_disk)) as disk:
        for lv, image in (("vg0/root", "ext4"), ("vg0/data", "xfs")):
            tree = images[image][1]
            fs = disk.filesystem(lv)
            for path, data in tree.files.items():
                assert b"".join(fs.read(path)) == data, (lv, path)
            assert [e.path for e in search(fs, "*.conf").entries] == ["/etc/app.conf", "/etc/conf.d/net.conf"]
        assert disk.filesystem(102) is disk.filesystem("vg0/root")
        with pytest.raises(UnsupportedFilesystem, match=r"vg0/small .* in pieces"):
            disk.filesystem("vg0/small")
        assert disk.volume().name == "vg0/data"  # the first readable volume


def test_a_search_covers_every_volume(lvm_disk: Path) -> None:
    with open_disk(str(lvm_disk)) as disk:
        found = {m.volume.name: [e.path for e in m.entries] for m in disk.search("hosts")}
    assert found == {
        "vg0/data": ["/etc/hosts"],
        "vg0/root": ["/etc/hosts"],
    }  # LVs without a filesystem left out

"""Volumes from hand-built partition tables and superblocks (bytes in memory, no tools)."""

from __future__ import annotations

import struct
import uuid

from t4o.filerecovery.partitions import detect, volumes

MiB = 1 << 20
LINUX_GUID = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


class Image:
    """A sparse in-memory disk: writes at offsets, zeros elsewhere."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray(size)

    def put(self, offset: int, data: bytes) -> None:
        self.data[offset : offset + len(data)] = data

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset : offset + length])


def ext_superblock(incompat: int = 0, compat: int = 0) -> bytes:
    sb = bytearray(1024)
    sb[56:58] = b"\x53\xef"
    struct.pack_into("<II", sb, 92, compat, incompat)
    return bytes(sb)


def mbr_entry(ptype: int, start: int, count: int) -> bytes:
    return bytes([0, 0, 0, 0, ptype, 0, 0, 0]) + struct.pack("<II", start, count)


def boot_sector(*entries: bytes) -> bytes:
    sector = bytearray(512)
    for i, entry in enumerate(entries):
        sector[446 + 16 * i : 462 + 16 * i] = entry
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def test_detect_names_what_it_finds() -> None:
    img = Image(8 * MiB)
    img.put(1024, ext_superblock(incompat=0x40))
    assert detect(img.read, 0) == "ext4"
    img.put(1024, ext_superblock(compat=0x4))
    assert detect(img.read, 0) == "ext3"
    img.put(1024, ext_superblock())
    assert detect(img.read, 0) == "ext2"
    img.put(MiB, b"XFSB")
    assert detect(img.read, MiB) == "xfs"
    img.put(2 * MiB + 512, b"LABELONE" + bytes(16) + b"LVM2 001")
    assert detect(img.read, 2 * MiB) == "lvm2"
    img.put(3 * MiB + 4086, b"SWAPSPACE2")
    assert detect(img.read, 3 * MiB) == "swap"
    assert detect(img.read, 5 * MiB) is None
    assert detect(img.read, 7 * MiB + 1000) is None  # near the end: short reads


def test_a_bare_filesystem_is_the_whole_disk() -> None:
    img = Image(4 * MiB)
    img.put(0, b"XFSB")
    assert [(v.index, v.offset, v.size, v.filesystem, v.table) for v in volumes(img.read, img.size)] == [
        (0, 0, 4 * MiB, "xfs", "none")
    ]


def test_nothing_recognised() -> None:
    img = Image(MiB)
    assert [(v.index, v.filesystem) for v in volumes(img.read, img.size)] == [(0, None)]


def test_mbr_primary_extended_and_logical() -> None:
    img = Image(64 * MiB)
    # 1: ext4 at 1 MiB; 2: extended from 16 MiB holding logical 5 (xfs) and 6 (nothing)
    img.put(0, boot_sector(mbr_entry(0x83, 2048, 8192), mbr_entry(0x05, 32768, 65536)))
    img.put(MiB + 1024, ext_superblock(incompat=0x40))
    # EBR 1 at 16 MiB: logical at +2048 sectors, next EBR at +40960 (relative to the extended start)
    img.put(16 * MiB, boot_sector(mbr_entry(0x83, 2048, 8192), mbr_entry(0x05, 40960, 10240)))
    img.put(17 * MiB, b"XFSB")
    img.put(36 * MiB, boot_sector(mbr_entry(0x82, 2048, 4096)))
    found = [(v.index, v.offset, v.size, v.filesystem, v.partition_type) for v in volumes(img.read, img.size)]
    assert found == [
        (1, MiB, 4 * MiB, "ext4", "0x83"),
        (5, 17 * MiB, 4 * MiB, "xfs", "0x83"),
        (6, 37 * MiB, 2 * MiB, None, "0x82"),
    ]


def test_an_ebr_loop_ends() -> None:
    img = Image(32 * MiB)
    img.put(0, boot_sector(mbr_entry(0x05, 2048, 8192)))
    img.put(MiB, boot_sector(mbr_entry(0x83, 2048, 100), mbr_entry(0x05, 0, 8192)))  # points at itself
    assert [v.index for v in volumes(img.read, img.size)] == [5]


def gpt_entry(type_guid: str, first: int, last: int, name: str) -> bytes:
    entry = bytearray(128)
    entry[:16] = uuid.UUID(type_guid).bytes_le
    entry[16:32] = uuid.uuid4().bytes_le
    struct.pack_into("<QQ", entry, 32, first, last)
    encoded = name.encode("utf-16-le")
    entry[56 : 56 + len(encoded)] = encoded
    return bytes(entry)


def test_gpt() -> None:
    img = Image(64 * MiB)
    img.put(0, boot_sector(mbr_entry(0xEE, 1, 131071)))
    header = bytearray(92)
    header[:8] = b"EFI PART"
    struct.pack_into("<QII", header, 72, 2, 128, 128)
    img.put(512, bytes(header))
    img.put(1024, gpt_entry(LINUX_GUID, 2048, 4095, "boot"))
    img.put(1024 + 2 * 128, gpt_entry(LINUX_GUID, 4096, 8191, "r\u00e9sum\u00e9"))  # entry 3; 2 unused
    img.put(4096 * 512 + 1024, ext_superblock(incompat=0x40))
    found = [(v.index, v.offset, v.size, v.filesystem, v.table, v.name) for v in volumes(img.read, img.size)]
    assert found == [
        (1, MiB, MiB, None, "gpt", "boot"),
        (3, 2 * MiB, 2 * MiB, "ext4", "gpt", "r\u00e9sum\u00e9"),
    ]
    assert volumes(img.read, img.size)[0].partition_type == LINUX_GUID


def test_a_partition_past_the_end_of_the_disk_is_clipped() -> None:
    img = Image(4 * MiB)
    img.put(0, boot_sector(mbr_entry(0x83, 2048, 1 << 30)))
    (volume,) = volumes(img.read, img.size)
    assert (volume.offset, volume.size, volume.filesystem) == (MiB, 3 * MiB, None)

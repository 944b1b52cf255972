"""Finding the volumes of a disk: a bare filesystem, MBR (with logical partitions) and GPT tables.

Pure parsing over a ``read(offset, length)`` callable, so it works the same on a raw file and on an
NBD export, and reads a few sectors only. Each volume's filesystem is named by its superblock magic
(``detect``): the readers open ext2/3/4 and xfs; anything else is reported by name (LVM2 physical
volume, swap, btrfs, ntfs, vfat, LUKS, ...) so the user is told what is there.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass

Reader = Callable[[int, int], bytes]  # read(offset, length) -> up to length bytes

SECTOR = 512
MBR_EXTENDED = {0x05, 0x0F, 0x85}
MBR_PROTECTIVE = 0xEE
MAX_LOGICAL = 128  # an EBR chain longer than this is a loop
MAX_GPT_ENTRIES = 1024

EXT_FEATURE_COMPAT_HAS_JOURNAL = 0x4
EXT_FEATURE_INCOMPAT_EXTENTS = 0x40
EXT_FEATURE_INCOMPAT_64BIT = 0x80
EXT_FEATURE_INCOMPAT_FLEX_BG = 0x200


@dataclass(frozen=True)
class Volume:
    """A region of a disk that may hold a filesystem."""

    index: int  # partition number (1..), 0 for a whole-disk filesystem
    offset: int  # bytes from the start of the disk
    size: int  # bytes
    filesystem: str | None  # "ext4", "xfs", "lvm2", ... or None when nothing is recognised
    table: str  # "none", "mbr" or "gpt"
    partition_type: str = ""  # MBR type byte ("0x83") or GPT type GUID
    name: str = ""  # GPT partition name

    def as_dict(self) -> dict[str, object]:
        return {
            "partition": self.index,
            "offset": self.offset,
            "size": self.size,
            "filesystem": self.filesystem,
            "table": self.table,
            "partition_type": self.partition_type,
            "name": self.name,
        }


def detect(read: Reader, offset: int) -> str | None:
    """The filesystem (or other content) at ``offset``, by its magic number; None if unknown."""
    head = read(offset, 4096)
    if len(head) < 1024 + 104:
        head = head + read(offset + len(head), 1024 + 104 - len(head))
    if head[:4] == b"XFSB":
        return "xfs"
    if head[:6] == b"LUKS\xba\xbe":
        return "luks"
    ext = head[1024 : 1024 + 104]
    if len(ext) >= 104 and ext[56:58] == b"\x53\xef":
        compat, incompat = struct.unpack_from("<II", ext, 92)
        if incompat & (
            EXT_FEATURE_INCOMPAT_EXTENTS | EXT_FEATURE_INCOMPAT_64BIT | EXT_FEATURE_INCOMPAT_FLEX_BG
        ):
            return "ext4"
        return "ext3" if compat & EXT_FEATURE_COMPAT_HAS_JOURNAL else "ext2"
    for sector in range(4):
        label = head[sector * SECTOR : sector * SECTOR + 32]
        if label[:8] == b"LABELONE" and label[24:32] == b"LVM2 001":
            return "lvm2"
    if head[4086:4096] in (b"SWAPSPACE2", b"SWAP-SPACE"):
        return "swap"
    if head[3:11] == b"NTFS    ":
        return "ntfs"
    if head[82:87] == b"FAT32" or head[54:59] in (b"FAT12", b"FAT16"):
        return "vfat"
    if read(offset + 0x10040, 8) == b"_BHRfS_M":
        return "btrfs"
    if read(offset + 32769, 5) == b"CD001":
        return "iso9660"
    return None


def volumes(read: Reader, disk_size: int) -> list[Volume]:
    """The volumes of a disk: one whole-disk volume when a filesystem starts at 0 or no table is
    found, else the partitions of its GPT or MBR table in partition-number order."""
    whole = detect(read, 0)
    if whole is not None:
        return [Volume(0, 0, disk_size, whole, "none")]
    mbr = read(0, SECTOR)
    if len(mbr) == SECTOR and mbr[510:512] == b"\x55\xaa":
        entries = _mbr_entries(mbr)
        if any(ptype == MBR_PROTECTIVE for _, ptype, _, _ in entries):
            gpt = _gpt(read, disk_size)
            if gpt is not None:
                return gpt
        return _mbr(read, entries, disk_size)
    gpt = _gpt(read, disk_size)  # a GPT without its protective MBR
    if gpt is not None:
        return gpt
    return [Volume(0, 0, disk_size, None, "none")]


def _mbr_entries(sector: bytes) -> list[tuple[int, int, int, int]]:
    """(slot 1-4, type, first LBA, sectors) of the used slots of an MBR or EBR."""
    found = []
    for slot in range(4):
        entry = sector[446 + 16 * slot : 446 + 16 * (slot + 1)]
        ptype = entry[4]
        start, count = struct.unpack_from("<II", entry, 8)
        if ptype != 0 and count != 0:
            found.append((slot + 1, ptype, start, count))
    return found


def _mbr(read: Reader, entries: list[tuple[int, int, int, int]], disk_size: int) -> list[Volume]:
    found: list[Volume] = []
    for slot, ptype, start, count in entries:
        if ptype in MBR_EXTENDED:
            found.extend(_logical(read, start, disk_size))
            continue
        found.append(_volume(read, slot, start * SECTOR, count * SECTOR, disk_size, "mbr", f"0x{ptype:02x}"))
    return sorted(found, key=lambda v: v.index)


def _logical(read: Reader, extended_start: int, disk_size: int) -> list[Volume]:
    """The logical partitions (5, 6, ...) of an extended partition: a chain of EBRs."""
    found: list[Volume] = []
    ebr_lba = extended_start
    seen: set[int] = set()
    for number in range(5, 5 + MAX_LOGICAL):
        if ebr_lba in seen or ebr_lba * SECTOR >= disk_size:
            break
        seen.add(ebr_lba)
        ebr = read(ebr_lba * SECTOR, SECTOR)
        if len(ebr) < SECTOR or ebr[510:512] != b"\x55\xaa":
            break
        entries = _mbr_entries(ebr)
        data = [e for e in entries if e[1] not in MBR_EXTENDED]
        if data:
            _, ptype, start, count = data[0]
            found.append(
                _volume(
                    read,
                    number,
                    (ebr_lba + start) * SECTOR,
                    count * SECTOR,
                    disk_size,
                    "mbr",
                    f"0x{ptype:02x}",
                )
            )
        nxt = [e for e in entries if e[1] in MBR_EXTENDED]
        if not nxt:
            break
        ebr_lba = extended_start + nxt[0][2]
    return found


def _gpt(read: Reader, disk_size: int) -> list[Volume] | None:
    for sector_size in (512, 4096):
        header = read(sector_size, 92)
        if header[:8] == b"EFI PART":
            return _gpt_entries(read, header, sector_size, disk_size)
    return None


def _gpt_entries(read: Reader, header: bytes, sector_size: int, disk_size: int) -> list[Volume]:
    entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
    if entry_size < 128 or count > MAX_GPT_ENTRIES:
        return []
    table = read(entries_lba * sector_size, count * entry_size)
    found = []
    for number in range(1, count + 1):
        entry = table[(number - 1) * entry_size : number * entry_size]
        if len(entry) < 128 or entry[:16] == bytes(16):
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        name = entry[56:128].decode("utf-16-le", errors="replace").split("\0", 1)[0]
        type_guid = str(uuid.UUID(bytes_le=entry[:16])).upper()
        offset, size = first * sector_size, (last - first + 1) * sector_size
        found.append(_volume(read, number, offset, size, disk_size, "gpt", type_guid, name))
    return found


def _volume(
    read: Reader, index: int, offset: int, size: int, disk_size: int, table: str, ptype: str, name: str = ""
) -> Volume:
    inside = 0 <= offset < disk_size and size > 0
    filesystem = detect(read, offset) if inside else None
    return Volume(index, offset, min(size, max(disk_size - offset, 0)), filesystem, table, ptype, name)

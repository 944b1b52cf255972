"""The logical volumes of an LVM2 physical volume, read from its on-disk metadata (no lvm tools, no
device mapper): the PV label (``LABELONE``/``LVM2 001`` in one of the first 4 sectors), its metadata
area (``mda_header`` and the newest ``raw_locn``), and the volume group's text metadata, parsed here.

A linear LV whose segments lie one after another on this PV is a plain region of the disk, read
like a partition; LVs on other PVs (a VG spanning disks), striped, mirrored, thin or snapshot LVs
are listed with what they are and not read.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

from t4o.filerecovery.partitions import SECTOR, Reader

MDA_MAGIC = b" LVM2 x[5A%r0N*>"
MAX_METADATA = 16 * 1024 * 1024
_TOKEN = re.compile(
    r'(?P<comment>#[^\n]*)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)'
    r"|(?P<name>[A-Za-z_][\w.+-]*)|(?P<sym>[={}\[\],])|(?P<other>\S)"
)


@dataclass(frozen=True)
class LogicalVolume:
    vg: str
    name: str
    offset: int  # bytes from the start of the PV, when the LV is one linear run on it
    size: int
    readable: bool
    why: str = ""  # what the LV is when it is not readable


class LvmError(Exception):
    pass


def logical_volumes(read: Reader, pv_offset: int) -> list[LogicalVolume]:
    """The LVs of the VG whose PV starts at ``pv_offset``; ``LvmError`` if its metadata is unreadable."""
    label_at, header = _label(read, pv_offset)
    pv_uuid = header[:32].decode(errors="replace")
    position = 40
    for _ in range(2):  # data areas, then metadata areas: each list ends with a zero entry
        areas = []
        while position + 16 <= len(header):
            offset, size = struct.unpack_from("<QQ", header, position)
            position += 16
            if offset == 0 and size == 0:
                break
            areas.append((offset, size))
        metadata_areas = areas
    for mda_offset, mda_size in metadata_areas:
        text = _metadata_text(read, pv_offset + mda_offset, mda_size)
        if text:
            return _volumes(parse(text), pv_uuid)
    raise LvmError(f"no LVM metadata found on the physical volume at {pv_offset} (label at {label_at})")


def _label(read: Reader, pv_offset: int) -> tuple[int, bytes]:
    for sector in range(4):
        block = read(pv_offset + sector * SECTOR, SECTOR)
        if block[:8] == b"LABELONE" and block[24:32] == b"LVM2 001":
            (header_at,) = struct.unpack_from("<I", block, 20)
            return sector, block[header_at:]
    raise LvmError(f"no LVM2 label at {pv_offset}")


def _metadata_text(read: Reader, mda_start: int, mda_size: int) -> str:
    header = read(mda_start, SECTOR)
    if header[4:20] != MDA_MAGIC:
        return ""
    offset, size = struct.unpack_from("<QQ", header, 40)  # the first raw_locn: the live metadata
    if size == 0 or size > MAX_METADATA:
        return ""
    if offset + size <= mda_size:
        raw = read(mda_start + offset, size)
    else:  # a circular buffer: the text wraps to just after the header
        first = mda_size - offset
        raw = read(mda_start + offset, first) + read(mda_start + SECTOR, size - first)
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def parse(text: str) -> dict[str, Any]:
    """LVM's configuration syntax: ``name = value``, ``name { ... }``, ``[a, b]`` lists, strings, ints."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "comment"]
    position = 0

    def value() -> Any:
        nonlocal position
        kind, tok = tokens[position]
        position += 1
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", tok[1:-1])
        if kind == "num":
            return float(tok) if "." in tok else int(tok)
        if tok == "[":
            items = []
            while tokens[position][1] != "]":
                if tokens[position][1] == ",":
                    position += 1
                    continue
                items.append(value())
            position += 1
            return items
        raise LvmError(f"unexpected {tok!r} in LVM metadata")

    def section(end: str | None) -> dict[str, Any]:
        nonlocal position
        out: dict[str, Any] = {}
        while position < len(tokens) and tokens[position][1] != end:
            _, name = tokens[position]
            sym = tokens[position + 1][1] if position + 1 < len(tokens) else ""
            position += 2
            if sym == "{":
                out[name] = section("}")
                position += 1
            elif sym == "=":
                out[name] = value()
            else:
                raise LvmError(f"unexpected {sym!r} after {name!r} in LVM metadata")
        return out

    return section(None)


def _volumes(metadata: dict[str, Any], pv_uuid: str) -> list[LogicalVolume]:
    found = []
    for vg_name, vg in metadata.items():
        if not isinstance(vg, dict) or "physical_volumes" not in vg:
            continue
        extent = int(vg["extent_size"]) * SECTOR
        pvs = {
            name: pv
            for name, pv in vg["physical_volumes"].items()
            if str(pv.get("id", "")).replace("-", "") == pv_uuid
        }
        for lv_name, lv in sorted(vg.get("logical_volumes", {}).items()):
            found.append(_volume(vg_name, lv_name, lv, pvs, extent))
    return found


def _volume(vg: str, name: str, lv: dict[str, Any], pvs: dict[str, Any], extent: int) -> LogicalVolume:
    segments = sorted(
        (v for k, v in lv.items() if k.startswith("segment") and isinstance(v, dict)),
        key=lambda s: int(s["start_extent"]),
    )
    size = sum(int(s["extent_count"]) for s in segments) * extent
    start: int | None = None
    expected_pe: int | None = None
    for seg in segments:
        stripes = seg.get("stripes", [])
        if seg.get("type") != "striped" or int(seg.get("stripe_count", 0)) != 1 or len(stripes) != 2:
            return LogicalVolume(
                vg, name, 0, size, False, f"a {seg.get('type')} LV (only linear LVs are read)"
            )
        pv_name, pe = stripes[0], int(stripes[1])
        if pv_name not in pvs:
            return LogicalVolume(vg, name, 0, size, False, "an LV on another physical volume")
        if expected_pe is not None and pe != expected_pe:
            return LogicalVolume(vg, name, 0, size, False, "an LV in pieces on its physical volume")
        if start is None:
            start = int(pvs[pv_name]["pe_start"]) * SECTOR + pe * extent
        expected_pe = pe + int(seg["extent_count"])
    if start is None:
        return LogicalVolume(vg, name, 0, size, False, "an LV without segments")
    return LogicalVolume(vg, name, start, size, True)

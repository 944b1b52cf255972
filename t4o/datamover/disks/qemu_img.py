"""qemu-img calls with JSON output: image info, allocation map, create."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from t4o.datamover.disks.errors import QemuToolError
from t4o.datamover.disks.protocol import Extent

QEMU_IMG = "qemu-img"
FORMATS = ("raw", "qcow2")


@dataclass(frozen=True)
class ImageInfo:
    path: str
    format: str
    virtual_size: int
    actual_size: int
    backing_file: str | None
    backing_format: str | None = None


def _run(args: list[str], timeout: float = 600) -> str:
    try:
        done = subprocess.run([QEMU_IMG, *args], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise QemuToolError("qemu-img is not installed (Debian package qemu-utils)") from exc
    if done.returncode != 0:
        raise QemuToolError(f"qemu-img {args[0]} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def info(path: str, fmt: str | None = None) -> ImageInfo:
    # -U: the image may be open by a running domain; info only reads the header.
    args = ["info", "-U", "--output=json"] + (["-f", fmt] if fmt else []) + [path]
    data: dict[str, Any] = json.loads(_run(args))
    return ImageInfo(
        path=path,
        format=data["format"],
        virtual_size=int(data["virtual-size"]),
        actual_size=int(data.get("actual-size", 0)),
        backing_file=data.get("backing-filename"),
        backing_format=data.get("backing-filename-format"),
    )


def allocated_extents(path: str, fmt: str) -> list[Extent]:
    """Ranges that may hold non-zero data (in this image or its backing chain), merged and sorted."""
    entries: list[dict[str, Any]] = json.loads(_run(["map", "--output=json", "-f", fmt, path]))
    out: list[Extent] = []
    for e in entries:
        if e.get("zero"):
            continue
        if not e.get("data") and not e.get("present"):
            continue
        start, length = int(e["start"]), int(e["length"])
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + length)
        else:
            out.append((start, length))
    return out


def create(path: str, fmt: str, size: int) -> None:
    if fmt not in FORMATS:
        raise QemuToolError(f"cannot create {path}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    _run(["create", "-q", "-f", fmt, path, str(size)])

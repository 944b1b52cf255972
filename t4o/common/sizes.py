"""Byte counts for people: ``512 B``, ``1.5 MiB`` (powers of 1024, as oslo.utils' units)."""

from __future__ import annotations

from oslo_utils import units

_UNITS = ((units.Pi, "PiB"), (units.Ti, "TiB"), (units.Gi, "GiB"), (units.Mi, "MiB"), (units.Ki, "KiB"))


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest unit it reaches, with one decimal (whole bytes below 1 KiB)."""
    for size, unit in _UNITS:
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"

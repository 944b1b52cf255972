"""What a restore created, read from its record: each server with its volumes, networks, security groups
and re-created prerequisites, as rows of links to their Horizon pages, the volumes it left out, and the
options it was given."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from t4o_dashboard.content.restores import choices
from t4o_dashboard.content.snapshots.forms import volume_type_text

# Horizon's detail page of each kind of object a restore makes.
DETAIL_URLS = {
    "server": "horizon:project:instances:detail",
    "volume": "horizon:project:volumes:detail",
    "network": "horizon:project:networks:detail",
    "security_group": "horizon:project:security_groups:detail",
    "flavor": None,  # a project member has no flavor page
    "keypair": "horizon:project:key_pairs:detail",
    "server_group": None,
}
KIND_TEXT = {
    "server": _("Server"),
    "volume": _("Volume"),
    "network": _("Network"),
    "security_group": _("Security group"),
    "flavor": _("Flavor"),
    "keypair": _("Key pair"),
    "server_group": _("Server group"),
}
NETWORK_ACTIONS = {"reused": _("reused"), "created": _("created"), "mapped": _("mapped")}


def object_url(kind: str, obj_id: str | None) -> str | None:
    """The Horizon page of an object, or None where there is none (or its panel is not installed)."""
    url_name = DETAIL_URLS.get(kind)
    if not url_name or not obj_id:
        return None
    try:
        return reverse(url_name, args=[obj_id])
    except NoReverseMatch:
        return None


def _row(kind: str, obj_id: str | None, name: Any, note: Any = "") -> dict[str, Any]:
    return {
        "kind": str(KIND_TEXT.get(kind, kind)),
        "name": str(name or obj_id or "-"),
        "id": obj_id or "",
        "url": object_url(kind, obj_id),
        "note": str(note),
    }


def _volumes(instance: dict[str, Any], names: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for vol in instance.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        source = vol.get("source_volume_id") or "?"
        note = _("disk %(target)s, from volume %(source)s") % {
            "target": vol.get("target") or "?",
            "source": (names.get(source) or {}).get("name") or source,
        }
        if vol.get("volume_type"):
            note = f"{note}, {_('type')} {volume_type_text(vol['volume_type'])}"
        rows.append(_row("volume", vol.get("id"), vol.get("name"), note))
    boot = instance.get("boot") or {}
    if boot.get("source") == "volume" and boot.get("volume_id"):
        known = {r["id"] for r in rows}
        if boot["volume_id"] not in known:
            rows.append(_row("volume", boot["volume_id"], None, _("boot volume")))
    return rows


def _networks(instance: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for snap_net, net in (instance.get("networks") or {}).items():
        if not isinstance(net, dict):
            continue
        action = NETWORK_ACTIONS.get(str(net.get("action")), net.get("action") or "")
        note = _("%(action)s for the snapshot's network %(source)s") % {"action": action, "source": snap_net}
        rows.append(_row("network", net.get("id"), net.get("name"), note))
    return rows


def _ports_text(instance: dict[str, Any]) -> str:
    """'10.0.0.5 (kept)', one per port: whether the original addresses were kept."""
    texts = []
    for port in instance.get("ports") or []:
        if not isinstance(port, dict):
            continue
        ips = ", ".join(
            ip.get("ip_address", "") for ip in port.get("fixed_ips") or [] if isinstance(ip, dict)
        )
        kept = _("address kept") if port.get("ip_kept") else _("new address")
        texts.append(f"{ips or port.get('id') or '?'} ({kept})")
    return "; ".join(texts)


def created_objects(
    instance: dict[str, Any],
    volumes: Mapping[str, Mapping[str, Any]] | None = None,
    group_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The rows of one restored server: itself, then its volumes, networks, security groups and the
    prerequisites re-created for it, deduplicated by kind and id. ``volumes`` names the snapshot's
    volumes, ``group_names`` its security groups (by id)."""
    rows = [_row("server", instance.get("id"), instance.get("name"), _ports_text(instance))]
    rows += _volumes(instance, volumes or {})
    rows += _networks(instance)
    made = [m for m in instance.get("created") or [] if isinstance(m, dict)]
    made_groups = {m.get("id"): m.get("name") for m in made if m.get("kind") == "security_group"}
    # The server's security groups by id: found in the project, or re-created (then ``created`` names them).
    for group_id in instance.get("security_groups") or []:
        note = _("re-created") if group_id in made_groups else _("found in the project")
        name = made_groups.get(group_id) or (group_names or {}).get(group_id)
        rows.append(_row("security_group", str(group_id), name, note))
    for obj in made:
        rows.append(_row(str(obj.get("kind")), obj.get("id"), obj.get("name"), _("re-created")))
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        key = (row["kind"], row["id"] or row["name"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def left_out(instance: dict[str, Any], volumes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The snapshot's volumes of the VM that the restore's options left out, by name where known."""
    return [
        choices.volume_label(volumes.get(vol_id) or {"id": vol_id})
        for vol_id in instance.get("volumes_left_out") or []
        if isinstance(vol_id, str)
    ]


def servers(
    restore: Any,
    volumes: Mapping[str, Mapping[str, Any]] | None = None,
    vm_names: Mapping[str, str] | None = None,
    group_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One entry per restored server: its name, the VM it came from, what was created for it and the
    volumes left out. ``volumes``, ``vm_names`` and ``group_names`` (by id) are the snapshot's, to name
    them."""
    found = []
    for instance in restore.instances or []:
        if not isinstance(instance, dict):
            continue
        source = instance.get("source_vm_id") or "-"
        found.append(
            {
                "name": instance.get("name") or instance.get("id") or "-",
                "source_vm_id": source,
                "source_vm": (vm_names or {}).get(source) or source,
                "status": instance.get("status") or "-",
                "objects": created_objects(instance, volumes, group_names),
                "left_out": left_out(instance, volumes or {}),
            }
        )
    return found


def options_text(restore: Any) -> str:
    """The restore's options as the request gave them, indented for reading."""
    options = restore.options
    return json.dumps(options, indent=2, sort_keys=True) if options else ""

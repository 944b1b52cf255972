"""The rules of ``/backup_targets`` (admin only, rules backup_target:*): check, store, show.

A target's URL says where its snapshots live, so it cannot change (nor its type) while workloads use
it; its S3 keys are stored sealed like the secret settings and never shown (``has_credentials``).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oslo_config import cfg

from t4o.common import errors, policy
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import backup_target_api as db
from t4o.workloads import targets
from t4o.workloads.targets import CONFIG_TARGET_ID, TYPES, Target

LOG = get_logger(__name__)
READ_ONLY = "The configured backup target is read-only: change [backup_target] in t4o.conf."


def check_url(kind: str, url: str) -> str:
    """400 unless ``url`` fits the target's type."""
    url = url.strip()
    if kind == "posix":
        path = url.removeprefix("file://")
        if not os.path.isabs(path) or "\x00" in path:
            raise errors.BadRequest(f"A posix backup target's url is an absolute path, not {url!r}.")
        return path
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 address
        raise errors.BadRequest(f"Backup target url {url!r}: {exc}.") from None
    if kind == "nfs":
        if parts.scheme != "nfs" or not parts.netloc or not parts.path.startswith("/") or parts.query:
            raise errors.BadRequest(f"An nfs backup target's url is nfs://server/export, not {url!r}.")
        return url
    if parts.scheme != "s3" or not parts.netloc:
        raise errors.BadRequest(
            f"An s3 backup target's url is s3://bucket[/prefix][?endpoint=URL&region=NAME], not {url!r}."
        )
    unknown = sorted({k for k, _ in parse_qsl(parts.query)} - {"endpoint", "region"})
    if unknown:
        raise errors.BadRequest(f"Backup target url: unknown parameter(s) {', '.join(unknown)}.")
    return url


def _credentials(kind: str, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if kind != "s3":
        raise errors.BadRequest("Only an s3 backup target has credentials.")
    if not raw.get("access_key") or not raw.get("secret_key"):
        raise errors.BadRequest("Backup target credentials need access_key and secret_key.")
    return {"access_key": str(raw["access_key"]), "secret_key": str(raw["secret_key"])}


def _values(body: dict[str, Any], kind: str, conf: cfg.ConfigOpts) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in body:
        name = str(body["name"]).strip()
        if not name or name == CONFIG_TARGET_ID:
            raise errors.BadRequest(f"A backup target needs a name (other than {CONFIG_TARGET_ID!r}).")
        values["name"] = name
    if "url" in body:
        values["url"] = check_url(kind, str(body["url"]))
    if "is_default" in body:
        values["is_default"] = bool(body["is_default"])
    if body.get("immutable") and kind != "s3":
        raise errors.BadRequest("Only an s3 backup target can be immutable (S3 Object Lock).")
    if "immutable" in body:
        values["immutable"] = bool(body["immutable"])
    if "credentials" in body:
        values["credentials"] = targets.seal_credentials(conf, _credentials(kind, body["credentials"]))
    return values


def view(target: Target, workloads: int, has_credentials: bool, row: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": target.id,
        "name": target.name,
        "type": target.type,
        "url": target.url,
        "is_default": target.is_default,
        "immutable": target.immutable,
        "read_only": target.read_only,
        "has_credentials": has_credentials,
        "workload_count": workloads,
    }
    if target.type == "nfs":
        out["mount_point"] = target.location()
    if row is not None:
        out["created_at"] = row.created_at.isoformat()
        out["updated_at"] = row.updated_at.isoformat()
    return out


def _row_view(row: Any, workloads: int) -> dict[str, Any]:
    shown = Target(row.id, row.name, row.type, row.url, row.is_default, row.immutable)
    return view(shown, workloads, bool(row.credentials), row)


def _config_view() -> dict[str, Any]:
    return view(targets.configured_target(), db.workloads_on_configured(), False)


def list_targets(ctx: RequestContext) -> list[dict[str, Any]]:
    """Every target; the configured one alone when none is defined."""
    policy.authorize(ctx, "backup_target:get")
    rows = db.target_list()
    if not rows:
        return [_config_view()]
    used = db.workloads_using([r.id for r in rows])
    return [_row_view(r, used.get(r.id, 0)) for r in rows]


def show_target(ctx: RequestContext, target_id: str) -> dict[str, Any]:
    policy.authorize(ctx, "backup_target:get")
    if target_id == CONFIG_TARGET_ID:
        return _config_view()
    row = db.target_get(target_id)
    return _row_view(row, db.workloads_using([row.id]).get(row.id, 0))


def create_target(ctx: RequestContext, body: dict[str, Any], conf: cfg.ConfigOpts = CONF) -> dict[str, Any]:
    policy.authorize(ctx, "backup_target:create")
    kind = str(body.get("type") or "")
    if kind not in TYPES:
        raise errors.BadRequest(f"A backup target's type is one of {', '.join(TYPES)}.")
    if not body.get("name") or not body.get("url"):
        raise errors.BadRequest("A backup target needs a name and a url.")
    values = {
        "type": kind,
        "is_default": False,
        "immutable": False,
        "credentials": "",
        **_values(body, kind, conf),
    }
    row = db.target_create(values)
    LOG.info("Backup target %s (%s, %s) created", row.name, row.type, row.id)
    return _row_view(row, 0)


def update_target(
    ctx: RequestContext, target_id: str, body: dict[str, Any], conf: cfg.ConfigOpts = CONF
) -> dict[str, Any]:
    policy.authorize(ctx, "backup_target:update")
    if target_id == CONFIG_TARGET_ID:
        raise errors.Conflict(
            "The configured backup target is read-only: change [backup_target] in t4o.conf."
        )
    row = db.target_get(target_id)
    kind = str(body.get("type") or row.type)
    if kind not in TYPES:
        raise errors.BadRequest(f"A backup target's type is one of {', '.join(TYPES)}.")
    if "immutable" not in body and row.immutable and kind != "s3":
        raise errors.BadRequest("Only an s3 backup target can be immutable (S3 Object Lock).")
    values = _values(body, kind, conf)
    if kind != row.type:
        values["type"] = kind
        if kind != "s3":
            values["credentials"] = ""
        if "url" not in values:
            raise errors.BadRequest("A backup target that changes type needs its new url.")
    moved = values.get("url", row.url) != row.url or kind != row.type
    used = db.workloads_using([row.id]).get(row.id, 0)
    if moved and used:
        raise errors.Conflict(
            f"Backup target {row.name} holds the snapshots of {used} workload(s): its type and url "
            "cannot change."
        )
    row = db.target_update(target_id, values)
    return _row_view(row, used)


def delete_target(ctx: RequestContext, target_id: str) -> None:
    policy.authorize(ctx, "backup_target:delete")
    if target_id == CONFIG_TARGET_ID:
        raise errors.Conflict(
            "The configured backup target is read-only: change [backup_target] in t4o.conf."
        )
    db.target_delete(target_id)
    LOG.info("Backup target %s deleted", target_id)


def choose_for_new_workload(requested: str | None, by_policy: tuple[str, str] | None = None) -> str | None:
    """The target id a new workload records: the one it asks for (400 when unknown), else its
    policy's (``by_policy``: target id, policy name), else the default; None is the configured target.
    Asking for another target than the policy's is a 400."""
    if by_policy is not None:
        target, policy_name = by_policy
        if requested and requested != target:
            raise errors.BadRequest(
                f"The workload follows policy {policy_name}, whose backup target is {target}; it cannot "
                f"ask for backup target {requested}."
            )
        requested = target
    if not requested or requested == CONFIG_TARGET_ID:
        return None if requested else targets.default_target_id()
    try:
        return db.target_get(requested).id
    except errors.NotFound:
        raise errors.BadRequest(f"Backup target {requested} does not exist.") from None


def refuse_move(current: str | None, requested: str | None) -> None:
    """409 when a workload update asks for another target than its own."""
    if requested is not None and requested != (current or CONFIG_TARGET_ID):
        raise errors.Conflict(
            "A workload's backup target cannot change: its snapshots live on "
            f"{current or CONFIG_TARGET_ID}. Create a new workload on {requested} instead."
        )


def refuse_policy_move(current: str | None, by_policy: tuple[str, str] | None) -> None:
    """409 when a workload would take a policy whose backup target is not the workload's own."""
    if by_policy is not None and by_policy[0] != (current or CONFIG_TARGET_ID):
        raise errors.Conflict(
            f"Workload policy {by_policy[1]} sends its workloads to backup target {by_policy[0]}, and a "
            f"workload's backup target cannot change: its snapshots live on {current or CONFIG_TARGET_ID}. "
            "Choose a policy of that target, or create a new workload with this policy."
        )

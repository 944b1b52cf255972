"""Secret project settings: encrypted in the database, never shown by the API.

A setting is secret when its name ends in ``_password``, ``_secret`` or ``_token`` (Trilio's
``smtp_server_password`` among them) or its metadata says ``secret: true``. Its value is stored as
``fernet:<token>``, encrypted with ``[DEFAULT] settings_key`` (or, unset, a key derived from
``[trustee] password``), so a database dump does not reveal it; the API shows it as ``MASK``, and a value
of ``MASK`` sent back keeps the stored one (a form that shows the mask and saves it changes nothing).
Whoever needs the clear value (the email of a job) reads it through :func:`reveal`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from oslo_config import cfg

from t4o.common import errors
from t4o.common.log import get_logger
from t4o.openstack import keystone_trusts

LOG = get_logger(__name__)

MASK = "****"
PREFIX = "fernet:"
SECRET_SUFFIXES = ("_password", "_secret", "_token")


def is_secret(name: str, metadata: Mapping[str, Any] | None = None) -> bool:
    flag = str((metadata or {}).get("secret", "")).lower() in ("1", "true", "yes")
    return flag or str(name).lower().endswith(SECRET_SUFFIXES)


def _fernet(conf: cfg.ConfigOpts) -> Fernet:
    key = conf.settings_key
    if not key:
        keystone_trusts.ensure_registered(conf)
        if conf.trustee.password:
            key = "trustee:" + conf.trustee.password
    if not key:
        raise errors.BadRequest(
            "Secret settings are stored encrypted: set [DEFAULT] settings_key (or [trustee] password) in the "
            "T4O configuration first."
        )
    try:
        return Fernet(key.encode())
    except ValueError:  # a passphrase, not a Fernet key: hash it into one
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def seal(conf: cfg.ConfigOpts, value: str) -> str:
    """The stored form of a secret value (empty stays empty: nothing to hide)."""
    if not value or value.startswith(PREFIX):
        return value
    return PREFIX + _fernet(conf).encrypt(value.encode()).decode()


def reveal(conf: cfg.ConfigOpts, stored: str) -> str:
    """The clear value of a stored one; a value written before encryption is returned as it is."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _fernet(conf).decrypt(stored[len(PREFIX) :].encode()).decode()
    except (InvalidToken, errors.BadRequest):
        LOG.error("A secret setting cannot be decrypted: was [DEFAULT] settings_key changed?")
        return ""


def seal_items(conf: cfg.ConfigOpts, items: list[dict[str, Any]], existing: Mapping[str, Any]) -> None:
    """Encrypt the values of the secret settings among ``items`` (in place) before they are stored.

    ``existing`` maps names to the stored settings: a secret sent back as ``MASK`` keeps its value.
    """
    for item in items:
        old = existing.get(item["name"])
        metadata = item.get("metadata", getattr(old, "metadata_", None))
        if "value" not in item or not is_secret(item["name"], metadata):
            continue
        if item["value"] == MASK:
            if old is None:
                raise errors.BadRequest(f"Setting {item['name']}: {MASK} only keeps a stored value.")
            del item["value"]
            continue
        item["value"] = seal(conf, str(item["value"]))


def shown_value(name: str, value: str, metadata: Mapping[str, Any] | None) -> str:
    """What the API shows of a setting's value: the mask for a secret that has one."""
    return MASK if value and is_secret(name, metadata) else value


def reveal_map(conf: cfg.ConfigOpts, rows: list[Any]) -> dict[str, str]:
    """name -> clear value of settings rows."""
    return {r.name: reveal(conf, r.value) if is_secret(r.name, r.metadata_) else r.value for r in rows}

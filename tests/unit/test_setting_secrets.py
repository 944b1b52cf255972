"""Secret settings: which names are secret, sealing and revealing with the configured key."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from oslo_config import cfg

from t4o.common import config, errors
from t4o.openstack import keystone_trusts
from t4o.policies import setting_secrets as secrets


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    c.register_opt(config.SETTINGS_KEY_OPT)
    c.register_opts(keystone_trusts.OPTS, group="trustee")
    c([], default_config_files=[])
    return c


def test_secret_names() -> None:
    assert secrets.is_secret("smtp_server_password")
    assert secrets.is_secret("api_token") and secrets.is_secret("S3_SECRET")
    assert not secrets.is_secret("smtp_server_username") and not secrets.is_secret("password_hint")
    assert secrets.is_secret("anything", {"secret": "true"}) and not secrets.is_secret("x", {"secret": "no"})


def test_seal_and_reveal_with_a_fernet_key_or_a_passphrase(conf: cfg.ConfigOpts) -> None:
    key = Fernet.generate_key().decode()
    conf.set_override("settings_key", key)
    sealed = secrets.seal(conf, "pw")
    assert sealed.startswith("fernet:")
    assert Fernet(key.encode()).decrypt(sealed[7:].encode()) == b"pw"  # the key as given
    assert secrets.reveal(conf, sealed) == "pw"
    conf.set_override("settings_key", "a passphrase")
    assert secrets.reveal(conf, secrets.seal(conf, "pw")) == "pw"
    assert secrets.reveal(conf, sealed) == ""  # another key: nothing, and a log line
    assert secrets.reveal(conf, "stored in clear before") == "stored in clear before"
    assert secrets.seal(conf, "") == ""


def test_the_trustee_password_is_the_fallback_key(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(errors.BadRequest, match="settings_key"):
        secrets.seal(conf, "pw")
    conf.set_override("password", "service-pw", group="trustee")
    assert secrets.reveal(conf, secrets.seal(conf, "pw")) == "pw"


def test_seal_items_keeps_a_masked_value(conf: cfg.ConfigOpts) -> None:
    conf.set_override("settings_key", "k")
    stored = SimpleNamespace(metadata_={})
    items = [
        {"name": "smtp_server_password", "value": secrets.MASK},
        {"name": "db_password", "value": "new"},
        {"name": "smtp_port", "value": "25"},
    ]
    secrets.seal_items(conf, items, {"smtp_server_password": stored})
    assert "value" not in items[0] and items[2]["value"] == "25"
    assert secrets.reveal(conf, items[1]["value"]) == "new" and items[1]["value"] != "new"
    with pytest.raises(errors.BadRequest, match="only keeps"):
        secrets.seal_items(conf, [{"name": "x_password", "value": secrets.MASK}], {})
    assert secrets.shown_value("x_password", "fernet:abc", None) == secrets.MASK
    assert secrets.shown_value("x_password", "", None) == ""

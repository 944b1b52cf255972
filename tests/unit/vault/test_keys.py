"""Key generation, password wrapping and per-workload derivation."""

from __future__ import annotations

import pytest

from t4o.vault.errors import CorruptRepository, WrongPassword
from t4o.vault.keys import RepoKeys, unwrap_keys, wrap_keys


def test_wrap_unwrap_and_wrong_password():
    keys = RepoKeys.generate()
    cfg = wrap_keys(keys, "correct horse")
    assert keys.master_key.hex() not in str(cfg)
    assert unwrap_keys(cfg, "correct horse") == keys
    with pytest.raises(WrongPassword):
        unwrap_keys(cfg, "wrong")


def test_malformed_config():
    with pytest.raises(CorruptRepository):
        unwrap_keys({"kdf": {"name": "pbkdf2"}}, "x")
    with pytest.raises(CorruptRepository):
        RepoKeys.from_json({"id_key": "zz", "master_key": "00"})


def test_workload_keys_are_distinct_and_stable():
    keys = RepoKeys.generate()
    a = keys.workload_keys("wl-a")
    assert a == keys.workload_keys("wl-a")
    assert a != keys.workload_keys("wl-b")
    assert a[0] != a[1] and keys.id_key not in a

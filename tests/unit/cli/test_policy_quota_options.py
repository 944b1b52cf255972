"""Option types of the policy and quota commands: policy fields, counts, sizes, TYPE=VALUE."""

from __future__ import annotations

import argparse

import pytest

from t4o.cli.policies import field_values
from t4o.cli.quotas import kept_watermark, limit, size, type_limit
from t4o.client.quotas import AllowedQuota


def test_policy_fields() -> None:
    assert field_values(
        [
            ("interval", "24 hr"),
            ("retention_policy_value", "7"),
            ("fullbackup_interval", "-1"),
            ("hourly", '{"interval": 4, "retention": 6}'),
            ("daily", '{"backup_time": ["01:00"], "retention": 7}'),
        ]
    ) == {
        "interval": "24 hr",
        "retention_policy_value": 7,
        "fullbackup_interval": -1,
        "hourly": {"interval": 4, "retention": 6},
        "daily": {"backup_time": ["01:00"], "retention": 7},
    }
    assert field_values(None) is None
    with pytest.raises(ValueError, match="policy field hourly is not valid JSON"):
        field_values([("hourly", "{interval: 4")])


def test_limits() -> None:
    assert limit("10") == 10 and limit("unlimited") == -1 and limit("-1") == -1
    for bad in ("ten", "-2", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            limit(bad)


def test_sizes() -> None:
    assert size("1024") == 1024
    assert size("500G") == 500 * 1024**3
    assert size("2TiB") == 2 * 1024**4
    assert size("1.5 M") == 1536 * 1024
    assert size("10kb") == 10240
    assert size("Unlimited") == -1
    for bad in ("12X", "G", "-5", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            size(bad)


def test_type_limit() -> None:
    assert type_limit("workloads=8") == ("workloads", 8)
    assert type_limit("storage=1G") == ("storage", 1024**3)
    with pytest.raises(argparse.ArgumentTypeError):
        type_limit("vms")
    with pytest.raises(argparse.ArgumentTypeError):
        type_limit("vms=1G")


def test_kept_watermark() -> None:
    def quota(allowed: int, high: int) -> AllowedQuota:
        return AllowedQuota(allowed_value=allowed, high_watermark=high)

    assert kept_watermark(None, 5) is None
    assert kept_watermark(quota(10, 10), 20) is None  # defaulted to the allowed value: follows it
    assert kept_watermark(quota(10, 8), 20) == 8
    assert kept_watermark(quota(10, 8), -1) == 8
    assert kept_watermark(quota(10, 8), 5) is None  # above the new limit: back to the default

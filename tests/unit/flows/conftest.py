"""Fixtures of the restore flow's unit tests."""

from __future__ import annotations

from typing import Any

import pytest

from t4o.workloads.flows import restore as flow


@pytest.fixture
def agent_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent's transfers, faked: each one runs what the restore does meanwhile and writes nothing;
    a new server's domain is started again by the agent."""

    def write_disks(*a: Any, **k: Any) -> list[Any]:
        return []

    def restore_transfer(*a: Any, meanwhile: Any = None, **k: Any) -> dict[str, Any]:
        if meanwhile is not None:
            meanwhile("ref")
        return {"disks": [], "restarted": True}

    monkeypatch.setattr(flow, "_write_disks", write_disks)
    monkeypatch.setattr(flow, "_restore_transfer", restore_transfer)
    monkeypatch.setattr(flow, "_wait_domain_off", lambda dm, ref, timeout: None)

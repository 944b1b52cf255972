"""The agent's restore operation around the writes, with libvirt, the vault and the writers mocked: a
volumes-only transfer needs no domain and can skip volumes whose files the host does not see; a
``power_off`` or ``restart`` restore powers a running domain off before writing, any other refuses a
running one."""

from __future__ import annotations

from typing import Any
from unittest import mock

import libvirt
import pytest

from t4o.datamover.agent import operations as ops
from t4o.datamover.agent.transfers import Transfer
from t4o.datamover.disks import DomainStateError

VOL_SEEN, VOL_UNSEEN = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def agent(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / f"volume-{VOL_SEEN}").write_bytes(b"")  # the only volume file this host sees
    repo = mock.Mock()
    repo.get_manifest.return_value = mock.Mock(size=1 << 20)
    monkeypatch.setattr(ops, "open_vault", lambda spec: repo)
    conn = mock.Mock()
    monkeypatch.setattr(ops, "connect", lambda uri: conn)
    written: list[str] = []

    def detached(transfer: Any, repo: Any, item: dict[str, Any], dirs: Any, bw: Any) -> dict[str, Any]:
        written.append(item["volume_id"])
        return {"target": None, "volume_id": item["volume_id"], "ref": item["ref"], "verified": True}

    monkeypatch.setattr(ops, "restore_detached", detached)
    return mock.Mock(dirs=[str(tmp_path)], conn=conn, written=written)


def run(agent: Any, spec: dict[str, Any]) -> dict[str, Any]:
    return ops.restore(Transfer("t", "restore"), {"vault": {}, "domain": "d", **spec}, "uri", 2, agent.dirs)


def test_a_volumes_only_restore_needs_no_domain_and_skips_unseen_files_when_asked(
    agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookup = mock.Mock(side_effect=AssertionError("the domain is not looked up"))
    monkeypatch.setattr(ops, "lookup_domain", lookup)
    items = [{"ref": "r1", "volume_id": VOL_SEEN}, {"ref": "r2", "volume_id": VOL_UNSEEN}]
    out = run(agent, {"disks": [], "volumes": items, "if_found": True})
    assert agent.written == [VOL_SEEN]
    assert [d["volume_id"] for d in out["disks"]] == [VOL_SEEN, VOL_UNSEEN]
    assert "skipped" not in out["disks"][0] and "in none of" in out["disks"][1]["skipped"]


def test_without_if_found_every_volume_is_written(agent: Any) -> None:
    items = [{"ref": "r1", "volume_id": VOL_SEEN}, {"ref": "r2", "volume_id": VOL_UNSEEN}]
    run(agent, {"disks": [], "volumes": items})
    assert agent.written == [VOL_SEEN, VOL_UNSEEN]  # (the real writer then fails on the unseen one)


@pytest.mark.parametrize(
    "options", [{}, {"power_off": False}, {"power_off": True}, {"restart": {"volumes": []}}]
)
def test_a_running_domain_is_powered_off_only_when_asked(
    agent: Any, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    power_off = bool(options.get("power_off") or "restart" in options)
    dom = mock.Mock()
    dom.name.return_value = "d"
    running = [True]
    dom.isActive.side_effect = lambda: running[0]

    def destroy() -> None:
        running[0] = False
        # Nova's stop may have shut it off in between: "not running" is fine.
        raise libvirt.libvirtError("domain is not running")

    dom.destroy.side_effect = destroy
    monkeypatch.setattr(ops, "lookup_domain", lambda conn, name: dom)
    monkeypatch.setattr(
        libvirt.libvirtError, "get_error_code", lambda self: libvirt.VIR_ERR_OPERATION_INVALID
    )
    monkeypatch.setattr(ops, "list_disks", lambda d: [])
    spec = {"disks": [{"ref": "r", "target": "vda"}], **options}
    with pytest.raises(DomainStateError, match="no disk vda" if power_off else "is running"):
        run(agent, spec)  # the domain has no disks here: it stops right after the power-off check
    assert dom.destroy.called is power_off

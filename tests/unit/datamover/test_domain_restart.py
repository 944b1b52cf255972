"""The agent starts a new server's domain again after its restore, once the volumes attached meanwhile
are in its definition and only within the window before Nova acts on the power-off; libvirt's domain is
a mock."""

from __future__ import annotations

import threading
import time
from typing import Any
from unittest import mock

import pytest

from t4o.datamover.agent import domain_restart
from t4o.datamover.agent.transfers import Transfer, TransferCancelled
from t4o.datamover.disks.domain_xml import disk_serials

XML = """<domain><devices>
<disk type='file' device='disk'><source file='/i/disk'/><target dev='vda'/></disk>
{volumes}
</devices></domain>"""


def volume_disk(volume_id: str, dev: str) -> str:
    return (
        f"<disk type='file' device='disk'><source file='/m/volume-{volume_id}'/><target dev='{dev}'/>"
        f"<serial>{volume_id}</serial></disk>"
    )


def domain(attached: list[str]) -> Any:
    dom = mock.Mock()
    dom.name.return_value = "instance-1"
    dom.isActive.return_value = False
    dom.XMLDesc.side_effect = lambda flags: XML.format(
        volumes="".join(volume_disk(v, f"vd{chr(98 + i)}") for i, v in enumerate(attached))
    )
    return dom


def test_disk_serials_are_the_volume_ids_nova_gave_its_disks() -> None:
    assert disk_serials(XML.format(volumes=volume_disk("v1", "vdb") + volume_disk("v2", "vdc"))) == {
        "v1",
        "v2",
    }
    assert disk_serials(XML.format(volumes="")) == set()


def test_the_domain_starts_once_the_volumes_are_attached() -> None:
    attached: list[str] = []
    dom = domain(attached)
    # Nova attaches the volume a moment after the disks were written.
    threading.Timer(0.3, lambda: attached.append("vol-1")).start()
    out = domain_restart.start_again(Transfer("t", "restore"), dom, ["vol-1"], time.monotonic(), 10.0)
    assert out["restarted"] is True and out["off_seconds"] >= 0.3
    dom.create.assert_called_once_with()


def test_past_the_window_the_domain_is_left_off() -> None:
    dom = domain([])
    out = domain_restart.start_again(Transfer("t", "restore"), dom, ["vol-1"], time.monotonic(), 0.3)
    assert out["restarted"] is False and "vol-1 not attached" in out["reason"]
    dom.create.assert_not_called()
    # All attached, but the disks took longer than the window: left off too.
    dom = domain(["vol-1"])
    out = domain_restart.start_again(Transfer("t", "restore"), dom, ["vol-1"], time.monotonic() - 13, 12)
    assert out == {"restarted": False, "off_seconds": pytest.approx(13, abs=1), "reason": mock.ANY}
    assert "too long" in out["reason"]
    dom.create.assert_not_called()


def test_a_cancelled_transfer_stops_waiting_for_the_volumes() -> None:
    transfer = Transfer("t", "restore")
    threading.Timer(0.2, transfer.cancel).start()
    with pytest.raises(TransferCancelled):
        domain_restart.start_again(transfer, domain([]), ["vol-1"], time.monotonic(), 10.0)


def test_a_domain_started_by_another_party_is_an_error() -> None:
    dom = domain([])
    dom.isActive.return_value = True
    with pytest.raises(domain_restart.DomainStateError, match="started by another party"):
        domain_restart.start_again(Transfer("t", "restore"), dom, [], time.monotonic(), 10.0)
    dom.create.assert_not_called()

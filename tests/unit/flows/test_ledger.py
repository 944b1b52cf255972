"""The restore's ledger: entries added from several threads, undone newest first through the cloud."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from unittest import mock

from t4o.openstack.cinder import Volume
from t4o.workloads.flows.ledger import Ledger


def test_ledger_keeps_every_entry_added_from_threads_and_undoes_newest_first() -> None:
    ledger = Ledger(mock.Mock())
    threads = [
        threading.Thread(target=lambda n=n: [ledger.add("keypair", f"k{n}-{i}") for i in range(200)])
        for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.items) == 800
    order = list(reversed(ledger.items))
    assert ledger.undo() == []
    deleted = [c.args[0] for c in ledger.cloud.nova.delete_keypair.call_args_list]
    assert deleted == [rid for _, rid in order] and ledger.items == []


def test_an_attached_volume_is_detached_before_it_is_deleted_and_failures_are_reported() -> None:
    calls: list[tuple[str, ...]] = []
    vol = Volume("v1", "v", 1, "nfs", False, "nova", "", "in-use", attached_to=("s1",))
    cloud = SimpleNamespace(
        nova=SimpleNamespace(
            detach_volume=lambda server, volume: calls.append(("detach", server, volume)),
            delete_server=lambda sid, timeout: calls.append(("delete server", sid)),
        ),
        cinder=SimpleNamespace(
            volume=lambda vid: vol,
            delete_volume=lambda vid, timeout: calls.append(("delete volume", vid)),
        ),
        neutron=SimpleNamespace(delete_network=mock.Mock(side_effect=RuntimeError("in use"))),
    )
    ledger = Ledger(cloud)  # type: ignore[arg-type]
    for kind, rid in (("network", "n1"), ("server", "s1"), ("volume", "v1")):
        ledger.add(kind, rid)
    assert ledger.undo() == ["network n1: in use"]
    assert calls == [("detach", "s1", "v1"), ("delete volume", "v1"), ("delete server", "s1")]


def test_a_recreated_flavor_is_deleted_on_undo() -> None:
    ledger = Ledger(mock.Mock())
    ledger.add("flavor", "f1")
    assert ledger.undo() == []
    ledger.cloud.nova.delete_flavor.assert_called_once_with("f1")


def test_undo_after_a_failure_says_the_failure_and_what_could_not_be_removed() -> None:
    cloud = mock.Mock()
    cloud.nova.delete_keypair.side_effect = [None, RuntimeError("nova is gone")]
    ledger = Ledger(cloud)
    ledger.add("keypair", "k1")
    ledger.add("keypair", "k2")
    assert ledger.undo_after(ValueError("boom")) == "boom (could not remove: keypair k1: nova is gone)"
    assert ledger.items == [] and Ledger(cloud).undo_after(ValueError("boom")) == "boom"

"""t4o.openstack.waits: polls start short and grow to a ceiling, an error fails at once with its
fault, a delete waits for the resource to be gone, and a wait ends at its timeout."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from t4o.openstack import waits
from t4o.openstack.waits import GONE, CloudStepFailed, wait_for_status


def states(*names: str | None) -> object:
    seq = iter(names)

    def fetch() -> SimpleNamespace | None:
        name = next(seq)
        return None if name is None else SimpleNamespace(status=name)

    return fetch


def test_polls_start_short_and_grow_to_the_ceiling() -> None:
    sleeps: list[float] = []
    with mock.patch.object(waits.time, "sleep", sleeps.append):
        res = wait_for_status("server s", states(*["BUILD"] * 6, "ACTIVE"), {"ACTIVE"}, 60, poll=0.5)
    assert res.status == "ACTIVE"
    assert sleeps[0] == pytest.approx(0.2) and sleeps[1] == pytest.approx(0.3)
    assert max(sleeps) == 0.5 and sleeps == sorted(sleeps) and len(sleeps) == 6


def test_an_error_state_is_raised_at_once_with_its_fault() -> None:
    res = SimpleNamespace(status="ERROR", fault={"message": "No valid host"})
    with (
        mock.patch.object(waits.time, "sleep") as sleep,
        pytest.raises(CloudStepFailed, match="server s went to ERROR: No valid host"),
    ):
        wait_for_status("server s", lambda: res, {"active"}, 60)
    sleep.assert_not_called()
    with pytest.raises(CloudStepFailed, match=r"^volume v went to error_deleting$"):
        wait_for_status("volume v", states("error_deleting"), {GONE}, 60)


def test_a_wanted_error_state_is_not_a_failure() -> None:
    assert wait_for_status("volume v", states("error"), {"available", "error"}, 60).status == "error"


def test_a_delete_waits_until_the_resource_is_gone() -> None:
    with mock.patch.object(waits.time, "sleep"):
        assert wait_for_status("snapshot s", states("deleting", "deleting", None), {GONE}, 60) is None
        with pytest.raises(CloudStepFailed, match="snapshot s no longer exists"):
            wait_for_status("snapshot s", states("creating", None), {"available"}, 60)


def test_a_wait_ends_at_its_timeout() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with (
        mock.patch.object(waits.time, "sleep", sleep),
        mock.patch.object(waits.time, "monotonic", lambda: now[0]),
        pytest.raises(CloudStepFailed, match="server s is still BUILD after 3 s"),
    ):
        wait_for_status("server s", lambda: SimpleNamespace(status="BUILD"), {"ACTIVE"}, 3)
    assert 3.0 < now[0] <= 3.5


def test_fault_message_only_from_a_fault_with_a_message() -> None:
    assert waits.fault_message(SimpleNamespace(fault={"message": "boom"})) == "boom"
    assert waits.fault_message(SimpleNamespace(fault="boom")) == "boom"  # a typed record's fault
    assert waits.fault_message(SimpleNamespace(fault={})) is None
    assert waits.fault_message(SimpleNamespace()) is None

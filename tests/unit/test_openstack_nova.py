"""t4o.openstack.nova.Compute: servers as typed records, and the stop/start/delete waits (the
openstacksdk compute proxy mocked)."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from openstack import exceptions as sdk_exc
from openstack.compute.v2.server import Server

from t4o.common import errors
from t4o.openstack import nova, waits
from t4o.openstack.waits import CloudStepFailed


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits.time, "sleep", lambda s: None)


def compute(*statuses: str, **fields: object) -> tuple[nova.Compute, mock.Mock]:
    """A Compute whose server reports ``statuses`` one read after the other (the last one stays)."""
    conn = mock.Mock()
    seq = list(statuses)

    def get_server(sid: str) -> Server:
        status = seq.pop(0) if len(seq) > 1 else seq[0]
        return Server(id=sid, name="web", project_id="p", status=status, **fields)

    conn.compute.get_server.side_effect = get_server
    return nova.Compute(conn), conn.compute


def test_a_server_as_a_typed_record() -> None:
    cloud, _ = compute(
        "ACTIVE",
        compute_host="cmp1",
        image={"id": "img"},
        key_name="k",
        flavor={"original_name": "m1.small", "vcpus": 1},
        security_groups=[{"name": "default"}, {"name": "web"}],
        attached_volumes=[{"id": "v1"}],
    )
    srv = cloud.get_server("s1")
    assert (srv.id, srv.name, srv.status, srv.project_id, srv.compute_host) == (
        "s1",
        "web",
        "ACTIVE",
        "p",
        "cmp1",
    )
    assert (srv.image_id, srv.key_name, srv.volume_ids) == ("img", "k", ("v1",))
    assert srv.flavor["original_name"] == "m1.small" and srv.security_groups == {"default", "web"}
    assert srv.document["id"] == "s1" and "location" not in srv.document


def test_a_missing_server_is_none_or_not_found() -> None:
    conn = mock.Mock()
    conn.compute.get_server.side_effect = sdk_exc.NotFoundException("no")
    assert nova.Compute(conn).server("s1") is None
    with pytest.raises(errors.NotFound, match="Server s1 not found"):
        nova.Compute(conn).get_server("s1")


def test_attachments_name_their_target() -> None:
    conn = mock.Mock()
    conn.compute.volume_attachments.return_value = [SimpleNamespace(volume_id="v", device="/dev/vdc")]
    (att,) = nova.Compute(conn).attachments("s1")
    assert (att.volume_id, att.device, att.target) == ("v", "/dev/vdc", "vdc")


def test_stop_waits_for_shutoff_and_says_whether_it_was_running() -> None:
    cloud, api = compute("ACTIVE", "ACTIVE", "SHUTOFF")
    assert cloud.stop("s1", timeout=10) is True
    api.stop_server.assert_called_once_with("s1")
    cloud, api = compute("SHUTOFF")
    assert cloud.stop("s1", timeout=10) is False
    api.stop_server.assert_not_called()


def test_a_server_that_goes_to_error_fails_the_wait_with_its_fault() -> None:
    cloud, _ = compute("BUILD", "ERROR", fault={"message": "No valid host was found."})
    with pytest.raises(CloudStepFailed, match=r"server s1 went to ERROR: No valid host was found\."):
        cloud.wait_server("s1", "ACTIVE", timeout=10)


def test_create_server_has_no_ports_and_leaves_out_unset_fields() -> None:
    conn = mock.Mock()
    conn.compute.create_server.return_value = SimpleNamespace(id="new")
    assert (
        nova.Compute(conn).create_server("web", "f1", "img", key_name=None, availability_zone="az") == "new"
    )
    conn.compute.create_server.assert_called_once_with(
        name="web", flavor_id="f1", image_id="img", networks="none", availability_zone="az"
    )


def test_delete_server_waits_with_the_sdk_waiter() -> None:
    cloud, api = compute("ACTIVE")
    cloud.delete_server("s1", timeout=30)
    api.delete_server.assert_called_once()
    assert api.wait_for_delete.call_args.kwargs == {"interval": 1, "wait": 30}
    api.wait_for_delete.side_effect = sdk_exc.ResourceTimeout("slow")
    with pytest.raises(CloudStepFailed, match="server s1 was not deleted within 30 s"):
        cloud.delete_server("s1", timeout=30)
    api.get_server.side_effect = sdk_exc.NotFoundException("gone")
    api.delete_server.reset_mock()
    cloud.delete_server("s1", timeout=30)
    api.delete_server.assert_not_called()


def test_a_stop_refused_because_novas_own_is_under_way_waits_for_that_one() -> None:
    cloud, api = compute("ACTIVE", "ACTIVE", "SHUTOFF", task_state="powering-off")
    api.stop_server.side_effect = sdk_exc.ConflictException("Cannot 'stop' instance while it is powering-off")
    assert cloud.stop("s1", timeout=30) is True
    assert cloud.get_server("s1").status == "SHUTOFF"


def test_a_stop_refused_for_another_reason_is_the_callers_error() -> None:
    cloud, api = compute("ACTIVE", task_state=None, locked=True)
    api.stop_server.side_effect = sdk_exc.ConflictException("Instance s1 is locked")
    with pytest.raises(sdk_exc.ConflictException, match="locked"):
        cloud.stop("s1", timeout=30)

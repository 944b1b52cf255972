"""t4o.openstack.keystone.register_service with Keystone's identity proxy replaced by a recording fake."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest import mock

from t4o.openstack import keystone


class FakeIdentity:
    def __init__(self) -> None:
        self.services_: list[Any] = []
        self.endpoints_: list[Any] = []
        self.regions_: set[str] = {"RegionOne"}

    def find_region(self, region_id: str) -> Any:
        return SimpleNamespace(id=region_id) if region_id in self.regions_ else None

    def create_region(self, id: str) -> None:
        self.regions_.add(id)

    def services(self) -> list[Any]:
        return list(self.services_)

    def create_service(self, **kw: Any) -> Any:
        svc = SimpleNamespace(id=f"s{len(self.services_)}", **kw)
        self.services_.append(svc)
        return svc

    def endpoints(self, service_id: str) -> list[Any]:
        return [e for e in self.endpoints_ if e.service_id == service_id]

    def create_endpoint(self, **kw: Any) -> None:
        self.endpoints_.append(SimpleNamespace(**kw))

    def update_endpoint(self, ep: Any, url: str) -> None:
        ep.url = url


def register(identity: FakeIdentity, *args: Any) -> str:
    with mock.patch.object(keystone.openstack, "connect", return_value=SimpleNamespace(identity=identity)):
        return keystone.register_service(*args)


def urls(identity: FakeIdentity, service_type: str) -> dict[str, str]:
    (svc,) = [s for s in identity.services_ if s.type == service_type]
    return {e.interface: e.url for e in identity.endpoints(svc.id)}


def test_each_interface_gets_its_url_and_a_second_run_updates_in_place() -> None:
    ident = FakeIdentity()
    register(
        ident, "http://pub:8784/v2", "RegionOne", None, "datamover", {"admin": "http://10.0.0.5:8784/v2"}
    )
    assert urls(ident, "datamover") == {
        "public": "http://pub:8784/v2",
        "internal": "http://pub:8784/v2",
        "admin": "http://10.0.0.5:8784/v2",
    }
    assert ident.services_[0].name == "datamover"
    register(ident, "http://pub:8784/v2", "RegionOne", None, "datamover", {"internal": "http://int:8784/v2"})
    assert len(ident.endpoints_) == 3  # updated, not added
    assert urls(ident, "datamover")["internal"] == "http://int:8784/v2"
    assert urls(ident, "datamover")["admin"] == "http://pub:8784/v2"


def test_workloads_is_the_default_service() -> None:
    ident = FakeIdentity()
    sid = register(ident, "http://api:8780/v1/%(project_id)s", "RegionOne")
    assert ident.services_[0].type == "workloads" and ident.services_[0].name == "workloadmgr"
    assert set(urls(ident, "workloads").values()) == {"http://api:8780/v1/%(project_id)s"} and sid == "s0"


def test_a_missing_region_is_created() -> None:
    ident = FakeIdentity()
    register(ident, "http://api:8780/v1/%(project_id)s", "RegionTwo")
    assert ident.regions_ == {"RegionOne", "RegionTwo"}
    assert {e.region_id for e in ident.endpoints_} == {"RegionTwo"}

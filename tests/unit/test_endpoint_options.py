"""[clients] endpoint_type and region_name: the options every OpenStack client of T4O takes its catalog
interface and region from, and the deprecated [nova] names existing configuration files use."""

from __future__ import annotations

from pathlib import Path

import pytest
from oslo_config import cfg

from t4o.common import config
from t4o.openstack import endpoints


def _conf(tmp_path: Path, text: str) -> cfg.ConfigOpts:
    path = tmp_path / "t4o.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf.register_opts(config.CLIENTS_OPTS, group="clients")
    conf([], project="t4o", default_config_files=[str(path)])
    return conf


def test_defaults_are_public_and_any_region(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "")
    assert endpoints.endpoint_filter("compute", conf) == {
        "service_type": "compute",
        "interface": "public",
        "region_name": None,
    }


def test_clients_section(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "[clients]\nendpoint_type = internal\nregion_name = R2\n")
    assert (endpoints.interface(conf), endpoints.region(conf)) == ("internal", "R2")


def test_deprecated_nova_names_still_work(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "[nova]\ninterface = admin\nregion_name = R3\n")
    assert endpoints.endpoint_filter("key-manager", conf) == {
        "service_type": "key-manager",
        "interface": "admin",
        "region_name": "R3",
    }


def test_an_unknown_interface_is_refused(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "[clients]\nendpoint_type = private\n")
    with pytest.raises(ValueError):
        endpoints.interface(conf)


def test_the_cloud_driver_and_the_user_connection_follow_clients(t4o_conf: cfg.ConfigOpts) -> None:
    from t4o.openstack.nova import NovaCloud

    t4o_conf.set_override("endpoint_type", "internal", group="clients")
    t4o_conf.set_override("region_name", "R4", group="clients")
    cloud = NovaCloud.from_conf(t4o_conf)
    assert (cloud.interface, cloud.region) == ("internal", "R4")
    assert endpoints.endpoint_filter("identity") == {
        "service_type": "identity",
        "interface": "internal",
        "region_name": "R4",
    }


def test_an_unreachable_endpoint_names_the_interface_chosen() -> None:
    from keystoneauth1 import exceptions as ks_exc

    from t4o.common import errors
    from t4o.openstack.nova import NovaCloud

    with (
        pytest.raises(errors.ServiceUnavailable) as caught,
        NovaCloud("admin", "R5").reaching("compute"),
    ):
        raise ks_exc.ConnectFailure("Unable to establish connection to http://10.9.9.9:8774/v2.1")
    assert caught.value.http_status == 503
    assert str(caught.value) == (
        "The admin compute endpoint of region R5 cannot be reached ([clients] endpoint_type = admin): "
        "Unable to establish connection to http://10.9.9.9:8774/v2.1"
    )

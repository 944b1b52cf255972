"""Endpoint interfaces on devcloud: T4O uses the catalog interface and region it is configured with.

devcloud's own catalog (RegionOne) is left alone: the test adds a region of its own whose endpoints, for
every service T4O consumes (identity, compute, block storage, image, network, key manager) and for T4O's
datamover-api, work on the internal interface only; the public and admin ones point at a loopback
address and port where nothing listens. With ``[clients] endpoint_type = internal`` and ``[datamover_client]
interface = internal`` in that region, the separate T4O services snapshot a VM and restore it (the
restored disk compared with the test's model of the bytes); the same client factories configured for
``public`` fail, naming the dead address. ``workloadmgr-manage keystone register`` is run against
devcloud's Keystone in another region of the test's own. Regions and endpoints are deleted at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import BIN, T4OServices
from t4o.common.context import RequestContext
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import DiskModel, disk_sha256
from tests.integration.test_snapshot_restore import domain_disk_path

MiB = 1 << 20
REGION_PREFIX = "T4O-EP-TEST"
DEAD_HOST = "127.0.0.3"
# What T4O consumes, and its own datamover-api (devcloud registers both block-storage and volumev3).
SERVICE_TYPES = ("identity", "compute", "block-storage", "volumev3", "image", "network", "key-manager")
OWN_TYPES = ("datamover",)


def dead_port() -> int:
    """A port on DEAD_HOST where nothing listens (bound once by the kernel's choice, then closed)."""
    with socket.socket() as sock:
        sock.bind((DEAD_HOST, 0))
        port = int(sock.getsockname()[1])
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex((DEAD_HOST, port)) != 0
    return port


def dead_url(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{DEAD_HOST}:{port}"))


def drop_region(admin: Connection, region: str) -> None:
    for ep in list(admin.identity.endpoints(region_id=region)):
        admin.identity.delete_endpoint(ep, ignore_missing=True)
    admin.identity.delete_region(region, ignore_missing=True)


def drop_stale_regions(admin: Connection) -> None:
    """Regions an earlier run killed before its finalizer left behind."""
    for region in list(admin.identity.regions()):
        if region.id.startswith(REGION_PREFIX):
            drop_region(admin, region.id)


@dataclass(frozen=True)
class Region:
    name: str
    real: dict[str, str]  # service type -> the working (internal) URL
    dead: dict[str, str]  # service type -> the URL of the public and admin endpoints


@pytest.fixture(scope="module")
def region(devcloud: Devcloud) -> Iterator[Region]:
    admin = devcloud.connection("devcloud-admin")
    drop_stale_regions(admin)
    name = f"{REGION_PREFIX}-{uuid.uuid4().hex[:6]}"
    services = {s.type: s for s in admin.identity.services()}
    real, dead = {}, {}
    port = dead_port()
    admin.identity.create_region(id=name, description="T4O endpoint interface test")
    try:
        for service_type in SERVICE_TYPES + OWN_TYPES:
            service = services.get(service_type)
            if service is None:
                continue  # not in this cloud: nothing of T4O can use it either
            ours = [e for e in admin.identity.endpoints(service_id=service.id) if e.region_id == "RegionOne"]
            url = next(e.url for e in ours if e.interface in ("internal", "public"))
            real[service_type], dead[service_type] = url, dead_url(url, port)
            for interface in ("public", "internal", "admin"):
                admin.identity.create_endpoint(
                    service_id=service.id,
                    interface=interface,
                    url=url if interface == "internal" else dead[service_type],
                    region_id=name,
                )
        assert {"identity", "compute", "image", "network", "datamover"} <= set(real), real
        yield Region(name, real, dead)
    finally:
        drop_region(admin, name)


def user_context(devcloud: Devcloud) -> RequestContext:
    """A demo user's token and the catalog Keystone gives with it now (with the test's region)."""
    conn = devcloud.connection("devcloud-demo")
    access = conn.session.auth.get_access(conn.session)
    return RequestContext(
        auth_token=access.auth_token,
        project_id=access.project_id,
        user_id=access.user_id,
        service_catalog=list(access.service_catalog.catalog),
    )


@pytest.fixture
def factories_conf(t4o_conf: Any) -> Iterator[Any]:
    """The process's global config with the datamover client's password options; they are removed
    after the test: registered, they are required, and a later ``CONF([])`` of this process would fail
    for want of an auth URL."""
    from keystoneauth1 import loading as ks_loading

    from t4o.datamover import config as dm_config

    dm_config.register_opts(t4o_conf)  # a no-op when an earlier test of the process registered them
    t4o_conf.register_opts(ks_loading.get_auth_plugin_conf_options("password"), group="datamover_client")
    try:
        yield t4o_conf
    finally:
        t4o_conf.reset()  # options are unregistered only from a config not parsed
        t4o_conf.unregister_opts(
            ks_loading.get_auth_plugin_conf_options("password"), group="datamover_client"
        )


def use_interface(conf: Any, devcloud: Devcloud, region: Region, interface: str) -> None:
    service = yaml.safe_load(devcloud.clouds_yaml.read_text())["clouds"]["devcloud-t4o"]["auth"]
    for key in ("auth_url", "username", "password", "project_name", "user_domain_name"):
        conf.set_override(key, service[key], group="datamover_client")
    conf.set_override("project_domain_name", service["project_domain_name"], group="datamover_client")
    conf.set_override("auth_type", "password", group="datamover_client")
    conf.set_override("endpoint_type", interface, group="clients")
    conf.set_override("region_name", region.name, group="clients")
    conf.set_override("interface", interface, group="datamover_client")
    conf.set_override("region_name", region.name, group="datamover_client")


@dataclass
class Services:
    """The session's services, and the overrides they had before the test."""

    processes: T4OServices
    saved: dict[str, dict[str, Any]]

    def restart_on(self, interface: str, region: str) -> None:
        """Restart them with ``[clients]`` and ``[datamover_client]`` on ``interface`` in ``region``."""
        self.processes.stop()
        self.processes.overrides = {
            **self.saved,
            "clients": {"endpoint_type": interface, "region_name": region},
            "datamover_client": {
                **self.saved.get("datamover_client", {}),
                "interface": interface,
                "region_name": region,
            },
        }
        self.processes.start()


@pytest.fixture(scope="module")
def internal_services(t4o_services: T4OServices, region: Region) -> Iterator[Services]:
    """The session's services restarted on the internal endpoints of the test's region; as they were
    at the end."""
    services = Services(t4o_services, t4o_services.overrides)
    try:
        services.restart_on("internal", region.name)
        yield services
    finally:
        t4o_services.stop()
        t4o_services.overrides = services.saved
        t4o_services.start()


def test_the_client_factories_use_the_configured_interface(
    devcloud: Devcloud, region: Region, internal_services: Services, factories_conf: Any
) -> None:
    """Each factory of the workflows reaches its service through the internal endpoints, and the same
    call configured for public fails naming the dead address (datamover-api runs, on its real port)."""
    from t4o.common import errors
    from t4o.datamover.client import DatamoverClient, TransferFailed
    from t4o.openstack import barbican
    from t4o.openstack.connection import user_cloud, user_connection
    from t4o.openstack.nova import NovaCloud

    missing = str(uuid.uuid4())
    dead = f"{DEAD_HOST}:{urlsplit(region.dead['compute']).port}"

    use_interface(factories_conf, devcloud, region, "internal")
    ctx = user_context(devcloud)
    cloud = user_cloud(ctx)  # the workflows' cloud: the caller's token exchanged at the internal Keystone
    assert cloud.nova.flavor("devcloud.tiny") is not None
    assert cloud.glance.exists(missing) is False
    assert cloud.neutron.find_network(missing) is None
    assert cloud.cinder.volume(missing) is None
    assert NovaCloud.from_conf(factories_conf).find_servers(ctx, [missing]) == {missing: None}
    if "key-manager" in region.real:
        with pytest.raises(barbican.SecretUnavailable, match="does not exist"):
            barbican.secret_payload(user_connection(ctx).session, missing)
    with pytest.raises(TransferFailed, match="datamover-api answered 404"):
        DatamoverClient(factories_conf).host_of(missing)

    use_interface(factories_conf, devcloud, region, "public")
    ctx = user_context(devcloud)
    with pytest.raises(Exception, match=dead):
        user_cloud(ctx).nova.flavor("devcloud.tiny")
    with pytest.raises(
        errors.ServiceUnavailable, match=f"public compute endpoint of region {region.name} .*{dead}"
    ):
        NovaCloud.from_conf(factories_conf).find_servers(ctx, [missing])
    if "key-manager" in region.real:
        # the caller's token, at a working Keystone; only Barbican's endpoint is the public one
        session = user_connection(ctx, "internal", region.name).session
        with pytest.raises(barbican.SecretUnavailable, match=f"cannot be reached.*{dead}"):
            barbican.secret_payload(session, missing)
    with pytest.raises(TransferFailed, match=f"datamover-api cannot be reached.*{dead}"):
        DatamoverClient(factories_conf).host_of(missing)

    # the region counts too: the same public interface works in devcloud's own region
    factories_conf.set_override("region_name", "RegionOne", group="clients")
    assert user_cloud(ctx).nova.flavor("devcloud.tiny") is not None
    assert NovaCloud.from_conf(factories_conf).find_servers(ctx, [missing]) == {missing: None}


def test_snapshot_and_restore_on_internal_endpoints(
    devcloud: Devcloud, region: Region, internal_services: Services, tmp_path: Path
) -> None:
    """Snapshot and restore through the services on the internal endpoints; then, on the public ones,
    the next snapshot is refused naming the dead address."""
    services = internal_services.processes
    conn = devcloud.connection("devcloud-demo")
    token, project = str(conn.auth_token), str(conn.current_project_id)
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    server = conn.compute.create_server(
        name=f"t4o-it-ep-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    ).id
    created: list[str] = []
    try:
        conn.compute.wait_for_server(conn.compute.get_server(server), wait=300)
        model = DiskModel.of(domain_disk_path(devcloud, server, "vda"), tmp_path)
        model.write(5 * MiB, write_guest(devcloud.libvirt_uri, server, 5 * MiB, 3 * MiB, seed=41))
        expected = model.sha256()
        body = {"workload": {"name": "it-endpoints", "instances": [{"instance-id": server}]}}
        workload = services.request("POST", "/workloads", token, project, json=body)["workload"]["id"]
        snap = services.request(
            "POST", f"/workloads/{workload}", token, project,
            params={"full": "1"}, json={"snapshot": {"name": "internal"}},
        )["snapshot"]  # fmt: skip
        job = services.wait_job("snapshot", snap["id"], token, project, timeout=600)
        assert job["status"] == "available", job.get("error_msg")

        restore = services.request(
            "POST", f"/snapshots/{snap['id']}", token, project,
            json={"restore": {"options": {"restore_type": "oneclick"}}},
        )["restore"]  # fmt: skip
        job = services.wait_job("restore", restore["id"], token, project, timeout=600)
        created.extend(i["id"] for i in job.get("instances") or [] if i["id"] != server)
        assert job["status"] == "available", job.get("error_msg")
        (inst,) = job["instances"]
        assert [d["target"] for d in inst["disks"]] == ["vda"] and inst["disks"][0]["verified"]
        assert disk_sha256(domain_disk_path(devcloud, inst["id"], "vda"), tmp_path) == expected

        internal_services.restart_on("public", region.name)
        dead = f"{DEAD_HOST}:{urlsplit(region.dead['compute']).port}"
        snap = services.request(
            "POST", f"/workloads/{workload}", token, project,
            params={"full": "1"}, json={"snapshot": {"name": "public"}},
        )["snapshot"]  # fmt: skip
        job = services.wait_job("snapshot", snap["id"], token, project, timeout=600)
        # the worker's token exchange at the public Keystone of the region, nothing listening there
        assert job["status"] == "error", job
        assert f"Unable to establish connection to http://{dead}/v3/auth/tokens" in job["error_msg"], job
    finally:
        for sid in [server, *created]:
            conn.compute.delete_server(sid, ignore_missing=True)
        for sid in [server, *created]:
            with contextlib.suppress(Exception):
                conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=120)


def _endpoints(admin: Connection, service_type: str, region: str) -> dict[str, str]:
    (service,) = [s for s in admin.identity.services() if s.type == service_type]
    return {
        e.interface: e.url for e in admin.identity.endpoints(service_id=service.id) if e.region_id == region
    }


def test_manage_registers_three_interfaces_of_both_services(devcloud: Devcloud, tmp_path: Path) -> None:
    admin = devcloud.connection("devcloud-admin")  # stale regions of killed runs: dropped by ``region``
    name = f"{REGION_PREFIX}-REG-{uuid.uuid4().hex[:6]}"
    port = dead_port()  # the URLs are only registered, never called
    urls = {
        key: f"http://{DEAD_HOST}:{port}/{key}"
        for key in ("wl-public", "wl-internal", "wl-admin", "dm-public", "dm-internal", "dm-admin")
    }
    conf = tmp_path / "t4o.conf"
    conf.write_text("[database]\nconnection = sqlite://\n")
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(devcloud.clouds_yaml)}

    def register(*extra: str) -> None:
        cmd = [
            str(BIN / "workloadmgr-manage"), "keystone", "register", "--config-file", str(conf),
            "--os-cloud", "devcloud-admin", "--region", name, *extra,
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
        assert done.returncode == 0, done.stderr

    try:
        register(
            "--url", urls["wl-public"], "--internal-url", urls["wl-internal"],
            "--admin-url", urls["wl-admin"],
            "--datamover-url", urls["dm-public"], "--datamover-internal-url", urls["dm-internal"],
            "--datamover-admin-url", urls["dm-admin"],
        )  # fmt: skip
        assert admin.identity.find_region(name) is not None  # created by the registration
        for service_type, key in (("workloads", "wl"), ("datamover", "dm")):
            assert _endpoints(admin, service_type, name) == {
                i: urls[f"{key}-{i}"] for i in ("public", "internal", "admin")
            }
        # a second run updates in place: one endpoint per interface, the admin URL now the public one
        register("--url", urls["wl-public"], "--datamover-url", urls["dm-public"])
        for service_type, key in (("workloads", "wl"), ("datamover", "dm")):
            assert _endpoints(admin, service_type, name) == {
                i: urls[f"{key}-public"] for i in ("public", "internal", "admin")
            }
        assert len(list(admin.identity.endpoints(region_id=name))) == 6
        # devcloud's own region is untouched
        assert _endpoints(admin, "workloads", "RegionOne")["public"].startswith("http://127.0.0.1:8780")
    finally:
        drop_region(admin, name)
    assert admin.identity.find_region(name) is None

"""Seeds devcloud through its own APIs (run by devcloud's OpenStack venv python, with openstacksdk).

Usage: seed.py identity | resources IMAGE_FILE
Every step looks before it creates, so running it again changes nothing.
"""

from __future__ import annotations

import sys
import time

import openstack
from openstack.connection import Connection

HOST = "127.0.0.1"
REGION = "RegionOne"
SERVICE_USERS = ("glance", "nova", "cinder", "neutron", "placement", "barbican")
# (service type, name, URL) of every catalog entry besides keystone's own.
ENDPOINTS = (
    ("image", "glance", f"http://{HOST}:9292"),
    ("placement", "placement", f"http://{HOST}:8778"),
    ("compute", "nova", f"http://{HOST}:8774/v2.1"),
    ("block-storage", "cinderv3", f"http://{HOST}:8776/v3/%(project_id)s"),
    ("volumev3", "cinderv3-legacy", f"http://{HOST}:8776/v3/%(project_id)s"),
    ("network", "neutron", f"http://{HOST}:9696"),
    ("key-manager", "barbican", f"http://{HOST}:9311"),
    ("workloads", "t4o-workloads", f"http://{HOST}:8780/v1/%(project_id)s"),
    ("datamover", "t4o-datamover", f"http://{HOST}:8784/v2"),
)
# (user, password, project, role)
USERS = (
    ("demo", "devcloud-demo", "demo", "member"),
    ("other", "devcloud-other", "other", "member"),
    ("t4o", "devcloud-t4o", "service", "admin"),
)
FLAVOR = "devcloud.tiny"
IMAGE = "devcloud-tiny"
# The demo project's tenant network (Geneve, OVN's native DHCP) and its router.
DEMO_NET, DEMO_SUBNET, DEMO_ROUTER, DEMO_CIDR = "demo-net", "demo-subnet", "demo-router", "10.0.0.0/24"


def admin(password: str) -> Connection:
    return openstack.connect(
        auth_url=f"http://{HOST}:5000/v3",
        username="admin",
        password=password,
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        identity_api_version="3",
    )


def _project(conn: Connection, name: str) -> str:
    found = conn.identity.find_project(name, domain_id="default")
    return (found or conn.identity.create_project(name=name, domain_id="default")).id


def _role(conn: Connection, name: str) -> str:
    found = conn.identity.find_role(name)
    return (found or conn.identity.create_role(name=name)).id


def _user(conn: Connection, name: str, password: str, project_id: str) -> str:
    found = conn.identity.find_user(name, domain_id="default")
    if found:
        conn.identity.update_user(found, password=password)
        return found.id
    return conn.identity.create_user(
        name=name, password=password, domain_id="default", default_project_id=project_id
    ).id


def _grant(conn: Connection, user_id: str, project_id: str, role_id: str) -> None:
    conn.identity.assign_project_role_to_user(project_id, user_id, role_id)


def identity(service_password: str) -> None:
    conn = admin(sys.argv[3])
    service = _project(conn, "service")
    admin_role, member_role, service_role = (_role(conn, r) for r in ("admin", "member", "service"))
    for name in SERVICE_USERS:
        uid = _user(conn, name, service_password, service)
        _grant(conn, uid, service, admin_role)
        _grant(conn, uid, service, service_role)
    for name, password, project_name, role in USERS:
        pid = service if project_name == "service" else _project(conn, project_name)
        uid = _user(conn, name, password, pid)
        _grant(conn, uid, pid, admin_role if role == "admin" else member_role)
        if name == "t4o":
            _grant(conn, uid, pid, service_role)
    for stype, name, url in ENDPOINTS:
        svc = next((s for s in conn.identity.services() if s.type == stype), None)
        svc = svc or conn.identity.create_service(name=name, type=stype, enabled=True)
        have = {e.interface for e in conn.identity.endpoints(service_id=svc.id)}
        for interface in ("public", "internal", "admin"):  # as a deployment registers them
            if interface not in have:
                conn.identity.create_endpoint(
                    service_id=svc.id, interface=interface, url=url, region_id=REGION
                )
    print("identity seeded")


def resources(image_file: str) -> None:
    conn = admin(sys.argv[3])
    if not conn.compute.find_flavor(FLAVOR):
        conn.compute.create_flavor(name=FLAVOR, ram=128, vcpus=1, disk=1, is_public=True)
    if not conn.image.find_image(IMAGE):
        conn.image.create_image(
            name=IMAGE,
            filename=image_file,
            disk_format="qcow2",
            container_format="bare",
            visibility="public",
            wait=True,
            timeout=120,
        )
    _demo_network(conn)
    print("flavor, image and demo network seeded")


def _demo_network(conn: Connection) -> None:
    project = conn.identity.find_project("demo", domain_id="default", ignore_missing=False).id
    net = next(iter(conn.network.networks(name=DEMO_NET, project_id=project)), None)
    net = net or conn.network.create_network(name=DEMO_NET, project_id=project)
    subnet = next(iter(conn.network.subnets(name=DEMO_SUBNET, network_id=net.id)), None)
    subnet = subnet or conn.network.create_subnet(
        name=DEMO_SUBNET,
        network_id=net.id,
        project_id=project,
        ip_version=4,
        cidr=DEMO_CIDR,
        gateway_ip="10.0.0.1",
        is_dhcp_enabled=True,
    )
    router = next(iter(conn.network.routers(name=DEMO_ROUTER, project_id=project)), None)
    router = router or conn.network.create_router(name=DEMO_ROUTER, project_id=project)
    if not list(conn.network.ports(device_id=router.id, network_id=net.id)):
        conn.network.add_interface_to_router(router, subnet_id=subnet.id)


def wait_compute(timeout: float) -> None:
    """Until nova-compute and cinder-volume are up and the hypervisor is in placement."""
    conn = admin(sys.argv[3])
    deadline = time.monotonic() + timeout
    missing: list[str] = []
    while time.monotonic() < deadline:
        missing = []
        computes = [s for s in conn.compute.services() if s.binary == "nova-compute" and s.state == "up"]
        if not computes:
            missing.append("nova-compute service up")
        if not list(conn.compute.hypervisors()):
            missing.append("hypervisor listed")
        volumes = [
            s for s in conn.block_storage.services() if s.binary == "cinder-volume" and s.state == "up"
        ]
        if not volumes:
            missing.append("cinder-volume service up")
        if not list(conn.placement.resource_providers()):
            missing.append("compute resource provider in placement")
        if not missing:
            print("compute and volume services ready")
            return
        time.sleep(2)
    sys.exit(f"not ready after {timeout:.0f} s: {', '.join(missing)}")


def main() -> None:
    # argv: step arg admin_password
    step, arg = sys.argv[1], sys.argv[2]
    if step == "identity":
        identity(arg)
    elif step == "resources":
        resources(arg)
    elif step == "wait":
        wait_compute(float(arg))
    else:
        sys.exit(f"unknown seed step {step!r}")


if __name__ == "__main__":
    main()

"""The compute hosts of devcloud, through Nova's API (run by devcloud's OpenStack venv python).

Usage: computes.py wait HOSTS TIMEOUT ADMIN_PASSWORD      until each host's nova-compute is up, with its
                                                          hypervisor and resource provider
       computes.py disable HOSTS - ADMIN_PASSWORD         disable those hosts' nova-compute
HOSTS is a comma-separated list. Extra hosts (devcloud-c2, ...) are kept disabled so that servers of
tests that do not ask for a host land on `devcloud`; a test that uses them enables them for its run.
"""

from __future__ import annotations

import sys
import time

from openstack.connection import Connection
from seed import admin  # run as a script beside seed.py

DISABLED_REASON = "devcloud: extra compute host, enabled only by the tests that place servers on it"


def _missing(conn: Connection, hosts: list[str]) -> list[str]:
    up = {s.host for s in conn.compute.services() if s.binary == "nova-compute" and s.state == "up"}
    hypervisors = {h.name for h in conn.compute.hypervisors()}
    providers = {p.name for p in conn.placement.resource_providers()}
    missing = []
    for host in hosts:
        missing += [f"{host}: {what}" for what, ok in (
            ("nova-compute up", host in up),
            ("hypervisor listed", host in hypervisors),
            ("resource provider in placement", host in providers),
        ) if not ok]  # fmt: skip
    return missing


def wait(conn: Connection, hosts: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while missing := _missing(conn, hosts):
        if time.monotonic() > deadline:
            sys.exit(f"not ready after {timeout:.0f} s: {', '.join(missing)}")
        time.sleep(2)
    print(f"compute hosts ready: {', '.join(hosts)}")


def disable(conn: Connection, hosts: list[str]) -> None:
    for svc in conn.compute.services():
        if svc.binary == "nova-compute" and svc.host in hosts and svc.status != "disabled":
            conn.compute.disable_service(svc, svc.host, svc.binary, disabled_reason=DISABLED_REASON)
            print(f"disabled nova-compute on {svc.host}")


def main() -> None:
    step, hosts, arg, password = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
    conn = admin(password)
    if step == "wait":
        wait(conn, hosts, float(arg))
    elif step == "disable":
        disable(conn, hosts)
    else:
        sys.exit(f"unknown step {step!r}")


if __name__ == "__main__":
    main()

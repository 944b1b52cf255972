"""Every control-plane service started at the same moment on a fresh MariaDB database: their first
heartbeats insert their rows in the services table together, which MariaDB may answer with a deadlock.
The deadlocked transaction is retried (t4o.db.retry), so no service logs an error and every one of
them is registered."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.fixtures.control_plane import ControlPlane, broker_control_plane

# name -> (binary, host): two of each worker kind, under their own host names.
SERVICES = {
    "scheduler-a": ("workloadmgr-scheduler", "node-a"),
    "scheduler-b": ("workloadmgr-scheduler", "node-b"),
    "workloads-a": ("workloadmgr-workloads", "node-a"),
    "workloads-b": ("workloadmgr-workloads", "node-b"),
    "cron-a": ("workloadmgr-cron", "node-a"),
    "cron-b": ("workloadmgr-cron", "node-b"),
}


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, str]]:
    with broker_control_plane(tmp_path_factory.mktemp("together")) as (cp, url):
        for host in ("node-a", "node-b"):
            (cp.workdir / f"{host}.conf").write_text(f"[DEFAULT]\nhost = {host}\n")
        yield cp, url


def test_services_started_together_all_register_without_errors(fresh: tuple[ControlPlane, str]) -> None:
    cp, url = fresh
    cp.start("api", ["workloadmgr-api"])
    for name, (binary, host) in SERVICES.items():
        cp.start(name, [binary], extra_conf=cp.workdir / f"{host}.conf")
    engine = sa.create_engine(url)
    wanted = {(host, binary) for binary, host in SERVICES.values()}
    deadline = time.monotonic() + 60
    try:
        while True:
            cp.raise_if_exited()
            with engine.connect() as conn:
                rows = set(conn.execute(sa.text("SELECT host, `binary` FROM services")).all())
            if wanted <= rows:
                break
            assert time.monotonic() < deadline, f"registered: {sorted(rows)}"
            time.sleep(0.3)
    finally:
        engine.dispose()
    time.sleep(3)  # a few more beats of every service
    cp.wait_api()
    for name in ("api", *SERVICES):
        log = cp.log(name)
        errors = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
        assert not errors, f"{name}: {errors[:5]}"

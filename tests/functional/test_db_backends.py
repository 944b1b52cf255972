"""The control plane on real MariaDB and PostgreSQL: schema sync through the CLI, job life cycle, races."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from t4o.db import session
from tests.fixtures.control_plane import ControlPlane, assert_one_job_at_a_time, database_url, member


@pytest.fixture(scope="module", params=["mariadb", "postgresql"])
def on_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    with database_url(request.param) as url:
        cp = ControlPlane(tmp_path_factory.mktemp(request.param), {"database": {"connection": url}})
        head = ScriptDirectory.from_config(session.alembic_config(url)).get_current_head()
        synced = cp.manage("db", "sync")
        assert synced.returncode == 0, synced.stderr
        assert f"database at revision {head}" in synced.stdout
        assert cp.manage("db", "sync").returncode == 0  # idempotent
        assert cp.manage("db", "version").stdout.splitlines()[-1] == head
        try:
            cp.start_all_in_one()
            yield cp
        finally:
            cp.stop()


def test_life_cycle_and_unicode(on_database: ControlPlane) -> None:
    cp, proj = on_database, "p" + uuid.uuid4().hex[:8]
    vms = cp.add_servers(proj, 2)
    body = {"workload": {"name": "Sauvegarde 💾 ß", "instances": [{"instance-id": v} for v in vms]}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    wl = resp.json()["workload"]
    assert wl["name"] == "Sauvegarde 💾 ß"
    snap = cp.request("POST", f"/workloads/{wl['id']}?full=1", proj, member(proj), json={}).json()["snapshot"]
    done = cp.wait_job("snapshot", snap["id"], proj, member(proj))
    assert done["status"] == "available" and len(done["instances"]) == 2
    restore = cp.request("POST", f"/snapshots/{snap['id']}", proj, member(proj), json={"restore": {}}).json()
    assert cp.wait_job("restore", restore["restore"]["id"], proj, member(proj))["status"] == "available"
    assert cp.request("DELETE", f"/workloads/{wl['id']}", proj, member(proj)).status_code == 202


def test_concurrent_snapshots_one_wins(on_database: ControlPlane) -> None:
    cp, proj = on_database, "p" + uuid.uuid4().hex[:8]
    vms = cp.add_servers(proj, 1)
    wl = cp.request(
        "POST", "/workloads", proj, member(proj), json={"workload": {"instances": [{"instance-id": vms[0]}]}}
    ).json()["workload"]
    with ThreadPoolExecutor(10) as pool:
        codes = list(
            pool.map(
                lambda _: cp.request("POST", f"/workloads/{wl['id']}", proj, member(proj)).status_code,
                range(10),
            )
        )
    assert_one_job_at_a_time(cp, proj, member(proj), wl["id"], codes)


def test_concurrent_workloads_cannot_share_an_instance(on_database: ControlPlane) -> None:
    cp, proj = on_database, "p" + uuid.uuid4().hex[:8]
    vm = cp.add_servers(proj, 1)[0]
    body = {"workload": {"instances": [{"instance-id": vm}]}}
    with ThreadPoolExecutor(6) as pool:
        codes = list(
            pool.map(
                lambda _: cp.request("POST", "/workloads", proj, member(proj), json=body).status_code,
                range(6),
            )
        )
    assert sorted(codes) == [202] + [400] * 5


def test_no_server_errors_logged(on_database: ControlPlane) -> None:
    log = Path(on_database.workdir / "all-in-one.log").read_text()
    assert "Unexpected error" not in log and "status: 500" not in log


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_migrations_build_the_models_schema(kind: str, tmp_path: Path) -> None:
    """alembic's head and the models agree: no table, column or index lives only in one of them."""
    import sqlalchemy
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from t4o.db import policy_models  # noqa: F401 (its tables join the metadata)
    from t4o.db.models import Base

    with database_url(kind) as url:
        synced = ControlPlane(tmp_path, {"database": {"connection": url}}).manage("db", "sync")
        assert synced.returncode == 0, synced.stderr
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as conn:
                diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        finally:
            engine.dispose()
    assert diffs == [], diffs

"""Paging of every list over HTTP against a real `t4o all-in-one`: workload types and settings (by name),
and workloads on SQLite, MariaDB and PostgreSQL (each page one query joining the page's ids to its rows).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fixtures.control_plane import ControlPlane, database_url, member

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
PARALLEL = "2ddd528d-c9b4-4d7e-8722-cc395140255a"


def project() -> str:
    return "p" + uuid.uuid4().hex[:12]


def walk(cp: ControlPlane, proj: str, path: str, key: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list by following its next links from ``path``; (items, pages)."""
    url = f"{cp.url}/v1/{proj}{path}"
    items: list[dict[str, Any]] = []
    pages = 0
    while url:
        resp = requests.get(url, headers={"X-Auth-Token": member(proj)}, timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body[key]
        url = next((link["href"] for link in body.get(f"{key}_links", []) if link["rel"] == "next"), "")
        pages += 1
    return items, pages


def assert_bad(cp: ControlPlane, proj: str, path: str, queries: list[str]) -> None:
    for query in queries:
        resp = cp.request("GET", f"{path}?{query}", proj, member(proj))
        assert resp.status_code == 400, (path, query, resp.text)
        assert resp.json()["badRequest"]["message"]


@pytest.mark.parametrize("path", ["/workload_types", "/workload_types/detail"])
def test_workload_types_page_by_name(all_in_one: ControlPlane, path: str) -> None:
    cp, proj = all_in_one, project()
    first = cp.request("GET", f"{path}?limit=1", proj, member(proj)).json()
    assert [t["name"] for t in first["workload_types"]] == ["Parallel"]
    (link,) = first["workload_types_links"]
    assert link["rel"] == "next" and link["href"].endswith(f"{path}?limit=1&marker={PARALLEL}")
    items, pages = walk(cp, proj, f"{path}?limit=1", "workload_types")
    # Two types at one a page: two full pages and an empty third one.
    assert [t["id"] for t in items] == [PARALLEL, SERIAL] and pages == 3
    after = cp.request("GET", f"{path}?marker={PARALLEL}", proj, member(proj)).json()
    assert [t["id"] for t in after["workload_types"]] == [SERIAL] and "workload_types_links" not in after
    desc = cp.request("GET", f"{path}?sort_key=name&sort_dir=desc", proj, member(proj)).json()
    assert [t["name"] for t in desc["workload_types"]] == ["Serial", "Parallel"]
    by_date = cp.request("GET", f"{path}?sort_key=created_at&limit=5", proj, member(proj))
    assert by_date.status_code == 200 and len(by_date.json()["workload_types"]) == 2
    # A workload's id is no marker of this list; types have no status to sort by.
    assert_bad(cp, proj, path, ["limit=0", "limit=-1", "marker=nope", "sort_key=status", "sort_dir=up"])


def test_settings_page_by_name_and_their_name_is_the_marker(all_in_one: ControlPlane) -> None:
    cp, proj, other = all_in_one, project(), project()
    names = [f"s{i:02d}" for i in range(7)]
    body = {
        "settings": [{"name": n, "value": str(i), "category": "c" + str(i % 2)} for i, n in enumerate(names)]
    }
    assert cp.request("POST", "/settings", proj, member(proj), json=body).status_code == 200
    theirs = {"settings": [{"name": "zz-other", "value": "x"}]}
    assert cp.request("POST", "/settings", other, member(other), json=theirs).status_code == 200

    items, pages = walk(cp, proj, "/settings?limit=3", "settings")
    assert [s["name"] for s in items] == names and pages == 3  # 3 + 3 + 1
    page = cp.request("GET", "/settings?limit=2&marker=s03", proj, member(proj)).json()
    assert [s["name"] for s in page["settings"]] == ["s04", "s05"]
    assert page["settings_links"][0]["href"].endswith("/settings?limit=2&marker=s05")
    desc = cp.request("GET", "/settings?sort_dir=desc&limit=2", proj, member(proj)).json()
    assert [s["name"] for s in desc["settings"]] == ["s06", "s05"]
    by_category, _ = walk(cp, proj, "/settings?sort_key=category&limit=2", "settings")
    assert [s["name"] for s in by_category] == ["s00", "s02", "s04", "s06", "s01", "s03", "s05"]
    # Without a limit: the default page (more than these seven).
    assert len(cp.request("GET", "/settings", proj, member(proj)).json()["settings"]) == 7
    # Another project's setting is no marker here.
    assert_bad(cp, proj, "/settings", ["marker=zz-other", "marker=nope", "limit=x", "sort_key=value"])


# ---------------------------------------------------------------- workloads on every database
@pytest.fixture(scope="module", params=["sqlite", "mariadb", "postgresql"])
def control_plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    workdir = tmp_path_factory.mktemp(f"paging-{request.param}")
    if request.param == "sqlite":
        cp = ControlPlane(workdir, {})
        try:
            cp.start_all_in_one()
            yield cp
        finally:
            cp.stop()
        return
    with database_url(request.param) as url:
        cp = ControlPlane(workdir, {"database": {"connection": url}})
        cp.db_url = url  # type: ignore[attr-defined]
        assert cp.manage("db", "sync").returncode == 0
        try:
            cp.start_all_in_one()
            yield cp
        finally:
            cp.stop()


def test_workload_pages_walk_every_workload_once(control_plane: ControlPlane) -> None:
    cp, proj = control_plane, project()
    servers = cp.add_servers(proj, 9)
    made: dict[str, set[str]] = {}
    # Names out of creation order, some workloads with two VMs.
    for i, name in enumerate(["kilo", "Alpha", "echo", "bravo", "delta", "charlie"]):
        vms = servers[i : i + 1] if i < 3 else servers[3 + 2 * (i - 3) : 5 + 2 * (i - 3)]
        body = {"workload": {"name": name, "instances": [{"instance-id": v} for v in vms]}}
        resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
        assert resp.status_code == 202, resp.text
        made[resp.json()["workload"]["id"]] = set(vms)
    for query in (
        "",
        "&sort_dir=asc",
        "&sort_key=name",
        "&sort_key=name&sort_dir=asc",
        "&sort_key=updated_at",
    ):
        for path in ("/workloads", "/workloads/detail"):
            items, pages = walk(cp, proj, f"{path}?limit=4{query}", "workloads")
            assert pages == 2, (path, query)
            assert {w["id"]: {i["id"] for i in w["instances"]} for w in items} == made, (path, query)
            assert len(items) == len(made), (path, query)
            full = cp.request("GET", f"{path}?limit=100{query}", proj, member(proj)).json()["workloads"]
            # Two pages in a row are the one long page, in the same order.
            assert [w["id"] for w in items] == [w["id"] for w in full], (path, query)
    detail = cp.request("GET", "/workloads/detail", proj, member(proj)).json()["workloads"]
    stamps = [(w["created_at"], w["id"]) for w in detail]
    assert stamps == sorted(stamps, reverse=True)  # newest first, ties by id
    assert all(w["jobschedule"] is not None and w["metadata"] == {} for w in detail)
    assert all(w["created_at"].endswith("Z") and isinstance(w["encryption"], bool) for w in detail)
    assert_bad(cp, proj, "/workloads/detail", ["marker=nope", "limit=0", "sort_key=vm_name"])


_OTHER_SESSIONS = {
    "mysql": "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
    "postgresql": "SELECT pid FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()",
}
_KILL = {"mysql": "KILL {}", "postgresql": "SELECT pg_terminate_backend({})"}


# Only the database servers: SQLite has no server connections to drop.
@pytest.mark.parametrize("control_plane", ["mariadb", "postgresql"], indirect=True)
def test_a_listing_survives_the_database_dropping_its_connections(control_plane: ControlPlane) -> None:
    """The listing's connections are not pinged at checkout: a dead one is detected and retried once."""
    cp, proj = control_plane, project()
    url = cp.db_url  # type: ignore[attr-defined]
    import sqlalchemy

    body = {"workload": {"name": "w", "instances": [{"instance-id": cp.add_servers(proj, 1)[0]}]}}
    assert cp.request("POST", "/workloads", proj, member(proj), json=body).status_code == 202
    for _ in range(10):  # fill the API's read pool
        assert cp.request("GET", "/workloads/detail", proj, member(proj)).status_code == 200
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    kind = engine.dialect.name
    try:
        with engine.connect() as conn:
            sessions = [row[0] for row in conn.exec_driver_sql(_OTHER_SESSIONS[kind])]
            assert sessions, "the API holds no connection to drop"
            for session_id in sessions:
                conn.exec_driver_sql(_KILL[kind].format(int(session_id)))
    finally:
        engine.dispose()
    for _ in range(10):
        resp = cp.request("GET", "/workloads/detail", proj, member(proj))
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["workloads"]) == 1

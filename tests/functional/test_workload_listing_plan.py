"""MariaDB's plan for a page of GET /workloads/detail: the page's ids come from walking
ix_workloads_project_deleted in order up to the limit, not from reading every workload of the project and
sorting them (a filesort per page, which cost MariaDB more CPU than the API spent on the request)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import insert, text

from t4o.db import api as db_api
from t4o.db import session
from t4o.db.models import Workload
from tests.fixtures.control_plane import database_url

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"  # the serial workload type (its row is not needed here)


def _tables(plan: Any) -> list[dict[str, Any]]:
    """Every table access in a MariaDB EXPLAIN FORMAT=JSON plan, with the sort it sits under."""
    found: list[dict[str, Any]] = []

    def walk(node: Any, sorted_by: str | None) -> None:
        if isinstance(node, dict):
            if "filesort" in node:
                sorted_by = "filesort"
            if "table" in node and isinstance(node["table"], dict):
                found.append({**node["table"], "under": sorted_by})
            for value in node.values():
                walk(value, sorted_by)
        elif isinstance(node, list):
            for value in node:
                walk(value, sorted_by)

    walk(plan, None)
    return found


def test_page_ids_come_from_the_index_in_order() -> None:
    with database_url("mariadb") as url:
        session.sync(url)
        start = dt.datetime(2026, 1, 1)
        rows = [
            {"id": str(uuid.uuid4()), "project_id": "p1", "user_id": "u", "name": f"w{i}",
             "workload_type_id": SERIAL, "status": "available", "jobschedule": {}, "metadata_": {},
             "deleted": False, "created_at": start + dt.timedelta(seconds=i)}
            for i in range(300)
        ]  # fmt: skip
        with session.session_scope(url) as s:
            s.execute(insert(Workload), rows)
            engine = session.get_engine(url)
        try:
            _marker, page = db_api._workload_page_statements(
                True, "created_at", True, False, True, engine.dialect.name, True
            )
            sql = str(page.compile(engine)).replace("%s", "{}").format("'available'", "'p1'", "100")
            with engine.connect() as conn:
                conn.execute(text("ANALYZE TABLE workloads"))
                plan = json.loads(conn.execute(text("EXPLAIN FORMAT=JSON " + sql)).scalar_one())
                listed = conn.execute(text(sql)).all()
        finally:
            session.dispose_all()
    assert len(listed) == 100
    workloads = [t for t in _tables(plan) if t["table_name"] == "workloads"]
    by_index = [t for t in workloads if t.get("key") == "ix_workloads_project_deleted"]
    assert by_index, workloads
    assert all(t["under"] is None for t in by_index), by_index  # no filesort above the index walk
    assert all("deleted" in t["used_key_parts"] for t in by_index), by_index

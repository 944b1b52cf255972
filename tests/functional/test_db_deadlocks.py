"""Deadlocks on real MariaDB and PostgreSQL: first heartbeats of many services at the same instant.

Each first heartbeat updates a missing row, then inserts it; on MariaDB the two steps take gap locks
that make concurrent inserters deadlock (measured without the retry: about 45 of 60 heartbeats failed
with error 1213). The deadlocked transaction is retried (t4o.db.retry), so every heartbeat lands."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from t4o.common import config
from t4o.db import api as db
from t4o.db import session
from tests.fixtures.control_plane import database_url

ROUNDS, SERVICES = 5, 12


@pytest.fixture(params=["mariadb", "postgresql"])
def conf_on(request: pytest.FixtureRequest) -> Iterator[Any]:
    config.ensure_registered()
    conf = config.CONF
    conf([], project="t4o", default_config_files=[])
    with database_url(request.param) as url:
        conf.set_override("connection", url, group="database")
        session.sync(url)
        try:
            yield conf
        finally:
            session.dispose_all()
            conf.clear_override("connection", group="database")
            conf.reset()


def test_first_heartbeats_at_the_same_instant_all_land(conf_on: Any) -> None:
    failures: list[BaseException] = []

    def beat(host: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            db.service_heartbeat(host, "datamover", "datamover")
        except BaseException as exc:  # collected: the assertion below shows them
            failures.append(exc)

    for r in range(ROUNDS):
        start = threading.Barrier(SERVICES)
        threads = [threading.Thread(target=beat, args=(f"node-{r}-{i}", start)) for i in range(SERVICES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures, [str(f)[:200] for f in failures[:3]]
    assert len(db.service_list("datamover")) == ROUNDS * SERVICES

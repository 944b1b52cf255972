"""datamover-api and a datamover agent as real processes over RabbitMQ (noauth on loopback), one pair per
test module of this directory, the agent's mounts in a directory of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.control_plane import ControlPlane, ensure_server, free_port


@pytest.fixture(scope="module")
def datamover(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, str]]:
    ensure_server("rabbitmq")
    tag = uuid.uuid4().hex[:8]
    workdir: Path = tmp_path_factory.mktemp("datamover-api")
    port = free_port()
    cp = ControlPlane(
        workdir,
        {
            "DEFAULT": {
                "host": f"compute-{tag}",
                "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
                "control_exchange": f"t4o_dm_{tag}",
            },
            "datamover": {"topic": f"t4o-dm-{tag}", "rpc_timeout": 3, "mount_dir": str(workdir / "mounts")},
            "datamover_api": {"bind_host": "127.0.0.1", "bind_port": port},
        },
    )
    assert cp.manage("db", "sync").returncode == 0
    cp.url = f"http://127.0.0.1:{port}"
    try:
        agent = cp.start("agent", ["datamover"])
        cp.start("api", ["datamover-api"])
        cp.wait_api()
        for _ in range(100):
            if "datamover started on host" in cp.log("agent") or agent.poll() is not None:
                break
            time.sleep(0.2)
        assert "datamover started on host" in cp.log("agent"), cp.log("agent")[-2000:]
        yield cp, f"compute-{tag}"
    finally:
        cp.stop()

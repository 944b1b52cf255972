"""A dedicated backup network: with ``[backup_target] source_address`` every connection to an S3 target
leaves from that address. SeaweedFS listens on 127.0.0.1 only; the client binds 127.0.0.2 (Linux lets a
socket use any 127.0.0.0/8 address on lo), and the server's side of each connection, read from the
kernel's socket table while a disk is backed up and restored, names the peer the server saw.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from oslo_config import cfg

from t4o.datamover.agent import operations
from t4o.vault import TargetUnavailable, open_spec, register_opts
from tests.fixtures.proc_net import peers_of
from tests.fixtures.s3 import S3Bucket

BACKUP_ADDRESS = "127.0.0.2"
NOT_HERE = "192.0.2.10"  # TEST-NET-1: on no host


@pytest.fixture
def conf() -> Iterator[cfg.ConfigOpts]:
    """The process's own configuration, as a datamover agent reads it."""
    register_opts(cfg.CONF)
    yield cfg.CONF
    cfg.CONF.clear_override("source_address", group="backup_target")


class PeerWatch:
    """Polls the server's connections from a thread; ``peers`` are the ones opened while it watched."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.before = peers_of(port)
        self.seen: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen |= peers_of(self.port)
            time.sleep(0.002)

    def stop(self) -> set[str]:
        """The addresses of the new peers (stopping twice is harmless)."""
        self._stop.set()
        self._thread.join()
        self.seen |= peers_of(self.port)
        return {address for address, _ in self.seen - self.before}


def spec_of(bucket: S3Bucket, prefix: str) -> dict[str, Any]:
    server = bucket.server
    return {
        "url": f"s3://{bucket.name}/{prefix}?endpoint={server.endpoint}",
        "password": None,
        "credentials": {"access_key": server.access_key, "secret_key": server.secret_key},
    }


def backup_and_restore(bucket: S3Bucket, tmp_path: Path, prefix: str) -> set[str]:
    """Init a vault, then, through the agent's own opening of the target, back up a disk and restore it;
    the addresses the server saw connections from."""
    spec = spec_of(bucket, prefix)
    port = urlsplit(bucket.server.endpoint).port
    assert port is not None
    disk = tmp_path / "disk.raw"
    model = random.Random(prefix).randbytes(3 * 1024 * 1024 + 4321)
    disk.write_bytes(model)
    watch = PeerWatch(port)
    try:
        open_spec(spec, create_if_missing=True).backend.close()
        repo = operations.open_vault({"vault": spec})
        try:
            manifest = repo.backup_disk(disk, "vda", workload_id="wl-net")
            restored = tmp_path / "restored.raw"
            repo.restore_disk(manifest.ref, restored)
            assert restored.read_bytes() == model
            return watch.stop()  # while the pooled connections are still open
        finally:
            repo.backend.close()
    finally:
        watch.stop()


def test_target_connections_leave_from_the_backup_address(
    s3_bucket: S3Bucket, tmp_path: Path, conf: cfg.ConfigOpts
) -> None:
    conf.set_override("source_address", BACKUP_ADDRESS, group="backup_target")
    assert backup_and_restore(s3_bucket, tmp_path, "bound") == {BACKUP_ADDRESS}


def test_without_the_option_the_routing_table_chooses(
    s3_bucket: S3Bucket, tmp_path: Path, conf: cfg.ConfigOpts
) -> None:
    assert backup_and_restore(s3_bucket, tmp_path, "routed") == {"127.0.0.1"}


def test_an_address_not_on_this_host_fails_fast(
    s3_bucket: S3Bucket, tmp_path: Path, conf: cfg.ConfigOpts
) -> None:
    conf.set_override("source_address", NOT_HERE, group="backup_target")
    port = urlsplit(s3_bucket.server.endpoint).port
    assert port is not None
    watch = PeerWatch(port)
    started = time.monotonic()
    with pytest.raises(TargetUnavailable) as caught:
        operations.open_vault({"vault": spec_of(s3_bucket, "nowhere")})
    elapsed = time.monotonic() - started
    assert watch.stop() == set()  # not one connection from anywhere else
    assert elapsed < 2.0
    message = str(caught.value)
    assert f"source address {NOT_HERE} is not an address of this host" in message
    assert s3_bucket.name in message

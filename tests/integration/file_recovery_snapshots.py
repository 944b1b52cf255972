"""The session fixture ``recovery_snapshots``: the file recovery tests' guests and their two snapshots
(tests/integration/file_recovery_disks.py), built once for every test module that loads this one with
``pytest_plugins = ["tests.integration.file_recovery_snapshots"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.file_recovery_disks import RecoverySnapshots, make_snapshots
from tests.integration.test_restore_without_source import Leftovers


@pytest.fixture(scope="session")
def recovery_snapshots(
    devcloud: Devcloud, t4o_services: T4OServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RecoverySnapshots]:
    left = Leftovers(devcloud.connection("devcloud-demo"))
    try:
        snapshots = make_snapshots(devcloud, t4o_services, left, tmp_path_factory.mktemp("recovery-disks"))
        # The tests read the snapshots from the vault, not the guests: the five servers and their images
        # go now, so that they do not hold devcloud's compute capacity for the rest of the session.
        left.remove()
        yield snapshots
    finally:
        left.remove()

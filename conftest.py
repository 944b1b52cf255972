"""Root pytest configuration: tier markers by folder, and the shared fixture modules."""

from pathlib import Path

import pytest

# One line per fixture module under tests/fixtures/.
pytest_plugins: list[str] = [
    "tests.fixtures.s3",
    "tests.fixtures.control_plane",
    "tests.fixtures.devcloud",
    "tests.fixtures.t4o_services",
]

TIERS = ("unit", "functional", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
    # Tests that restart shared servers (devcloud down/up) go last, so that the long-lived services other
    # tests hold (session fixtures) never see their cloud vanish under them. The sort is stable.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)

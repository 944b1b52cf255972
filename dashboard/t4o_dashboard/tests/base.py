"""Test cases with a ``workloads`` service in the user's catalog, so the Backups panels are visible."""

from __future__ import annotations

from openstack_dashboard.test import helpers

WORKLOADS_URL = "http://127.0.0.1:8780/v1/project"
WORKLOADS_SERVICE = {
    "type": "workloads",
    "name": "t4o-workloads",
    "endpoints_links": [],
    "endpoints": [
        {"region": "RegionOne", "interface": i, "url": WORKLOADS_URL} for i in ("admin", "internal", "public")
    ],
}


class _WithWorkloads:
    def _setup_test_data(self) -> None:
        super()._setup_test_data()  # type: ignore[misc]
        self.service_catalog.append(WORKLOADS_SERVICE)  # type: ignore[attr-defined]


class TestCase(_WithWorkloads, helpers.TestCase):
    pass


class AdminTestCase(_WithWorkloads, helpers.BaseAdminViewTests):
    pass

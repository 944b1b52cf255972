"""The API module: URLs from the catalog, the user's token, and errors turned into Horizon exceptions."""

from __future__ import annotations

from unittest import mock

import requests
from horizon import exceptions as horizon_exceptions

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base


def _response(status: int, body: bytes) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.reason = "reason"
    return resp


class WorkloadmgrApiTests(base.TestCase):
    @mock.patch.object(requests, "request")
    def test_list_uses_catalog_url_and_token(self, request: mock.Mock) -> None:
        request.return_value = _response(
            200, b'{"workloads": [{"id": "w", "name": "n", "status": "available"}]}'
        )
        found = workloadmgr.workload_list(self.request, all_projects=True)
        self.assertEqual(["w"], [w.id for w in found])
        method, url = request.call_args.args
        self.assertEqual(("GET", base.WORKLOADS_URL + "/workloads/detail"), (method, url))
        self.assertEqual({"all_workloads": "true"}, request.call_args.kwargs["params"])
        self.assertEqual(self.token.id, request.call_args.kwargs["headers"]["X-Auth-Token"])

    @mock.patch.object(requests, "request")
    def test_snapshot_full_and_restore_bodies(self, request: mock.Mock) -> None:
        request.return_value = _response(202, b'{"snapshot": {"id": "s", "status": "queued"}}')
        workloadmgr.workload_snapshot(self.request, "w", full=True, name="n")
        self.assertEqual({"full": "1"}, request.call_args.kwargs["params"])
        request.return_value = _response(202, b'{"restore": {"id": "r", "status": "queued"}}')
        workloadmgr.restore_create(self.request, "s", "oneclick", name="x")
        options = request.call_args.kwargs["json"]["restore"]["options"]
        self.assertEqual("oneclick", options["restore_type"])
        self.assertEqual((True, "openstack"), (options["oneclickrestore"], options["type"]))

    @mock.patch.object(requests, "request")
    def test_error_message_of_the_api_is_kept(self, request: mock.Mock) -> None:
        request.return_value = _response(409, b'{"conflictingRequest": {"code": 409, "message": "Busy"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrError) as ctx:
            workloadmgr.workload_delete(self.request, "w")
        self.assertEqual("Busy (HTTP 409)", str(ctx.exception))
        self.assertIsInstance(ctx.exception, horizon_exceptions.HorizonException)

    @mock.patch.object(requests, "request")
    def test_not_found_and_unauthorized(self, request: mock.Mock) -> None:
        request.return_value = _response(404, b'{"itemNotFound": {"code": 404, "message": "No such"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrNotFound):
            workloadmgr.snapshot_get(self.request, "s")
        request.return_value = _response(401, b"not json")
        with self.assertRaises(horizon_exceptions.NotAuthorized):
            workloadmgr.snapshot_get(self.request, "s")

    @mock.patch.object(requests, "request")
    def test_unreachable_service(self, request: mock.Mock) -> None:
        request.side_effect = requests.ConnectionError("refused")
        with self.assertRaises(workloadmgr.WorkloadmgrError) as ctx:
            workloadmgr.setting_list(self.request)
        self.assertIn("does not answer", str(ctx.exception))

    @mock.patch.object(requests, "request")
    def test_empty_body_is_none(self, request: mock.Mock) -> None:
        request.return_value = _response(202, b"")
        self.assertIsNone(workloadmgr.call(self.request, "DELETE", "/restores/r"))

    @mock.patch.object(requests, "request")
    def test_settings_and_scheduler(self, request: mock.Mock) -> None:
        request.return_value = _response(200, b'{"global_job_scheduler": false}')
        self.assertFalse(workloadmgr.global_scheduler_set(self.request, False))
        self.assertTrue(request.call_args.args[1].endswith("/global_job_scheduler/disable"))
        request.return_value = _response(200, b'{"settings": [{"name": "a", "value": "1"}]}')
        workloadmgr.setting_set(self.request, "a", "1")
        self.assertEqual("PUT", request.call_args.args[0])
        self.assertEqual("a", workloadmgr.setting_list(self.request)[0].id)

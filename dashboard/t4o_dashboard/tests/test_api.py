"""The API module: URLs from the catalog, the user's token, and errors turned into Horizon exceptions."""

from __future__ import annotations

import json
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
        self.assertEqual("Busy", str(ctx.exception))
        self.assertEqual(409, ctx.exception.status)
        self.assertIsInstance(ctx.exception, horizon_exceptions.HorizonException)

    @mock.patch.object(requests, "request")
    def test_quota_refusal_names_the_users_project_and_a_server_fault_its_code(
        self, request: mock.Mock
    ) -> None:
        project = self.request.user.project_id
        self.request.user.project_name = "demo"
        text = f"Quota exceeded: project {project} may have 2 Snapshots; it has 2 and this request adds 1."
        body = json.dumps({"forbidden": {"code": 403, "message": text}}).encode()
        request.return_value = _response(403, body)
        with self.assertRaises(workloadmgr.WorkloadmgrError) as ctx:
            workloadmgr.workload_snapshot(self.request, "w", full=False)
        expected = "Quota exceeded: project demo may have 2 Snapshots; it has 2 "
        self.assertEqual(expected + "and this request adds 1.", str(ctx.exception))
        request.return_value = _response(500, b'{"computeFault": {"code": 500, "message": "Boom"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrError) as ctx:
            workloadmgr.workload_delete(self.request, "w")
        self.assertEqual("Boom (HTTP 500)", str(ctx.exception))

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

    @mock.patch.object(requests, "request")
    def test_settings_follow_next_links_by_name(self, request: mock.Mock) -> None:
        link = b'"settings_links": [{"rel": "next", "href": "http://x/v1/p/settings?limit=1&marker=a"}]'
        request.side_effect = [
            _response(200, b'{"settings": [{"name": "a", "value": "1"}], %s}' % link),
            _response(200, b'{"settings": [{"name": "b", "value": "2"}]}'),
        ]
        self.assertEqual(["a", "b"], [s.id for s in workloadmgr.setting_list(self.request)])
        self.assertEqual({"limit": "1", "marker": "a"}, request.call_args.kwargs["params"])

    @mock.patch.object(requests, "request")
    def test_lists_follow_next_links(self, request: mock.Mock) -> None:
        nxt = b"http://proxy.example/v1/project/snapshots/detail?workload_id=w&limit=1&marker=s1"
        first = b'{"snapshots": [{"id": "s1"}], "snapshots_links": [{"rel": "next", "href": "%s"}]}' % nxt
        request.side_effect = [_response(200, first), _response(200, b'{"snapshots": [{"id": "s2"}]}')]
        found = workloadmgr.snapshot_list(self.request, workload_id="w")
        self.assertEqual(["s1", "s2"], [s.id for s in found])
        second = request.call_args_list[1]
        # The catalog's URL with the link's query: a proxy's host in the link is not trusted.
        self.assertEqual(base.WORKLOADS_URL + "/snapshots/detail", second.args[1])
        self.assertEqual({"workload_id": "w", "limit": "1", "marker": "s1"}, second.kwargs["params"])

    @mock.patch.object(requests, "request")
    def test_a_link_loop_ends_in_an_error(self, request: mock.Mock) -> None:
        looping = b'{"restores": [], "restores_links": [{"rel": "next", "href": "http://x/r?marker=a"}]}'
        request.side_effect = lambda *a, **k: _response(200, looping)
        with self.assertRaises(workloadmgr.WorkloadmgrError):
            workloadmgr.restore_list(self.request)
        self.assertEqual(workloadmgr.MAX_PAGES + 1, request.call_count)

    @mock.patch.object(requests, "request")
    def test_policy_calls(self, request: mock.Mock) -> None:
        request.return_value = _response(200, b'{"policy": {"id": "p", "name": "gold", "field_values": {}}}')
        workloadmgr.policy_create(self.request, "gold", "d", {"interval": "4 hr"})
        self.assertEqual(("POST", base.WORKLOADS_URL + "/workload_policy/"), request.call_args.args)
        self.assertEqual(
            {"workload_policy": {"display_name": "gold", "display_description": "d",
                                 "field_values": {"interval": "4 hr"}}},
            request.call_args.kwargs["json"],
        )  # fmt: skip
        policy = workloadmgr.policy_assign(self.request, "p", ["a"], ["b"])
        self.assertIsNone(policy.projects)  # the answer did not name them
        self.assertTrue(request.call_args.args[1].endswith("/workload_policy/p/assign"))
        self.assertEqual(
            {"policy": {"add_projects": ["a"], "remove_projects": ["b"]}}, request.call_args.kwargs["json"]
        )
        request.return_value = _response(
            200, b'{"policy_list": [{"id": "p", "name": "g", "project_list": []}]}'
        )
        self.assertEqual([[]], [p.projects for p in workloadmgr.policy_list(self.request)])

    @mock.patch.object(requests, "request")
    def test_quota_and_node_calls(self, request: mock.Mock) -> None:
        request.return_value = _response(200, b'{"allowed_quotas": [{"id": "q", "quota_type_id": "t"}]}')
        items = [{"quota_type_id": "t", "allowed_value": 5, "high_watermark": 4}]
        self.assertEqual(["q"], [q.id for q in workloadmgr.quota_set(self.request, "proj", items)])
        self.assertEqual(
            ("POST", base.WORKLOADS_URL + "/project_allowed_quotas/proj"), request.call_args.args
        )
        self.assertEqual({"allowed_quotas": items}, request.call_args.kwargs["json"])
        request.return_value = _response(
            200,
            b'{"metrics": {"nodes": [{"host": "h", "binary": "workloadmgr-workloads", "state": "up",'
            b' "disabled": false}]}}',
        )
        self.assertEqual(["workloadmgr-workloads@h"], [n.id for n in workloadmgr.node_list(self.request)])
        self.assertEqual({"limit": 1}, request.call_args.kwargs["params"])
        request.return_value = _response(
            200, b'{"node": {"host": "h/1", "binary": "b", "state": "up", "disabled": true}}'
        )
        workloadmgr.node_set_disabled(self.request, "h/1", True)
        self.assertEqual(("PUT", base.WORKLOADS_URL + "/t4o_nodes/h%2F1"), request.call_args.args)
        self.assertEqual({"node": {"disabled": True}}, request.call_args.kwargs["json"])

    @mock.patch.object(requests, "request")
    def test_import_calls(self, request: mock.Mock) -> None:
        request.return_value = _response(
            200,
            b'{"workloads": [{"id": "w", "name": "n", "project_id": "p", "snapshots": 2,'
            b' "in_database": false}]}',
        )
        self.assertEqual([("w", 2)], [(w.id, w.snapshots) for w in workloadmgr.importable_list(self.request)])
        self.assertEqual(
            ("GET", base.WORKLOADS_URL + "/workloads/get_list/import_workloads"), request.call_args.args
        )
        request.return_value = _response(
            200,
            b'{"workloads": {"imported_workloads": [{"id": "w", "snapshots": ["s"]}],'
            b' "updated_workloads": [], "unchanged_workloads": [{"id": "v"}], "failed_workloads": []}}',
        )
        found = workloadmgr.import_workloads(self.request, ["w", "v"])
        self.assertEqual(("POST", base.WORKLOADS_URL + "/workloads/import_workloads"), request.call_args.args)
        self.assertEqual({"workload_ids": ["w", "v"]}, request.call_args.kwargs["json"])
        self.assertEqual(
            (["w"], ["v"]), ([w["id"] for w in found["imported"]], [w["id"] for w in found["unchanged"]])
        )
        workloadmgr.import_workloads(self.request)
        self.assertEqual({}, request.call_args.kwargs["json"])  # every workload on the target

    @mock.patch.object(requests, "request")
    def test_orphan_and_reassign_calls(self, request: mock.Mock) -> None:
        request.return_value = _response(200, b'{"workloads": [{"id": "w", "missing": ["project"]}]}')
        self.assertEqual([["project"]], [w.missing for w in workloadmgr.orphan_list(self.request)])
        self.assertEqual(("GET", base.WORKLOADS_URL + "/workloads/orphan_workloads"), request.call_args.args)
        self.assertIsNone(request.call_args.kwargs["params"])
        workloadmgr.orphan_list(self.request, migrate_cloud=True)
        self.assertEqual({"migrate_cloud": "True"}, request.call_args.kwargs["params"])
        request.return_value = _response(
            200,
            b'{"workloads": {"reassigned_workloads": [{"id": "w", "project_id": "new", "user_id": "u"}]}}',
        )
        moved = workloadmgr.reassign_workloads(self.request, ["w"], "new", "u")
        self.assertEqual(["new"], [m["project_id"] for m in moved])
        self.assertEqual(
            ("POST", base.WORKLOADS_URL + "/workloads/reassign_workloads"), request.call_args.args
        )
        self.assertEqual(
            {"workload_ids": ["w"], "new_tenant_id": "new", "user_id": "u"}, request.call_args.kwargs["json"]
        )
        workloadmgr.reassign_workloads(self.request, [], project_map={"old": "new"})
        self.assertEqual({"project_map": {"old": "new"}}, request.call_args.kwargs["json"])

"""Views and forms of the Backups-Admin Quotas and Nodes panels."""

from __future__ import annotations

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

QUOTAS = reverse("horizon:admin:backup_quotas:index")
NODES = reverse("horizon:admin:backup_nodes:index")
WORKLOADS_T = "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0001"
SNAPSHOTS_T = "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0002"
STORAGE_T = "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0005"
TYPES = [
    workloadmgr.QuotaType({"id": WORKLOADS_T, "display_name": "Workloads"}),
    workloadmgr.QuotaType({"id": SNAPSHOTS_T, "display_name": "Snapshots"}),
    workloadmgr.QuotaType({"id": STORAGE_T, "display_name": "Storage"}),
]
GIB = 1024**3


def _key(type_id: str) -> str:
    return type_id.replace("-", "_")


def quota(qid: str, type_id: str, allowed: int, high: int, usage: int) -> workloadmgr.Quota:
    return workloadmgr.Quota(
        {
            "id": qid,
            "project_id": "p",
            "quota_type_id": type_id,
            "allowed_value": allowed,
            "high_watermark": high,
            "usage": usage,
        }
    )


class QuotaViewTests(base.AdminTestCase):
    @helpers.create_mocks({os_api.keystone: ("tenant_list",)})
    def test_index_lists_projects(self) -> None:
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(QUOTAS)
        for project in self.tenants.list():
            self.assertContains(res, project.name)
        project = self.tenants.first()
        self.assertContains(res, reverse("horizon:admin:backup_quotas:update", args=[project.id]))

    @helpers.create_mocks({workloadmgr: ("quota_type_list", "quota_list"), os_api.keystone: ("tenant_get",)})
    def test_detail_shows_limits_with_usage(self) -> None:
        project = self.tenants.first()
        self.mock_tenant_get.return_value = project
        self.mock_quota_type_list.return_value = TYPES
        self.mock_quota_list.return_value = [
            quota("q1", WORKLOADS_T, 4, 3, 1),
            quota("q3", STORAGE_T, 10 * GIB, 8 * GIB, 5 * GIB),
        ]
        res = self.client.get(reverse("horizon:admin:backup_quotas:detail", args=[project.id]))
        rows = {r.name: r for r in res.context["table"].data}
        self.assertEqual(
            (4, 3, 1), (rows["Workloads"].allowed, rows["Workloads"].high, rows["Workloads"].usage)
        )
        self.assertIsNone(rows["Snapshots"].allowed)
        self.assertContains(res, "1 (25%)")
        self.assertContains(res, "5.0 GiB (50%)")  # IEC, as everywhere
        self.assertContains(res, "Not set (unlimited)")
        self.assertContains(res, project.name)
        self.mock_quota_list.assert_called_once_with(helpers.IsHttpRequest(), project.id)

    @helpers.create_mocks({workloadmgr: ("quota_type_list",), os_api.keystone: ("tenant_get",)})
    def test_detail_error_redirects_with_a_message(self) -> None:
        self.mock_quota_type_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(reverse("horizon:admin:backup_quotas:detail", args=["p"]))
        self.assertRedirectsNoFollow(res, QUOTAS)
        self.assertMessageCount(error=1)


class QuotaFormTests(base.AdminTestCase):
    url = reverse("horizon:admin:backup_quotas:update", args=["p"])
    detail = reverse("horizon:admin:backup_quotas:detail", args=["p"])

    def _current(self) -> None:
        self.mock_quota_type_list.return_value = TYPES
        self.mock_quota_list.return_value = [
            quota("q1", WORKLOADS_T, 4, 3, 1),
            quota("q2", SNAPSHOTS_T, 20, 20, 2),
            quota("q3", STORAGE_T, 10 * GIB, 8 * GIB, 0),
        ]

    @helpers.create_mocks({workloadmgr: ("quota_type_list", "quota_list", "quota_set", "quota_delete")})
    def test_sets_what_changed_and_removes_what_was_emptied(self) -> None:
        self._current()
        res = self.client.get(self.url)
        form = res.context["form"]
        self.assertEqual(10, form.fields[f"allowed_{_key(STORAGE_T)}"].initial)  # GiB
        self.assertContains(res, "Storage allowed (GiB)")
        self.assertEqual(self.detail, res.context["cancel_url"])
        post = {
            "project_id": "p",
            f"allowed_{_key(WORKLOADS_T)}": "6",  # changed; no watermark: the allowed value
            f"allowed_{_key(SNAPSHOTS_T)}": "",  # emptied: removed
            f"allowed_{_key(STORAGE_T)}": "10",  # unchanged: not sent
            f"high_{_key(STORAGE_T)}": "8",
        }
        res = self.client.post(self.url, post)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, self.detail)
        self.mock_quota_set.assert_called_once_with(
            helpers.IsHttpRequest(),
            "p",
            [{"quota_type_id": WORKLOADS_T, "allowed_value": 6, "high_watermark": 6}],
        )
        self.mock_quota_delete.assert_called_once_with(helpers.IsHttpRequest(), "q2")

    @helpers.create_mocks({workloadmgr: ("quota_type_list", "quota_list", "quota_set")})
    def test_storage_is_sent_in_bytes_and_minus_one_is_unlimited(self) -> None:
        self.mock_quota_type_list.return_value = TYPES
        self.mock_quota_list.return_value = []
        post = {
            "project_id": "p",
            f"allowed_{_key(STORAGE_T)}": "1.5",
            f"high_{_key(STORAGE_T)}": "1",
            f"allowed_{_key(SNAPSHOTS_T)}": "-1",
        }
        res = self.client.post(self.url, post)
        self.assertNoFormErrors(res)
        sent = self.mock_quota_set.call_args.args[2]
        self.assertEqual(
            [
                {"quota_type_id": SNAPSHOTS_T, "allowed_value": -1, "high_watermark": -1},
                {"quota_type_id": STORAGE_T, "allowed_value": 3 * GIB // 2, "high_watermark": GIB},
            ],
            sent,
        )

    @helpers.create_mocks({workloadmgr: ("quota_type_list", "quota_list")})
    def test_watermark_above_allowed_and_watermark_alone_are_refused(self) -> None:
        self._current()
        post = {
            "project_id": "p",
            f"allowed_{_key(WORKLOADS_T)}": "2",
            f"high_{_key(WORKLOADS_T)}": "3",
            f"high_{_key(SNAPSHOTS_T)}": "5",
            f"allowed_{_key(STORAGE_T)}": "-2",
        }
        res = self.client.post(self.url, post)
        self.assertFormErrors(res, 3)
        self.assertContains(res, "The high watermark cannot exceed the allowed value.")
        self.assertContains(res, "Set the allowed value too, or empty both.")

    @helpers.create_mocks({workloadmgr: ("quota_type_list", "quota_list", "quota_set")})
    def test_refused_by_the_api_shows_its_message(self) -> None:
        self._current()
        self.mock_quota_set.side_effect = data.api_error("Only an admin may set project quotas", 403)
        post = {"project_id": "p", f"allowed_{_key(WORKLOADS_T)}": "9", f"allowed_{_key(SNAPSHOTS_T)}": "20",
                f"allowed_{_key(STORAGE_T)}": "10", f"high_{_key(STORAGE_T)}": "8"}  # fmt: skip
        res = self.client.post(self.url, post)
        self.assertRedirectsNoFollow(res, self.detail)
        self.assertMessageCount(error=1)


def node(host: str, binary: str, state: str = "up", disabled: bool = False) -> workloadmgr.Node:
    return workloadmgr.Node(
        {
            "host": host,
            "binary": binary,
            "state": state,
            "disabled": disabled,
            "last_heartbeat": "2026-11-26T09:00:00",
        }
    )


class NodeTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("node_list",)})
    def test_lists_nodes_with_state_and_actions_for_workers_only(self) -> None:
        self.mock_node_list.return_value = [
            node("n1", "workloadmgr-workloads"),
            node("n2", "workloadmgr-workloads", state="down", disabled=True),
            node("n1", "workloadmgr-api"),
        ]
        res = self.client.get(NODES)
        html = res.content.decode()
        self.assertIn("nodes__row_workloadmgr-workloads@n1__action_disable", html)
        self.assertNotIn("nodes__row_workloadmgr-workloads@n1__action_enable", html)
        self.assertIn("nodes__row_workloadmgr-workloads@n2__action_enable", html)
        self.assertNotIn("nodes__row_workloadmgr-api@n1__action_disable", html)
        self.assertContains(res, "Down")
        self.assertContains(res, "Disabled")
        self.assertContains(res, "2026-11-26 09:00:00")  # the heartbeat, without ISO's T
        self.assertEqual(3, len(res.context["table"].data))

    @helpers.create_mocks({workloadmgr: ("node_list", "node_set_disabled")})
    def test_disable_and_enable(self) -> None:
        self.mock_node_list.return_value = [
            node("n1", "workloadmgr-workloads"),
            node("n2", "workloadmgr-workloads", disabled=True),
        ]
        res = self.client.post(NODES, {"action": "nodes__disable__workloadmgr-workloads@n1"})
        self.assertRedirectsNoFollow(res, NODES)
        res = self.client.post(NODES, {"action": "nodes__enable__workloadmgr-workloads@n2"})
        self.assertRedirectsNoFollow(res, NODES)
        self.assertEqual(
            [((helpers.IsHttpRequest(), "n1", True),), ((helpers.IsHttpRequest(), "n2", False),)],
            [(c.args,) for c in self.mock_node_set_disabled.call_args_list],
        )

    @helpers.create_mocks({workloadmgr: ("node_list", "node_set_disabled")})
    def test_disable_refused_shows_the_api_message(self) -> None:
        self.mock_node_list.return_value = [node("n1", "workloadmgr-workloads")]
        self.mock_node_set_disabled.side_effect = data.api_error("No workloadmgr-workloads service", 404)
        res = self.client.post(NODES, {"action": "nodes__disable__workloadmgr-workloads@n1"})
        self.assertRedirectsNoFollow(res, NODES)
        self.assertMessageCount(error=1)

    @helpers.create_mocks({workloadmgr: ("node_list",)})
    def test_error_is_a_message(self) -> None:
        self.mock_node_list.side_effect = data.api_error("Only an admin may read the cloud's metrics", 403)
        res = self.client.get(NODES)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)


class ProjectUserSeesNoQuotaOrNodePanel(base.TestCase):
    def test_member_is_refused(self) -> None:
        self.assertEqual(403, self.client.get(QUOTAS).status_code)
        self.assertEqual(403, self.client.get(NODES).status_code)

"""Views and forms of the Backups-Admin Workload Policies panel."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

INDEX = reverse("horizon:admin:backup_policies:index")
CREATE = reverse("horizon:admin:backup_policies:create")
UPDATE = reverse("horizon:admin:backup_policies:update", args=["po-1"])
ASSIGN = reverse("horizon:admin:backup_policies:assign", args=["po-1"])
FIELDS_POST = {
    "interval": "4 hr",
    "retention_policy_type": "Number of Snapshots to Keep",
    "retention_policy_value": "7",
    "fullbackup_interval": "6",
}
FIELD_VALUES = {
    "interval": "4 hr",
    "retention_policy_type": "Number of Snapshots to Keep",
    "retention_policy_value": 7,
    "fullbackup_interval": 6,
}


def policy(pid: str = "po-1", projects: list[str] | None = None, **extra: Any) -> workloadmgr.Policy:
    body: dict[str, Any] = {
        "id": pid,
        "name": f"gold-{pid}",
        "display_name": f"gold-{pid}",
        "display_description": "4-hourly, keep 7",
        "field_values": {**FIELD_VALUES, "retention_policy_value": "7"},
        "metadata": {},
        **extra,
    }
    if projects is not None:
        body["project_list"] = projects
    return workloadmgr.Policy(body)


class PolicyIndexTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("policy_list", "policy_get"), os_api.keystone: ("tenant_list",)})
    def test_lists_policies_with_their_projects(self) -> None:
        project = self.tenants.first()
        self.mock_policy_list.return_value = [policy("po-1"), policy("po-2", projects=[])]
        self.mock_policy_get.return_value = policy("po-1", projects=[project.id, "gone-project"])
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(INDEX)
        self.assertTemplateUsed(res, "horizon/common/_data_table_view.html")
        rows = {p.id: p for p in res.context["table"].data}
        self.assertEqual(sorted([project.name, "gone-project"]), rows["po-1"].project_names)
        self.assertEqual([], rows["po-2"].project_names)
        self.assertContains(res, "7 snapshots")
        self.assertContains(res, "every 6 snapshots")
        self.assertContains(res, "Assign to Projects")
        # Only the policy whose list entry does not name its projects is read again.
        self.mock_policy_get.assert_called_once_with(helpers.IsHttpRequest(), "po-1")

    @helpers.create_mocks({workloadmgr: ("policy_list",)})
    def test_error_is_a_message(self) -> None:
        self.mock_policy_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(INDEX)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("policy_list", "policy_delete")})
    def test_delete(self) -> None:
        self.mock_policy_list.return_value = [policy(projects=[])]
        res = self.client.post(INDEX, {"action": "policies__delete__po-1"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_policy_delete.assert_called_once_with(helpers.IsHttpRequest(), "po-1")

    @helpers.create_mocks({workloadmgr: ("policy_list", "policy_delete")})
    def test_delete_of_a_used_policy_shows_the_api_message(self) -> None:
        self.mock_policy_list.return_value = [policy(projects=[])]
        self.mock_policy_delete.side_effect = data.api_error("Workloads follow policy gold", 409)
        res = self.client.post(INDEX, {"action": "policies__delete__po-1"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class PolicyFormTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("policy_create",)})
    def test_create_sends_the_schedule_fields(self) -> None:
        self.mock_policy_create.return_value = policy()
        self.assertEqual(200, self.client.get(CREATE).status_code)
        res = self.client.post(CREATE, {"name": "gold", "description": "d", **FIELDS_POST})
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_policy_create.assert_called_once_with(helpers.IsHttpRequest(), "gold", "d", FIELD_VALUES)

    def test_create_rejects_bad_values(self) -> None:
        res = self.client.post(CREATE, {"name": "", **FIELDS_POST, "retention_policy_value": "0"})
        self.assertFormErrors(res, 2)

    @helpers.create_mocks({workloadmgr: ("policy_create",)})
    def test_create_refused_shows_the_api_message(self) -> None:
        self.mock_policy_create.side_effect = data.api_error(
            "Only an admin may create workload policies", 403
        )
        res = self.client.post(CREATE, {"name": "gold", **FIELDS_POST})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)

    @helpers.create_mocks({workloadmgr: ("policy_create",)})
    def test_a_name_another_policy_has_shows_on_the_name(self) -> None:
        text = "A workload policy named 'gold' exists already; choose another name."
        self.mock_policy_create.side_effect = data.api_error(text, 409)
        res = self.client.post(CREATE, {"name": "Gold", **FIELDS_POST})
        self.assertEqual(200, res.status_code)  # the form again, with what was typed
        self.assertEqual([text], res.context["form"].errors["name"])
        self.assertContains(res, 'value="Gold"')

    @helpers.create_mocks({workloadmgr: ("policy_get", "policy_update")})
    def test_edit_is_filled_from_the_policy_and_saves(self) -> None:
        self.mock_policy_get.return_value = policy(projects=[])
        self.mock_policy_update.return_value = policy()
        res = self.client.get(UPDATE)
        initial = res.context["form"].initial
        self.assertEqual(
            ("gold-po-1", "4 hr", "7"),
            (initial["name"], initial["interval"], initial["retention_policy_value"]),
        )
        post = {"policy_id": "po-1", "name": "silver", "description": "", **FIELDS_POST, "interval": "12 hr"}
        res = self.client.post(UPDATE, post)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_policy_update.assert_called_once_with(
            helpers.IsHttpRequest(), "po-1", "silver", "", {**FIELD_VALUES, "interval": "12 hr"}
        )

    @helpers.create_mocks({workloadmgr: ("policy_get",)})
    def test_edit_of_a_missing_policy_redirects_with_a_message(self) -> None:
        self.mock_policy_get.side_effect = workloadmgr.WorkloadmgrNotFound("No such policy", 404)
        res = self.client.get(UPDATE)
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class PolicyAssignTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("policy_get", "policy_assign"), os_api.keystone: ("tenant_list",)})
    def test_assign_sends_what_was_added_and_removed(self) -> None:
        first, second, third = self.tenants.list()[:3]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_policy_get.return_value = policy(projects=[first.id, second.id])
        self.mock_policy_assign.return_value = policy(projects=[first.id, third.id])
        res = self.client.get(ASSIGN)
        self.assertEqual([first.id, second.id], res.context["form"].initial["projects"])
        self.assertContains(res, third.name)
        res = self.client.post(ASSIGN, {"policy_id": "po-1", "projects": [first.id, third.id]})
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_policy_assign.assert_called_once_with(
            helpers.IsHttpRequest(), "po-1", [third.id], [second.id]
        )

    @helpers.create_mocks({workloadmgr: ("policy_get", "policy_assign"), os_api.keystone: ("tenant_list",)})
    def test_a_project_keystone_forgot_can_still_be_unassigned(self) -> None:
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_policy_get.return_value = policy(projects=["gone-project"])
        self.mock_policy_assign.return_value = policy(projects=[])
        res = self.client.get(ASSIGN)
        self.assertContains(res, "gone-project (not found)")
        res = self.client.post(ASSIGN, {"policy_id": "po-1"})
        self.assertNoFormErrors(res)
        self.mock_policy_assign.assert_called_once_with(helpers.IsHttpRequest(), "po-1", [], ["gone-project"])

    @helpers.create_mocks({workloadmgr: ("policy_get", "policy_assign"), os_api.keystone: ("tenant_list",)})
    def test_assign_refused_shows_the_api_message(self) -> None:
        project = self.tenants.first()
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_policy_get.return_value = policy(projects=[])
        self.mock_policy_assign.side_effect = data.api_error(
            "Only an admin may assign workload policies", 403
        )
        res = self.client.post(ASSIGN, {"policy_id": "po-1", "projects": [project.id]})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class ProjectUserSeesNoPolicyPanel(base.TestCase):
    def test_member_is_refused(self) -> None:
        self.assertEqual(403, self.client.get(INDEX).status_code)

"""Views, tables and the reassign form of the Backups-Admin Import & Migration panel."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from keystoneclient.v3 import role_assignments
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content.admin_import import forms as import_forms
from t4o_dashboard.tests import base, data

INDEX = reverse("horizon:admin:backup_import:index")
REASSIGN = reverse("horizon:admin:backup_import:reassign")


def target(wid: str = "wl-1", in_database: bool = False, **extra: Any) -> workloadmgr.TargetWorkload:
    return workloadmgr.TargetWorkload(
        {
            "id": wid,
            "name": f"name-{wid}",
            "description": "",
            "project_id": data.PROJECT,
            "user_id": "u-1",
            "snapshots": 3,
            "vms": [data.VM1],
            "in_database": in_database,
            "deleted_in_database": False,
            **extra,
        }
    )


def report(**lists: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {key: lists.get(key, []) for key in ("imported", "updated", "unchanged", "failed")}


def assignment(user_id: str, user_name: str, project_id: str) -> Any:
    body = {
        "user": {"id": user_id, "name": user_name},
        "role": {"id": "r"},
        "scope": {"project": {"id": project_id}},
    }
    return role_assignments.RoleAssignment(role_assignments.RoleAssignmentManager, body)


def messages_of(res: Any) -> list[str]:
    """The page's messages; Horizon shows the part after "\u2026" as the message's details."""
    return [str(m).split("\u2026")[0] for m in res.context["messages"]] if res.context else []


class ImportIndexTests(base.AdminTestCase):
    @helpers.create_mocks(
        {
            workloadmgr: ("importable_list", "orphan_list"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_lists_target_workloads_and_orphans(self) -> None:
        project = self.tenants.first()
        self.mock_importable_list.return_value = [
            target("wl-1", in_database=True, project_id=project.id, last_snapshot_at="2026-11-27T07:00:00Z"),
            target("wl-2", project_id="gone-project", last_snapshot_at=None),
        ]
        self.mock_orphan_list.return_value = [target("wl-2", project_id="gone-project", missing=["project"])]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(INDEX)
        self.assertTemplateUsed(res, "t4o_dashboard/admin_import.html")
        rows = {w.id: w for w in res.context["importable_table"].data}
        self.assertEqual("2026-11-27T07:00:00Z", rows["wl-1"].last_snapshot)
        self.assertIsNone(rows["wl-2"].last_snapshot)
        self.assertEqual(project.name, rows["wl-1"].project_name)
        self.assertContains(res, "2026-11-27 07:00:00")
        self.assertContains(res, "Import All")
        # Rows can be ticked for Import Selected and Reassign Selected.
        self.assertContains(res, 'name="object_ids"', count=3)
        self.assertEqual(["wl-2"], [w.id for w in res.context["orphans_table"].data])
        self.assertContains(res, "Missing in Keystone")
        self.assertContains(res, f"{REASSIGN}?workload_ids=wl-2")
        self.mock_orphan_list.assert_called_once_with(helpers.IsHttpRequest(), migrate_cloud=False)

    @helpers.create_mocks(
        {workloadmgr: ("importable_list", "orphan_list"), os_api.keystone: ("tenant_list",)}
    )
    def test_cloud_migration_lists_every_workload_as_orphan(self) -> None:
        self.mock_importable_list.return_value = []
        self.mock_orphan_list.return_value = [target("wl-9")]
        res = self.client.get(INDEX + "?migrate_cloud=1")
        self.assertEqual(200, res.status_code)
        self.mock_orphan_list.assert_called_once_with(helpers.IsHttpRequest(), migrate_cloud=True)
        self.assertContains(res, "Show Orphans Only")
        self.assertNotContains(res, "Show All (Cloud Migration)")

    @helpers.create_mocks({workloadmgr: ("importable_list", "orphan_list")})
    def test_errors_are_messages_with_the_api_text(self) -> None:
        self.mock_importable_list.side_effect = data.api_error("The backup target cannot be read: gone", 409)
        self.mock_orphan_list.side_effect = data.api_error("The cloud driver cannot look up projects", 400)
        res = self.client.get(INDEX)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=2)
        texts = messages_of(res)
        self.assertIn("The backup target cannot be read: gone", texts)
        self.assertIn("The cloud driver cannot look up projects", texts)


class ImportActionTests(base.AdminTestCase):
    def _index_mocks(self) -> None:
        self.mock_importable_list.return_value = [target("wl-1"), target("wl-2")]
        self.mock_orphan_list.return_value = []
        self.mock_tenant_list.return_value = (self.tenants.list(), False)

    @helpers.create_mocks(
        {
            workloadmgr: ("importable_list", "orphan_list", "import_workloads"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_row_action_imports_one_and_reports(self) -> None:
        self._index_mocks()
        self.mock_import_workloads.return_value = report(
            imported=[{"id": "wl-1", "name": "name-wl-1", "snapshots": ["s1", "s2"]}]
        )
        res = self.client.post(INDEX, {"action": "importable__import__wl-1"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_import_workloads.assert_called_once_with(helpers.IsHttpRequest(), ["wl-1"])
        self.assertMessageCount(success=1)

    @helpers.create_mocks(
        {
            workloadmgr: ("importable_list", "orphan_list", "import_workloads"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_selected_are_imported_in_one_request(self) -> None:
        self._index_mocks()
        self.mock_import_workloads.return_value = report(
            updated=[{"id": "wl-1", "name": "name-wl-1", "snapshots": ["s3"]}],
            unchanged=[{"id": "wl-2", "name": "name-wl-2", "snapshots": []}],
        )
        res = self.client.post(INDEX, {"action": "importable__import", "object_ids": ["wl-1", "wl-2"]})
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_import_workloads.assert_called_once_with(helpers.IsHttpRequest(), ["wl-1", "wl-2"])
        self.assertMessageCount(success=1, info=1)

    @helpers.create_mocks(
        {
            workloadmgr: ("importable_list", "orphan_list", "import_workloads"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_import_all_sends_no_ids_and_shows_failures(self) -> None:
        self._index_mocks()
        self.mock_import_workloads.return_value = report(
            imported=[{"id": "wl-1", "name": "name-wl-1", "snapshots": []}],
            failed=[{"id": "wl-2", "error": "Upgrade T4O before importing"}],
        )
        res = self.client.post(INDEX, {"action": "importable__import_all"}, follow=True)
        self.mock_import_workloads.assert_called_once_with(helpers.IsHttpRequest(), None)
        texts = messages_of(res)
        self.assertIn("Imported 1 workload with 0 snapshot(s): name-wl-1.", texts)
        self.assertIn("Workload wl-2 was not imported: Upgrade T4O before importing", texts)

    @helpers.create_mocks(
        {
            workloadmgr: ("importable_list", "orphan_list", "import_workloads"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_refused_import_shows_the_api_message(self) -> None:
        self._index_mocks()
        self.mock_import_workloads.side_effect = data.api_error("Not allowed by policy", 403)
        res = self.client.post(INDEX, {"action": "importable__import_all"}, follow=True)
        self.assertEqual(200, res.status_code)
        self.assertIn("Not allowed by policy", messages_of(res))

    @helpers.create_mocks({workloadmgr: ("importable_list", "orphan_list")})
    def test_reassign_selected_opens_the_form_with_them(self) -> None:
        self.mock_importable_list.return_value = []
        self.mock_orphan_list.return_value = [target("wl-1"), target("wl-2")]
        res = self.client.post(
            INDEX, {"action": "orphans__reassign_selected", "object_ids": ["wl-1", "wl-2"]}
        )
        self.assertRedirectsNoFollow(res, REASSIGN + "?workload_ids=wl-1%2Cwl-2")


class ReassignFormTests(base.AdminTestCase):
    def _keystone(self) -> tuple[Any, Any]:
        first, second = self.tenants.list()[:2]
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_role_assignments_list.return_value = [
            assignment("u-a", "alice", first.id),
            assignment("u-b", "bob", second.id),
        ]
        return first, second

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_to_a_project_and_one_of_its_users(self) -> None:
        first, _second = self._keystone()
        self.mock_reassign_workloads.return_value = [
            {"id": "wl-1", "name": "erp", "old_project_id": "gone", "project_id": first.id, "user_id": "u-a"}
        ]
        res = self.client.get(REASSIGN + "?workload_ids=wl-1,wl-2")
        form = res.context["form"]
        self.assertEqual("wl-1,wl-2", form.initial["workload_ids"])
        self.assertIn(("u-a", "alice (u-a)"), form.fields[f"user__{first.id}"].choices)
        self.assertContains(res, 'enctype="multipart/form-data"')
        post = {
            "workload_ids": "wl-1,wl-2",
            "mode": "project",
            "project": first.id,
            f"user__{first.id}": "u-a",
        }
        res = self.client.post(REASSIGN, post)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_reassign_workloads.assert_called_once_with(
            helpers.IsHttpRequest(), ["wl-1", "wl-2"], first.id, "u-a"
        )
        self.mock_role_assignments_list.assert_called_with(
            helpers.IsHttpRequest(), effective=True, include_names=True
        )
        self.assertMessageCount(success=1)

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_a_user_of_another_project_is_refused(self) -> None:
        first, _second = self._keystone()
        post = {"workload_ids": "wl-1", "mode": "project", "project": first.id, f"user__{first.id}": "u-b"}
        res = self.client.post(REASSIGN, post)
        self.assertFormErrors(res, 1)
        self.mock_reassign_workloads.assert_not_called()

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_owner_stays_when_no_user_is_chosen(self) -> None:
        first, _second = self._keystone()
        self.mock_reassign_workloads.return_value = [{"id": "wl-1", "project_id": first.id, "user_id": "u-x"}]
        res = self.client.post(REASSIGN, {"workload_ids": "wl-1", "mode": "project", "project": first.id})
        self.assertNoFormErrors(res)
        self.mock_reassign_workloads.assert_called_once_with(
            helpers.IsHttpRequest(), ["wl-1"], first.id, None
        )

    @helpers.create_mocks({os_api.keystone: ("tenant_list", "role_assignments_list")})
    def test_project_and_workloads_are_required(self) -> None:
        first, _second = self._keystone()
        self.assertFormErrors(self.client.post(REASSIGN, {"workload_ids": "wl-1", "mode": "project"}), 1)
        self.assertFormErrors(self.client.post(REASSIGN, {"mode": "project", "project": first.id}), 1)

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_map_in_the_box_by_id_or_name(self) -> None:
        first, second = self._keystone()
        self.mock_reassign_workloads.return_value = [{"id": "wl-1", "project_id": first.id, "user_id": "u"}]
        text = f"# old new\nold-1 {first.id}\nold-2: {second.name}\n"
        res = self.client.post(REASSIGN, {"mode": "map", "project_map": text})
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_reassign_workloads.assert_called_once_with(
            helpers.IsHttpRequest(), [], user_id=None, project_map={"old-1": first.id, "old-2": second.id}
        )

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_uploaded_trilio_map_file_is_one_request_per_mapping(self) -> None:
        first, second = self._keystone()
        self.mock_reassign_workloads.return_value = [{"id": "wl-1", "project_id": first.id, "user_id": "u"}]
        yaml_text = (
            "reassign_mappings:\n"
            f"  - old_tenant_ids: [old-1, old-2]\n    new_tenant_id: {first.id}\n    user_id: u-a\n"
            f"  - old_tenant_ids: [old-3]\n    new_tenant_id: {second.id}\n    workload_ids: [wl-7]\n"
        )
        upload = SimpleUploadedFile("map.yaml", yaml_text.encode(), content_type="application/x-yaml")
        res = self.client.post(REASSIGN, {"mode": "map", "project_map_file": upload})
        self.assertNoFormErrors(res)
        calls = self.mock_reassign_workloads.call_args_list
        self.assertEqual(2, len(calls))
        self.assertEqual(
            {"user_id": "u-a", "project_map": {"old-1": first.id, "old-2": first.id}}, calls[0].kwargs
        )
        self.assertEqual((["wl-7"],), calls[1].args[1:])
        self.assertEqual({"user_id": None, "project_map": {"old-3": second.id}}, calls[1].kwargs)

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_a_failed_mapping_still_reports_what_moved_before(self) -> None:
        first, second = self._keystone()
        self.mock_reassign_workloads.side_effect = [
            [{"id": "wl-1", "name": "erp", "project_id": first.id, "user_id": "u"}],
            data.api_error("The backup target cannot be read: gone", 409),
        ]
        text = (
            f"reassign_mappings:\n  - old_tenant_ids: [a]\n    new_tenant_id: {first.id}\n"
            f"  - old_tenant_ids: [b]\n    new_tenant_id: {second.id}\n"
        )
        res = self.client.post(REASSIGN, {"mode": "map", "project_map": text})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(success=1, error=1)

    @helpers.create_mocks({os_api.keystone: ("tenant_list", "role_assignments_list")})
    def test_bad_maps_are_form_errors(self) -> None:
        self._keystone()
        for text in ("just-one-id", '{"old": ', "old-1 no-such-project", ""):
            res = self.client.post(REASSIGN, {"mode": "map", "project_map": text})
            self.assertFormErrors(res, 1)

    @helpers.create_mocks(
        {workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list", "role_assignments_list")}
    )
    def test_refused_reassign_shows_the_api_message(self) -> None:
        first, _second = self._keystone()
        self.mock_reassign_workloads.side_effect = data.api_error(
            "No listed workload's project is in the map, and no new_tenant_id is given.", 400
        )
        res = self.client.post(REASSIGN, {"workload_ids": "wl-1", "mode": "project", "project": first.id})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class ReassignWithoutKeystoneTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("reassign_workloads",), os_api.keystone: ("tenant_list",)})
    def test_a_map_still_works_when_keystone_cannot_list_projects(self) -> None:
        self.mock_tenant_list.side_effect = self.exceptions.keystone
        self.mock_reassign_workloads.return_value = [{"id": "wl-1", "project_id": "new", "user_id": "u"}]
        res = self.client.get(REASSIGN + "?mode=map")
        self.assertEqual("map", res.context["form"].initial["mode"])
        self.assertContains(res, "cannot be listed now")
        res = self.client.post(REASSIGN, {"mode": "map", "project_map": "old new"})
        self.assertNoFormErrors(res)
        self.mock_reassign_workloads.assert_called_once_with(
            helpers.IsHttpRequest(), [], user_id=None, project_map={"old": "new"}
        )

    @helpers.create_mocks({os_api.keystone: ("tenant_list", "role_assignments_list")})
    def test_users_that_cannot_be_listed_are_a_message(self) -> None:
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_role_assignments_list.side_effect = self.exceptions.keystone
        res = self.client.get(REASSIGN + "?workload_ids=wl-1")
        self.assertEqual(200, res.status_code)
        first = self.tenants.first()
        self.assertEqual(
            [("", "Keep the current owner")], res.context["form"].fields[f"user__{first.id}"].choices
        )
        self.assertMessageCount(res, error=1)


class ParseMapTests(base.TestCase):
    def test_formats(self) -> None:
        pairs = import_forms.parse_map("a-1 b-1\na-2=b-2\na-3, b-3\na-4 -> b-4\n\n# note\n")
        self.assertEqual(
            [{"a-1": "b-1", "a-2": "b-2", "a-3": "b-3", "a-4": "b-4"}], [m.project_map for m in pairs]
        )
        self.assertEqual({"a": "b"}, import_forms.parse_map('{"a": "b"}')[0].project_map)
        self.assertEqual({"a": "b", "c": "d"}, import_forms.parse_map("a: b\nc: d")[0].project_map)
        self.assertEqual([], import_forms.parse_map("  "))

    def test_errors(self) -> None:
        for text in (
            "lonely",
            "[1, 2]",
            "reassign_mappings: {a: b}",
            "reassign_mappings:\n  - new_tenant_id: x",
        ):
            with self.assertRaises(ValueError, msg=text):
                import_forms.parse_map(text)


class ProjectUserSeesNoImportPanel(base.TestCase):
    def test_member_is_refused(self) -> None:
        self.assertEqual(403, self.client.get(INDEX).status_code)
        self.assertEqual(403, self.client.get(REASSIGN).status_code)

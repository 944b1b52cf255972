"""Views and forms of the Workloads panel."""

from __future__ import annotations

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

INDEX = reverse("horizon:project:workloads:index")
CREATE = reverse("horizon:project:workloads:create")


def _detail(wid: str = "wl-1") -> str:
    return reverse("horizon:project:workloads:detail", args=[wid])


SCHEDULE_POST = {
    "schedule_enabled": "on",
    "interval": "12 hr",
    "start_time": "10:30 PM",
    "timezone": "UTC",
    "retention_policy_type": "Number of Snapshots to Keep",
    "retention_policy_value": "5",
    "fullbackup_interval": "7",
}


class WorkloadIndexTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("workload_list", "snapshot_list")})
    def test_index_lists_workloads_with_last_snapshot_and_size(self) -> None:
        self.mock_workload_list.return_value = [data.workload("wl-1"), data.workload("wl-2", status="locked")]
        self.mock_snapshot_list.return_value = [
            data.snapshot("sn-1"),
            data.snapshot("sn-2", status="executing"),
        ]
        res = self.client.get(INDEX)
        self.assertTemplateUsed(res, "horizon/common/_data_table_view.html")
        rows = {w.id: w for w in res.context["table"].data}
        self.assertEqual({"wl-1", "wl-2"}, set(rows))
        self.assertEqual("2026-11-26T07:00:00Z", rows["wl-1"].last_snapshot)
        self.assertEqual(4096, rows["wl-1"].size)  # stored bytes of the available snapshot only
        self.assertContains(res, "24 hr from 09:00 PM, keep 7")
        self.assertContains(res, "4.0 KiB")
        self.assertNotContains(res, "1.0 MiB")  # the provisioned size is not the workload's size
        self.assertContains(res, "Create Workload")
        self.mock_workload_list.assert_called_once_with(helpers.IsHttpRequest())

    @helpers.create_mocks({workloadmgr: ("workload_list",)})
    def test_index_api_error_is_a_message_not_an_error_page(self) -> None:
        self.mock_workload_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(INDEX)
        self.assertEqual(200, res.status_code)
        self.assertEqual([], res.context["table"].data)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_row_update_for_live_status(self) -> None:
        self.mock_workload_get.return_value = data.workload(status="locked")
        self.mock_snapshot_list.return_value = [data.snapshot(status="executing")]
        url = INDEX + "?action=row_update&table=workloads&obj_id=wl-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertEqual(200, res.status_code)
        self.assertContains(res, "Running")
        self.assertContains(res, 'class="ajax-update warning"')  # Horizon keeps polling this row
        self.mock_snapshot_list.assert_called_once_with(helpers.IsHttpRequest(), workload_id="wl-1")

    @helpers.create_mocks({workloadmgr: ("workload_list", "snapshot_list", "workload_delete")})
    def test_delete(self) -> None:
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_snapshot_list.return_value = []
        res = self.client.post(INDEX, {"action": "workloads__delete__wl-1"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_workload_delete.assert_called_once_with(helpers.IsHttpRequest(), "wl-1")

    @helpers.create_mocks({workloadmgr: ("workload_list", "snapshot_list", "workload_delete")})
    def test_delete_refused_by_api_shows_message(self) -> None:
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_snapshot_list.return_value = []
        self.mock_workload_delete.side_effect = data.api_error()
        res = self.client.post(INDEX, {"action": "workloads__delete__wl-1"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class WorkloadDetailTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_detail_shows_usage_and_snapshots(self) -> None:
        self.mock_workload_get.return_value = data.workload()
        self.mock_snapshot_list.return_value = [
            data.snapshot("sn-1"),
            data.snapshot("sn-2", status="executing"),
        ]
        res = self.client.get(_detail())
        self.assertTemplateUsed(res, "t4o_dashboard/workload_detail.html")
        self.assertContains(res, "name-wl-1")
        self.assertContains(res, "4.0 KiB")
        self.assertContains(res, "40% Uploading vda")
        self.assertContains(res, "One-click Restore")
        self.assertEqual(2, len(res.context["snapshots_table"].data))
        # The header: a running snapshot keeps it polling (Horizon's row update), with its progress.
        header = res.content.decode().split('id="summary__row__wl-1"')[1].split("</tr>")[0]
        # The same word as the running snapshot's row.
        self.assertIn(">Running<", header.replace("\n", "").replace(" ", ""))
        self.assertIn("snap-sn-2: 40% Uploading vda", header)
        self.assertIn("1 (4.0 KiB)", header)  # full snapshots: count and stored bytes
        self.assertIn("0 (0 B)", header)
        self.assertNotIn("MiB", header)  # provisioned sizes are not storage
        self.assertIn("2026-11-26 07:00:00", header)  # the last available snapshot
        self.assertContains(
            res, 'data-update-url="/project/workloads/wl-1/?action=row_update&amp;table=summary'
        )
        self.mock_snapshot_list.assert_called_once_with(helpers.IsHttpRequest(), workload_id="wl-1")

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_header_row_update_while_a_snapshot_runs(self) -> None:
        self.mock_workload_get.return_value = data.workload(status="locked")
        self.mock_snapshot_list.return_value = [data.snapshot("sn-2", status="executing")]
        url = _detail() + "?action=row_update&table=summary&obj_id=wl-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, 'class="ajax-update warning"')  # Horizon polls it again
        self.assertContains(res, "snap-sn-2: 40% Uploading vda")
        self.assertContains(res, "Never")  # no snapshot is available yet
        self.mock_snapshot_list.assert_called_once_with(helpers.IsHttpRequest(), workload_id="wl-1")

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_header_row_update_when_the_snapshot_is_done(self) -> None:
        self.mock_workload_get.return_value = data.workload(
            storage_usage={"full": {"snap_count": 1, "usage": 1048576}, "incremental": {"snap_count": 0}}
        )
        self.mock_snapshot_list.return_value = [data.snapshot("sn-2")]
        url = _detail() + "?action=row_update&table=summary&obj_id=wl-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertNotContains(res, "warning")  # final: polling stops
        self.assertContains(res, "Available")
        self.assertContains(res, "2026-11-26 07:00:00")
        self.assertContains(res, "1 (4.0 KiB)")

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_header_stays_busy_while_the_workload_status_lags(self) -> None:
        self.mock_workload_get.return_value = data.workload(status="available")
        self.mock_snapshot_list.return_value = [data.snapshot("sn-2", status="queued")]
        url = _detail() + "?action=row_update&table=summary&obj_id=wl-1"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, 'class="ajax-update warning"')
        self.assertContains(res, "Running")

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "workload_get")})
    def test_refreshed_snapshot_row_names_its_workload(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot("sn-2", status="executing")
        self.mock_workload_get.return_value = data.workload()
        url = _detail() + "?action=row_update&table=snapshots&obj_id=sn-2"
        res = self.client.get(url, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        self.assertContains(res, "name-wl-1")
        self.assertContains(res, "40% Uploading vda")
        self.mock_workload_get.assert_called_once_with(helpers.IsHttpRequest(), "wl-1")

    @helpers.create_mocks({workloadmgr: ("workload_get",)})
    def test_detail_of_missing_workload_redirects_with_message(self) -> None:
        self.mock_workload_get.side_effect = workloadmgr.WorkloadmgrNotFound("No such workload", 404)
        res = self.client.get(_detail("gone"))
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class WorkloadFormTests(base.TestCase):
    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list",)})
    def test_create_form_offers_the_projects_instances(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        res = self.client.get(CREATE)
        self.assertTemplateUsed(res, "t4o_dashboard/form.html")
        for server in self.servers.list():
            self.assertContains(res, server.id)
        self.assertContains(res, "Every 24 hours")
        self.assertNotIn("policy", res.context["form"].fields)  # no policy is assigned to the project

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_create_with_a_policy_leaves_interval_and_retention_to_it(self) -> None:
        server = self.servers.first()
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = [
            workloadmgr.Policy({"id": "po-1", "name": "gold", "field_values": {"interval": "4 hr"}})
        ]
        self.mock_workload_create.return_value = data.workload()
        res = self.client.get(CREATE)
        self.assertContains(res, '<option value="po-1">gold</option>', html=True)
        # Horizon hides the fields the policy decides unless "none" is chosen.
        interval = res.context["form"].fields["interval"].widget.attrs
        self.assertEqual(("policy", "Interval"), (interval["data-switch-on"], interval["data-policy-none"]))
        self.assertNotIn("data-switch-on", res.context["form"].fields["start_time"].widget.attrs)
        post = {"name": "web tier", "instances": [server.id], "policy": "po-1", **SCHEDULE_POST}
        res = self.client.post(CREATE, post)
        self.assertNoFormErrors(res)
        self.mock_workload_create.assert_called_once_with(
            helpers.IsHttpRequest(),
            "web tier",
            "",
            [server.id],
            {"enabled": True, "start_time": "10:30 PM", "timezone": "UTC"},
            policy_id="po-1",
        )
        self.mock_workload_create.reset_mock()
        res = self.client.post(CREATE, {**post, "policy": "none"})
        self.assertNoFormErrors(res)
        self.assertEqual("12 hr", self.mock_workload_create.call_args.args[4]["interval"])
        self.assertIsNone(self.mock_workload_create.call_args.kwargs["policy_id"])

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_create_sends_instances_and_schedule(self) -> None:
        server = self.servers.first()
        self.mock_policy_list.side_effect = data.api_error("The backup service does not answer", 503)
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_workload_create.return_value = data.workload()
        post = {"name": "web tier", "description": "d", "instances": [server.id], **SCHEDULE_POST}
        res = self.client.post(CREATE, post)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_workload_create.assert_called_once_with(
            helpers.IsHttpRequest(),
            "web tier",
            "d",
            [server.id],
            {
                "enabled": True,
                "interval": "12 hr",
                "start_time": "10:30 PM",
                "timezone": "UTC",
                "retention_policy_type": "Number of Snapshots to Keep",
                "retention_policy_value": 5,
                "fullbackup_interval": 7,
            },
            policy_id=None,
        )

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list",)})
    def test_create_rejects_bad_time_and_no_instance(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        res = self.client.post(CREATE, {"name": "x", **SCHEDULE_POST, "start_time": "25:00"})
        self.assertFormErrors(res, 2)
        self.assertContains(res, "Use HH:MM (e.g. 21:30) or HH:MM AM/PM (e.g. 09:30 PM).")
        res = self.client.post(CREATE, {"name": "x", **SCHEDULE_POST, "timezone": "Mars/Olympus_Mons"})
        self.assertFormErrors(res, 2)  # not a time zone of the list; no instance
        self.assertIn("Mars/Olympus_Mons", res.context["form"].errors["timezone"][0])

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_create_takes_24_hour_times_and_a_listed_time_zone(self) -> None:
        server = self.servers.first()
        self.mock_policy_list.return_value = []
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_workload_create.return_value = data.workload()
        form = self.client.get(CREATE).context["form"]
        zones = [z for z, _text in form.fields["timezone"].choices]
        self.assertEqual("UTC", zones[0])
        self.assertIn("Europe/Berlin", zones)
        post = {"name": "x", "instances": [server.id], **SCHEDULE_POST, "start_time": "21:30",
                "timezone": "Europe/Berlin"}  # fmt: skip
        res = self.client.post(CREATE, post)
        self.assertNoFormErrors(res)
        schedule = self.mock_workload_create.call_args.args[4]
        self.assertEqual(("21:30", "Europe/Berlin"), (schedule["start_time"], schedule["timezone"]))

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_an_api_refusal_of_a_field_shows_on_that_field_and_keeps_what_was_typed(self) -> None:
        server = self.servers.first()
        self.mock_policy_list.return_value = []
        self.mock_server_list.return_value = (self.servers.list(), False)
        text = "jobschedule.start_time must be HH:MM or HH:MM AM/PM, not '10:61'."
        self.mock_workload_create.side_effect = data.api_error(text, 400)
        post = {"name": "kept name", "instances": [server.id], **SCHEDULE_POST}
        res = self.client.post(CREATE, post)
        self.assertEqual(200, res.status_code)  # the form again, not a redirect
        form = res.context["form"]
        self.assertEqual([text], form.errors["start_time"])
        self.assertContains(res, 'value="kept name"')
        self.assertMessageCount(res, error=0)

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_create_refused_by_api_shows_its_message(self) -> None:
        server = self.servers.first()
        self.mock_policy_list.return_value = []
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_workload_create.side_effect = data.api_error("Instance is in another workload", 409)
        res = self.client.post(CREATE, {"name": "x", "instances": [server.id], **SCHEDULE_POST})
        self.assertEqual(200, res.status_code)  # the modal stays open, with the API's text above the fields
        self.assertEqual(["Instance is in another workload"], res.context["form"].non_field_errors())
        # A failure that is not a refusal of what was typed is a message on the list page.
        self.mock_workload_create.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.post(CREATE, {"name": "x", "instances": [server.id], **SCHEDULE_POST})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list",)})
    def test_create_without_nova_still_renders(self) -> None:
        self.mock_policy_list.return_value = []
        self.mock_server_list.side_effect = self.exceptions.nova
        res = self.client.get(CREATE)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("workload_get", "policy_list")})
    def test_update_form_is_filled_from_the_workload(self) -> None:
        self.mock_policy_list.return_value = []
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(reverse("horizon:project:workloads:update", args=["wl-1"]))
        form = res.context["form"]
        self.assertEqual("name-wl-1", form.initial["name"])
        self.assertEqual("24 hr", form.initial["interval"])
        self.assertEqual([data.VM1], form.initial["instances"])
        # The member Nova no longer knows is still listed, marked as not found.
        self.assertContains(res, "web (not found)")

    @helpers.create_mocks(
        {os_api.nova: ("server_list",), workloadmgr: ("workload_get", "workload_update", "policy_list")}
    )
    def test_update_sends_changes(self) -> None:
        self.mock_policy_list.return_value = []
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_workload_get.return_value = data.workload()
        self.mock_workload_update.return_value = data.workload()
        url = reverse("horizon:project:workloads:update", args=["wl-1"])
        post = {"workload_id": "wl-1", "name": "renamed", "description": "", "instances": [data.VM1],
                **SCHEDULE_POST, "schedule_enabled": ""}  # fmt: skip
        res = self.client.post(url, post)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        kwargs = self.mock_workload_update.call_args.kwargs
        self.assertEqual("renamed", kwargs["name"])
        self.assertEqual([{"instance-id": data.VM1}], kwargs["instances"])
        self.assertFalse(kwargs["jobschedule"]["enabled"])
        self.assertNotIn("metadata", kwargs)  # no policy taken or left

    @helpers.create_mocks(
        {os_api.nova: ("server_list",), workloadmgr: ("workload_get", "workload_update", "policy_list")}
    )
    def test_update_of_a_workload_that_follows_a_policy(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = [workloadmgr.Policy({"id": "po-1", "name": "gold"})]
        self.mock_workload_get.return_value = data.workload(metadata={"policy_id": "po-1", "team": "web"})
        self.mock_workload_update.return_value = data.workload()
        url = reverse("horizon:project:workloads:update", args=["wl-1"])
        res = self.client.get(url)
        self.assertEqual("po-1", res.context["form"].initial["policy"])
        post = {
            "workload_id": "wl-1",
            "name": "n",
            "instances": [data.VM1],
            **SCHEDULE_POST,
            "policy": "po-1",
        }
        self.assertNoFormErrors(self.client.post(url, post))
        kwargs = self.mock_workload_update.call_args.kwargs
        self.assertNotIn("interval", kwargs["jobschedule"])  # still the policy's
        self.assertNotIn("metadata", kwargs)
        # Leaving the policy: the workload keeps the other metadata and sets its own interval.
        self.assertNoFormErrors(self.client.post(url, {**post, "policy": "none"}))
        kwargs = self.mock_workload_update.call_args.kwargs
        self.assertEqual({"team": "web"}, kwargs["metadata"])
        self.assertEqual("12 hr", kwargs["jobschedule"]["interval"])

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("workload_get", "policy_list")})
    def test_update_shows_a_policy_no_longer_assigned(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_workload_get.return_value = data.workload(metadata={"policy_id": "po-9"})
        res = self.client.get(reverse("horizon:project:workloads:update", args=["wl-1"]))
        self.assertContains(res, "po-9 (not assigned to the project)")

    @helpers.create_mocks({workloadmgr: ("workload_snapshot",)})
    def test_snapshot_now_full(self) -> None:
        self.mock_workload_snapshot.return_value = data.snapshot(status="queued")
        url = reverse("horizon:project:workloads:snapshot", args=["wl-1"])
        res = self.client.get(url)
        self.assertEqual(_detail(), res.context["cancel_url"])  # the modal has a Cancel button back
        res = self.client.post(
            url, {"workload_id": "wl-1", "name": "n", "description": "", "snapshot_type": "full"}
        )
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, _detail())
        self.mock_workload_snapshot.assert_called_once_with(
            helpers.IsHttpRequest(), "wl-1", full=True, name="n", description=""
        )

    @helpers.create_mocks({workloadmgr: ("workload_snapshot",)})
    def test_snapshot_refused_shows_message(self) -> None:
        text = (
            "No live, enabled workloads worker can run the snapshot now; ask the cloud administrator to ..."
        )
        self.mock_workload_snapshot.side_effect = data.api_error(text, 409)
        url = reverse("horizon:project:workloads:snapshot", args=["wl-1"])
        res = self.client.post(url, {"workload_id": "wl-1", "snapshot_type": "incremental"})
        # Said up front in the form: no "queued" success, no redirect.
        self.assertEqual(200, res.status_code)
        self.assertEqual([text], res.context["form"].non_field_errors())
        self.assertMessageCount(res, success=0, error=0)

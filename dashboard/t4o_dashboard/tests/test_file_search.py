"""File search of a workload: the form, the results page with its progress and its links into the file
browser and downloads, and the API calls behind them."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import requests
from django.urls import reverse
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content.file_search import views
from t4o_dashboard.tests import base, data
from t4o_dashboard.tests.test_api import _response

SEARCH = reverse("horizon:project:workloads:file_search", args=["wl-1"])
RESULTS = reverse("horizon:project:workloads:file_search_results", args=["wl-1", "fs-1"])
WORKLOAD = reverse("horizon:project:workloads:detail", args=["wl-1"])
SNAPSHOT_DETAIL = reverse("horizon:project:backup_snapshots:detail", args=["sn-1"])


def _browse(snapshot: str, disk: str = "vda") -> str:
    return reverse("horizon:project:backup_snapshots:browse", args=[snapshot, data.VM1, disk])


def _download(snapshot: str, disk: str = "vda") -> str:
    return reverse("horizon:project:backup_snapshots:download", args=[snapshot, data.VM1, disk])


def entry(path: str, kind: str = "file", size: int | None = 1536, **extra: Any) -> dict[str, Any]:
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "type": kind,
        "size": size,
        "mode": "0644",
        "mtime": 1764140400,
        "uid": 0,
        "gid": 0,
        "link_target": None,
        **extra,
    }


RESULTS_BODY: list[dict[str, Any]] = [
    {
        "snapshot_id": "sn-2",
        "snapshot_name": "nightly",
        "snapshot_created_at": "2026-11-27T07:00:00Z",
        "status": "completed",
        "error_msg": None,
        "disks": [
            {
                "disk": "vda",
                "partition": 1,
                "filesystem": "ext4",
                "truncated": False,
                "entries": [entry("/etc/ssh/sshd_config"), entry("/etc/ssh", "directory", 4096)],
            },
            {"disk": "vdb", "partition": None, "filesystem": "xfs", "truncated": False, "entries": []},
        ],
    },
    {
        "snapshot_id": "sn-1",
        "snapshot_name": "first",
        "snapshot_created_at": "2026-11-26T07:00:00Z",
        "status": "completed",
        "error_msg": None,
        "disks": [
            {
                "disk": "vdb",
                "partition": "data/home",
                "filesystem": "xfs",
                "truncated": True,
                "entries": [
                    entry("/home/a.txt", size=10),
                    entry("/home/l", "symlink", 5, link_target="a.txt"),
                ],
            }
        ],
    },
    {
        "snapshot_id": "sn-0",
        "snapshot_name": "old",
        "snapshot_created_at": "2026-11-25T07:00:00Z",
        "status": "error",
        "error_msg": "The vault does not hold disk vda",
        "disks": [],
    },
]


def search(status: str = "completed", **extra: Any) -> workloadmgr.FileSearch:
    return workloadmgr.FileSearch(
        {
            "id": "fs-1",
            "project_id": data.PROJECT,
            "user_id": "u",
            "vm_id": data.VM1,
            "filepath": "*config",
            "snapshot_ids": [],
            "start": 0,
            "end": 0,
            "date_from": None,
            "date_to": None,
            "status": status,
            "error_msg": None,
            "progress_percent": 100 if status == "completed" else 40,
            "created_at": "2026-11-28T10:00:00Z",
            "finished_at": "2026-11-28T10:00:05Z" if status != "executing" else None,
            "json_resp": RESULTS_BODY if status == "completed" else [],
            **extra,
        }
    )


def _workload() -> workloadmgr.Workload:
    vms = [{"id": data.VM1, "name": "web"}, {"id": data.VM2, "name": "db"}]
    return data.workload(instances=vms)


class FileSearchFormTests(base.TestCase):
    def _mock_form_data(self) -> None:
        self.mock_workload_get.return_value = _workload()
        self.mock_snapshot_list.return_value = [
            data.snapshot("sn-1"),
            data.snapshot("sn-2", created_at="2026-11-27T07:00:00Z"),
            data.snapshot("sn-3", status="executing"),
        ]
        self.mock_file_search_list.return_value = []

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list", "file_search_list")})
    def test_form_offers_the_vms_and_available_snapshots(self) -> None:
        self._mock_form_data()
        res = self.client.get(SEARCH)
        self.assertTemplateUsed(res, "t4o_dashboard/file_search.html")
        form = res.context["form"]
        self.assertEqual(
            [(data.VM1, "web (11111111)"), (data.VM2, "db (22222222)")], list(form.fields["vm_id"].choices)
        )
        # Newest first; a running snapshot cannot be searched.
        self.assertEqual(["sn-2", "sn-1"], [c[0] for c in form.fields["snapshot_ids"].choices])
        self.assertContains(res, "snap-sn-2 (2026-11-27 07:00:00, full)")
        self.assertContains(res, 'type="date"')
        self.mock_snapshot_list.assert_called_once_with(helpers.IsHttpRequest(), workload_id="wl-1")

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list", "file_search_list")})
    def test_snapshot_page_link_ticks_its_snapshot(self) -> None:
        self._mock_form_data()
        res = self.client.get(SEARCH + "?snapshot_id=sn-1")
        self.assertEqual(["sn-1"], res.context["form"].initial["snapshot_ids"])
        self.assertRegex(res.content.decode(), r'value="sn-1"[^>]* checked')  # ticked on the page
        res = self.client.get(SEARCH + "?snapshot_id=sn-3")  # not searchable: nothing ticked
        self.assertNotIn("snapshot_ids", res.context["form"].initial)

    @helpers.create_mocks(
        {workloadmgr: ("workload_get", "snapshot_list", "file_search_start", "file_search_list")}
    )
    def test_submit_starts_the_search_and_opens_its_results(self) -> None:
        self._mock_form_data()
        self.mock_file_search_start.return_value = search("executing")
        form = {"workload_id": "wl-1", "vm_id": data.VM2, "filepath": " /etc/*.conf "}
        res = self.client.post(SEARCH, form)
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, RESULTS)
        self.mock_file_search_start.assert_called_once_with(
            helpers.IsHttpRequest(), data.VM2, "/etc/*.conf", snapshot_ids=None, date_from=None, date_to=None
        )

    @helpers.create_mocks(
        {workloadmgr: ("workload_get", "snapshot_list", "file_search_start", "file_search_list")}
    )
    def test_chosen_snapshots_and_whole_days(self) -> None:
        self._mock_form_data()
        self.mock_file_search_start.return_value = search("executing")
        form = {
            "workload_id": "wl-1",
            "vm_id": data.VM1,
            "filepath": "^/home/.*\\.txt$",
            "snapshot_ids": ["sn-1", "sn-2"],
            "date_from": "2026-11-01",
            "date_to": "2026-11-30",
        }
        res = self.client.post(SEARCH, form)
        self.assertRedirectsNoFollow(res, RESULTS)
        self.mock_file_search_start.assert_called_once_with(
            helpers.IsHttpRequest(),
            data.VM1,
            "^/home/.*\\.txt$",
            snapshot_ids=["sn-1", "sn-2"],
            date_from="2026-11-01T00:00:00",
            date_to="2026-11-30T23:59:59",
        )

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list", "file_search_list")})
    def test_bad_input_is_refused_before_the_api(self) -> None:
        self._mock_form_data()
        base_form = {"workload_id": "wl-1", "vm_id": data.VM1, "filepath": "hosts"}
        res = self.client.post(SEARCH, {**base_form, "date_from": "2026-11-30", "date_to": "2026-11-01"})
        self.assertFormErrors(res, 1, "The first date is after the last one.")
        res = self.client.post(SEARCH, {**base_form, "filepath": "   "})
        self.assertFormErrors(res, 1)
        res = self.client.post(SEARCH, {**base_form, "vm_id": "not-a-vm-of-the-workload"})
        self.assertFormErrors(res, 1)
        res = self.client.post(SEARCH, {**base_form, "snapshot_ids": ["sn-3"]})  # running: not offered
        self.assertFormErrors(res, 1)

    @helpers.create_mocks(
        {workloadmgr: ("workload_get", "snapshot_list", "file_search_start", "file_search_list")}
    )
    def test_api_refusal_keeps_the_form_with_its_reason(self) -> None:
        self._mock_form_data()
        self.mock_file_search_start.side_effect = data.api_error("Invalid regular expression ^(", 400)
        form = {"workload_id": "wl-1", "vm_id": data.VM1, "filepath": "^("}
        res = self.client.post(SEARCH, form)
        self.assertEqual(200, res.status_code)
        self.assertTemplateUsed(res, "t4o_dashboard/file_search.html")
        self.assertContains(res, 'value="^("')
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list", "file_search_list")})
    def test_recent_searches_of_the_workloads_vms_link_to_their_results(self) -> None:
        self._mock_form_data()
        self.mock_file_search_list.return_value = [
            search("completed", id="fs-old", filepath="hosts", created_at="2026-11-27T10:00:00Z"),
            search("executing", id="fs-new", filepath="*.log", created_at="2026-11-28T10:00:00Z"),
            search("completed", id="fs-elsewhere", vm_id="another-workloads-vm"),
        ]
        res = self.client.get(SEARCH)
        rows = res.content.decode().split('id="recent_file_searches"')[1].split("</table>")[0]
        self.assertLess(rows.index("fs-new"), rows.index("fs-old"))  # newest first
        self.assertNotIn("fs-elsewhere", rows)
        old = reverse("horizon:project:workloads:file_search_results", args=["wl-1", "fs-old"])
        self.assertIn(f'<a href="{old}"><code>hosts</code></a>', rows)
        self.assertIn("<td>web</td><td>2026-11-27 10:00:00</td><td>completed</td>", rows)
        # Without the list (an API that lacks it) the form still works.
        self.mock_file_search_list.side_effect = data.api_error("Not implemented", 501)
        res = self.client.get(SEARCH)
        self.assertContains(res, 'id="id_filepath"')
        self.assertNotContains(res, "recent_file_searches")
        self.assertMessageCount(res, error=0)

    @helpers.create_mocks({workloadmgr: ("workload_get",)})
    def test_form_of_a_missing_workload_redirects(self) -> None:
        self.mock_workload_get.side_effect = workloadmgr.WorkloadmgrNotFound("No such workload", 404)
        res = self.client.get(SEARCH)
        self.assertRedirectsNoFollow(res, reverse("horizon:project:workloads:index"))


class FileSearchResultsTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("file_search_get", "workload_get")})
    def test_running_search_shows_progress_and_polls(self) -> None:
        self.mock_file_search_get.return_value = search("executing")
        self.mock_workload_get.return_value = _workload()
        res = self.client.get(RESULTS)
        self.assertTemplateUsed(res, "t4o_dashboard/file_search_results.html")
        self.assertContains(res, "File Search: *config")
        self.assertContains(res, 'data-status="executing"')
        self.assertContains(res, f'data-poll-url="{RESULTS}?fragment=1"')
        self.assertContains(res, 'style="width: 40%"')
        self.assertContains(res, "every available snapshot")
        self.assertContains(res, "<dd>web</dd>", html=True)  # the VM by its name in the workload
        self.assertNotContains(res, "file-search-matches")

    @helpers.create_mocks({workloadmgr: ("file_search_get", "workload_get")})
    def test_completed_search_lists_matches_with_browse_and_download_links(self) -> None:
        self.mock_file_search_get.return_value = search("completed")
        self.mock_workload_get.return_value = _workload()
        res = self.client.get(RESULTS)
        page = res.content.decode()
        self.assertContains(res, 'data-status="completed"')
        self.assertContains(res, "4 matches in 3 snapshots")
        # Newest snapshot first, as the API orders them; each named and linked to its page.
        self.assertLess(page.index("nightly"), page.index("first"))
        self.assertContains(res, f'<a href="{SNAPSHOT_DETAIL}">first</a>', html=True)
        # A file: its directory in the browser, and its download, on the volume it was found on.
        sn2 = "?path=%2Fetc%2Fssh%2Fsshd_config&amp;partition=1"
        self.assertContains(res, f'href="{_browse("sn-2")}?path=%2Fetc%2Fssh&amp;partition=1"', count=2)
        self.assertContains(res, f'href="{_download("sn-2")}{sn2}"')
        # A directory opens on itself and downloads as a tar.
        self.assertContains(res, f'href="{_download("sn-2")}?path=%2Fetc%2Fssh&amp;partition=1"')
        self.assertContains(res, "Download (tar)")
        self.assertContains(res, "vda, partition 1 (ext4)")
        self.assertNotContains(res, "vdb (xfs)")  # a volume without matches is not listed
        # A logical volume keeps its vg/lv name in the links; a symlink has no download.
        lv = "partition=data%2Fhome"
        self.assertContains(res, f'href="{_browse("sn-1", "vdb")}?path=%2Fhome&amp;{lv}"', count=2)
        self.assertContains(res, f'href="{_download("sn-1", "vdb")}?path=%2Fhome%2Fa.txt&amp;{lv}"')
        self.assertNotContains(res, "path=%2Fhome%2Fl&amp;")
        self.assertContains(res, "/home/l → a.txt")
        self.assertContains(res, "vdb, logical volume data/home (xfs)")
        self.assertContains(res, "more matches than shown")
        self.assertContains(res, "1.5 KiB")
        self.assertContains(res, "10 B")
        self.assertContains(res, "2025-11-26 07:00:00")
        # A snapshot that could not be searched says why.
        self.assertContains(res, "This snapshot could not be searched: The vault does not hold disk vda")

    @helpers.create_mocks({workloadmgr: ("file_search_get", "workload_get")})
    def test_search_without_match_and_failed_search(self) -> None:
        nothing = [dict(RESULTS_BODY[0], disks=[])]
        self.mock_file_search_get.return_value = search("completed", json_resp=nothing)
        self.mock_workload_get.return_value = _workload()
        res = self.client.get(RESULTS)
        self.assertContains(res, "0 matches in 1 snapshot")
        self.assertContains(res, "No match in this snapshot.")
        self.mock_file_search_get.return_value = search("error", error_msg="The worker stopped")
        res = self.client.get(RESULTS)
        self.assertContains(res, "The search failed: The worker stopped")
        self.assertContains(res, 'data-status="error"')

    @helpers.create_mocks({workloadmgr: ("file_search_get", "workload_get")})
    def test_many_matches_are_counted_but_not_all_shown(self) -> None:
        many = [entry(f"/var/log/{i:04d}.log", size=i) for i in range(views.ROWS_PER_VOLUME + 7)]
        disk = {"disk": "vda", "partition": None, "filesystem": "ext4", "truncated": False, "entries": many}
        self.mock_file_search_get.return_value = search(
            "completed", json_resp=[dict(RESULTS_BODY[0], disks=[disk])]
        )
        self.mock_workload_get.return_value = _workload()
        res = self.client.get(RESULTS)
        self.assertContains(res, f"{views.ROWS_PER_VOLUME + 7} matches in 1 snapshot")
        self.assertContains(res, "<tr data-path=", count=views.ROWS_PER_VOLUME)
        self.assertContains(res, "7 more matches of this volume are not shown")
        last_shown = f"/var/log/{views.ROWS_PER_VOLUME - 1:04d}.log"
        self.assertContains(res, f'data-path="{last_shown}"')
        self.assertNotContains(res, f'data-path="/var/log/{views.ROWS_PER_VOLUME:04d}.log"')

    @helpers.create_mocks({workloadmgr: ("file_search_get", "workload_get")})
    def test_chosen_snapshots_and_dates_are_shown(self) -> None:
        self.mock_file_search_get.return_value = search(
            "executing", snapshot_ids=["sn-1"], date_from="2026-11-01T00:00:00", date_to=None
        )
        self.mock_workload_get.return_value = _workload()
        res = self.client.get(RESULTS)
        self.assertContains(res, "1 chosen snapshot, taken 2026-11-01 00:00:00 to …")

    @helpers.create_mocks({workloadmgr: ("file_search_get",)})
    def test_fragment_is_the_results_part_only(self) -> None:
        self.mock_file_search_get.return_value = search("completed")
        res = self.client.get(RESULTS + "?fragment=1", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        page = res.content.decode().strip()
        self.assertTrue(page.startswith('<div id="file_search_results" data-status="completed"'), page[:200])
        self.assertIn("sshd_config", page)
        self.assertNotIn("<html", page)
        self.assertNotIn("file_search_criteria", page)

    @helpers.create_mocks({workloadmgr: ("file_search_get",)})
    def test_fragment_error_is_a_502_the_page_retries(self) -> None:
        self.mock_file_search_get.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(RESULTS + "?fragment=1")
        self.assertEqual(502, res.status_code)
        self.assertIn(b"does not answer", res.content)

    @helpers.create_mocks({workloadmgr: ("file_search_get",)})
    def test_missing_search_goes_back_to_the_workload(self) -> None:
        self.mock_file_search_get.side_effect = workloadmgr.WorkloadmgrNotFound("No file search fs-1", 404)
        res = self.client.get(RESULTS)
        self.assertRedirectsNoFollow(res, WORKLOAD)
        self.assertMessageCount(error=1)


class FileSearchLinksTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_workload_page_links_to_the_search(self) -> None:
        self.mock_workload_get.return_value = data.workload()
        self.mock_snapshot_list.return_value = []
        res = self.client.get(WORKLOAD)
        self.assertContains(res, f'href="{SEARCH}"')

    @helpers.create_mocks({workloadmgr: ("workload_list", "snapshot_list")})
    def test_workloads_table_has_the_row_action(self) -> None:
        self.mock_workload_list.return_value = [data.workload()]
        self.mock_snapshot_list.return_value = []
        res = self.client.get(reverse("horizon:project:workloads:index"))
        self.assertContains(res, 'id="workloads__row_wl-1__action_file_search"')

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_snapshot_page_links_to_the_search_of_that_snapshot(self) -> None:
        self.mock_mounted_list.return_value = []
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(SNAPSHOT_DETAIL)
        self.assertContains(res, f'href="{SEARCH}?snapshot_id=sn-1"')
        self.mock_snapshot_get.return_value = data.snapshot(status="executing")
        res = self.client.get(SNAPSHOT_DETAIL)
        self.assertNotContains(res, "Search files in this snapshot")


class FileSearchApiTests(base.TestCase):
    @mock.patch.object(requests, "request")
    def test_start_sends_only_what_was_asked(self, request: mock.Mock) -> None:
        body = {"file_search": {"id": "fs-1", "status": "executing", "vm_id": data.VM1}}
        request.return_value = _response(202, json.dumps(body).encode())
        found = workloadmgr.file_search_start(self.request, data.VM1, "hosts")
        self.assertEqual(("fs-1", True), (found.id, found.running))
        method, url = request.call_args.args
        self.assertEqual(("POST", f"{base.WORKLOADS_URL}/search"), (method, url))
        self.assertEqual(
            {"file_search": {"vm_id": data.VM1, "filepath": "hosts"}}, request.call_args.kwargs["json"]
        )
        workloadmgr.file_search_start(
            self.request, data.VM1, "*.conf", ["sn-1"], "2026-11-01T00:00:00", "2026-11-02T23:59:59"
        )
        self.assertEqual(
            {
                "file_search": {
                    "vm_id": data.VM1,
                    "filepath": "*.conf",
                    "snapshot_ids": ["sn-1"],
                    "date_from": "2026-11-01T00:00:00",
                    "date_to": "2026-11-02T23:59:59",
                }
            },
            request.call_args.kwargs["json"],
        )

    @mock.patch.object(requests, "request")
    def test_get_and_list(self, request: mock.Mock) -> None:
        body = {"file_search": {"id": "fs-1", "status": "completed", "json_resp": RESULTS_BODY}}
        request.return_value = _response(200, json.dumps(body).encode())
        found = workloadmgr.file_search_get(self.request, "fs-1")
        self.assertEqual((False, "nightly"), (found.running, found.json_resp[0]["snapshot_name"]))
        self.assertEqual(("GET", f"{base.WORKLOADS_URL}/search/fs-1"), request.call_args.args)
        request.return_value = _response(200, b'{"file_searches": [{"id": "a"}, {"id": "b"}]}')
        self.assertEqual(["a", "b"], [s.id for s in workloadmgr.file_search_list(self.request)])
        self.assertEqual(("GET", f"{base.WORKLOADS_URL}/search"), request.call_args.args)
        request.return_value = _response(404, b'{"itemNotFound": {"code": 404, "message": "No search x"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrNotFound):
            workloadmgr.file_search_get(self.request, "x")

    @mock.patch.object(requests, "request")
    def test_mount_dismount_and_mounted_list(self, request: mock.Mock) -> None:
        request.return_value = _response(200, b'{"mount": {"id": "m-1", "status": "mounted"}}')
        mount = workloadmgr.snapshot_mount(self.request, "sn-1", data.VM2)
        self.assertEqual(("m-1", "mounted"), (mount.id, mount.status))
        self.assertEqual(("POST", f"{base.WORKLOADS_URL}/snapshots/sn-1/mount"), request.call_args.args)
        self.assertEqual({"mount": {"mount_vm_id": data.VM2}}, request.call_args.kwargs["json"])
        request.return_value = _response(200, b'{"mount": {"id": "m-1", "status": "dismounted"}}')
        self.assertEqual("dismounted", workloadmgr.snapshot_dismount(self.request, "sn-1").status)
        self.assertEqual(("POST", f"{base.WORKLOADS_URL}/snapshots/sn-1/dismount"), request.call_args.args)
        request.return_value = _response(
            200, b'{"mounted_snapshots": [{"id": "m-1", "snapshot_id": "sn-1"}]}'
        )
        self.assertEqual(["sn-1"], [m.snapshot_id for m in workloadmgr.mounted_list(self.request)])
        self.assertEqual(("GET", f"{base.WORKLOADS_URL}/snapshots/mounted/list"), request.call_args.args)
        request.return_value = _response(409, b'{"conflictingRequest": {"code": 409, "message": "Mounted"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrError) as ctx:
            workloadmgr.snapshot_mount(self.request, "sn-1", data.VM2)
        self.assertEqual("Mounted", str(ctx.exception))

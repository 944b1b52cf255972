"""Several backup targets in the dashboard: one row per target on Admin > Storage Usage, and the target
choice of Create Workload (administrators only: members cannot list the targets)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data
from t4o_dashboard.tests.test_workloads import SCHEDULE_POST

USAGE = reverse("horizon:admin:backup_usage:index")
CREATE = reverse("horizon:project:workloads:create")
GIB = 1024**3


def usage_entry(tid: str, name: str, **extra: Any) -> workloadmgr.BackupTarget:
    """A target as /workloads/metrics/storage_usage gives it."""
    values = {
        "id": tid,
        "name": name,
        "url": f"/srv/{name}",
        "type": "posix",
        "default": False,
        "mount_point": f"/srv/{name}",
        "total_bytes": 100 * GIB,
        "free_bytes": 60 * GIB,
        "used_bytes": 40 * GIB,
        "stored_bytes": 0,
        "snapshots": 0,
        "workload_count": 0,
        "reason": None,
    }
    return workloadmgr.BackupTarget({**values, **extra})


def defined(tid: str, name: str, kind: str = "posix", is_default: bool = False) -> workloadmgr.BackupTarget:
    """A target as /backup_targets lists it."""
    values = {"id": tid, "name": name, "type": kind, "url": f"/srv/{name}", "is_default": is_default}
    return workloadmgr.BackupTarget({**values, "immutable": False, "read_only": tid == "config"})


class StorageUsagePerTarget(base.AdminTestCase):
    @helpers.create_mocks(
        {
            workloadmgr: ("storage_usage", "workload_list", "snapshot_list"),
            os_api.keystone: ("tenant_list",),
        }
    )
    def test_every_target_is_a_row(self) -> None:
        reason = "the NFS export filer:/t4o is not mounted at /var/lib/t4o/mnt/abc on the API host"
        self.mock_storage_usage.return_value = (
            [],
            [
                usage_entry("config", "configured", default=True, stored_bytes=GIB, snapshots=1,
                            workload_count=1),
                usage_entry("t-1", "fast", stored_bytes=3 * GIB, snapshots=4, workload_count=2,
                            total_bytes=10 * GIB, free_bytes=5 * GIB, used_bytes=5 * GIB),
                usage_entry("t-2", "<b>share</b>", type="nfs", url="nfs://filer/t4o", mount_point=None,
                            total_bytes=None, free_bytes=None, used_bytes=None, reason=reason),
            ],
        )  # fmt: skip
        self.mock_workload_list.return_value = []
        self.mock_snapshot_list.return_value = []
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        res = self.client.get(USAGE)
        shown = res.context["targets"]
        self.assertEqual(["configured", "fast", "<b>share</b>"], [t["name"] for t in shown])
        self.assertEqual([True, False, False], [t["default"] for t in shown])
        self.assertEqual([1, 2, 0], [t["workloads"] for t in shown])
        self.assertEqual(["1.0 GiB", "3.0 GiB", "0 B"], [t["stored"] for t in shown])
        self.assertEqual(
            ("10.0 GiB", "5.0 GiB", 50), (shown[1]["total"], shown[1]["free"], shown[1]["percent_used"])
        )
        self.assertEqual(["Directory", "Directory", "NFS export"], [str(t["type"]) for t in shown])
        page = res.content.decode()
        self.assertEqual(3, page.count('class="target_row"'))
        self.assertEqual(2, page.count('class="target_bar"'))  # the unmounted share has no figures
        self.assertContains(res, reason)
        self.assertContains(res, "4 snapshots")
        self.assertContains(res, "&lt;b&gt;share&lt;/b&gt;")  # names are escaped
        self.assertNotContains(res, "<b>share</b>")


class CreateWorkloadTargetChoice(base.AdminTestCase):
    """An administrator: the form lists the targets when there is a choice."""

    @helpers.create_mocks(
        {os_api.nova: ("server_list",), workloadmgr: ("policy_list", "backup_target_list", "workload_create")}
    )
    def test_choice_of_targets_goes_to_the_api(self) -> None:
        server = self.servers.first()
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_backup_target_list.return_value = [
            defined("t-1", "fast", is_default=True),
            defined("t-2", "objects", kind="s3"),
        ]
        self.mock_workload_create.return_value = data.workload()
        res = self.client.get(CREATE)
        field = res.context["form"].fields["backup_target"]
        self.assertEqual(
            [("t-1", "fast (directory) - default"), ("t-2", "objects (S3 bucket)")],
            [(k, str(v)) for k, v in field.choices],
        )
        self.assertEqual("t-1", field.initial)
        post = {"name": "web tier", "instances": [server.id], "backup_target": "t-2", **SCHEDULE_POST}
        res = self.client.post(CREATE, post)
        self.assertNoFormErrors(res)
        self.assertEqual("t-2", self.mock_workload_create.call_args.kwargs["backup_target_id"])
        # A target that is not listed is refused by the form.
        res = self.client.post(CREATE, {**post, "backup_target": "t-9"})
        self.assertFormErrors(res, 1)
        self.assertEqual(1, self.mock_workload_create.call_count)

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "backup_target_list")})
    def test_no_default_offers_the_configured_target_first(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_backup_target_list.return_value = [defined("t-1", "fast")]
        field = self.client.get(CREATE).context["form"].fields["backup_target"]
        self.assertEqual(["config", "t-1"], [k for k, _v in field.choices])
        self.assertEqual("config", field.initial)

    @helpers.create_mocks(
        {os_api.nova: ("server_list",), workloadmgr: ("policy_list", "backup_target_list", "workload_create")}
    )
    def test_one_target_is_no_choice(self) -> None:
        server = self.servers.first()
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_backup_target_list.return_value = [defined("config", "configured", is_default=True)]
        self.mock_workload_create.return_value = data.workload()
        res = self.client.get(CREATE)
        self.assertNotIn("backup_target", res.context["form"].fields)
        res = self.client.post(CREATE, {"name": "web", "instances": [server.id], **SCHEDULE_POST})
        self.assertNoFormErrors(res)
        self.assertNotIn("backup_target_id", self.mock_workload_create.call_args.kwargs)

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "backup_target_list")})
    def test_list_failure_leaves_the_default(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_backup_target_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(CREATE)
        self.assertEqual(200, res.status_code)
        self.assertNotIn("backup_target", res.context["form"].fields)


class MemberHasNoTargetChoice(base.TestCase):
    """A member cannot list the targets (API rule backup_target:get): no choice, and no call for one."""

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "backup_target_list")})
    def test_member_sees_no_target_choice(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        res = self.client.get(CREATE)
        self.assertNotIn("backup_target", res.context["form"].fields)
        self.mock_backup_target_list.assert_not_called()

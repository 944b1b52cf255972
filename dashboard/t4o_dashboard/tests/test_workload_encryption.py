"""Encrypted workloads in the dashboard: chosen at Create Workload with a Barbican secret, and the secret
changed (its key re-wrapped) on Update Workload."""

from __future__ import annotations

from django.urls import reverse
from openstack_dashboard import api as os_api
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data
from t4o_dashboard.tests.test_workloads import CREATE, INDEX, SCHEDULE_POST

UPDATE = reverse("horizon:project:workloads:update", args=["wl-1"])
SECRET = "0b7c9b4e-8c33-4f0e-9a5e-2f1d6c3b9a10"


class CreateEncrypted(base.TestCase):
    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_encryption_and_its_secret_go_to_the_api(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_workload_create.return_value = data.workload()
        post = {"name": "db", "instances": [self.servers.first().id], **SCHEDULE_POST}
        res = self.client.post(CREATE, {**post, "encryption": "on", "secret_uuid": f" {SECRET} "})
        self.assertNoFormErrors(res)
        kwargs = self.mock_workload_create.call_args.kwargs
        self.assertEqual((True, SECRET), (kwargs["encryption"], kwargs["secret_uuid"]))

        # Without encryption nothing of it is sent, even a secret typed by mistake.
        res = self.client.post(CREATE, {**post, "secret_uuid": SECRET})
        self.assertNoFormErrors(res)
        self.assertNotIn("encryption", self.mock_workload_create.call_args.kwargs)
        self.assertNotIn("secret_uuid", self.mock_workload_create.call_args.kwargs)

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("policy_list", "workload_create")})
    def test_encryption_without_a_secret_stays_on_the_form(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        post = {"name": "db", "instances": [self.servers.first().id], **SCHEDULE_POST, "encryption": "on"}
        res = self.client.post(CREATE, post)
        self.assertFormErrors(res, 1, "An encrypted workload needs a Barbican secret.")
        self.mock_workload_create.assert_not_called()


class UpdateEncrypted(base.TestCase):
    def _post(self, secret: str) -> dict[str, object]:
        return {"workload_id": "wl-1", "name": "name-wl-1", "description": "", "instances": [data.VM1],
                **SCHEDULE_POST, "secret_uuid": secret}  # fmt: skip

    @helpers.create_mocks(
        {os_api.nova: ("server_list",), workloadmgr: ("workload_get", "workload_update", "policy_list")}
    )
    def test_a_new_secret_is_sent_once_changed(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_workload_get.return_value = data.workload(encryption=True, secret_uuid="old-secret")
        self.mock_workload_update.return_value = data.workload()
        res = self.client.get(UPDATE)
        self.assertEqual("old-secret", res.context["form"].initial["secret_uuid"])
        res = self.client.post(UPDATE, self._post("old-secret"))
        self.assertNoFormErrors(res)
        self.assertNotIn("secret_uuid", self.mock_workload_update.call_args.kwargs)  # unchanged
        res = self.client.post(UPDATE, self._post(SECRET))
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertEqual(SECRET, self.mock_workload_update.call_args.kwargs["secret_uuid"])

    @helpers.create_mocks({os_api.nova: ("server_list",), workloadmgr: ("workload_get", "policy_list")})
    def test_a_clear_workload_has_no_secret_to_change(self) -> None:
        self.mock_server_list.return_value = (self.servers.list(), False)
        self.mock_policy_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(UPDATE)
        self.assertNotIn("secret_uuid", res.context["form"].fields)


class DetailSaysEncrypted(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("workload_get", "snapshot_list")})
    def test_the_secret_is_named(self) -> None:
        self.mock_workload_get.return_value = data.workload(encryption=True, secret_uuid=SECRET)
        self.mock_snapshot_list.return_value = []
        res = self.client.get(reverse("horizon:project:workloads:detail", args=["wl-1"]))
        self.assertContains(res, f"Its own key, wrapped by Barbican secret {SECRET}")
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(reverse("horizon:project:workloads:detail", args=["wl-1"]))
        self.assertNotContains(res, "Barbican secret")

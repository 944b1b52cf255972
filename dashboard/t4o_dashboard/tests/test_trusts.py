"""The project's Trusts panel: list, Create Trust (the user's own roles; cloud trust for admins), Delete."""

from __future__ import annotations

from django.urls import reverse
from openstack_dashboard.test import helpers

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.tests import base, data

INDEX = reverse("horizon:project:backup_trusts:index")
CREATE = reverse("horizon:project:backup_trusts:create")


def trust(user_id: str, role: str = "member", cloud: bool = False) -> workloadmgr.Trust:
    return workloadmgr.Trust(
        {
            "name": f"trust-{user_id}",
            "value": f"ks-{user_id}",
            "user_id": user_id,
            "project_id": data.PROJECT,
            "metadata": {
                "user_id": user_id,
                "role_name": role,
                "is_cloud_trust": "true" if cloud else "false",
            },
            "created_at": "2026-11-26T06:00:00.000000Z",
        }
    )


class TrustsTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("trust_list",)})
    def test_list_names_the_user_and_offers_delete_only_for_own(self) -> None:
        self.mock_trust_list.return_value = [trust(self.user.id), trust("someone-else", "reader")]
        res = self.client.get(INDEX)
        self.assertTemplateUsed(res, "horizon/common/_data_table_view.html")
        self.assertContains(res, f"{self.user.name} (you)")
        self.assertContains(res, "someone-else")
        self.assertContains(res, "2026-11-26 06:00:00")
        self.assertContains(res, f"ks-{self.user.id}")
        rows = {row.datum.user_id: row for row in res.context["table"].get_rows()}
        own = [a.name for a in res.context["table"].get_row_actions(rows[self.user.id].datum)]
        other = [a.name for a in res.context["table"].get_row_actions(rows["someone-else"].datum)]
        self.assertEqual((["delete"], []), (own, other))

    @helpers.create_mocks({workloadmgr: ("trust_list",)})
    def test_empty_list_says_how_to_make_one(self) -> None:
        self.mock_trust_list.return_value = []
        res = self.client.get(INDEX)
        self.assertContains(res, "No trust yet. Create Trust gives the backup service yours")

    @helpers.create_mocks({workloadmgr: ("trust_list",)})
    def test_list_error_is_a_message(self) -> None:
        self.mock_trust_list.side_effect = data.api_error("The backup service does not answer", 503)
        res = self.client.get(INDEX)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @helpers.create_mocks({workloadmgr: ("trust_create",)})
    def test_create_with_own_role(self) -> None:
        res = self.client.get(CREATE)
        choices = [c[0] for c in res.context["form"].fields["role_name"].choices]
        self.assertEqual(["", "member", "reader"], choices)  # the user's roles only
        self.assertNotIn("is_cloud_trust", res.context["form"].fields)  # not an admin
        self.mock_trust_create.return_value = trust(self.user.id, "reader")
        res = self.client.post(CREATE, {"role_name": "reader"})
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_trust_create.assert_called_once_with(helpers.IsHttpRequest(), "reader", False)
        self.assertMessageCount(success=1)

    @helpers.create_mocks({workloadmgr: ("trust_create",)})
    def test_refusal_stays_on_the_form(self) -> None:
        self.mock_trust_create.side_effect = data.api_error(
            "Trusts are created with the caller's own token", 403
        )
        res = self.client.post(CREATE, {"role_name": ""})
        self.assertEqual(200, res.status_code)
        self.assertContains(res, "Trusts are created with the caller&#x27;s own token")
        self.mock_trust_create.assert_called_once_with(helpers.IsHttpRequest(), "", False)

    @helpers.create_mocks({workloadmgr: ("trust_list", "trust_delete")})
    def test_delete(self) -> None:
        self.mock_trust_list.return_value = [trust(self.user.id)]
        res = self.client.post(INDEX, {"action": f"trusts__delete__trust-{self.user.id}"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.mock_trust_delete.assert_called_once_with(helpers.IsHttpRequest(), f"trust-{self.user.id}")
        self.assertMessageCount(success=1)

    @helpers.create_mocks({workloadmgr: ("trust_list", "trust_delete")})
    def test_delete_refused_is_a_message(self) -> None:
        self.mock_trust_list.return_value = [trust(self.user.id)]
        self.mock_trust_delete.side_effect = data.api_error("Keystone did not revoke trust ks-1", 403)
        res = self.client.post(INDEX, {"action": f"trusts__delete__trust-{self.user.id}"})
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessageCount(error=1)


class AdminTrustsTests(base.AdminTestCase):
    @helpers.create_mocks({workloadmgr: ("trust_create",)})
    def test_admin_may_create_a_cloud_trust(self) -> None:
        res = self.client.get(CREATE)
        self.assertIn("is_cloud_trust", res.context["form"].fields)
        self.mock_trust_create.return_value = trust(self.user.id, "admin", cloud=True)
        res = self.client.post(CREATE, {"role_name": "admin", "is_cloud_trust": "on"})
        self.assertNoFormErrors(res)
        self.mock_trust_create.assert_called_once_with(helpers.IsHttpRequest(), "admin", True)


class TrustApiTests(base.TestCase):
    def test_calls(self) -> None:
        from unittest import mock

        with mock.patch.object(workloadmgr, "call") as call:
            call.return_value = {"trust": [trust("u1").to_dict()]}
            self.assertEqual("trust-u1", workloadmgr.trust_list(self.request)[0].id)
            call.assert_called_with(self.request, "GET", "/trusts")
            self.assertTrue(workloadmgr.trust_create(self.request, "", True).name)
            call.assert_called_with(
                self.request, "POST", "/trusts", body={"trusts": {"is_cloud_trust": True}}
            )
            workloadmgr.trust_create(self.request, "member")
            body = {"trusts": {"is_cloud_trust": False, "role_name": "member"}}
            call.assert_called_with(self.request, "POST", "/trusts", body=body)
            workloadmgr.trust_delete(self.request, "trust-u 1")
            call.assert_called_with(self.request, "DELETE", "/trusts/trust-u%201")

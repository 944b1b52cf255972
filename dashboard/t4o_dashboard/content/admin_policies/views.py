"""Workload policies: the list with their projects, create, edit, assign to projects, delete."""

from __future__ import annotations

from typing import Any

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.admin_policies import forms as policy_forms
from t4o_dashboard.content.admin_policies import tables as policy_tables

INDEX_URL = "horizon:admin:backup_policies:index"


def with_projects(request: Any, policy: Any) -> Any:
    """The policy with its assigned projects: the list may leave them out, the admin's show names them."""
    if policy.projects is None:
        policy = workloadmgr.policy_get(request, policy.id)
    return policy


class IndexView(common.TableView):
    table_class = policy_tables.PoliciesTable
    page_title = _("Workload Policies")

    def get_data(self) -> list[Any]:
        policies = common.list_or_empty(
            self.request,
            _("Unable to list workload policies."),
            lambda: [with_projects(self.request, p) for p in workloadmgr.policy_list(self.request)],
        )
        names = common.project_names(self.request) if any(p.projects for p in policies) else {}
        for policy in policies:
            policy.project_names = sorted(names.get(p) or p for p in policy.projects or [])
        return sorted(policies, key=lambda p: p.name.lower())


def _get_policy(request: Any, policy_id: str) -> Any:
    return common.get_or_redirect(
        request,
        _("Unable to read the workload policy."),
        INDEX_URL,
        lambda: workloadmgr.policy_get(request, policy_id),
    )


class CreateView(modal.ModalForm):
    form_class = policy_forms.PolicyForm
    modal_id = "create_policy_modal"
    page_title = _("Create Workload Policy")
    submit_label = _("Create Policy")
    submit_url_name = "horizon:admin:backup_policies:create"
    success_url = reverse_lazy(INDEX_URL)
    help_text = _(
        "A policy fixes the interval and retention of the workloads that follow it. Assign it to projects "
        "so their members can choose it."
    )


class UpdateView(modal.ModalForm):
    form_class = policy_forms.PolicyForm
    modal_id = "update_policy_modal"
    page_title = _("Edit Workload Policy")
    submit_url_name = "horizon:admin:backup_policies:update"
    success_url = reverse_lazy(INDEX_URL)

    def get_initial(self) -> dict[str, Any]:
        policy = _get_policy(self.request, self.kwargs["policy_id"])
        initial = {"policy_id": policy.id, "name": policy.name, "description": policy.description}
        for key in ("interval", "retention_policy_type", "retention_policy_value", "fullbackup_interval"):
            if policy.fields.get(key) not in (None, ""):
                initial[key] = policy.fields[key]
        return initial


class AssignView(modal.ModalForm):
    form_class = policy_forms.AssignForm
    modal_id = "assign_policy_modal"
    page_title = _("Assign Workload Policy")
    submit_url_name = "horizon:admin:backup_policies:assign"
    success_url = reverse_lazy(INDEX_URL)
    help_text = _(
        "Members of the ticked projects may create workloads that follow this policy. Unticking a project "
        "takes the policy back; its workloads keep their schedule."
    )

    def get_initial(self) -> dict[str, Any]:
        policy = _get_policy(self.request, self.kwargs["policy_id"])
        return {"policy_id": policy.id, "projects": list(policy.projects or [])}

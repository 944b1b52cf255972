"""Forms of the Workload Policies panel: a policy's schedule and retention, and its projects."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.workloads import forms as workload_forms

INDEX_URL = "horizon:admin:backup_policies:index"


class PolicyForm(forms.SelfHandlingForm):
    """Creates a policy, or changes the one named by ``policy_id``."""

    policy_id = forms.CharField(widget=forms.HiddenInput(), required=False)
    name = forms.CharField(label=_("Name"), max_length=255)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=1024, widget=forms.Textarea(attrs={"rows": 2})
    )
    interval = forms.ChoiceField(label=_("Interval"), choices=workload_forms.INTERVALS, initial="24 hr")
    retention_policy_type = workload_forms.retention_type_field()
    retention_policy_value = workload_forms.retention_value_field()
    fullbackup_interval = workload_forms.full_every_field()

    field_values_keys = ("interval", "retention_policy_type", "retention_policy_value", "fullbackup_interval")

    @staticmethod
    def field_values(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "interval": data["interval"],
            "retention_policy_type": data["retention_policy_type"],
            "retention_policy_value": int(data["retention_policy_value"]),
            "fullbackup_interval": int(data["fullbackup_interval"]),
        }

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        values = self.field_values(data)
        try:
            if data.get("policy_id"):
                policy = workloadmgr.policy_update(
                    request, data["policy_id"], data["name"], data["description"], values
                )
            else:
                policy = workloadmgr.policy_create(request, data["name"], data["description"], values)
        except Exception as exc:
            # A name another policy has (409) shows on the name; the form stays open with what was typed.
            if isinstance(exc, workloadmgr.WorkloadmgrError) and exc.status == 409:
                self.add_error("name", str(exc))
                return False
            if common.refused_on_form(self, request, exc, self.field_values_keys, statuses=(400,)):
                return False
            exceptions.handle(request, _("Unable to save the workload policy."), redirect=reverse(INDEX_URL))
            return False
        messages.success(request, _('Workload policy "%s" saved.') % policy.name)
        return policy


def project_choices(request: Any) -> list[tuple[str, str]]:
    return sorted(common.project_names(request).items(), key=lambda kv: kv[1].lower())


class AssignForm(forms.SelfHandlingForm):
    """The projects whose workloads may follow the policy; unticking one takes the policy back from it."""

    policy_id = forms.CharField(widget=forms.HiddenInput())
    projects = forms.MultipleChoiceField(
        label=_("Projects"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        choices = project_choices(request)
        # Projects Keystone no longer lists stay visible, so they can be unassigned.
        known = {c[0] for c in choices}
        choices += [
            (p, f"{p} ({_('not found')})") for p in self.initial.get("projects", []) if p not in known
        ]
        self.fields["projects"].choices = choices

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        try:
            current = set(workloadmgr.policy_get(request, data["policy_id"]).projects or [])
            wanted = set(data["projects"])
            policy = workloadmgr.policy_assign(
                request, data["policy_id"], sorted(wanted - current), sorted(current - wanted)
            )
        except Exception:
            exceptions.handle(
                request, _("Unable to assign the workload policy."), redirect=reverse(INDEX_URL)
            )
            return False
        messages.success(request, _('Projects of workload policy "%s" saved.') % policy.name)
        return policy

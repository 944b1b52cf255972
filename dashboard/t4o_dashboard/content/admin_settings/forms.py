"""Forms of the admin Settings panel: a setting's value, and the global job scheduler switch."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from t4o_dashboard.api import workloadmgr

INDEX_URL = "horizon:admin:backup_settings:index"


class SettingForm(forms.SelfHandlingForm):
    name = forms.RegexField(
        label=_("Name"),
        max_length=255,
        regex=r"^[A-Za-z0-9_.:-]+$",
        error_messages={"invalid": _("Use letters, digits and _ . : - only.")},
    )
    value = forms.CharField(label=_("Value"), max_length=4096, required=False)
    description = forms.CharField(label=_("Description"), max_length=1024, required=False)

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        if self.initial.get("name"):
            self.fields["name"].widget.attrs["readonly"] = True

    def handle(self, request: Any, data: dict[str, Any]) -> bool:
        try:
            workloadmgr.setting_set(request, data["name"], data["value"], data["description"])
        except Exception:
            exceptions.handle(request, _("Unable to save the setting."), redirect=reverse(INDEX_URL))
            return False
        messages.success(request, _('Setting "%s" saved.') % data["name"])
        return True


class SchedulerForm(forms.SelfHandlingForm):
    enabled = forms.ChoiceField(
        label=_("Scheduled snapshots"),
        choices=[("on", _("On: workloads' schedules run")), ("off", _("Off: no scheduled snapshot runs"))],
        widget=forms.RadioSelect,
    )

    def handle(self, request: Any, data: dict[str, Any]) -> bool:
        try:
            state = workloadmgr.global_scheduler_set(request, data["enabled"] == "on")
        except Exception:
            exceptions.handle(
                request, _("Unable to switch the global job scheduler."), redirect=reverse(INDEX_URL)
            )
            return False
        messages.success(
            request, _("Global job scheduler is on.") if state else _("Global job scheduler is off.")
        )
        return True

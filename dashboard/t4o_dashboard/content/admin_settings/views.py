"""The global job scheduler's state and switch, and the service's settings."""

from __future__ import annotations

from typing import Any

from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.admin_settings import forms as settings_forms
from t4o_dashboard.content.admin_settings import tables as settings_tables

INDEX_URL = "horizon:admin:backup_settings:index"


def scheduler_state(request: Any) -> bool | None:
    try:
        return workloadmgr.global_scheduler_enabled(request)
    except Exception:
        exceptions.handle(request, _("Unable to read the global job scheduler's state."))
        return None


class IndexView(tables.DataTableView):
    table_class = settings_tables.SettingsTable
    template_name = "t4o_dashboard/admin_settings.html"
    page_title = _("Backup Settings")

    def get_data(self) -> list[Any]:
        return common.list_or_empty(
            self.request, _("Unable to list settings."), lambda: workloadmgr.setting_list(self.request)
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["scheduler_enabled"] = scheduler_state(self.request)
        return context


class CreateView(modal.ModalForm):
    form_class = settings_forms.SettingForm
    modal_id = "create_setting_modal"
    page_title = _("Create Setting")
    submit_label = _("Create")
    submit_url_name = "horizon:admin:backup_settings:create"
    success_url = reverse_lazy(INDEX_URL)


class UpdateView(modal.ModalForm):
    form_class = settings_forms.SettingForm
    modal_id = "update_setting_modal"
    page_title = _("Edit Setting")
    submit_url_name = "horizon:admin:backup_settings:update"
    success_url = reverse_lazy(INDEX_URL)

    def get_initial(self) -> dict[str, Any]:
        name = self.kwargs["name"]
        settings = common.get_or_redirect(
            self.request,
            _("Unable to read the setting."),
            INDEX_URL,
            lambda: workloadmgr.setting_list(self.request),
        )
        found = [s for s in settings if s.name == name]
        if not found:
            exceptions.handle(self.request, _('No setting "%s".') % name, redirect=reverse(INDEX_URL))
        return {"name": name, "value": found[0].value, "description": found[0].description}


class SchedulerView(modal.ModalForm):
    form_class = settings_forms.SchedulerForm
    modal_id = "scheduler_modal"
    page_title = _("Global Job Scheduler")
    submit_url_name = "horizon:admin:backup_settings:scheduler"
    success_url = reverse_lazy(INDEX_URL)
    help_text = _(
        "Off stops every workload's scheduled snapshots across the cloud; snapshots on demand still run."
    )

    def get_initial(self) -> dict[str, Any]:
        state = scheduler_state(self.request)
        return {"enabled": "off" if state is False else "on"}

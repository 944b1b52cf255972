"""The settings table of the admin Settings panel."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr


class CreateSetting(tables.LinkAction):
    name = "create"
    verbose_name = _("Create Setting")
    url = "horizon:admin:backup_settings:create"
    classes = ("ajax-modal",)
    icon = "plus"


class SwitchScheduler(tables.LinkAction):
    name = "scheduler"
    verbose_name = _("Global Job Scheduler")
    url = "horizon:admin:backup_settings:scheduler"
    classes = ("ajax-modal",)
    icon = "clock-o"


class EditSetting(tables.LinkAction):
    name = "edit"
    verbose_name = _("Edit")
    url = "horizon:admin:backup_settings:update"
    classes = ("ajax-modal",)


class DeleteSetting(tables.DeleteAction):
    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Delete Setting", "Delete Settings", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Deleted Setting", "Deleted Settings", count)

    def delete(self, request: Any, obj_id: str) -> None:
        workloadmgr.setting_delete(request, obj_id)


class SettingsTable(tables.DataTable):
    name = tables.Column("name", verbose_name=_("Name"))
    value = tables.WrappingColumn("value", verbose_name=_("Value"))
    description = tables.WrappingColumn("description", verbose_name=_("Description"))

    class Meta:
        name = "settings"
        verbose_name = _("Settings")
        table_actions = (SwitchScheduler, CreateSetting, DeleteSetting)
        row_actions = (EditSetting, DeleteSetting)

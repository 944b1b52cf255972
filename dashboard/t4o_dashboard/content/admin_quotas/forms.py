"""The form that sets a project's backup quotas: an allowed value and a high watermark per kind."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from t4o_dashboard.api import workloadmgr

GIB = 1024**3
# Quota kinds counted in bytes (the API's "Storage"); the form shows them in GiB.
BYTES_KINDS = ("Storage",)


def in_bytes(quota_type: Any) -> bool:
    return quota_type.display_name in BYTES_KINDS


def _key(type_id: str) -> str:
    return type_id.replace("-", "_")


def _to_form(value: int | None, bytes_: bool) -> float | int | None:
    if value is None or not bytes_ or value < 0:
        return value
    return round(value / GIB, 3)


def _to_api(value: float | int | None, bytes_: bool) -> int | None:
    if value is None:
        return None
    if bytes_ and value >= 0:
        return round(value * GIB)
    return int(value)


class QuotasForm(forms.SelfHandlingForm):
    project_id = forms.CharField(widget=forms.HiddenInput())

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        for row in self.initial.get("rows", []):
            key = _key(row.id)
            unit = " (GiB)" if row.in_bytes else ""
            field = forms.FloatField if row.in_bytes else forms.IntegerField
            self.fields[f"allowed_{key}"] = field(
                label=_("%s allowed") % row.name + unit,
                required=False,
                min_value=-1,
                initial=_to_form(row.allowed, row.in_bytes),
            )
            self.fields[f"high_{key}"] = field(
                label=_("%s high watermark") % row.name + unit,
                required=False,
                min_value=-1,
                initial=_to_form(row.high, row.in_bytes),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for row in self.initial.get("rows", []):
            key = _key(row.id)
            allowed, high = data.get(f"allowed_{key}"), data.get(f"high_{key}")
            if allowed is None and high is not None:
                self.add_error(f"allowed_{key}", _("Set the allowed value too, or empty both."))
            elif allowed is not None and high is not None and allowed >= 0 and high > allowed:
                self.add_error(f"high_{key}", _("The high watermark cannot exceed the allowed value."))
        return data

    def changes(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """The quotas to set (only those that changed) and the ids of the quotas to remove."""
        to_set: list[dict[str, Any]] = []
        to_remove: list[str] = []
        for row in self.initial.get("rows", []):
            key = _key(row.id)
            allowed, high = data.get(f"allowed_{key}"), data.get(f"high_{key}")
            if allowed is None:
                if row.quota_id:
                    to_remove.append(row.quota_id)
                continue
            if high is None:
                high = allowed
            if (allowed, high) == (_to_form(row.allowed, row.in_bytes), _to_form(row.high, row.in_bytes)):
                continue
            to_set.append(
                {
                    "quota_type_id": row.id,
                    "allowed_value": _to_api(allowed, row.in_bytes),
                    "high_watermark": _to_api(high, row.in_bytes),
                }
            )
        return to_set, to_remove

    def handle(self, request: Any, data: dict[str, Any]) -> bool:
        to_set, to_remove = self.changes(data)
        try:
            if to_set:
                workloadmgr.quota_set(request, data["project_id"], to_set)
            for quota_id in to_remove:
                workloadmgr.quota_delete(request, quota_id)
        except Exception:
            redirect = reverse("horizon:admin:backup_quotas:detail", args=[data["project_id"]])
            exceptions.handle(request, _("Unable to save the quotas."), redirect=redirect)
            return False
        messages.success(request, _("Quotas saved."))
        return True

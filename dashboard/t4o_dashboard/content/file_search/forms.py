"""The file search form of a workload: a VM, a path, glob or regex, and optionally snapshots or dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

FILEPATH_HELP = _(
    "An absolute path (/etc/hosts), a name found at any depth (hosts), a glob (*.conf, /var/log/**/*.gz) "
    "or a regular expression (^/home/.*\\.txt$)."
)


def snapshot_label(snapshot: Any) -> str:
    created = common.timestamp(snapshot.created_at) or "-"
    return f"{common.display_name(snapshot)} ({created}, {snapshot.snapshot_type or '-'})"


class FileSearchForm(forms.SelfHandlingForm):
    workload_id = forms.CharField(widget=forms.HiddenInput())
    vm_id = forms.ChoiceField(label=_("VM"))
    filepath = forms.CharField(label=_("File path"), max_length=4096, help_text=FILEPATH_HELP)
    snapshot_ids = forms.MultipleChoiceField(
        label=_("Snapshots"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every available snapshot of the VM (within the dates below)."),
    )
    date_from = forms.DateField(
        label=_("Taken from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Taken until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Dates in UTC; both days are included."),
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["vm_id"].choices = [
            (vm["id"], f"{vm.get('name') or vm['id']} ({vm['id'][:8]})") for vm in self.initial.get("vms", [])
        ]
        self.fields["snapshot_ids"].choices = [
            (s.id, snapshot_label(s)) for s in self.initial.get("snapshots", [])
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            raise forms.ValidationError(_("The first date is after the last one."))
        return data

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        first: dt.date | None = data.get("date_from")
        last: dt.date | None = data.get("date_to")
        try:
            return workloadmgr.file_search_start(
                request,
                data["vm_id"],
                data["filepath"],
                snapshot_ids=data.get("snapshot_ids") or None,
                # Whole days: from the first day's start to the last day's end.
                date_from=f"{first.isoformat()}T00:00:00" if first else None,
                date_to=f"{last.isoformat()}T23:59:59" if last else None,
            )
        except Exception:
            # The form stays filled in, with the API's reason (no snapshot matches, a bad regex...).
            exceptions.handle(request, _("Unable to start the file search."))
            return False

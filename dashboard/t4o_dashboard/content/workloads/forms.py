"""Forms of the Workloads panel: create and edit (instances, schedule, retention) and take a snapshot."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages
from openstack_dashboard.api import nova

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

INTERVALS = [
    (f"{h} hr", _("Every %d hours") % h if h > 1 else _("Every hour")) for h in (1, 2, 3, 4, 6, 8, 12, 24)
]
RETENTION_TYPES = [
    ("Number of Snapshots to Keep", _("Number of snapshots to keep")),
    ("Number of days to retain Snapshots", _("Number of days to keep snapshots")),
]
INDEX_URL = "horizon:project:workloads:index"
# jobschedule fields a workload policy decides
POLICY_FIELDS = ("interval", "retention_policy_type", "retention_policy_value", "fullbackup_interval")
NO_POLICY = "none"  # a value, not "": Horizon shows the fields a policy decides only for this choice
# HH:MM on a 24-hour clock, or HH:MM AM/PM: both as the API's jobschedule takes them.
START_TIME = r"^(([01]?[0-9]|2[0-3]):[0-5][0-9]|(0?[1-9]|1[0-2]):[0-5][0-9] ?([AaPp][Mm]))$"


def timezone_choices(current: str | None = None) -> list[tuple[str, str]]:
    """Every IANA time zone the server knows (UTC first), and ``current`` if it is not among them."""
    zones = sorted(zoneinfo.available_timezones() - {"UTC"})
    if current and current != "UTC" and current not in zones:
        zones.append(current)
    return [(z, z) for z in ["UTC", *zones]]


def instance_choices(request: Any) -> list[tuple[str, str]]:
    """The project's servers, for the instance picker."""
    try:
        servers, _more = nova.server_list(request)
    except Exception:
        exceptions.handle(request, _("Unable to list the project's instances."))
        return []
    return sorted(((s.id, f"{s.name} ({s.id[:8]})") for s in servers), key=lambda c: c[1])


# The retention fields of a workload's schedule and of a workload policy: the same jobschedule keys.
def retention_type_field() -> forms.ChoiceField:
    return forms.ChoiceField(label=_("Retention"), choices=RETENTION_TYPES)


def retention_value_field() -> forms.IntegerField:
    return forms.IntegerField(label=_("Keep"), min_value=1, max_value=10000, initial=30)


def full_every_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Full snapshot every"),
        min_value=-1,
        max_value=10000,
        initial=-1,
        help_text=_("-1: only the first is full; 0: every one is full; N: a full one every N snapshots."),
    )


class ScheduleFieldsMixin:
    """Schedule and retention fields shared by create and edit, and the jobschedule they make."""

    def add_policy_field(self, request: Any, current: str | None = None) -> None:
        """A choice of the project's workload policies, when there are any; call before the schedule's."""
        choices = policy_choices(request)
        if current and current not in {c[0] for c in choices}:
            choices.append((current, f"{current} ({_('not assigned to the project')})"))
        if not choices:
            return
        self.fields["policy"] = forms.ChoiceField(  # type: ignore[attr-defined]
            label=_("Workload policy"),
            required=False,
            choices=[(NO_POLICY, _("None: the interval and retention below")), *choices],
            initial=current or NO_POLICY,
            help_text=_("A policy of the project decides the interval and retention."),
            widget=forms.Select(attrs={"class": "switchable", "data-slug": "policy"}),
        )

    def hide_policy_fields(self) -> None:
        """The fields a policy decides show only while no policy is chosen (Horizon's switchable fields)."""
        fields = self.fields  # type: ignore[attr-defined]
        if "policy" not in fields:
            return
        for key in POLICY_FIELDS:
            attrs = fields[key].widget.attrs
            attrs.update({"class": "switched", "data-switch-on": "policy"})
            attrs[f"data-policy-{NO_POLICY}"] = fields[key].label

    def add_schedule_fields(self) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        fields["schedule_enabled"] = forms.BooleanField(
            label=_("Run on a schedule"), required=False, initial=True
        )
        fields["interval"] = forms.ChoiceField(label=_("Interval"), choices=INTERVALS, initial="24 hr")
        fields["start_time"] = forms.RegexField(
            label=_("Start time"),
            regex=START_TIME,
            initial="09:00 PM",
            help_text=_(
                "HH:MM on a 24-hour clock (21:30) or HH:MM AM/PM (09:30 PM), in the time zone below."
            ),
            error_messages={"invalid": _("Use HH:MM (e.g. 21:30) or HH:MM AM/PM (e.g. 09:30 PM).")},
        )
        current = (self.initial or {}).get("timezone")  # type: ignore[attr-defined]
        fields["timezone"] = forms.ChoiceField(
            label=_("Time zone"), initial="UTC", choices=timezone_choices(current)
        )
        fields["retention_policy_type"] = retention_type_field()
        fields["retention_policy_value"] = retention_value_field()
        fields["fullbackup_interval"] = full_every_field()

    @staticmethod
    def jobschedule(data: dict[str, Any]) -> dict[str, Any]:
        schedule = {
            "enabled": bool(data["schedule_enabled"]),
            "interval": data["interval"],
            "start_time": data["start_time"],
            "timezone": data["timezone"],
            "retention_policy_type": data["retention_policy_type"],
            "retention_policy_value": int(data["retention_policy_value"]),
            "fullbackup_interval": int(data["fullbackup_interval"]),
        }
        if chosen_policy(data):
            # The policy decides these; the API refuses a workload that sets them as well.
            for key in POLICY_FIELDS:
                schedule.pop(key)
        return schedule


# The jobschedule fields of the form, where an API refusal naming one of them is shown.
SCHEDULE_FIELDS = ("start_time", "timezone", "interval", *POLICY_FIELDS)


def chosen_policy(data: dict[str, Any]) -> str | None:
    policy = data.get("policy")
    return None if policy in (None, "", NO_POLICY) else policy


def policy_choices(request: Any) -> list[tuple[str, str]]:
    """The workload policies assigned to the project (what the API lists for a member)."""
    try:
        policies = workloadmgr.policy_list(request)
    except Exception:
        exceptions.handle(request, _("Unable to list workload policies."), ignore=True)
        return []
    return sorted(((p.id, p.name) for p in policies), key=lambda c: c[1].lower())


CONFIGURED_TARGET = "config"  # the API's id of the [backup_target] of the service's configuration
TARGET_TYPES = {"posix": _("directory"), "nfs": _("NFS"), "s3": _("S3 bucket")}


def backup_target_choices(request: Any) -> tuple[list[tuple[str, str]], str | None]:
    """The backup targets a new workload may go to, and the one it goes to unless told.

    Only administrators can list the targets (API rule backup_target:get): members get none, and their
    workloads go to the default target."""
    if not request.user.is_superuser:
        return [], None
    try:
        found = workloadmgr.backup_target_list(request)
    except Exception:
        exceptions.handle(request, _("Unable to list the backup targets."), ignore=True)
        return [], None
    default = next((t.id for t in found if t.get("is_default")), None)
    choices = []
    for t in found:
        label = f"{t.name} ({TARGET_TYPES.get(t.type, t.type)})"
        choices.append((t.id, f"{label} - {_('default')}" if t.id == default else label))
    if default is None:
        # No defined target is the default: a workload that names none goes to the configured one.
        choices.insert(0, (CONFIGURED_TARGET, str(_("The configured target (default)"))))
        default = CONFIGURED_TARGET
    return choices, default


def chosen_target(data: dict[str, Any]) -> dict[str, str]:
    """``backup_target_id`` for the API when one was chosen; else nothing (the default target)."""
    target = data.get("backup_target")
    return {"backup_target_id": target} if target else {}


def secret_field(required: bool, help_text: str) -> forms.CharField:
    return forms.CharField(label=_("Barbican secret"), required=required, max_length=255, help_text=help_text)


def chosen_encryption(data: dict[str, Any]) -> dict[str, Any]:
    """``encryption`` and ``secret_uuid`` for the API when encryption was asked for; else nothing."""
    if not data.get("encryption"):
        return {}
    return {"encryption": True, "secret_uuid": data["secret_uuid"].strip()}


class CreateWorkloadForm(ScheduleFieldsMixin, forms.SelfHandlingForm):
    name = forms.CharField(label=_("Name"), max_length=255)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=1024, widget=forms.Textarea(attrs={"rows": 2})
    )
    instances = forms.MultipleChoiceField(
        label=_("Instances"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The VMs this workload protects."),
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["instances"].choices = instance_choices(request)
        targets, default = backup_target_choices(request)
        if len(targets) > 1:  # one target: nothing to choose
            self.fields["backup_target"] = forms.ChoiceField(
                label=_("Backup target"),
                choices=targets,
                initial=default,
                help_text=_("Where the workload's snapshots are stored; it cannot change later."),
            )
        self.fields["encryption"] = forms.BooleanField(
            label=_("Encrypt the backups"),
            required=False,
            help_text=_(
                "With a key of the workload's own, wrapped by a Barbican secret of this project: its "
                "disks and records on the backup target are unreadable without that secret. It cannot "
                "be turned on or off later."
            ),
        )
        self.fields["secret_uuid"] = secret_field(
            False, _("The secret's UUID (a symmetric key of at least 16 bytes, e.g. an AES-256 key).")
        )
        self.add_policy_field(request)
        self.add_schedule_fields()
        self.hide_policy_fields()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("encryption") and not (data.get("secret_uuid") or "").strip():
            self.add_error("secret_uuid", _("An encrypted workload needs a Barbican secret."))
        return data

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        try:
            wl = workloadmgr.workload_create(
                request,
                data["name"],
                data["description"],
                data["instances"],
                self.jobschedule(data),
                policy_id=chosen_policy(data),
                **chosen_target(data),
                **chosen_encryption(data),
            )
        except Exception as exc:
            if common.refused_on_form(self, request, exc, SCHEDULE_FIELDS):
                return False
            exceptions.handle(request, _("Unable to create the workload."), redirect=reverse(INDEX_URL))
            return False
        messages.success(request, _('Workload "%s" is being created.') % wl.name)
        return wl


class UpdateWorkloadForm(ScheduleFieldsMixin, forms.SelfHandlingForm):
    workload_id = forms.CharField(widget=forms.HiddenInput())
    name = forms.CharField(label=_("Name"), max_length=255)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=1024, widget=forms.Textarea(attrs={"rows": 2})
    )
    instances = forms.MultipleChoiceField(label=_("Instances"), widget=forms.CheckboxSelectMultiple)

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        choices = instance_choices(request)
        # Members that are gone from Nova still show, so the user can see and drop them.
        known = {c[0] for c in choices}
        for vm in self.initial.get("current_instances", []):
            if vm["id"] not in known:
                choices.append((vm["id"], f"{vm.get('name') or vm['id']} ({_('not found')})"))
        self.fields["instances"].choices = choices
        if self.initial.get("encryption"):
            self.fields["secret_uuid"] = secret_field(
                True,
                _(
                    "The Barbican secret wrapping the workload's key. A new one re-wraps the key (the "
                    "old secret must still be readable); no backup is rewritten."
                ),
            )
        self.add_policy_field(request, self.initial.get("policy"))
        self.add_schedule_fields()
        self.hide_policy_fields()

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        changes: dict[str, Any] = {
            "name": data["name"],
            "description": data["description"],
            "instances": [{"instance-id": i} for i in data["instances"]],
            "jobschedule": self.jobschedule(data),
        }
        secret = (data.get("secret_uuid") or "").strip()
        if secret and secret != self.initial.get("secret_uuid"):
            changes["secret_uuid"] = secret
        policy = chosen_policy(data)
        if policy != self.initial.get("policy"):
            # Taking or leaving a policy: the API then drops or keeps the fields the former one decided.
            metadata = {k: v for k, v in (self.initial.get("metadata") or {}).items() if k != "policy_id"}
            changes["metadata"] = {**metadata, "policy_id": policy} if policy else metadata
        try:
            wl = workloadmgr.workload_update(request, data["workload_id"], **changes)
        except Exception as exc:
            if common.refused_on_form(self, request, exc, SCHEDULE_FIELDS):
                return False
            exceptions.handle(request, _("Unable to update the workload."), redirect=reverse(INDEX_URL))
            return False
        messages.success(request, _('Workload "%s" was updated.') % wl.name)
        return wl


class SnapshotForm(forms.SelfHandlingForm):
    workload_id = forms.CharField(widget=forms.HiddenInput())
    name = forms.CharField(label=_("Snapshot name"), max_length=255, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=1024, widget=forms.Textarea(attrs={"rows": 2})
    )
    snapshot_type = forms.ChoiceField(
        label=_("Type"),
        choices=[
            ("incremental", _("Incremental: only what changed since the last snapshot")),
            ("full", _("Full: every block of every disk")),
        ],
        widget=forms.RadioSelect,
        initial="incremental",
    )

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        try:
            snap = workloadmgr.workload_snapshot(
                request,
                data["workload_id"],
                full=data["snapshot_type"] == "full",
                name=data["name"],
                description=data["description"],
            )
        except Exception as exc:
            # A refusal (no live worker, quota) shows in the form, before anything is queued.
            if common.refused_on_form(self, request, exc, ()):
                return False
            exceptions.handle(request, _("Unable to take a snapshot."), redirect=reverse(INDEX_URL))
            return False
        messages.success(request, _('Snapshot "%s" is queued.') % common.snapshot_name(snap))
        return snap

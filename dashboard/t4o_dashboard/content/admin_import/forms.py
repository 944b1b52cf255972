"""The reassign form: orphaned workloads to a project and user of this cloud, or by a map of projects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from horizon import exceptions, forms, messages
from openstack_dashboard.api import keystone

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

INDEX_URL = "horizon:admin:backup_import:index"
MAX_MAP_BYTES = 1024 * 1024
# One pair a line: "OLD NEW", "OLD: NEW", "OLD=NEW", "OLD,NEW" or "OLD -> NEW" (ids may hold hyphens).
_PAIR = re.compile(r"^(\S+?)\s*(?:->|=>|=|:|,|\s)\s*(\S+)$")


@dataclass
class Move:
    """One reassign request: old project id to new, an owner (None: unchanged), the workloads (all of the
    old projects when empty)."""

    project_map: dict[str, str]
    user_id: str | None = None
    workload_ids: list[str] = field(default_factory=list)


def parse_map(text: str) -> list[Move]:
    """A map of old to new project ids: lines of pairs, a JSON or YAML object ``{old: new}``, or Trilio's
    reassign map file (``reassign_mappings: [{old_tenant_ids, new_tenant_id, user_id, workload_ids}]``)."""
    text = text.strip()
    if not text:
        return []
    data: Any = None
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(_("The map is not valid JSON: %s") % exc) from None
    elif text.startswith("reassign_mappings") or re.match(r"^[^\s:#]+:\s", text):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(_("The map is not valid YAML: %s") % exc) from None
    if isinstance(data, dict) and "reassign_mappings" in data:
        return _trilio_mappings(data["reassign_mappings"])
    if isinstance(data, dict):
        return [Move({str(k): str(v) for k, v in data.items() if k and v})]
    if data is not None:
        raise ValueError(_("The map must be an object of old to new project ids."))
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PAIR.match(line)
        if not match:
            raise ValueError(
                _('Line %(n)d is not "OLD-PROJECT-ID NEW-PROJECT-ID": %(line)s') % {"n": number, "line": line}
            )
        pairs[match.group(1)] = match.group(2)
    return [Move(pairs)] if pairs else []


def _trilio_mappings(mappings: Any) -> list[Move]:
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        raise ValueError(_("reassign_mappings must be a list of mappings."))
    moves = []
    for number, m in enumerate(mappings, 1):
        old, new = m.get("old_tenant_ids") or [], m.get("new_tenant_id")
        if isinstance(old, str):
            old = [old]
        if not old or not new:
            raise ValueError(_("Mapping %d needs old_tenant_ids and new_tenant_id.") % number)
        ids = m.get("workload_ids") or []
        moves.append(
            Move(
                {str(o): str(new) for o in old},
                str(m["user_id"]) if m.get("user_id") else None,
                [str(i) for i in ([ids] if isinstance(ids, str) else ids)],
            )
        )
    return moves


def users_by_project(request: Any) -> dict[str, dict[str, str]]:
    """Project id to its users (id to name), from Keystone's effective role assignments in one call."""
    try:
        assignments = keystone.role_assignments_list(request, effective=True, include_names=True)
    except Exception:
        exceptions.handle(request, _("Unable to list the projects' users; owners stay unchanged."))
        return {}
    found: dict[str, dict[str, str]] = {}
    for a in assignments:
        user = getattr(a, "user", None) or {}
        project = (getattr(a, "scope", None) or {}).get("project") or {}
        if user.get("id") and project.get("id"):
            found.setdefault(project["id"], {})[user["id"]] = user.get("name") or user["id"]
    return found


def _user_field(project_id: str) -> str:
    return f"user__{project_id}"


class ReassignForm(forms.SelfHandlingForm):
    workload_ids = forms.CharField(widget=forms.HiddenInput(), required=False)
    mode = forms.ChoiceField(
        label=_("Reassign"),
        choices=[
            ("project", _("To one project and user")),
            ("map", _("By a map of old to new project ids")),
        ],
        widget=forms.Select(attrs={"class": "switchable", "data-slug": "mode"}),
    )
    project = forms.ChoiceField(
        label=_("Target Project"),
        required=False,
        widget=forms.Select(
            attrs={
                "class": "switchable switched",
                "data-slug": "project",
                "data-switch-on": "mode",
                "data-mode-project": _("Target Project"),
            }
        ),
    )
    project_map = forms.CharField(
        label=_("Project Map"),
        required=False,
        help_text=_(
            'One "OLD-PROJECT-ID NEW-PROJECT-ID" a line, a JSON object {"old": "new"}, or Trilio\'s '
            "reassign map (YAML reassign_mappings)."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "class": "switched",
                "data-switch-on": "mode",
                "data-mode-map": _("Project Map"),
            }
        ),
    )
    project_map_file = forms.FileField(
        label=_("Or a Map File"),
        required=False,
        widget=forms.FileInput(
            attrs={"class": "switched", "data-switch-on": "mode", "data-mode-map": _("Or a Map File")}
        ),
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.projects = common.project_names(request)
        self.users = users_by_project(request) if self.projects else {}
        choices = sorted(self.projects.items(), key=lambda kv: kv[1].lower())
        if not self.projects:
            self.fields["project"].help_text = _(
                "Keystone's projects cannot be listed now; a project map takes project ids as they are."
            )
        self.fields["project"].choices = [("", _("Choose a project"))] + [
            (pid, f"{name} ({pid})") for pid, name in choices
        ]
        # One owner list per project, shown when that project is chosen, right below the project.
        fields = dict(self.fields)
        self.fields.clear()
        for key in ("workload_ids", "mode", "project"):
            self.fields[key] = fields.pop(key)
        for pid, _pname in choices:
            users = sorted(self.users.get(pid, {}).items(), key=lambda kv: kv[1].lower())
            self.fields[_user_field(pid)] = forms.ChoiceField(
                label=_("User"),
                required=False,
                choices=[("", _("Keep the current owner"))]
                + [(uid, f"{uname} ({uid})") for uid, uname in users],
                widget=forms.Select(
                    attrs={"class": "switched", "data-switch-on": "project", f"data-project-{pid}": _("User")}
                ),
            )
        self.fields.update(fields)

    def ids(self) -> list[str]:
        return [i for i in (self.cleaned_data.get("workload_ids") or "").split(",") if i]

    def _new_project(self, value: str) -> str:
        """A new project given by id or name; unknown ones are refused while Keystone's list is at hand."""
        if not self.projects or value in self.projects:
            return value
        by_name = [pid for pid, name in self.projects.items() if name == value]
        if len(by_name) == 1:
            return by_name[0]
        raise forms.ValidationError(_("Project %s is not known to Keystone.") % value)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("mode") == "map":
            text = data.get("project_map") or ""
            upload = data.get("project_map_file")
            if upload is not None:
                if upload.size > MAX_MAP_BYTES:
                    raise forms.ValidationError(_("The map file is larger than 1 MiB."))
                try:
                    text = upload.read().decode("utf-8") + "\n" + text
                except UnicodeDecodeError:
                    raise forms.ValidationError(_("The map file is not UTF-8 text.")) from None
            try:
                moves = parse_map(text)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
            if not moves:
                raise forms.ValidationError(
                    _("Give a map of old to new project ids, in the box or as a file.")
                )
            for move in moves:
                move.project_map = {old: self._new_project(new) for old, new in move.project_map.items()}
                move.workload_ids = move.workload_ids or self.ids()
            data["moves"] = moves
            return data
        project = data.get("project")
        if not project:
            raise forms.ValidationError(_("Choose the project the workloads move to."))
        if not self.ids():
            raise forms.ValidationError(
                _("Choose the workloads to reassign in the Orphaned Workloads table, or use a project map.")
            )
        data["user"] = data.get(_user_field(project)) or None
        return data

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        moved: list[dict[str, Any]] = []
        try:
            if data.get("mode") == "map":
                for move in data["moves"]:
                    moved += workloadmgr.reassign_workloads(
                        request, move.workload_ids, user_id=move.user_id, project_map=move.project_map
                    )
            else:
                moved = workloadmgr.reassign_workloads(request, self.ids(), data["project"], data["user"])
        except Exception:
            # A map file's earlier mappings may have moved workloads already: say which.
            self._report(request, moved)
            exceptions.handle(request, _("Unable to reassign workloads."), redirect=reverse(INDEX_URL))
            return False
        if not moved:
            messages.warning(request, _("No workload matched; nothing was reassigned."))
            return True
        self._report(request, moved)
        return True

    def _report(self, request: Any, moved: list[dict[str, Any]]) -> None:
        if not moved:
            return
        targets = sorted({self.projects.get(m.get("project_id", ""), m.get("project_id", "")) for m in moved})
        messages.success(
            request,
            ngettext(
                "Reassigned %(count)d workload to %(projects)s: %(names)s.",
                "Reassigned %(count)d workloads to %(projects)s: %(names)s.",
                len(moved),
            )
            % {
                "count": len(moved),
                "projects": ", ".join(targets),
                "names": ", ".join(m.get("name") or m["id"] for m in moved),
            },
        )

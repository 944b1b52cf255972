"""The project's trusts: whose, which role, since when; Create Trust and Delete."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common


def owner(request: Any, trust: Any) -> str:
    """The trust's user: the logged-in user by name, others by ID (members cannot read user names)."""
    if trust.user_id == request.user.id:
        return str(_("%s (you)") % request.user.username)
    return str(trust.user_id)


class CreateTrust(tables.LinkAction):
    name = "create"
    verbose_name = _("Create Trust")
    url = "horizon:project:backup_trusts:create"
    classes = ("ajax-modal",)
    icon = "plus"


class DeleteTrust(tables.DeleteAction):
    help_text = _(
        "The trust is revoked in Keystone: scheduled snapshots of its user's workloads fail until the user "
        "creates a new one."
    )

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Delete Trust", "Delete Trusts", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Deleted Trust", "Deleted Trusts", count)

    def allowed(self, request: Any, trust: Any = None) -> bool:
        # Keystone lets only the trust's user (or an administrator) revoke it.
        return trust is None or trust.user_id == request.user.id or request.user.is_superuser

    def delete(self, request: Any, obj_id: str) -> None:
        workloadmgr.trust_delete(request, obj_id)


class TrustsTable(tables.DataTable):
    user = tables.Column(lambda t: t.owner, verbose_name=_("User"))
    roles = tables.Column("roles", verbose_name=_("Role"))
    cloud = tables.Column(lambda t: _("Yes") if t.is_cloud_trust else _("No"), verbose_name=_("Cloud Trust"))
    created_at = tables.Column("created_at", verbose_name=_("Created"), filters=(common.timestamp,))
    value = tables.Column("value", verbose_name=_("Keystone Trust ID"))

    class Meta:
        name = "trusts"
        verbose_name = _("Trusts")
        no_data_message = _(
            "No trust yet. Create Trust gives the backup service yours; enabling a workload's schedule "
            "does too."
        )
        table_actions = (CreateTrust, DeleteTrust)
        row_actions = (DeleteTrust,)

    def get_object_display(self, trust: Any) -> str:
        return str(_("the trust of %s") % trust.owner)

"""Create Trust: which of the user's roles T4O's service user may use for their scheduled jobs."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

INDEX_URL = "horizon:project:backup_trusts:index"


def user_roles(request: Any) -> list[str]:
    """The logged-in user's roles in the project: the only ones they can delegate."""
    roles = getattr(request.user, "roles", None) or []
    return sorted({str(r["name"]) for r in roles if isinstance(r, dict) and r.get("name")})


class CreateTrustForm(forms.SelfHandlingForm):
    role_name = forms.ChoiceField(
        label=_("Role"),
        required=False,
        help_text=_(
            "The role T4O uses on your behalf; the default is the one the service is configured with."
        ),
    )
    is_cloud_trust = forms.BooleanField(
        label=_("Cloud trust"),
        required=False,
        help_text=_("The cloud administrator's trust, for jobs across projects."),
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        choices = [("", _("The service's default role"))]
        self.fields["role_name"].choices = choices + [(r, r) for r in user_roles(request)]
        if not request.user.is_superuser:
            del self.fields["is_cloud_trust"]  # the API refuses it to others

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        try:
            trust = workloadmgr.trust_create(
                request, data.get("role_name") or "", bool(data.get("is_cloud_trust"))
            )
        except Exception as exc:
            if common.refused_on_form(self, request, exc, ("role_name",)):
                return False
            exceptions.handle(request, _("Unable to create the trust."), redirect=reverse(INDEX_URL))
            return False
        messages.success(
            request,
            _("Trust created: scheduled jobs of your workloads run with role %s.") % (trust.roles or "-"),
        )
        return trust

"""Trusts: the delegations that let T4O run the project's scheduled snapshots while nobody is logged in."""

from __future__ import annotations

from typing import Any

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.trusts import forms as trust_forms
from t4o_dashboard.content.trusts import tables as trust_tables

INDEX_URL = "horizon:project:backup_trusts:index"


class IndexView(common.TableView):
    table_class = trust_tables.TrustsTable
    page_title = _("Trusts")

    def get_data(self) -> list[Any]:
        trusts = common.list_or_empty(
            self.request, _("Unable to list trusts."), lambda: workloadmgr.trust_list(self.request)
        )
        for trust in trusts:
            trust.owner = trust_tables.owner(self.request, trust)
        return trusts


class CreateView(modal.ModalForm):
    form_class = trust_forms.CreateTrustForm
    modal_id = "create_trust_modal"
    page_title = _("Create Trust")
    submit_label = _("Create")
    submit_url_name = "horizon:project:backup_trusts:create"
    success_url = reverse_lazy(INDEX_URL)
    help_text = _(
        "A trust delegates one of your roles in this project to the backup service, which then runs the "
        "scheduled snapshots of your workloads while you are not logged in. It replaces (and revokes) a "
        "trust you gave before; enabling a workload's schedule creates one too."
    )

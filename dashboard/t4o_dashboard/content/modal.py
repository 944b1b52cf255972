"""One modal form view base for every form of the plugin, on one pair of templates."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import forms


class ModalForm(forms.ModalFormView):
    template_name = "t4o_dashboard/form.html"
    ajax_template_name = "t4o_dashboard/_form.html"
    submit_url_name = ""  # the URL name this form posts to; its kwargs are the view's
    success_url_name = ""  # if set, the URL name the form returns to, also with the view's kwargs
    help_text = ""
    submit_label = _("Save")

    def get_success_url(self) -> str:
        if self.success_url_name:
            return reverse(self.success_url_name, kwargs=self.kwargs)
        return super().get_success_url()

    def get_cancel_url(self) -> str:
        # Horizon falls back on success_url only; views that compute theirs get a Cancel button too.
        return self.cancel_url or self.get_success_url()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["submit_url"] = reverse(self.submit_url_name, kwargs=self.kwargs)
        context["help_text"] = self.help_text
        return context

import horizon
from django.utils.translation import gettext_lazy as _


class Workloads(horizon.Panel):
    name = _("Workloads")
    slug = "workloads"
    permissions = ("openstack.services.workloads",)

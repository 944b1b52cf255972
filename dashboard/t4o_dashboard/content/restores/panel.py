import horizon
from django.utils.translation import gettext_lazy as _


class Restores(horizon.Panel):
    name = _("Restores")
    slug = "backup_restores"
    permissions = ("openstack.services.workloads",)

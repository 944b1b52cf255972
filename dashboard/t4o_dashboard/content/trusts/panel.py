import horizon
from django.utils.translation import gettext_lazy as _


class Trusts(horizon.Panel):
    name = _("Trusts")
    slug = "backup_trusts"
    permissions = ("openstack.services.workloads",)

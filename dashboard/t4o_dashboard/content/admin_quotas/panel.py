import horizon
from django.utils.translation import gettext_lazy as _


class AdminQuotas(horizon.Panel):
    name = _("Quotas")
    slug = "backup_quotas"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

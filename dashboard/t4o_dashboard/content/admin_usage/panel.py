import horizon
from django.utils.translation import gettext_lazy as _


class AdminUsage(horizon.Panel):
    name = _("Storage Usage")
    slug = "backup_usage"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

import horizon
from django.utils.translation import gettext_lazy as _


class AdminWorkloads(horizon.Panel):
    name = _("Workloads")
    slug = "backup_workloads"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

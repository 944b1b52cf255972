import horizon
from django.utils.translation import gettext_lazy as _


class AdminPolicies(horizon.Panel):
    name = _("Workload Policies")
    slug = "backup_policies"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

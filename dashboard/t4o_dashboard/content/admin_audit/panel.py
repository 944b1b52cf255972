import horizon
from django.utils.translation import gettext_lazy as _


class AdminAudit(horizon.Panel):
    name = _("Audit Log")
    slug = "backup_audit"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

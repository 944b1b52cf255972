import horizon
from django.utils.translation import gettext_lazy as _


class AdminNodes(horizon.Panel):
    name = _("Nodes")
    slug = "backup_nodes"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

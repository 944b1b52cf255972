import horizon
from django.utils.translation import gettext_lazy as _


class AdminImport(horizon.Panel):
    name = _("Import & Migration")
    slug = "backup_import"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

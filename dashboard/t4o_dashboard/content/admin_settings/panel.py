import horizon
from django.utils.translation import gettext_lazy as _


class AdminSettings(horizon.Panel):
    name = _("Settings")
    slug = "backup_settings"
    permissions = ("openstack.services.workloads", "openstack.roles.admin")

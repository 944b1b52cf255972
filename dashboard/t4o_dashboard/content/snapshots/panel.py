import horizon
from django.utils.translation import gettext_lazy as _


class Snapshots(horizon.Panel):
    name = _("Snapshots")
    slug = "backup_snapshots"
    permissions = ("openstack.services.workloads",)

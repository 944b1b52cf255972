# The "Backups-Admin" panel group of the Admin dashboard.
from django.utils.translation import gettext_lazy as _

PANEL_GROUP = "backups_admin"
PANEL_GROUP_NAME = _("Backups-Admin")
PANEL_GROUP_DASHBOARD = "admin"

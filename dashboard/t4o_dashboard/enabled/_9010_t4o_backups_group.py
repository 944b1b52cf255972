# The "Backups" panel group of the Project dashboard.
from django.utils.translation import gettext_lazy as _

PANEL_GROUP = "backups"
PANEL_GROUP_NAME = _("Backups")
PANEL_GROUP_DASHBOARD = "project"

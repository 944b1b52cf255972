PANEL = "backup_restores"
PANEL_DASHBOARD = "project"
PANEL_GROUP = "backups"
ADD_PANEL = "t4o_dashboard.content.restores.panel.Restores"

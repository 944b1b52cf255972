PANEL = "backup_trusts"
PANEL_DASHBOARD = "project"
PANEL_GROUP = "backups"
ADD_PANEL = "t4o_dashboard.content.trusts.panel.Trusts"

PANEL = "backup_snapshots"
PANEL_DASHBOARD = "project"
PANEL_GROUP = "backups"
ADD_PANEL = "t4o_dashboard.content.snapshots.panel.Snapshots"

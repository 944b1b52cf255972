PANEL = "backup_audit"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "backups_admin"
ADD_PANEL = "t4o_dashboard.content.admin_audit.panel.AdminAudit"

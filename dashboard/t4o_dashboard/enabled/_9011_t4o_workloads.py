PANEL = "workloads"
PANEL_DASHBOARD = "project"
PANEL_GROUP = "backups"
ADD_PANEL = "t4o_dashboard.content.workloads.panel.Workloads"
ADD_INSTALLED_APPS = ["t4o_dashboard"]

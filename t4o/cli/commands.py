"""Every command under its two names: ``openstack workload ...`` (OSC) and Trilio's ``workloadmgr ...``.

The OSC names are registered as entry points in pyproject.toml (a unit test keeps both lists equal).
"""

from __future__ import annotations

from t4o.cli import restores, scheduler, settings, snapshots, workload_types, workloads

# OSC command name -> class
OSC_COMMANDS: dict[str, type] = {
    "workload create": workloads.CreateWorkload,
    "workload list": workloads.ListWorkload,
    "workload show": workloads.ShowWorkload,
    "workload set": workloads.SetWorkload,
    "workload delete": workloads.DeleteWorkload,
    "workload snapshot": workloads.SnapshotWorkload,
    "workload unlock": workloads.UnlockWorkload,
    "workload reset": workloads.ResetWorkload,
    "workload pause": workloads.PauseWorkload,
    "workload resume": workloads.ResumeWorkload,
    "workload type list": workload_types.ListWorkloadType,
    "workload type show": workload_types.ShowWorkloadType,
    "workload snapshot list": snapshots.ListSnapshot,
    "workload snapshot show": snapshots.ShowSnapshot,
    "workload snapshot delete": snapshots.DeleteSnapshot,
    "workload snapshot cancel": snapshots.CancelSnapshot,
    "workload restore create": restores.CreateRestore,
    "workload restore list": restores.ListRestore,
    "workload restore show": restores.ShowRestore,
    "workload restore delete": restores.DeleteRestore,
    "workload restore cancel": restores.CancelRestore,
    "workload setting create": settings.CreateSetting,
    "workload setting list": settings.ListSetting,
    "workload setting show": settings.ShowSetting,
    "workload setting set": settings.SetSetting,
    "workload setting delete": settings.DeleteSetting,
    "workload scheduler show": scheduler.ShowScheduler,
    "workload scheduler enable": scheduler.EnableScheduler,
    "workload scheduler disable": scheduler.DisableScheduler,
}

# Trilio's workloadmgr command name -> class
WORKLOADMGR_COMMANDS: dict[str, type] = {
    "workload-create": workloads.CreateWorkload,
    "workload-list": workloads.ListWorkload,
    "workload-show": workloads.ShowWorkload,
    "workload-modify": workloads.SetWorkload,
    "workload-delete": workloads.DeleteWorkload,
    "workload-snapshot": workloads.SnapshotWorkload,
    "workload-unlock": workloads.UnlockWorkload,
    "workload-reset": workloads.ResetWorkload,
    "workload-pause": workloads.PauseWorkload,
    "workload-resume": workloads.ResumeWorkload,
    "workload-type-list": workload_types.ListWorkloadType,
    "workload-type-show": workload_types.ShowWorkloadType,
    "snapshot-list": snapshots.ListSnapshot,
    "snapshot-show": snapshots.ShowSnapshot,
    "snapshot-delete": snapshots.DeleteSnapshot,
    "snapshot-cancel": snapshots.CancelSnapshot,
    "snapshot-oneclick-restore": restores.OneclickRestore,
    "snapshot-selective-restore": restores.SelectiveRestore,
    "snapshot-inplace-restore": restores.InplaceRestore,
    "restore-list": restores.ListRestore,
    "restore-show": restores.ShowRestore,
    "restore-delete": restores.DeleteRestore,
    "restore-cancel": restores.CancelRestore,
    "setting-create": settings.CreateSetting,
    "setting-list": settings.ListSetting,
    "setting-show": settings.ShowSetting,
    "setting-update": settings.SetSetting,
    "setting-delete": settings.DeleteSetting,
    "get-global-job-scheduler": scheduler.ShowScheduler,
    "enable-global-job-scheduler": scheduler.EnableScheduler,
    "disable-global-job-scheduler": scheduler.DisableScheduler,
}

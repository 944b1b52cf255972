"""API objects as workloadmgr returns them, for the unit tests."""

from __future__ import annotations

from typing import Any

from t4o_dashboard.api import workloadmgr

PROJECT = "1"  # the project of Horizon's test user
VM1 = "11111111-1111-1111-1111-111111111111"
VM2 = "22222222-2222-2222-2222-222222222222"


def workload(wid: str = "wl-1", status: str = "available", **extra: Any) -> workloadmgr.Workload:
    return workloadmgr.Workload(
        {
            "id": wid,
            "name": f"name-{wid}",
            "description": "",
            "status": status,
            "project_id": PROJECT,
            "instances": [{"id": VM1, "name": "web"}],
            "jobschedule": {
                "enabled": True,
                "interval": "24 hr",
                "start_time": "09:00 PM",
                "retention_policy_type": "Number of Snapshots to Keep",
                "retention_policy_value": 7,
                "fullbackup_interval": -1,
            },
            "storage_usage": {"full": {"snap_count": 1, "usage": 2048}, "incremental": {"snap_count": 0}},
            "created_at": "2026-11-26T06:00:00Z",
            "error_msg": None,
            **extra,
        }
    )


def snapshot(sid: str = "sn-1", status: str = "available", **extra: Any) -> workloadmgr.Snapshot:
    return workloadmgr.Snapshot(
        {
            "id": sid,
            "name": f"snap-{sid}",
            "description": "",
            "status": status,
            "workload_id": "wl-1",
            "project_id": PROJECT,
            "snapshot_type": "full",
            "progress_percent": 100 if status == "available" else 40,
            "progress_msg": "Done" if status == "available" else "Uploading vda",
            "error_msg": None,
            "size": 1048576,  # provisioned: the disks' size
            "uploaded_size": 4096,  # what it stored on the target
            "created_at": "2026-11-26T07:00:00Z",
            "instances": [
                {
                    "id": VM1,
                    "name": "web",
                    "status": "available",
                    "size": 1048576,
                    "metadata": {"networks": [{"id": "net-old"}]},
                    "vdisks": [{"id": "disk-1", "device": "vda", "size": 1048576}],
                }
            ],
            **extra,
        }
    )


def restore(rid: str = "rs-1", status: str = "executing", **extra: Any) -> workloadmgr.Restore:
    return workloadmgr.Restore(
        {
            "id": rid,
            "name": f"restore-{rid}",
            "status": status,
            "snapshot_id": "sn-1",
            "workload_id": "wl-1",
            "project_id": PROJECT,
            "restore_type": "oneclick",
            "progress_percent": 55,
            "progress_msg": "Creating VM web",
            "error_msg": None,
            "created_at": "2026-11-26T08:00:00Z",
            "instances": [],
            **extra,
        }
    )


def api_error(text: str = "The resource's state does not allow this now", status: int = 409) -> Exception:
    # As the API module words a refusal (4xx): the API's text alone.
    return workloadmgr.WorkloadmgrError(text, status)

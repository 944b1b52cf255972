"""Status values of workloads and jobs (snapshots, restores), as a caller sees them."""

from __future__ import annotations

# Workloads
AVAILABLE = "available"
LOCKED = "locked"  # a snapshot or restore of the workload runs
ERROR = "error"
DELETING = "deleting"  # its data is being removed from the backup target (workloads and snapshots)

# Jobs (snapshots and restores)
QUEUED = "queued"  # accepted by the API, waiting for a worker
EXECUTING = "executing"  # a worker runs it
CANCELLING = "cancelling"  # cancel asked; the worker stops at its next progress point
CANCELLED = "cancelled"
# AVAILABLE and ERROR end a job too.

JOB_RUNNING = (QUEUED, EXECUTING, CANCELLING)
JOB_FINISHED = (AVAILABLE, ERROR, CANCELLED)

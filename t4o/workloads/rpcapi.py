"""Client sides of the RPC interfaces the control plane casts jobs through.

The scheduler's stub lives here, beside the workers', because the workloads API (this layer) is its
caller: the scheduler package sits above and imports this layer, never the reverse.
"""

from __future__ import annotations

from typing import Any

from t4o.common import rpc
from t4o.common.config import CONF
from t4o.common.context import RequestContext


def schedule_job(context: RequestContext, kind: str, job_id: str) -> None:
    """Ask the scheduler to place a queued job on a live workloads worker."""
    rpc.get_client(CONF, CONF.scheduler_topic).cast(context, "schedule_job", kind=kind, job_id=job_id)


def run_job(context: RequestContext, host: str, kind: str, job_id: str) -> None:
    """Run a placed job on the workloads worker of ``host``."""
    rpc.get_client(CONF, CONF.workloads_topic, server=host).cast(context, "run_job", kind=kind, job_id=job_id)


def delete_from_target(
    context: RequestContext, workload_id: str, snapshot_ids: list[str], whole_workload: bool
) -> dict[str, Any]:
    """Ask any workloads worker (they have the backup target) to remove snapshots, or a whole workload,
    from the target; waits for its answer (see t4o.workloads.target_cleanup.run_delete)."""
    client = rpc.get_client(CONF, CONF.workloads_topic)
    answer: dict[str, Any] = client.call(
        context,
        "delete_from_target",
        workload_id=workload_id,
        snapshot_ids=snapshot_ids,
        whole_workload=whole_workload,
    )
    return answer


def run_file_search(context: RequestContext, search_id: str) -> None:
    """Run a file search on any workloads worker (they have the backup target)."""
    rpc.get_client(CONF, CONF.workloads_topic).cast(context, "run_file_search", search_id=search_id)

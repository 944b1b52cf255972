"""Client sides of the RPC interfaces the control plane casts jobs through.

The scheduler's stub lives here, beside the workers', because the workloads API (this layer) is its
caller: the scheduler package sits above and imports this layer, never the reverse.
"""

from __future__ import annotations

from t4o.common import rpc
from t4o.common.config import CONF
from t4o.common.context import RequestContext


def schedule_job(context: RequestContext, kind: str, job_id: str) -> None:
    """Ask the scheduler to place a queued job on a live workloads worker."""
    rpc.get_client(CONF, CONF.scheduler_topic).cast(context, "schedule_job", kind=kind, job_id=job_id)


def run_job(context: RequestContext, host: str, kind: str, job_id: str) -> None:
    """Run a placed job on the workloads worker of ``host``."""
    rpc.get_client(CONF, CONF.workloads_topic, server=host).cast(context, "run_job", kind=kind, job_id=job_id)

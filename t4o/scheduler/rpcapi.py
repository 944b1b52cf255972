"""Client side of the scheduler's RPC interface (used by the API)."""

from __future__ import annotations

from t4o.common import rpc
from t4o.common.config import CONF
from t4o.common.context import RequestContext


def schedule_job(context: RequestContext, kind: str, job_id: str) -> None:
    rpc.get_client(CONF, CONF.scheduler_topic).cast(context, "schedule_job", kind=kind, job_id=job_id)

"""Client side of the workloads workers' RPC interface."""

from __future__ import annotations

from t4o.common import rpc
from t4o.common.config import CONF
from t4o.common.context import RequestContext


def run_job(context: RequestContext, host: str, kind: str, job_id: str) -> None:
    rpc.get_client(CONF, CONF.workloads_topic, server=host).cast(context, "run_job", kind=kind, job_id=job_id)

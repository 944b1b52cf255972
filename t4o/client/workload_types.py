"""Workload types (Serial, Parallel)."""

from __future__ import annotations

from t4o.client.base import Manager, Resource


class WorkloadType(Resource):
    pass


class WorkloadTypeManager(Manager[WorkloadType]):
    resource_class = WorkloadType
    path = "/workload_types"
    key = "workload_type"
    plural = "workload_types"
    noun = "workload type"
    list_hint = "openstack workload type list"

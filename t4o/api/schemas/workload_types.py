"""Schemas of workload types."""

from __future__ import annotations

from t4o.api.schemas.common import TIMESTAMP, page_query
from t4o.workloads.paging import WORKLOAD_TYPE_SORT_KEYS

# Workload types page by name by default.
PAGE = page_query(WORKLOAD_TYPE_SORT_KEYS)

WORKLOAD_TYPE = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "is_public": {"type": "boolean"},
        "metadata": {"type": "object"},
        "created_at": TIMESTAMP,
    },
}

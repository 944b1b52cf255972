"""Schema of the global job scheduler's state."""

from __future__ import annotations

GLOBAL_JOB_SCHEDULER = {
    "type": "object",
    "required": ["global_job_scheduler"],
    "properties": {"global_job_scheduler": {"type": "boolean"}},
}

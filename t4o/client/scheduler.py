"""The global job scheduler: whether scheduled snapshots run at all (admin)."""

from __future__ import annotations

from t4o.client.http import HTTPClient


class GlobalJobSchedulerManager:
    path = "/global_job_scheduler"

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def get(self) -> bool:
        return bool(self.http.get(self.path)["global_job_scheduler"])

    def enable(self) -> bool:
        return bool(self.http.post(self.path + "/enable")["global_job_scheduler"])

    def disable(self) -> bool:
        return bool(self.http.post(self.path + "/disable")["global_job_scheduler"])

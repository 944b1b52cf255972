"""The entry point of the client library: one object with a manager per resource type."""

from __future__ import annotations

from typing import Any

from keystoneauth1 import session as ksa_session

from t4o.client.audit import AuditLogManager
from t4o.client.backup_targets import BackupTargetManager
from t4o.client.file_search import FileSearchManager
from t4o.client.http import HTTPClient
from t4o.client.imports import ImportManager
from t4o.client.metrics import MetricsManager, NodeManager
from t4o.client.mounts import MountManager
from t4o.client.policies import WorkloadPolicyManager
from t4o.client.projects import ProjectResolver
from t4o.client.quotas import AllowedQuotaManager, QuotaTypeManager
from t4o.client.restores import Restore, RestoreManager
from t4o.client.scheduler import GlobalJobSchedulerManager
from t4o.client.settings import SettingManager
from t4o.client.snapshots import Snapshot, SnapshotManager
from t4o.client.trusts import TrustManager
from t4o.client.waiter import Progress, wait_for_job
from t4o.client.workload_types import WorkloadTypeManager
from t4o.client.workloads import WorkloadManager


class Client:
    """workloadmgr API v1 client; build it with :meth:`from_session` or :meth:`from_endpoint`."""

    def __init__(self, http: HTTPClient, keystone: bool = True) -> None:
        self.http = http
        self.projects = ProjectResolver(http, keystone)
        self.workloads = WorkloadManager(http)
        self.snapshots = SnapshotManager(http)
        self.restores = RestoreManager(http)
        self.settings = SettingManager(http)
        self.workload_types = WorkloadTypeManager(http)
        self.global_job_scheduler = GlobalJobSchedulerManager(http)
        self.workload_policies = WorkloadPolicyManager(http)
        self.quota_types = QuotaTypeManager(http)
        self.quotas = AllowedQuotaManager(http)
        self.metrics = MetricsManager(http)
        self.nodes = NodeManager(http)
        self.imports = ImportManager(http)
        self.mounts = MountManager(http)
        self.file_searches = FileSearchManager(http)
        self.trusts = TrustManager(http)
        self.backup_targets = BackupTargetManager(http)
        self.audit_log = AuditLogManager(http)

    @classmethod
    def from_session(
        cls,
        session: ksa_session.Session,
        *,
        endpoint_override: str | None = None,
        interface: str | None = "public",
        region_name: str | None = None,
        project_id: str | None = None,
        keystone: bool = True,
    ) -> Client:
        """Keystone-authenticated: the endpoint of service type ``workloads`` comes from the catalog.
        ``keystone=False``: the session's auth is a fixed endpoint and token (no Keystone to ask)."""
        return cls(
            HTTPClient(
                session,
                endpoint_override=endpoint_override,
                interface=interface,
                region_name=region_name,
                project_id=project_id,
            ),
            keystone=keystone,
        )

    @classmethod
    def from_endpoint(
        cls, endpoint: str, *, project_id: str | None = None, token: str | None = None, **kwargs: Any
    ) -> Client:
        """An explicit API URL (``http://127.0.0.1:8780`` or ``.../v1/<project>``), e.g. all-in-one with
        noauth; ``token`` is sent as X-Auth-Token when given."""
        return cls(
            HTTPClient.for_endpoint(endpoint, project_id=project_id, token=token, **kwargs), keystone=False
        )

    def wait_for_snapshot(
        self,
        snapshot_id: str,
        on_progress: Progress | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> Snapshot:
        return Snapshot(
            wait_for_job(
                self.snapshots.get,
                snapshot_id,
                kind="snapshot",
                on_progress=on_progress,
                interval=interval,
                timeout=timeout,
            )
        )

    def wait_for_restore(
        self,
        restore_id: str,
        on_progress: Progress | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> Restore:
        return Restore(
            wait_for_job(
                self.restores.get,
                restore_id,
                kind="restore",
                on_progress=on_progress,
                interval=interval,
                timeout=timeout,
            )
        )

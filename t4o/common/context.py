"""Request context: who calls (user, project, roles, token) carried from the API through RPC to workers."""

from __future__ import annotations

from typing import Any

from oslo_context import context as oslo_context


class RequestContext(oslo_context.RequestContext):
    """oslo.context's context; ``is_admin`` is decided by the policy rule ``context_is_admin``."""

    def __init__(
        self,
        service_catalog: list[dict[str, Any]] | None = None,
        trust_id: str | None = None,
        scheduled: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service_catalog = service_catalog or []
        # The Keystone trust a scheduled job acts through: Keystone refuses to exchange a trust-scoped
        # token for another token, so workers authenticate through the trust again instead.
        self.trust_id = trust_id
        # A job workloadmgr-cron started for a schedule: the cron reports its failure (once, after its
        # last retry), so the worker sends no failure mail of its own for it.
        self.scheduled = scheduled
        # The keystoneauth plugin for the caller's token (not serialised over RPC).
        self.user_auth_plugin: Any = None

    @property
    def project(self) -> str:
        """The project of a project-scoped call (every route of the workloads API is one)."""
        assert self.project_id, "a project-scoped call without a project"
        return self.project_id

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        values["service_catalog"] = self.service_catalog
        values["trust_id"] = self.trust_id
        values["scheduled"] = self.scheduled
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any], **kwargs: Any) -> RequestContext:
        kwargs.setdefault("service_catalog", values.get("service_catalog"))
        kwargs.setdefault("trust_id", values.get("trust_id"))
        kwargs.setdefault("scheduled", bool(values.get("scheduled", False)))
        return super().from_dict(values, **kwargs)


def admin_context() -> RequestContext:
    """Context of the services themselves (cron, startup recovery)."""
    return RequestContext(is_admin=True, roles=["admin"], overwrite=False)

"""Client of datamover-api used by the workloads workers: start a transfer, follow it, cancel it; mount
a snapshot's disks into a recovery VM, read the mount's state, dismount it.

It authenticates with the service credentials of ``[datamover_client]`` (datamover-api is admin/service
only) and finds the API in the Keystone catalog (service type ``datamover``) unless an endpoint is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from t4o.common.log import get_logger
from t4o.datamover.config import CLIENT_GROUP

LOG = get_logger(__name__)


class TransferFailed(Exception):
    """The transfer ended in error, or its agent cannot be reached; the message says which and why."""


@dataclass
class TransferRef:
    id: str
    host: str
    server_id: str


Progress = Callable[[dict[str, Any]], None]
FIRST_POLL = 0.1  # seconds before the first status poll of a transfer; it grows to poll_interval


class DatamoverClient:
    def __init__(self, conf: cfg.ConfigOpts) -> None:
        group = conf[CLIENT_GROUP]
        auth = ks_loading.load_auth_from_conf_options(conf, CLIENT_GROUP)
        self.session: ks_session.Session = ks_loading.load_session_from_conf_options(
            conf, CLIENT_GROUP, auth=auth
        )
        self.endpoint_filter = {
            "service_type": "datamover",
            "interface": group.interface,
            "region_name": group.region_name,
        }
        self.endpoint_override = group.endpoint_override
        self.poll_interval = group.poll_interval

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self._request_or_none(method, path, **kwargs)
        return body if body is not None else {}  # None only for a 404 with missing_ok

    def _request_or_none(
        self, method: str, path: str, missing_ok: bool = False, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The answer's JSON body; None for a 404 when ``missing_ok``; TransferFailed for other errors."""
        kwargs.setdefault("connect_retries", 3)
        if self.endpoint_override:
            kwargs["endpoint_override"] = self.endpoint_override
        else:
            kwargs["endpoint_filter"] = self.endpoint_filter
        try:
            resp = self.session.request(path, method, raise_exc=False, **kwargs)
        except ks_exc.ConnectFailure as exc:
            raise TransferFailed(f"datamover-api cannot be reached: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code >= 400:
            message = (body.get("error") or {}).get("message") or resp.text[:300]
            raise TransferFailed(f"datamover-api answered {resp.status_code}: {message}")
        return body

    def host_of(self, server_id: str) -> str:
        """The compute host of the server, as datamover-api finds it (the host its transfer would run on)."""
        return str(self._request("GET", f"/servers/{server_id}/host")["server"]["host"])

    def start(self, kind: str, server_id: str, spec: dict[str, Any]) -> TransferRef:
        body = {"transfer": {"kind": kind, "server_id": server_id, "spec": spec}}
        view = self._request("POST", "/transfers", json=body)["transfer"]
        LOG.info("%s transfer %s of server %s runs on host %s", kind, view["id"], server_id, view["host"])
        return TransferRef(view["id"], view["host"], server_id)

    def status(self, ref: TransferRef) -> dict[str, Any]:
        return self._request("GET", f"/hosts/{ref.host}/transfers/{ref.id}")["transfer"]

    def cancel(self, ref: TransferRef) -> None:
        try:
            self._request("DELETE", f"/hosts/{ref.host}/transfers/{ref.id}")
        except TransferFailed as exc:
            LOG.warning("cancelling transfer %s: %s", ref.id, exc)

    def wait(self, ref: TransferRef, on_progress: Progress | None = None) -> dict[str, Any]:
        """Poll until the transfer ends; its result, or TransferFailed. ``on_progress`` may raise (a job
        cancel): the transfer is cancelled on the agent and waited for, then the exception goes on."""
        interval = min(FIRST_POLL, self.poll_interval)
        while True:
            view = self.status(ref)
            if view["status"] == "done":
                return view
            if view["status"] == "error":
                raise TransferFailed(f"on host {ref.host}: {view.get('error')}")
            if view["status"] == "cancelled":
                raise TransferFailed(f"transfer {ref.id} on host {ref.host} was cancelled")
            if on_progress is not None:
                try:
                    on_progress(view)
                except BaseException:
                    self.cancel(ref)
                    self._drain(ref)
                    raise
            # Short polls first: a small transfer ends within a second or two, and its end was otherwise
            # seen up to a whole poll_interval late.
            time.sleep(interval)
            interval = min(interval * 1.5, self.poll_interval)

    def _drain(self, ref: TransferRef, timeout: float = 120.0) -> None:
        """After a cancel, wait until the agent stopped (so temporary resources are released)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.status(ref)["status"] in ("done", "error", "cancelled"):
                    return
            except TransferFailed:
                return
            time.sleep(self.poll_interval)

    # -- snapshot mounts: synchronous calls (the agent attaches or detaches before it answers) ----------

    def mount(self, mount_id: str, server_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Attach the disks of ``spec`` ({"vault": ..., "disks": [{"ref", "serial"}]}) read-only to the
        running server; the mount as its agent reports it (with ``host`` and each disk's ``device``)."""
        body = {"mount": {"id": mount_id, "server_id": server_id, "spec": spec}}
        view: dict[str, Any] = self._request("POST", "/mounts", json=body)["mount"]
        LOG.info("mount %s into server %s: %s on host %s", mount_id, server_id, view["status"], view["host"])
        return view

    def mount_status(self, host: str, mount_id: str) -> dict[str, Any] | None:
        """The mount as the agent of ``host`` knows it; None when it does not know it."""
        body = self._request_or_none("GET", f"/hosts/{host}/mounts/{mount_id}", missing_ok=True)
        return body["mount"] if body is not None else None

    def dismount(self, host: str, mount_id: str) -> dict[str, Any] | None:
        """Detach the mount's disks; the mount with status "dismounted", or None when the agent does not
        know it (already gone, e.g. after a restart that found its VM stopped)."""
        body = self._request_or_none("DELETE", f"/hosts/{host}/mounts/{mount_id}", missing_ok=True)
        return body["mount"] if body is not None else None

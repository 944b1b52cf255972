"""Barbican (key manager): the payload of the secret that wraps an encrypted workload's own key.

Read with the workload owner's session (their token, or the T4O service user through the owner's
trust); the payload is returned to the caller and never logged. A secret that is gone, or that the
session may not read, ends in ``SecretUnavailable`` with a message that says which and what to do.
"""

from __future__ import annotations

import re
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from t4o.common import errors
from t4o.openstack import endpoints

SERVICE_TYPE = "key-manager"
_UUID = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?$")


class SecretUnavailable(errors.BadRequest):
    """The secret cannot be read: deleted, not the caller's, or Barbican cannot be reached."""


def secret_id(ref: str) -> str:
    """The secret's UUID from a UUID or a secret URL (``.../v1/secrets/<uuid>``)."""
    found = _UUID.search(ref.strip())
    if not found:
        raise SecretUnavailable(f"{ref!r} is not a Barbican secret (a UUID or a secret URL)")
    return found.group(1).lower()


def secret_payload(
    session: ks_session.Session, ref: str, interface: str | None = None, region: str | None = None
) -> bytes:
    """The secret's payload as stored (bytes), read as its own content type, from the Barbican endpoint
    of ``interface`` and ``region`` (default: ``[clients]``)."""
    sid = secret_id(ref)
    where = endpoints.endpoint_filter(SERVICE_TYPE)
    where.update({k: v for k, v in (("interface", interface), ("region_name", region)) if v})
    meta = _get(session, f"/v1/secrets/{sid}", where, {"Accept": "application/json"}, ref)
    content_type = ((meta.json().get("content_types") or {}).get("default")) or ""
    if not content_type:
        raise SecretUnavailable(f"Barbican secret {sid} holds no payload: store the key in it first.")
    return _get(session, f"/v1/secrets/{sid}/payload", where, {"Accept": content_type}, ref).content


def _get(
    session: ks_session.Session, path: str, where: dict[str, str | None], headers: dict[str, str], ref: str
) -> Any:  # a requests.Response
    try:
        resp = session.get(path, endpoint_filter=where, headers=headers, raise_exc=False)
    except ks_exc.EndpointNotFound:
        raise SecretUnavailable(
            "The cloud has no key manager (Barbican) in its catalog: encrypted workloads need one."
        ) from None
    except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout) as exc:
        raise SecretUnavailable(f"Barbican cannot be reached to read secret {ref}: {exc}") from None
    except ks_exc.ClientException as exc:
        # The token itself failed (expired, or not valid in the project it is scoped to).
        raise SecretUnavailable(
            f"Barbican secret {ref} cannot be read: the caller's token was refused ({type(exc).__name__})."
        ) from None
    if resp.status_code == 404:
        raise SecretUnavailable(
            f"Barbican secret {ref} does not exist (deleted?): the workload's encrypted data cannot be "
            "read or written without it; restore the secret or rotate the workload to a new one."
        )
    if resp.status_code in (401, 403):
        raise SecretUnavailable(
            f"Barbican secret {ref} cannot be read by the workload's owner (HTTP {resp.status_code}): "
            "it must belong to the workload's project or be shared with its owner through an ACL."
        )
    if resp.status_code >= 400:
        raise SecretUnavailable(f"Barbican answered HTTP {resp.status_code} for secret {ref}.")
    return resp

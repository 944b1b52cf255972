"""One module per resource, one function per operation of t4o.api.spec.

Signature: ``handler(ctx, body, query, **path_params) -> JSON-able payload or None``. Before a handler
runs, the request's body, query and path have been checked against the operation's schemas and the
project in the URL against the token (t4o.api.app); a handler picks the fields it needs, calls the rules
layer (which authorizes the caller) and renders the result with t4o.api.views.
"""

from __future__ import annotations

from typing import Any

from t4o.workloads.api import WorkloadAPI

# The rules of workloads, snapshots, restores, settings and the global job scheduler.
API = WorkloadAPI()

Body = dict[str, Any]
Query = dict[str, Any]

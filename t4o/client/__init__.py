"""Python client of the T4O workloadmgr API v1, usable on its own and shared by both command lines.

from t4o.client import Client
client = Client.from_session(keystone_session)           # endpoint from the catalog (type "workloads")
client = Client.from_endpoint("http://127.0.0.1:8780", project_id="demo")   # all-in-one, noauth
for wl in client.workloads.list():
    print(wl.id, wl.name)
"""

from t4o.client.client import Client
from t4o.client.exceptions import (
    AmbiguousName,
    ApiError,
    AuthFailed,
    ClientError,
    EndpointMissing,
    IncompleteDownload,
    JobFailed,
    NotFound,
)

__all__ = [
    "AmbiguousName",
    "ApiError",
    "AuthFailed",
    "Client",
    "ClientError",
    "EndpointMissing",
    "IncompleteDownload",
    "JobFailed",
    "NotFound",
]

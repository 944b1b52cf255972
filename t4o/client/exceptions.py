"""Errors of the client library; each message is one line a user can act on."""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the client raises."""


class ApiError(ClientError):
    """The API answered with an error status."""

    def __init__(self, status: int, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.request_id = request_id


class NotFound(ApiError):
    """HTTP 404, or no resource of that name."""


class AmbiguousName(ClientError):
    """Several resources carry the name given; the caller must use an ID."""


class AuthFailed(ClientError):
    """Keystone refused the credentials, or the API refused the token."""


class EndpointMissing(ClientError):
    """No endpoint of service type ``workloads`` in the catalog (or no endpoint given)."""


class ConnectionFailed(ClientError):
    """The API's address did not answer."""


class JobFailed(ClientError):
    """A snapshot or restore that was waited for ended in error or was cancelled."""

    def __init__(self, message: str, job: object) -> None:
        super().__init__(message)
        self.job = job


class WaitTimeout(ClientError):
    """A wait ran out of time before the job finished."""


class IncompleteDownload(ClientError):
    """A download that stopped before its last byte (the connection broke, the server stopped)."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(message)
        self.received = received

"""Errors the control plane raises on purpose; the API maps each to an HTTP status with its message."""

from __future__ import annotations


class T4OError(Exception):
    """Base of expected errors: the message is meant for the caller."""

    http_status = 500


class BadRequest(T4OError):
    http_status = 400


class Forbidden(T4OError):
    http_status = 403


class NotFound(T4OError):
    http_status = 404


class Conflict(T4OError):
    """The resource is in a state that does not allow the request (e.g. a snapshot is already running)."""

    http_status = 409


class ServiceUnavailable(T4OError):
    """A service T4O depends on cannot be reached; the message names it and its endpoint."""

    http_status = 503


class NoValidHost(T4OError):
    """No live workloads worker can take a job."""

    http_status = 503

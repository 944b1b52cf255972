"""Which failures of a scheduled snapshot are worth another attempt, and when that attempt comes.

A failure is transient when the same request may well succeed a few minutes later: a datamover agent or
datamover-api that does not answer, a backup target that times out or is unavailable, a 5xx answer or a
connection error of Nova, Cinder, Glance, Neutron or Keystone, no live workloads worker. It is permanent
when trying again cannot help: a VM or volume gone (404), a quota refused, a request refused (4xx), a
missing trust. A failure that is neither known transient nor known permanent is not retried: an attempt
too many costs a snapshot's load on the cloud, a missed retry costs one slot of the schedule.

A failure is judged by its exception when there is one (the cron service's own call), else by the job's
``error_msg`` (what a worker recorded). A message that names a permanent cause wins over a transient one:
of a workload's VMs, one deleted makes every attempt fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import oslo_messaging as messaging
import requests
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from t4o.common import errors
from t4o.vault import TargetUnavailable


@dataclass(frozen=True)
class Verdict:
    transient: bool
    reason: str  # what the failure was judged as, for logs and the run's message


# The first match names the reason; permanent causes are looked for first.
PERMANENT = (
    (re.compile(r"quota|\(HTTP 413\)|\b413\b", re.I), "a quota was refused"),
    (
        re.compile(
            r"not found|could not be found|no longer exists|does not exist|was deleted|\(HTTP 404\)"
            r"|NotFoundException|HttpException: 404",
            re.I,
        ),
        "a resource is gone",
    ),
    (
        re.compile(r"has no trust|trust .*revoked|forbidden|not authorized|\(HTTP 40[13]\)", re.I),
        "not allowed",
    ),
    (
        re.compile(r"agent on host \S+ refused|\(HTTP 400\)|BadRequestException|HttpException: 400", re.I),
        "the request was refused",
    ),
)
TRANSIENT = (
    (re.compile(r"no live, enabled workloads worker", re.I), "no workloads worker was available"),
    (re.compile(r"could not reach the scheduler", re.I), "the scheduler could not be reached"),
    (
        re.compile(r"datamover agent on host \S+ did not answer|datamover-api cannot be reached", re.I),
        "the datamover could not be reached",
    ),
    (re.compile(r"datamover-api answered 5\d\d", re.I), "datamover-api failed"),
    (re.compile(r"backup target .* is unavailable", re.I), "the backup target was unavailable"),
    (
        re.compile(
            r"\(HTTP 5\d\d\)|HttpException: 5\d\d|\b50[0234]\b.*(server error|unavailable|gateway)"
            r"|internal server error|service unavailable|bad gateway|gateway time-?out",
            re.I,
        ),
        "a cloud service answered 5xx",
    ),
    (
        re.compile(
            r"unable to establish connection|connection (refused|reset|aborted)|remote end closed"
            r"|max retries exceeded|temporarily unavailable|timed out|timeout",
            re.I,
        ),
        "a connection failed or timed out",
    ),
)

# Exceptions whose type says enough (the cron service's own calls raise them).
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ks_exc.RetriableConnectionFailure,
    ks_exc.HttpServerError,
    messaging.MessagingTimeout,
    messaging.MessageDeliveryFailure,
    requests.ConnectionError,
    requests.Timeout,
    TargetUnavailable,
    ConnectionError,
    TimeoutError,
)
PERMANENT_TYPES: tuple[type[BaseException], ...] = (
    errors.BadRequest,
    errors.Forbidden,
    errors.NotFound,
    ks_exc.HttpError,  # 4xx: the 5xx subclasses are caught above
)


def classify(failure: BaseException | str | None) -> Verdict:
    """Whether ``failure`` (an exception or a job's error_msg) is transient, and why."""
    if isinstance(failure, BaseException):
        by_type = _by_type(failure)
        if by_type is not None:
            return by_type
        failure = str(failure) or type(failure).__name__
    text = failure or ""
    for pattern, reason in PERMANENT:
        if pattern.search(text):
            return Verdict(False, reason)
    for pattern, reason in TRANSIENT:
        if pattern.search(text):
            return Verdict(True, reason)
    return Verdict(False, "not a known transient failure")


def _by_type(exc: BaseException) -> Verdict | None:
    if isinstance(exc, TRANSIENT_TYPES):
        return Verdict(True, f"{type(exc).__name__}")
    status = getattr(exc, "http_status", None) or getattr(exc, "status_code", None)
    server_error = isinstance(status, int) and (
        status in (502, 503, 504) or (isinstance(exc, sdk_exc.HttpException) and status >= 500)
    )
    if server_error and isinstance(exc, (errors.T4OError, sdk_exc.HttpException)):
        return Verdict(True, f"{type(exc).__name__} (HTTP {status})")
    if isinstance(exc, (*PERMANENT_TYPES, sdk_exc.HttpException)):
        return Verdict(False, f"{type(exc).__name__}")
    return None  # a Conflict, a RuntimeError...: its message says more


def backoff(failed_attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure: base, 2 x base, 4 x base... up to cap."""
    exponent = max(failed_attempts - 1, 0)
    return float(min(cap, base * 2 ** min(exponent, 32)))

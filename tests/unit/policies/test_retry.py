"""Which failures of a scheduled snapshot are retried, and the backoff between attempts."""

from __future__ import annotations

import oslo_messaging as messaging
import pytest
import requests
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from t4o.common import errors
from t4o.policies import retry
from t4o.vault.target import TargetUnavailable


def sdk_error(status: int) -> sdk_exc.HttpException:
    response = requests.Response()
    response.status_code = status
    response.url = "http://nova.example:8774/v2.1/servers/x"
    try:
        sdk_exc.raise_from_response(response)
    except sdk_exc.HttpException as exc:
        return exc
    raise AssertionError("no exception")


@pytest.mark.parametrize(
    "message",
    [
        "The datamover agent on host compute-1 did not answer within 60 s (is it running?).",
        "VM web (1a2b): the data transfer failed: datamover-api cannot be reached: Unable to establish "
        "connection to http://127.0.0.1:8784/v1/transfers",
        "VM web (1a2b): the data transfer failed: datamover-api answered 503: Service Unavailable",
        "snapshot: the backup target nfs://store/t4o is unavailable: [Errno 110] Connection timed out",
        "VM db (3c4d): Service Unavailable (HTTP 503) (Request-ID: req-1)",
        "VM db (3c4d): HttpException: 502: Server Error for url: http://cinder/v3/volumes, Bad Gateway",
        "VM db (3c4d): Gateway Timeout (HTTP 504)",
        "VM db (3c4d): Internal Server Error (HTTP 500)",
        "No live, enabled workloads worker to run the job.",
        "Could not reach the scheduler: MessagingTimeout",
        "VM db (3c4d): ('Connection aborted.', RemoteDisconnected('Remote end closed connection'))",
    ],
)
def test_transient_messages_are_retried(message: str) -> None:
    verdict = retry.classify(message)
    assert verdict.transient, verdict


@pytest.mark.parametrize(
    "message",
    [
        "VM web (1a2b): No Server found for 1a2b",
        "VM web (1a2b): Instance 1a2b could not be found. (HTTP 404) (Request-ID: req-2)",
        "Quota exceeded: project p1 may have 0 Snapshots; it has 0 and this request adds 1.",
        "VM db (3c4d): VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota (HTTP 413)",
        "Workload w has no trust from its owner alice: the owner must set its schedule again.",
        "The datamover agent on host compute-1 refused: unknown disk format",
        # A permanent cause wins: with one VM deleted, every attempt fails.
        "VM a (1): Service Unavailable (HTTP 503); VM b (2): Instance 2 could not be found. (HTTP 404)",
        # Unknown: not retried.
        "disk vda could not be read",
        "",
    ],
)
def test_permanent_and_unknown_messages_are_not_retried(message: str) -> None:
    assert not retry.classify(message).transient


@pytest.mark.parametrize(
    "exc",
    [
        ks_exc.ConnectFailure("Unable to establish connection"),
        ks_exc.ServiceUnavailable(),
        ks_exc.InternalServerError(),
        messaging.MessagingTimeout("no reply"),
        TargetUnavailable("the backup target s3://b is unavailable: timeout"),
        requests.ConnectionError("refused"),
        ConnectionRefusedError(111, "Connection refused"),
        sdk_error(503),
        errors.Conflict("No live, enabled workloads worker can run the snapshot now; ask ..."),
    ],
)
def test_transient_exceptions(exc: BaseException) -> None:
    assert retry.classify(exc).transient


def test_agent_unreachable_is_transient_by_its_status() -> None:
    from t4o.datamover.api.rpcapi import AgentUnreachable

    assert retry.classify(AgentUnreachable("did not answer")).transient


@pytest.mark.parametrize(
    "exc",
    [
        errors.Forbidden("The trust of workload owner alice was revoked."),
        errors.BadRequest("Quota exceeded: project p1 may have 0 Snapshots"),
        errors.NotFound("Workload w not found."),
        errors.Conflict("Workload w is locked: a job of it runs, or it needs a reset."),
        ks_exc.NotFound(),
        sdk_error(404),
        sdk_error(409),
        RuntimeError("something odd"),
    ],
)
def test_permanent_exceptions(exc: BaseException) -> None:
    assert not retry.classify(exc).transient


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [retry.backoff(n, 300, 3600) for n in range(1, 7)] == [300, 600, 1200, 2400, 3600, 3600]
    assert retry.backoff(10_000, 300, 3600) == 3600

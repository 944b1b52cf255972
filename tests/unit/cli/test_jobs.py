"""Following a job from a command: no wait, a finished wait, an interrupted wait."""

from __future__ import annotations

import argparse
from unittest import mock

import pytest

from t4o.cli import jobs
from t4o.client import ClientError
from t4o.client.base import Resource

JOB = Resource({"id": "0123456789abcdef", "status": "queued"})


def args(wait: bool) -> argparse.Namespace:
    return argparse.Namespace(wait=wait, poll_interval=0.1, timeout=None)


def test_without_wait_returns_the_queued_job() -> None:
    client = mock.Mock()
    assert jobs.follow(client, "snapshot", JOB, args(False)) is JOB
    client.wait_for_snapshot.assert_not_called()


def test_wait_returns_the_final_job() -> None:
    client = mock.Mock()
    client.wait_for_restore.return_value = Resource({"id": JOB["id"], "status": "available"})
    assert jobs.follow(client, "restore", JOB, args(True))["status"] == "available"
    assert client.wait_for_restore.call_args.kwargs["interval"] == 0.1


def test_interrupted_wait_says_the_job_goes_on() -> None:
    client = mock.Mock()
    client.wait_for_snapshot.side_effect = KeyboardInterrupt
    with pytest.raises(ClientError, match=r"Stopped waiting; snapshot 0123456789abcdef goes on"):
        jobs.follow(client, "snapshot", JOB, args(True))

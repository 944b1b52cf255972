"""Starting a job and, with --wait, following it with a progress bar until it ends."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from t4o.cli.progress import ProgressBar
from t4o.client import Client, ClientError
from t4o.client.base import Resource


def follow(client: Client, kind: str, job: Resource, args: argparse.Namespace) -> Resource:
    """The job itself without --wait; with --wait its final state (JobFailed when it fails)."""
    if not getattr(args, "wait", False):
        return job
    bar = ProgressBar(sys.stderr, f"{kind.capitalize()} {job['id'][:8]}")
    wait: Any = client.wait_for_snapshot if kind == "snapshot" else client.wait_for_restore
    try:
        return wait(job["id"], on_progress=bar.update, interval=args.poll_interval, timeout=args.timeout)
    except KeyboardInterrupt:
        # Interrupting the wait leaves the job running; say how to find it again.
        raise ClientError(
            f"Stopped waiting; {kind} {job['id']} goes on (`openstack workload {kind} show {job['id']}`)."
        ) from None
    finally:
        bar.finish()

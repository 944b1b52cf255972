"""A vault backup or gc run in its own process, with hooks to slow it down or SIGKILL it at a chosen point.

Used by the functional tests to create real crashes and real concurrency:

    python vault_child.py backup REPO SOURCE DISK SNAPSHOT [--parent REF] [--slow S] [--kill-at POINT]
    python vault_child.py gc REPO [--slow S]

POINT is ``pack:N`` (while storing the N-th new pack, before its rename), ``index-temp`` (the index
file written, not renamed), ``before-manifest`` (all blobs
stored, manifest not yet written) or ``manifest-temp`` (manifest temp file written, not renamed).
``--status FILE`` receives one line per progress report, ``leased`` once the backup holds its lease and
``holding`` when ``--hold FILE`` makes it wait, all chunks stored, until FILE exists.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from t4o.vault import PosixBackend, Repository
from t4o.vault.backend import ObjectInfo, ObjectWriter


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class HookedBackend(PosixBackend):
    def __init__(
        self, root: str, kill_at: str | None, slow: float, status: str | None, hold: str | None = None
    ):
        super().__init__(root)
        self.kill_at, self.slow, self.status, self.hold = kill_at or "", slow, status, hold
        self.pack_puts = 0

    def note(self, line: str) -> None:
        if self.status:
            with open(self.status, "a") as f:
                f.write(line + "\n")

    def new_object(self, prefix: str) -> ObjectWriter:
        return ObjectWriter(self)  # buffered: packs go through put_parts and the hooks below

    def put_parts(self, key: str, parts: list[bytes]) -> None:
        self.put(key, b"".join(parts))

    def put(self, key: str, data: bytes) -> None:
        if key.startswith("locks/backup-"):
            super().put(key, data)
            self.note("leased")
            return
        if key.startswith("data/"):
            self.pack_puts += 1
            if self.slow:
                time.sleep(self.slow)
            if self.kill_at == f"pack:{self.pack_puts}":
                real_replace = os.replace
                os.replace = lambda *a: die()  # the temp file is written, the rename never happens
                try:
                    super().put(key, data)
                finally:
                    os.replace = real_replace
                return
        if key.endswith("/snapshot.json") and self.hold:
            # Every chunk is stored and the commit phase is next: wait until the test lets us go on.
            self.note("holding")
            while not os.path.exists(self.hold):
                time.sleep(0.02)
        if key.startswith("index/") and self.kill_at == "index-temp":
            os.replace = lambda *a: die()
        if "/disks/" in key:
            if self.kill_at == "before-manifest":
                die()
            if self.kill_at == "manifest-temp":
                os.replace = lambda *a: die()
        super().put(key, data)

    def delete(self, key: str) -> None:
        if key.startswith("data/") and self.slow:
            time.sleep(self.slow)
        super().delete(key)

    def list(self, prefix: str = ""):  # type: ignore[override]
        items: list[ObjectInfo] = list(super().list(prefix))
        if prefix.startswith("locks/gc"):
            self.note("gc-checked")
        return iter(items)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=("backup", "gc"))
    p.add_argument("repo")
    p.add_argument("args", nargs="*")
    p.add_argument("--parent")
    p.add_argument("--slow", type=float, default=0.0)
    p.add_argument("--kill-at")
    p.add_argument("--status")
    p.add_argument("--grace", type=float, default=0.0)
    p.add_argument("--hold", help="before committing, wait until this file exists")
    a = p.parse_args()
    backend = HookedBackend(a.repo, a.kill_at, a.slow, a.status, a.hold)
    repo = Repository.open(backend)
    if a.op == "gc":
        backend.note("gc-start")
        r = repo.gc(grace=a.grace)
        print(f"deleted={r.deleted} swept={r.swept} skipped={r.skipped_reason}")
        return 0
    source, disk, snapshot = a.args
    m = repo.backup_disk(
        source,
        disk,
        parent=a.parent,
        snapshot_id=snapshot,
        progress=lambda pr: backend.note(f"progress {pr.done} {pr.total}"),
    )
    print(m.ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())

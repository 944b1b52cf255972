"""What an agent removes at start from the domains of its host: only T4O's backup jobs whose agent
process is gone, and T4O's checkpoints (the interrupted one deleted, a parent's metadata only)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import libvirt

from t4o.datamover.agent.operations import clear_abandoned_domain
from t4o.datamover.disks.libvirt_source import OWNER_FILE, backup_workdir, owner_alive


def no_checkpoint() -> libvirt.libvirtError:
    err = libvirt.libvirtError("no parent")
    err.err = (libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT, 0, "no parent", 0, "", "", "", 0, 0)
    return err


class FakeCheckpoint:
    def __init__(self, dom: FakeDomain, name: str, parent: str | None) -> None:
        self.dom, self.name, self.parent = dom, name, parent

    def getName(self) -> str:
        return self.name

    def getParent(self, flags: int) -> FakeCheckpoint:
        if self.parent is None:
            raise no_checkpoint()
        return self.dom.checkpoints[self.parent]

    def getXMLDesc(self, flags: int) -> str:
        return f"<domaincheckpoint><name>{self.name}</name></domaincheckpoint>"

    def delete(self, flags: int) -> None:
        self.dom.deleted.append((self.name, flags))
        del self.dom.checkpoints[self.name]


class FakeDomain:
    def __init__(self, job_xml: str = "", checkpoints: dict[str, str | None] | None = None) -> None:
        self.job_xml = job_xml
        self.checkpoints = {n: FakeCheckpoint(self, n, p) for n, p in (checkpoints or {}).items()}
        self.deleted: list[tuple[str, int]] = []
        self.aborted = False

    def isActive(self) -> bool:
        return True

    def name(self) -> str:
        return "instance-1"

    def backupGetXMLDesc(self, flags: int) -> str:
        if not self.job_xml:
            raise libvirt.libvirtError("no domain backup job present")
        return self.job_xml

    def abortJob(self) -> None:
        self.aborted, self.job_xml = True, ""

    def jobInfo(self) -> list[int]:
        return [libvirt.VIR_DOMAIN_JOB_NONE if not self.job_xml else libvirt.VIR_DOMAIN_JOB_UNBOUNDED]

    def listAllCheckpoints(self, flags: int) -> list[FakeCheckpoint]:
        return list(self.checkpoints.values())

    def checkpointLookupByName(self, name: str, flags: int) -> FakeCheckpoint:
        return self.checkpoints[name]


def job_xml(workdir: Path) -> str:
    return f"<domainbackup mode='pull'><server transport='unix' socket='{workdir}/nbd.sock'/></domainbackup>"


def workdir_of(tmp_path: Path, owner: int | None) -> Path:
    path = tmp_path / "t4o-backup-instance-1-abc"
    path.mkdir()
    if owner is not None:
        (path / OWNER_FILE).write_text(str(owner))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_backup_job_of_a_dead_agent_is_ended_and_its_checkpoints_go(tmp_path: Path) -> None:
    workdir = workdir_of(tmp_path, dead_pid())
    dom: Any = FakeDomain(job_xml(workdir), {"t4o-1": None, "t4o-2": "t4o-1", "other": None})
    notes = clear_abandoned_domain(dom)
    assert dom.aborted and not workdir.exists()
    # the interrupted one deleted with its bitmap; the parent's metadata only; another's left alone
    assert dom.deleted == [("t4o-2", 0), ("t4o-1", libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY)]
    assert sorted(dom.checkpoints) == ["other"]
    assert notes[0] == "ended a backup job left by an agent that died"


def test_a_live_agents_backup_and_a_job_not_of_t4o_are_left_alone(tmp_path: Path) -> None:
    live: Any = FakeDomain(job_xml(workdir_of(tmp_path, os.getppid())), {"t4o-1": None})
    assert clear_abandoned_domain(live) == [] and not live.aborted and live.checkpoints
    foreign: Any = FakeDomain(job_xml(tmp_path / "elsewhere"), {"t4o-1": None})
    assert clear_abandoned_domain(foreign) == [] and not foreign.aborted and foreign.checkpoints


def test_owner_and_workdir_are_read_from_the_job(tmp_path: Path) -> None:
    workdir = workdir_of(tmp_path, os.getpid())
    assert backup_workdir(job_xml(workdir)) == str(workdir)
    assert backup_workdir(job_xml(tmp_path / "x")) is None
    assert not owner_alive(str(workdir))  # this process: what an earlier one with its pid left
    (workdir / OWNER_FILE).write_text(str(os.getppid()))
    assert owner_alive(str(workdir))
    (workdir / OWNER_FILE).write_text(str(dead_pid()))
    assert not owner_alive(str(workdir))

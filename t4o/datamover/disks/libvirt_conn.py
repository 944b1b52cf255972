"""Connection to libvirtd through the libvirt-python binding (built from PyPI against the host's libvirt).

Why the binding and not ``virsh``: backups need one connection that lives as long as the backup job
(``VIR_DOMAIN_START_AUTODESTROY`` ties the paused start of a shut-off domain to it), typed errors (a
missing checkpoint and a broken bitmap have their own error codes, which is how a broken chain is told
apart from other failures), and no process per call.
"""

from __future__ import annotations

import re

import libvirt
from oslo_log import log as logging

from t4o.datamover.disks.errors import DomainNotFound, LibvirtUnavailable

LOG = logging.getLogger(__name__)
DEFAULT_URI = "qemu:///system"


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; we raise them as exceptions instead."""


libvirt.registerErrorHandler(_quiet, None)


def connect(uri: str = DEFAULT_URI) -> libvirt.virConnect:
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise LibvirtUnavailable(f"cannot connect to libvirt at {uri}: {exc.get_error_message()}") from exc
    LOG.debug("connected to %s (libvirt %s)", uri, conn.getLibVersion())
    return conn


def lookup_domain(conn: libvirt.virConnect, name_or_uuid: str) -> libvirt.virDomain:
    try:
        if re.fullmatch(r"[0-9a-fA-F-]{36}", name_or_uuid):
            return conn.lookupByUUIDString(name_or_uuid)
        return conn.lookupByName(name_or_uuid)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            raise DomainNotFound(f"no libvirt domain {name_or_uuid!r} on {conn.getURI()}") from exc
        raise


def qemu_process_owner(dom: libvirt.virDomain) -> tuple[int, int] | None:
    """uid and gid the running domain's QEMU has (its DAC label), so files it must create can be handed
    to it. Read from the live XML: the host capabilities hold it too but take seconds to compute."""
    match = re.search(r"<seclabel[^>]*model='dac'[^>]*>\s*<label>\+?(\d+):\+?(\d+)</label>", dom.XMLDesc(0))
    return (int(match.group(1)), int(match.group(2))) if match else None

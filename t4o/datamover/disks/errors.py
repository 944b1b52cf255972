"""Errors of the disk layer. Each message names the disk or domain and says what went wrong."""


class DiskError(Exception):
    """A disk could not be read or written; the message says which one and why."""


class LibvirtUnavailable(DiskError):
    """libvirtd cannot be reached (not running, or the URI is wrong)."""


class DomainNotFound(DiskError):
    """No libvirt domain with that name or UUID."""


class DomainStateError(DiskError):
    """The domain is in the wrong state for the operation (e.g. running during an in-place restore)."""


class BrokenChainError(DiskError):
    """The previous checkpoint cannot serve an incremental (missing, or its bitmap is broken).

    The caller takes a full backup instead and records ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NbdError(DiskError):
    """The NBD server refused a request or broke the protocol."""


class QemuToolError(DiskError):
    """qemu-img or qemu-nbd failed; the message carries its stderr."""

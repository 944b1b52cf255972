"""Options of the datamover agent, its REST API, and the client the workloads workers use to reach it."""

from __future__ import annotations

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

AGENT_OPTS = [
    cfg.StrOpt("topic", default="datamover", help="RPC topic of the datamover agents (one server per host)."),
    cfg.StrOpt(
        "libvirt_uri",
        default="qemu:///system",
        help="libvirt connection of the compute host whose domains the agent reads and writes.",
    ),
    cfg.IntOpt(
        "max_concurrent_transfers",
        default=2,
        min=1,
        help="Transfers (one VM each) an agent runs at once; more wait in a queue.",
    ),
    cfg.IntOpt("max_concurrent_disks", default=2, min=1, help="Disks of one VM moved at the same time."),
    cfg.IntOpt(
        "max_bytes_per_second",
        default=0,
        min=0,
        help="Bandwidth cap of this agent, shared by all its transfers: bytes per second read from the "
        "disks for backups (an upper bound of what goes to the backup target, before compression and "
        "deduplication) and written to the disks for restores. 0: no cap.",
    ),
    cfg.IntOpt(
        "unwatched_transfer_timeout",
        default=120,
        min=0,
        help="Seconds a transfer runs on without its job reading its status (a workloads worker polls it "
        "every [datamover_client] poll_interval) before the agent cancels it: the worker running the job "
        "stopped, so the data would never be recorded. 0 never cancels.",
    ),
    cfg.ListOpt(
        "volume_dirs",
        default=["/var/lib/cinder/mnt", "/var/lib/nova/mnt"],
        help="Directories where this host mounts the shares of Cinder's file-based (NFS) backends, each "
        "share in a subdirectory or directly: detached volumes are read from and written to their files "
        "there.",
    ),
    cfg.StrOpt("scratch_dir", help="Directory for the backup jobs' scratch files (default: the system's)."),
    cfg.StrOpt(
        "mount_dir",
        default="/var/lib/t4o/mounts",
        help="Directory of the snapshot mounts of this host: a state file per mount (its disks, vault and "
        "sockets, so a restarted agent serves them again) and a subdirectory of NBD sockets that QEMU "
        "connects to. QEMU's user must be able to traverse the directories above it.",
    ),
    cfg.IntOpt(
        "mount_detach_timeout",
        default=20,
        min=1,
        help="Seconds a dismount waits for the guest to release the hot-plugged disks; after that their "
        "exports are stopped anyway (the guest then sees read errors). Keep it below rpc_timeout.",
    ),
    cfg.IntOpt(
        "mount_reconnect_delay",
        default=60,
        min=0,
        help="Seconds QEMU holds a mounted disk's reads while its export is away (the agent restarting) "
        "before it fails them; needs a libvirt that knows <reconnect> for NBD disks (0: off).",
    ),
    cfg.IntOpt(
        "rpc_timeout",
        default=30,
        min=1,
        help="Seconds datamover-api waits for an agent to answer before it reports the agent unreachable.",
    ),
]

API_OPTS = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address datamover-api listens on."),
    cfg.PortOpt("bind_port", default=8784, help="Port datamover-api listens on."),
    cfg.IntOpt("workers", default=1, min=1, help="WSGI worker processes of datamover-api."),
    cfg.IntOpt("threads", default=8, min=1, help="Threads per WSGI worker process."),
]

# How the workloads workers and the datamover agents mount the exports of nfs backup targets
# (t4o.datamover.nfs_mount); the mount points are [backup_targets] nfs_mount_point_base/<md5>.
NFS_GROUP = "backup_targets"
NFS_OPTS = [
    cfg.BoolOpt(
        "nfs_automount",
        default=True,
        help="Mount the NFS export of a backup target of type nfs when it is not mounted yet (the "
        "service needs the right to mount: root, CAP_SYS_ADMIN, or nfs_mount_helper). Turn it off when "
        "the exports are mounted by fstab or systemd at <nfs_mount_point_base>/<md5 of server:/export>.",
    ),
    cfg.StrOpt(
        "nfs_mount_options",
        default="nolock,soft,timeo=180,retrans=3,lookupcache=none",
        help="Options of 'mount -t nfs -o'. soft: a vanished server fails the job instead of hanging "
        "it; lookupcache=none: each host sees at once the files the other hosts write; nolock: the vault "
        "takes no file locks. Add e.g. vers=3 or vers=4.2 to pin the protocol version.",
    ),
    cfg.IntOpt(
        "nfs_mount_timeout",
        default=60,
        min=1,
        help="Seconds one mount may take before it is given up and the target reported unavailable.",
    ),
    cfg.StrOpt(
        "nfs_mount_helper",
        default="",
        help="Command put before 'mount' for a service that does not run as root, e.g. 'sudo -n' (with "
        "a sudoers entry allowing it to run mount). Empty: run mount directly.",
    ),
]

CLIENT_GROUP = "datamover_client"
CLIENT_OPTS = [
    cfg.StrOpt(
        "endpoint_override",
        help="URL of datamover-api with its version, e.g. http://127.0.0.1:8784/v2 "
        "(default: the 'datamover' entry of the Keystone catalog).",
    ),
    cfg.StrOpt(
        "interface",
        default="public",
        choices=[
            ("public", "the public endpoint"),
            ("internal", "the internal endpoint (the control plane's network)"),
            ("admin", "the admin endpoint"),
        ],
        help="Catalog interface of T4O's own datamover endpoint (service type 'datamover', datamover-api) "
        "as the workloads workers reach it. The OpenStack services T4O consumes follow [clients] "
        "endpoint_type instead.",
    ),
    cfg.StrOpt("region_name", help="Region of the datamover endpoint (unset: any)."),
    cfg.FloatOpt("poll_interval", default=1.0, min=0.05, help="Seconds between transfer status polls."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(AGENT_OPTS, group="datamover")
    conf.register_opts(API_OPTS, group="datamover_api")
    conf.register_opts(CLIENT_OPTS, group=CLIENT_GROUP)
    conf.register_opts(NFS_OPTS, group=NFS_GROUP)
    # The service credentials the workloads workers present to the admin-only datamover-api.
    ks_loading.register_session_conf_options(conf, CLIENT_GROUP)
    ks_loading.register_auth_conf_options(conf, CLIENT_GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point of oslo-config-generator (namespace 't4o.datamover')."""
    return [
        ("datamover", AGENT_OPTS),
        ("datamover_api", API_OPTS),
        (NFS_GROUP, NFS_OPTS),
        (
            CLIENT_GROUP,
            CLIENT_OPTS
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options("password"),
        ),
    ]

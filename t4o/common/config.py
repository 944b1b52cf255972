"""Configuration options of the control plane (oslo.config), and the option list for the sample generator."""

from __future__ import annotations

from oslo_config import cfg
from oslo_log import log as logging

from t4o.common import drivers

CONF = cfg.CONF

DEFAULT_OPTS = [
    cfg.StrOpt("host", default="localhost", help="Name of this node; workers are addressed by it over RPC."),
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=[("keystone", "keystonemiddleware auth_token"), ("noauth", "no auth; loopback only")],
        help="How API callers are authenticated. 'noauth' is refused unless the API listens on loopback.",
    ),
    cfg.StrOpt(
        "cloud_driver",
        default="nova",
        help="The cloud that workload instances are looked up in: an entry point of the group t4o.clouds. "
        "'nova' is the caller's Nova, called with the caller's token.",
    ),
    cfg.StrOpt(
        "workflow_driver",
        default="datamover",
        help="The snapshot and restore workflows: the entry points <name>.snapshot and <name>.restore of "
        "the group t4o.workflows. 'datamover' copies the disks through the datamover agents into the "
        "backup target.",
    ),
    cfg.IntOpt(
        "service_down_time",
        default=60,
        min=1,
        help="Seconds without a heartbeat after which a service is considered dead.",
    ),
    cfg.IntOpt("report_interval", default=10, min=1, help="Seconds between service heartbeats."),
    cfg.IntOpt(
        "graceful_shutdown_timeout",
        default=60,
        min=0,
        help="Seconds a stopping service waits for its running RPC calls (jobs) to finish before it exits; "
        "jobs still running then are failed by the worker's next start or resolved by reset.",
    ),
    cfg.StrOpt("scheduler_topic", default="workloadmgr-scheduler", help="RPC topic of the scheduler."),
    cfg.StrOpt("workloads_topic", default="workloadmgr-workloads", help="RPC topic of workloads workers."),
    cfg.IntOpt(
        "max_concurrent_jobs", default=4, min=1, help="Jobs a workloads worker runs at the same time."
    ),
    cfg.IntOpt(
        "queued_job_timeout",
        default=120,
        min=10,
        help="Seconds a job may stay queued without a scheduler placing it or a worker taking or holding "
        "it (workers holding a job for a free slot say so every report_interval). After that its RPC "
        "message was lost with a stopped scheduler or worker: the scheduler fails the job with a message "
        "naming which, and unlocks its workload. Keep it above 2 x report_interval.",
    ),
]

API_OPTS = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the API listens on."),
    cfg.PortOpt("bind_port", default=8780, help="Port the API listens on."),
    cfg.IntOpt("workers", default=2, min=1, help="WSGI worker processes of workloadmgr-api."),
    cfg.IntOpt(
        "threads",
        default=8,
        min=1,
        help="Threads per WSGI worker process. Requests mostly wait on the database and Keystone, so "
        "2 x 8 served 20 concurrent clients best on 2 cores (docs/benchmarks.md).",
    ),
    cfg.IntOpt(
        "default_page_size",
        default=100,
        min=1,
        help="Items a list call returns when the request gives no limit.",
    ),
    cfg.IntOpt(
        "max_page_size",
        default=1000,
        min=1,
        help="Most items one list call returns; a larger limit is lowered to this.",
    ),
]

DATABASE_OPTS = [
    cfg.StrOpt(
        "connection",
        default="sqlite:////var/lib/t4o/t4o.sqlite",
        secret=True,
        help="SQLAlchemy URL of the database (mysql+mysqldb://, postgresql+psycopg2://, sqlite:///).",
    ),
    cfg.IntOpt("max_pool_size", default=10, min=1, help="Connections kept in the pool."),
    cfg.IntOpt("max_overflow", default=20, min=0, help="Connections allowed beyond the pool."),
]

CLIENTS_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "endpoint_type",
        default="public",
        choices=[
            ("public", "the public endpoints"),
            ("internal", "the internal endpoints (the control plane's network)"),
            ("admin", "the admin endpoints"),
        ],
        deprecated_opts=[cfg.DeprecatedOpt("interface", group="nova")],
        help="Interface of the Keystone catalog endpoints T4O uses for every OpenStack service it "
        "consumes: Keystone (token exchange, trusts), Nova, Cinder, Glance, Neutron and Barbican, in the "
        "API, the workers, cron, datamover-api and the datamover agents. T4O's own datamover-api is "
        "found with [datamover_client] interface.",
    ),
    cfg.StrOpt(
        "region_name",
        deprecated_opts=[cfg.DeprecatedOpt("region_name", group="nova")],
        help="Region of those endpoints (unset: the catalog's first endpoint of the interface).",
    ),
]

KEYSTONE_REGISTRATION_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("public_url", help="Public URL of the API, e.g. http://127.0.0.1:8780/v1/$(project_id)s."),
    cfg.StrOpt("region_name", default="RegionOne", help="Region of the endpoints registered."),
]

SETTINGS_KEY_OPT = cfg.StrOpt(
    "settings_key",
    secret=True,
    help="Key that encrypts secret project settings (smtp_server_password, any name ending in _password, "
    "_secret or _token) in the database: a Fernet key, or any passphrase (hashed into one). Unset, the "
    "key is derived from [trustee] password. Every service that reads settings needs the same value.",
)

AUDIT_OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "keep_days",
        default=90,
        min=1,
        help="Days an audit log entry is kept; workloadmgr-cron deletes older entries.",
    ),
]

FILE_RECOVERY_OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "idle_timeout",
        default=120,
        min=1,
        help="Seconds a snapshot disk opened for browsing or download stays open (its NBD export and "
        "filesystem readers) after its last use, so that walking a tree does not reopen it per call.",
    ),
    cfg.IntOpt(
        "cache_mib",
        default=16,
        min=0,
        help="MiB of decoded vault chunks cached per open snapshot disk.",
    ),
    # snapshot mount
    cfg.IntOpt(
        "mount_idle_timeout",
        default=3600,
        min=60,
        help="Seconds a mounted snapshot stays attached to its recovery VM without a read of its disks; "
        "workloadmgr-cron then dismounts it (its dismount_reason says so).",
    ),
    # file search
    cfg.IntOpt(
        "search_max_snapshots",
        default=100,
        min=1,
        help="Most snapshots one file search may cover; a search matching more is refused (400) and "
        "must be narrowed with snapshot_ids, dates or start/end.",
    ),
    cfg.IntOpt(
        "search_timeout",
        default=3600,
        min=10,
        help="Seconds a file search may run. The worker stops searching at that time, and a search "
        "still executing after it (its worker stopped) is reported as error.",
    ),
]

METRICS_OPTS: list[cfg.Opt] = [
    cfg.BoolOpt(
        "require_auth",
        default=False,
        help="Whether GET /metrics (Prometheus) on workloadmgr-api needs a token with the metrics:get "
        "rule (admins by default). Off, it is served without authentication, as Prometheus scrapes: "
        "restrict the path to the Prometheus servers at the load balancer or firewall.",
    ),
    cfg.IntOpt(
        "job_window_hours",
        default=24,
        min=1,
        help="Hours back that the job duration and byte histograms of /metrics look at (jobs that "
        "finished in that window).",
    ),
]

CRON_OPTS: list[cfg.Opt] = [
    cfg.IntOpt(
        "retry_attempts",
        default=3,
        min=0,
        help="Attempts after the first of a scheduled snapshot that failed for a transient reason (agent, "
        "datamover-api or backup target unreachable, a 5xx or connection error of an OpenStack service, "
        "no live workloads worker). The run's failure is reported once the last attempt failed; "
        "permanent failures are never retried. 0 turns retries off.",
    ),
    cfg.IntOpt(
        "retry_backoff",
        default=300,
        min=1,
        help="Seconds before the first retry of a scheduled snapshot; each further retry waits twice as "
        "long as the one before, up to retry_backoff_max. A retry that would start after the backup "
        "window closes, or after the schedule's next run, is not made.",
    ),
    cfg.IntOpt(
        "retry_backoff_max",
        default=3600,
        min=1,
        help="Most seconds between two attempts of a scheduled snapshot.",
    ),
]


def register_opts(conf: cfg.ConfigOpts = CONF) -> None:
    conf.register_opts(DEFAULT_OPTS)
    conf.register_opts(API_OPTS, group="api")
    conf.register_opts(DATABASE_OPTS, group="database")
    conf.register_opts(CLIENTS_OPTS, group="clients")
    conf.register_opts(KEYSTONE_REGISTRATION_OPTS, group="keystone_registration")
    conf.register_opts(FILE_RECOVERY_OPTS, group="file_recovery")
    conf.register_opts(METRICS_OPTS, group="metrics")
    conf.register_opt(SETTINGS_KEY_OPT)
    conf.register_opts(AUDIT_OPTS, group="audit")
    conf.register_opts(CRON_OPTS, group="cron")


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Entry point of oslo-config-generator (namespace 't4o')."""
    return [
        (None, DEFAULT_OPTS),
        ("api", API_OPTS),
        ("database", DATABASE_OPTS),
        ("clients", CLIENTS_OPTS),
        ("keystone_registration", KEYSTONE_REGISTRATION_OPTS),
        ("file_recovery", FILE_RECOVERY_OPTS),
        ("metrics", METRICS_OPTS),
        (None, [SETTINGS_KEY_OPT]),
        ("audit", AUDIT_OPTS),
        ("cron", CRON_OPTS),
    ]


_registered = False


def setup(argv: list[str] | None, prog: str, default_config_files: list[str] | None = None) -> None:
    """Register options, parse the command line and config files, and configure logging."""
    ensure_registered()
    if default_config_files is None:
        default_config_files = cfg.find_config_files(project="t4o", prog=prog)
    CONF(argv or [], project="t4o", prog=prog, default_config_files=default_config_files)
    check_values()
    logging.setup(CONF, "t4o")


def check_values() -> None:
    """Read every option of ours once, and find the drivers they name, so a bad value fails at start-up,
    not at first use."""
    for group, opts in list_opts():
        section = CONF if group is None else CONF[group]
        for opt in opts:
            getattr(section, opt.dest)
    drivers.check(CONF)


def ensure_registered() -> None:
    global _registered
    if not _registered:
        register_opts(CONF)
        logging.register_options(CONF)
        _registered = True

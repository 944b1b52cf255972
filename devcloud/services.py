"""The OpenStack services devcloud runs: how each is started, checked, and its database prepared."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from devcloud import layout as L


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    port: int | None = None  # healthy when it answers on this port (HTTP, or a TCP connect: `tcp`)
    env: dict[str, str] = field(default_factory=dict)
    stage: int = 2  # 1 = before seeding (keystone, the switch and OVN), 2 = everything else
    tcp: bool = False  # the port speaks another protocol than HTTP (OVSDB): a connect is the check


def _wsgi(name: str, port: int, target: str, *args: str) -> list[str]:
    return [str(L.VENV_PY), str(L.HERE / "wsgi_serve.py"), name, str(port), target, *args]


def _conf(project: str, *files: str) -> list[str]:
    out: list[str] = []
    for f in files or (f"{project}.conf",):
        out += ["--config-file", str(L.ETC / project / f)]
    return out


def _bin(name: str) -> str:
    return str(L.VENV_BIN / name)


def all_services() -> list[Service]:
    from devcloud import infra, ovn

    neutron_files = ("neutron.conf", "plugins/ml2/ml2_conf.ini")
    hosts = L.compute_hosts()
    libvirt = [
        Service(f"libvirtd{L.host_suffix(h)}", infra.libvirt_argv(h), stage=1)
        for h in (hosts if L.COMPUTE_DRIVER == "libvirt" else [])
    ]
    ovs_env = ovn.env()
    switch = [
        # The switch database first: `up` configures it before ovs-vswitchd starts (see ovn.py).
        Service("ovsdb-server", ovn.switch_db_argv(), port=ovn.OVSDB_PORT, env=ovs_env, stage=1, tcp=True),
        Service("ovs-vswitchd", ovn.vswitchd_argv(), env=ovs_env, stage=1),
        Service("ovn-nb-db", ovn.nb_db_argv(), port=ovn.NB_PORT, env=ovs_env, stage=1, tcp=True),
        Service("ovn-sb-db", ovn.sb_db_argv(), port=ovn.SB_PORT, env=ovs_env, stage=1, tcp=True),
        Service("ovn-northd", ovn.northd_argv(), env=ovs_env, stage=1),
        Service("ovn-controller", ovn.controller_argv(), env=ovs_env, stage=1),
    ]
    return [
        *libvirt,
        *switch,
        Service(
            "keystone",
            _wsgi("keystone", 5000, "keystone.wsgi.api:application"),
            port=5000,
            env={"OS_KEYSTONE_CONFIG_DIR": str(L.ETC / "keystone")},
            stage=1,
        ),
        Service(
            "glance-api",
            _wsgi("glance-api", 9292, "glance.wsgi.api:application"),
            port=9292,
            env={"OS_GLANCE_CONFIG_DIR": str(L.ETC / "glance")},
        ),
        Service(
            "placement-api",
            _wsgi("placement-api", 8778, "placement.wsgi.api:application"),
            port=8778,
            env={"OS_PLACEMENT_CONFIG_DIR": str(L.ETC / "placement")},
        ),
        Service(
            "nova-api",
            _wsgi("nova-api", 8774, "nova.wsgi.osapi_compute:application"),
            port=8774,
            env={"OS_NOVA_CONFIG_DIR": str(L.ETC / "nova")},
        ),
        Service("nova-conductor", [_bin("nova-conductor"), *_conf("nova")]),
        Service("nova-scheduler", [_bin("nova-scheduler"), *_conf("nova")]),
        *[Service(f"nova-compute{L.host_suffix(h)}", compute_argv(h)) for h in hosts],
        Service(
            "cinder-api",
            _wsgi("cinder-api", 8776, "cinder.wsgi.api:application", *_conf("cinder")),
            port=8776,
        ),
        Service("cinder-scheduler", [_bin("cinder-scheduler"), *_conf("cinder")]),
        Service("cinder-volume", [_bin("cinder-volume"), *_conf("cinder")]),
        Service("cinder-backup", [_bin("cinder-backup"), *_conf("cinder")]),
        Service(
            "neutron-api",
            _wsgi("neutron-api", 9696, "neutron.wsgi.api:application"),
            port=9696,
            env={
                "OS_NEUTRON_CONFIG_DIR": str(L.ETC / "neutron"),
                "OS_NEUTRON_CONFIG_FILES": ";".join(neutron_files),
                # The OVN driver's hash ring needs the API worker count, which it reads from uwsgi,
                # mod_wsgi or this variable; gunicorn runs one worker.
                "ASGI_WORKERS": "1",
            },
        ),
        Service("neutron-rpc-server", [_bin("neutron-rpc-server"), *_conf("neutron", *neutron_files)]),
        Service(
            "barbican-api",
            _wsgi("barbican-api", 9311, f"paste:{L.ETC / 'barbican' / 'barbican-api-paste.ini'}"),
            port=9311,
            env=barbican_env(),
        ),
    ]


def compute_argv(host: str) -> list[str]:
    """nova-compute of a compute host: nova.conf, then for an extra host its own file on top (host name,
    libvirt connection, state path)."""
    files = ("nova.conf",) if host == L.FIRST_COMPUTE else ("nova.conf", f"nova{L.host_suffix(host)}.conf")
    return [_bin("nova-compute"), *_conf("nova", *files)]


def barbican_env() -> dict[str, str]:
    """Barbican finds its configuration in ~/.barbican (see confgen.barbican)."""
    from devcloud import confgen

    return {"HOME": str(confgen.BARBICAN_HOME)}


def healthy(svc: Service) -> bool:
    """A service with a port answers there; one without is healthy while its process runs."""
    if svc.port is None:
        return True
    if svc.tcp:
        with socket.socket() as s:
            s.settimeout(2)
            return s.connect_ex((L.HOST, svc.port)) == 0
    return http_ok(svc.port)


def http_ok(port: int) -> bool:
    """An API is healthy when its root answers anything but a server error."""
    try:
        with urllib.request.urlopen(f"http://{L.HOST}:{port}/", timeout=5) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as err:
        return err.code < 500
    except OSError:
        return False


def neutron_sync_argv() -> list[str]:
    """neutron-ovn-db-sync-util with Neutron's configuration (its sync mode is the caller's)."""
    return [_bin("neutron-ovn-db-sync-util"), *_conf("neutron", "neutron.conf", "plugins/ml2/ml2_conf.ini")]


def db_sync_steps() -> list[tuple[str, list[list[str]]]]:
    """(name, commands) per service; each name's commands run in order, names run side by side."""
    nova = _conf("nova")
    cinder = _conf("cinder")
    keystone = _conf("keystone")
    glance = ["--config-file", str(L.ETC / "glance" / "glance-api.conf")]
    neutron = _conf("neutron", "neutron.conf", "plugins/ml2/ml2_conf.ini")
    return [
        (
            "keystone",
            [
                [_bin("keystone-manage"), *keystone, "db_sync"],
                [
                    _bin("keystone-manage"),
                    *keystone,
                    "fernet_setup",
                    "--keystone-user",
                    "root",
                    "--keystone-group",
                    "root",
                ],
                [
                    _bin("keystone-manage"),
                    *keystone,
                    "credential_setup",
                    "--keystone-user",
                    "root",
                    "--keystone-group",
                    "root",
                ],
                [
                    _bin("keystone-manage"),
                    *keystone,
                    "bootstrap",
                    "--bootstrap-password",
                    L.ADMIN_PASSWORD,
                    "--bootstrap-admin-url",
                    L.KEYSTONE_URL,
                    "--bootstrap-public-url",
                    L.KEYSTONE_URL,
                    "--bootstrap-internal-url",
                    L.KEYSTONE_URL,
                    "--bootstrap-region-id",
                    L.REGION,
                ],
            ],
        ),
        ("glance", [[_bin("glance-manage"), *glance, "db_sync"]]),
        (
            "placement",
            [
                [
                    _bin("placement-manage"),
                    "--config-file",
                    str(L.ETC / "placement" / "placement.conf"),
                    "db",
                    "sync",
                ]
            ],
        ),
        (
            "nova",
            [
                [_bin("nova-manage"), *nova, "api_db", "sync"],
                [
                    _bin("nova-manage"),
                    *nova,
                    "cell_v2",
                    "map_cell0",
                    "--database_connection",
                    L.db_url("nova_cell0"),
                ],
                [_bin("nova-manage"), *nova, "db", "sync"],
                # create_cell exits 2 when cell1 already exists: that is fine for an idempotent `up`.
                [_bin("nova-manage"), *nova, "cell_v2", "create_cell", "--name", "cell1"],
            ],
        ),
        ("cinder", [[_bin("cinder-manage"), *cinder, "db", "sync"]]),
        ("neutron", [[_bin("neutron-db-manage"), *neutron, "upgrade", "heads"]]),
        ("barbican", [[_bin("barbican-manage"), "db", "upgrade", "--db-url", L.db_url("barbican")]]),
    ]

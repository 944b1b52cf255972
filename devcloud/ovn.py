"""Open vSwitch and OVN for devcloud: the switch Neutron's OVN driver binds ports on, all on loopback.

There is no OVS kernel module in devcloud's machines, so br-int uses the userspace datapath
(`datapath_type=netdev`): ovs-vswitchd forwards the packets itself and opens the instances' tap devices
like any other Linux netdev. Every daemon is devcloud's own process (services.py), with its databases,
sockets and control sockets under state/ovs (switch) and state/ovn (OVN northbound and southbound):
a machine's own Open vSwitch, if any, is not touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devcloud import layout as L

OVS_DIR = L.STATE / "ovs"  # conf.db (the Open_vSwitch database)
OVN_DIR = L.STATE / "ovn"  # ovnnb_db.db, ovnsb_db.db: forgotten with a new neutron database
RUN = L.STATE / "ovs-run"  # unix sockets: databases, control sockets, br-int.mgmt
SWITCH_DB = RUN / "db.sock"
NB_SOCK = RUN / "ovnnb_db.sock"
SB_SOCK = RUN / "ovnsb_db.sock"
OVSDB_PORT, NB_PORT, SB_PORT = 6640, 6641, 6642
NB_CONNECTION = f"tcp:{L.HOST}:{NB_PORT}"
SB_CONNECTION = f"tcp:{L.HOST}:{SB_PORT}"
BRIDGE = "br-int"
CHASSIS = "devcloud"  # the compute host's name (nova's [DEFAULT] host): Neutron binds ports to it

_SCHEMAS = {
    OVS_DIR / "conf.db": Path("/usr/share/openvswitch/vswitch.ovsschema"),
    OVN_DIR / "ovnnb_db.db": Path("/usr/share/ovn/ovn-nb.ovsschema"),
    OVN_DIR / "ovnsb_db.db": Path("/usr/share/ovn/ovn-sb.ovsschema"),
}


def env() -> dict[str, str]:
    """Where the OVS and OVN tools find their sockets (ovn-controller opens br-int.mgmt through it)."""
    return {"OVS_RUNDIR": str(RUN), "OVN_RUNDIR": str(RUN), "OVS_DBDIR": str(OVS_DIR)}


def _log_opts() -> list[str]:
    return ["-vconsole:info", "-vsyslog:off"]


def _ovsdb(db: Path, sock: Path, port: int, ctl: str) -> list[str]:
    return [
        "ovsdb-server",
        str(db),
        f"--remote=punix:{sock}",
        f"--remote=ptcp:{port}:{L.HOST}",
        f"--unixctl={RUN / ctl}",
        *_log_opts(),
    ]


def switch_db_argv() -> list[str]:
    return _ovsdb(OVS_DIR / "conf.db", SWITCH_DB, OVSDB_PORT, "ovsdb-server.ctl")


def vswitchd_argv() -> list[str]:
    return ["ovs-vswitchd", f"unix:{SWITCH_DB}", f"--unixctl={RUN / 'ovs-vswitchd.ctl'}", *_log_opts()]


def nb_db_argv() -> list[str]:
    return _ovsdb(OVN_DIR / "ovnnb_db.db", NB_SOCK, NB_PORT, "ovnnb_db.ctl")


def sb_db_argv() -> list[str]:
    return _ovsdb(OVN_DIR / "ovnsb_db.db", SB_SOCK, SB_PORT, "ovnsb_db.ctl")


def northd_argv() -> list[str]:
    return [
        "ovn-northd",
        f"--ovnnb-db=unix:{NB_SOCK}",
        f"--ovnsb-db=unix:{SB_SOCK}",
        f"--unixctl={RUN / 'ovn-northd.ctl'}",
        *_log_opts(),
    ]


def controller_argv() -> list[str]:
    # No --unixctl here: its control socket is ovn-controller.<pid>.ctl, found through the pid file
    # (`OVN_RUNDIR=state/ovs-run ovn-appctl -t ovn-controller ...`).
    return ["ovn-controller", f"unix:{SWITCH_DB}", f"--pidfile={RUN / 'ovn-controller.pid'}", *_log_opts()]


def _run(argv: list[str], timeout: float = 60) -> str:
    from devcloud.infra import InfraError

    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise InfraError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    return proc.stdout


def prepare() -> None:
    """Create (or upgrade) the three databases before their servers start."""
    from devcloud.infra import InfraError

    for d in (OVS_DIR, OVN_DIR, RUN):
        d.mkdir(parents=True, exist_ok=True)
    for db, schema in _SCHEMAS.items():
        if not schema.exists():
            raise InfraError(
                f"{schema} is missing: scripts/bootstrap installs openvswitch-switch, ovn-central and "
                "ovn-host (without starting the machine's own Open vSwitch)"
            )
        if not db.exists():
            _run(["ovsdb-tool", "create", str(db), str(schema)])
        elif _run(["ovsdb-tool", "needs-conversion", str(db), str(schema)]).strip() == "yes":
            _run(["ovsdb-tool", "convert", str(db), str(schema)])


def vsctl(*args: str, wait: bool = False, timeout: int = 30) -> str:
    """ovs-vsctl against devcloud's switch database."""
    opts = [f"--db=unix:{SWITCH_DB}", f"--timeout={timeout}"] + ([] if wait else ["--no-wait"])
    return _run(["ovs-vsctl", *opts, *args], timeout=timeout + 5)


def configure_switch() -> None:
    """The chassis identity, the OVN remote and br-int, written while ovsdb-server runs and before
    ovs-vswitchd starts: userspace TSO is read once, at ovs-vswitchd's start (without it TCP from a guest
    on the userspace datapath stalls)."""
    vsctl(
        "--retry",
        "--",
        "init",
        "--",
        "set",
        "Open_vSwitch",
        ".",
        f"external_ids:system-id={CHASSIS}",
        f"external_ids:hostname={CHASSIS}",
        f"external_ids:ovn-remote={SB_CONNECTION}",
        "external_ids:ovn-encap-type=geneve",
        f"external_ids:ovn-encap-ip={L.HOST}",
        "external_ids:ovn-bridge-datapath-type=netdev",
        f"external_ids:ovn-bridge={BRIDGE}",
        "other_config:userspace-tso-enable=true",
        "--",
        "--may-exist",
        "add-br",
        BRIDGE,
        "--",
        "set",
        "Bridge",
        BRIDGE,
        "datapath_type=netdev",
        "fail_mode=secure",
        "other_config:disable-in-band=true",
    )


def wait_switch(timeout: int = 30) -> None:
    """Until ovs-vswitchd has applied the database (ovs-vsctl waits for it without --no-wait)."""
    vsctl("--", "--may-exist", "add-br", BRIDGE, wait=True, timeout=timeout)

"""Where devcloud keeps everything, and the fixed facts of the cloud (ports, names, passwords)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STATE = Path(os.environ.get("DEVCLOUD_STATE", HERE / "state")).resolve()
VENV = STATE / "venv"
VENV_BIN = VENV / "bin"
VENV_PY = VENV_BIN / "python"
LOGS = STATE / "logs"
RUN = STATE / "run"
ETC = STATE / "etc"
SHIMS = STATE / "shims"
DATA = STATE / "data"
CLOUDS_YAML = STATE / "clouds.yaml"

HOST = "127.0.0.1"
REGION = "RegionOne"
KEYSTONE_URL = f"http://{HOST}:5000/v3"
ADMIN_PASSWORD = "devcloud-admin"
SERVICE_PASSWORD = "devcloud-service"
DB_USER = "devcloud"
DB_PASSWORD = "devcloud"
# Databases and the RabbitMQ vhost belong to one state directory: a second checkout on the same machine
# (CI's fresh clone) starts from empty databases instead of rows that point at another checkout's files.
STATE_TAG = hashlib.sha256(str(STATE).encode()).hexdigest()[:8]
DB_PREFIX = f"devcloud_{STATE_TAG}_"
RABBIT_VHOST = f"devcloud-{STATE_TAG}"
TRANSPORT_URL = f"rabbit://guest:guest@{HOST}:5672/{RABBIT_VHOST}"

# Volumes are plain files in this directory, exported as a pretend NFS share that is bind-mounted.
VOLUMES_DIR = DATA / "cinder-volumes"
NFS_SHARE = f"{HOST}:{VOLUMES_DIR}"
CINDER_MNT_BASE = DATA / "cinder-mnt"
NOVA_MNT_BASE = DATA / "nova-mnt"
INSTANCES_DIR = DATA / "nova-instances"

# Compute driver: "libvirt" (QEMU/TCG, real disks) or "fake" (nova's FakeDriver, no disks).
COMPUTE_DRIVER = os.environ.get("DEVCLOUD_COMPUTE_DRIVER", "libvirt")


def db_url(name: str) -> str:
    return f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@{HOST}:3306/{DB_PREFIX}{name}?charset=utf8"


def service_env() -> dict[str, str]:
    """Environment of every OpenStack process: shims first (sudo, mount), then the venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PATH"] = f"{SHIMS}:{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


# ---- compute hosts --------------------------------------------------------------------------------------
# `up --computes N` runs N nova-compute services, each with its own libvirtd, all on 127.0.0.1. They share
# INSTANCES_DIR and my_ip, so Nova's libvirt driver sees the instances path as shared between them and
# moves a cold-migrated VM's disks with a local copy (no ssh). The number is kept for the next `up`,
# `status` and `down`.
FIRST_COMPUTE = "devcloud"
COMPUTES_FILE = STATE / "computes"


def computes() -> int:
    try:
        return max(1, int(COMPUTES_FILE.read_text().strip()))
    except (OSError, ValueError):
        return 1


def compute_hosts(count: int | None = None) -> list[str]:
    """Nova host names of the compute services: devcloud, devcloud-c2, devcloud-c3, ..."""
    n = computes() if count is None else count
    return [FIRST_COMPUTE] + [f"{FIRST_COMPUTE}-c{i}" for i in range(2, n + 1)]


def host_suffix(host: str) -> str:
    """'' for the first compute, '-c2' for devcloud-c2: the suffix of its services' and files' names."""
    return host.removeprefix(FIRST_COMPUTE)


def libvirt_state(host: str = FIRST_COMPUTE) -> Path:
    return STATE / f"libvirt{host_suffix(host)}"


def libvirt_uri(host: str = FIRST_COMPUTE) -> str:
    return f"qemu+unix:///system?socket={libvirt_state(host) / 'run' / 'libvirt-sock'}"

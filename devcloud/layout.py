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

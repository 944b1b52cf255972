"""Browser tier: Horizon with the T4O plugin, a real workloadmgr behind Keystone, and headless Chromium.

- ``workloadmgr``: the T4O services (workloadmgr-api, -scheduler, -workloads, datamover-api, datamover)
  behind keystonemiddleware against devcloud's Keystone, on the ports devcloud's catalog names.
- ``horizon``: ``dashboard/install`` then Django's server on a free loopback port.
- ``browser``: Playwright driving Debian's Chromium (never a downloaded browser build).
Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from demo.services import DATAMOVER_PORT, WORKLOADS_PORT, T4OServices, mariadb_database
from tests.fixtures.control_plane import ensure_server, free_port, missing_server, port_open
from tests.fixtures.devcloud import Devcloud

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
SHOTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def clouds(devcloud: Devcloud) -> dict[str, Any]:
    return yaml.safe_load(devcloud.clouds_yaml.read_text())["clouds"]


@pytest.fixture(scope="module")
def workloadmgr(devcloud: Devcloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[T4OServices]:
    """The T4O services as in the demo: APIs on the catalog's ports (workloads 8780, datamover 8784)."""
    for port in (WORKLOADS_PORT, DATAMOVER_PORT):
        if port_open(port):
            pytest.fail(f"127.0.0.1:{port} is taken; the catalog's T4O endpoints must be this test's")
    ensure_server("rabbitmq")
    ensure_server("mariadb")
    with mariadb_database() as db_url:
        services = T4OServices(
            tmp_path_factory.mktemp("e2e-t4o"),
            devcloud.clouds_yaml,
            devcloud.libvirt_uri,
            database_url=db_url,
        )
        try:
            services.start()
            yield services
        finally:
            services.stop()


@pytest.fixture(scope="module")
def horizon(devcloud: Devcloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard's URL; Horizon's log is test-artifacts/e2e/horizon.log."""
    install = subprocess.run(
        [str(DASHBOARD / "install")], capture_output=True, text=True, timeout=900, check=False
    )
    assert install.returncode == 0, (
        f"dashboard/install failed:\n{install.stdout[-2000:]}\n{install.stderr[-3000:]}"
    )
    state = DASHBOARD / ".state"
    port = free_port()
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SHOTS / "horizon.log", "ab")  # noqa: SIM115 (the process owns it)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "openstack_dashboard.settings",
        "T4O_DASHBOARD_STATE": str(state),
        "T4O_KEYSTONE_URL": devcloud.keystone_url,
    }
    argv = [str(state / "venv" / "bin" / "django-admin"), "runserver", "--noreload", "--insecure"]
    proc = subprocess.Popen(
        [*argv, f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (SHOTS / "horizon.log").read_text()[-3000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/auth/login/", timeout=30).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError(f"Horizon did not answer on {url}")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        missing_server(f"{CHROMIUM} is missing (Debian package chromium; scripts/bootstrap installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser_as(playwright: Any, horizon: str, devcloud: Devcloud) -> Iterator[Callable[[str], Any]]:
    """``browser_as("devcloud-demo")``: a page logged in to Horizon as that cloud's user (fresh profile)."""
    contexts: list[Any] = []
    profiles: list[str] = []
    all_clouds = clouds(devcloud)

    def login(cloud: str) -> Any:
        profile = tempfile.mkdtemp(prefix="t4o-e2e-chromium-")
        profiles.append(profile)
        ctx = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
        )
        contexts.append(ctx)
        ctx.set_default_timeout(60_000)
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        auth = all_clouds[cloud]["auth"]
        page.goto(horizon + "/auth/login/", timeout=180_000)  # the first page compiles the stylesheets
        page.fill("#id_username", auth["username"])
        page.fill("#id_password", auth["password"])
        page.click("#loginBtn")
        page.wait_for_selector("#navbar-collapse, .navbar", timeout=120_000)
        return page

    try:
        yield login
    finally:
        for ctx in contexts:
            with contextlib.suppress(Exception):
                ctx.close()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_server(devcloud: Devcloud) -> Iterator[Any]:
    """A real server of project demo, booted without networks."""
    conn = devcloud.connection("devcloud-demo")
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    server = conn.compute.create_server(
        name=f"e2e-web-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    try:
        yield conn.compute.wait_for_server(server, wait=300)
    finally:
        conn.compute.delete_server(server.id, ignore_missing=True)

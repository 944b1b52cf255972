"""workloadmgr-api's gunicorn workers: each one listens on a socket of its own (the kernel spreads the
connections), closes a keep-alive connection after KEEPALIVE_REQUESTS requests (so an uneven split does
not last), freezes what loading the app allocated (so the garbage collector's full collections, which
stop all of a worker's threads, walk only what requests leave), says when it is ready, and at its exit how
many requests it served on how many connections and how long the collector paused it."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from t4o.cmd import api
from t4o.db import session

READY = re.compile(
    r" (\d+) INFO t4o\.cmd\.api .*workloadmgr-api worker (\d+) of (\d+) ready at (\S+): (\d+) objects frozen"
)
EXIT = re.compile(
    r" (\d+) INFO t4o\.cmd\.api .*workloadmgr-api worker exiting: (\d+) requests on (\d+) connections; "
    r"GC pauses: gen0 (\d+) in ([\d.]+) ms \(max ([\d.]+)\), gen1 \d+ in [\d.]+ ms \(max [\d.]+\), "
    r"gen2 \d+ in [\d.]+ ms \(max [\d.]+\)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_sockets(port: int) -> int:
    """TCP sockets listening on 127.0.0.1:``port``, from /proc/net/tcp (state 0A)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == f"0100007F:{port:04X}" and row.split()[3] == "0A")


def _time_wait_sockets(port: int) -> int:
    """TCP connections of 127.0.0.1:``port`` in TIME_WAIT (state 06)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == f"0100007F:{port:04X}" and row.split()[3] == "06")


def test_workers_listen_apart_freeze_the_app_and_report_gc_pauses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t4o.sqlite"
    session.sync(url)
    session.dispose_all()
    port = _free_port()
    log = tmp_path / "api.log"
    conf = tmp_path / "t4o.conf"
    conf.write_text(
        f"[DEFAULT]\nauth_strategy = noauth\ntransport_url = fake:/\nlog_file = {log}\n"
        f"[api]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = 2\nthreads = 2\n"
        f"[database]\nconnection = {url}\n"
    )
    binary = Path(sys.executable).parent / "workloadmgr-api"
    with (tmp_path / "api.stdout").open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--config-file", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while len(READY.findall(log.read_text() if log.exists() else "")) < 2:
            assert proc.poll() is None, (tmp_path / "api.stdout").read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers did not say they were ready"
            time.sleep(0.2)
        ready = READY.findall(log.read_text())
        # The line comes from the worker itself, and the app it loaded is frozen (tens of thousands of
        # objects: modules, options, routes), not a handful.
        assert all(logged == pid for logged, pid, *_ in ready)
        assert len({pid for _, pid, *_ in ready}) == 2
        assert {(arbiter, address) for _, _, arbiter, address, _ in ready} == {
            (str(proc.pid), f"http://127.0.0.1:{port}")
        }
        assert all(int(frozen) > 20_000 for *_, frozen in ready), ready
        # Each worker listens on its own socket (SO_REUSEPORT): the kernel, not an accept race between
        # the workers, decides where a connection goes.
        assert _listening_sockets(port) == 2
        served = 30
        for _ in range(served):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/v1/p1/workloads/detail", headers={"X-Auth-Token": "u1:p1:member"})
            assert conn.getresponse().status == 200
            conn.close()
        # One keep-alive connection is closed by the API after KEEPALIVE_REQUESTS requests.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for number in range(1, api.KEEPALIVE_REQUESTS + 1):
            conn.request("GET", "/v1/p1/workloads", headers={"X-Auth-Token": "u1:p1:member"})
            resp = conn.getresponse()
            resp.read()
            closing = number == api.KEEPALIVE_REQUESTS
            assert resp.status == 200 and (resp.getheader("Connection") == "close") is closing, number
            assert conn.sock is not None or closing  # http.client drops a socket the server closes
        conn.close()
        served += api.KEEPALIVE_REQUESTS
        # A second API on the same port would bind beside the first with SO_REUSEPORT and take half of
        # its connections: it refuses to start instead.
        second = subprocess.run(
            [str(binary), "--config-file", str(conf)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr, second.stderr[-2000:]
        assert _listening_sockets(port) == 2
        # A connection the API closes first leaves a TIME_WAIT on its port: the client reads to the API's
        # end of stream before it closes (http.client could close first and keep the TIME_WAIT itself).
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            raw.sendall(
                b"GET /v1/p1/workloads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"X-Auth-Token: u1:p1:member\r\nConnection: close\r\n\r\n"
            )
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        served += 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    exits = EXIT.findall(log.read_text())
    assert {pid for pid, *_ in exits} == {pid for _, pid, *_ in ready}
    assert sum(int(requests) for _, requests, *_ in exits) == served
    assert sum(int(connections) for _, _, connections, *_ in exits) == 32
    for *_, total_ms, max_ms in exits:
        assert float(max_ms) <= float(total_ms)
    # Started again at once, the API takes the port back: the connections the first one closed wait in
    # TIME_WAIT on it, which does not count as the port being in use.
    assert _time_wait_sockets(port) > 0
    with (tmp_path / "api-again.stdout").open("wb") as out:
        again = subprocess.Popen(
            [str(binary), "--config-file", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while f" of {again.pid} ready at http://127.0.0.1:{port}" not in log.read_text():
            assert again.poll() is None, (tmp_path / "api-again.stdout").read_text()[-3000:]
            assert time.monotonic() < deadline, "the restarted API's workers did not say they were ready"
            time.sleep(0.2)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=60)

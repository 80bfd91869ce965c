"""The login-node relay (mpi_render.launch.relay) in front of a real dashboard: token or nothing."""
from __future__ import annotations

import subprocess
import sys

import pytest
from support import free_port, http, http_json, mpi_env, wait_for

from mpi_render.launch import processes

pytestmark = pytest.mark.integration


@pytest.fixture
def relay(dashboard, tmp_path):
    """A relay subprocess forwarding to the ``dashboard`` fixture; yields its root URL."""
    port = free_port()
    child = processes.spawn("relay", [sys.executable, "-m", "mpi_render.launch.relay", "--listen",
                                   f"127.0.0.1:{port}", "--upstream", dashboard.url,
                                   "--token-file", str(dashboard.token_file)],
                         tmp_path / "relay.log", mpi_env())
    url = f"http://127.0.0.1:{port}/"

    def up():
        try:
            return http("GET", url + "healthz", timeout=1)[0] == 200
        except OSError:
            return child.proc.poll() is not None  # ended: the assert below says why

    try:
        wait_for(up, 30, "the relay to answer healthz")
        assert child.proc.poll() is None, child.log_path.read_text()
        yield url
    finally:
        assert processes.stop(child, 15) == 0, child.log_path.read_text()


RUN = {"grid": 2, "tile_px": 16, "palette": "fire", "max_iter": 32,
       "view": {"cx": -0.75, "cy": 0.0, "width": 3.0}, "sites": ["cloud", "onprem"],
       "split": "contiguous", "weights": None}


def test_requests_without_the_token_are_refused(relay, dashboard):
    assert http_json("PUT", relay + "api/runs/r1", RUN)[0] == 401
    status, body = http_json("PUT", relay + "api/runs/r1", RUN, token="wrong")
    assert status == 403 and "error" in body
    assert http_json("GET", relay + "api/runs")[0] == 401
    assert dashboard.api("GET", "api/runs/r1")[0] == 404  # nothing reached the dashboard


def test_the_token_passes_requests_and_answers_through(relay, dashboard):
    status, doc = http_json("PUT", relay + "api/runs/r1", RUN, token=dashboard.token)
    assert status == 201 and doc["id"] == "r1"
    status, doc = http_json("GET", relay + "api/runs/r1", token=dashboard.token)
    assert status == 200 and doc["total"] == 4
    changed = dict(RUN, palette="ocean")  # the dashboard's own errors come back unchanged
    status, doc = http_json("PUT", relay + "api/runs/r1", changed, token=dashboard.token)
    assert status == 409 and "error" in doc


def test_dashboard_down_is_a_502_with_a_json_error(relay, dashboard):
    dashboard.stop()
    status, body = http_json("GET", relay + "api/runs", token=dashboard.token)
    assert status == 502 and "unreachable" in body["error"]


def test_bad_arguments_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mpi_render.launch.relay", "--listen", "nowhere",
                           "--upstream", "http://127.0.0.1:1/", "--token-file",
                           str(tmp_path / "absent")], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--listen must be HOST:PORT" in proc.stderr

"""The login-node relay (mpi_render.launch.relay) in front of a real dashboard: token or nothing."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from http.client import HTTPException

import pytest
from support import Dashboard, free_port, http, http_json, mpi_env, mpiexec, run, wait_for
from tlsfiles import unverified_context

from mpi_render.launch import processes

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def running_relay(workdir, upstream: str, token_file, *extra: str, context=None):
    """A relay subprocess forwarding to ``upstream``; yields its root URL once it answers.

    ``extra`` are more relay flags; with ``--certfile`` it listens with HTTPS and ``context``
    (trusting its CA) is how this side checks it.
    """
    port = free_port()
    child = processes.spawn("relay", [sys.executable, "-m", "mpi_render.launch.relay", "--listen",
                                      f"127.0.0.1:{port}", "--upstream", upstream,
                                      "--token-file", str(token_file), *extra],
                            workdir / "relay.log", mpi_env())
    url = f"{'https' if '--certfile' in extra else 'http'}://127.0.0.1:{port}/"

    def up():
        try:
            return http("GET", url + "healthz", timeout=1, context=context)[0] == 200
        except OSError:
            return child.proc.poll() is not None  # ended: the assert below says why

    try:
        wait_for(up, 30, "the relay to answer healthz")
        assert child.proc.poll() is None, child.log_path.read_text()
        yield url
    finally:
        assert processes.stop(child, 15) == 0, child.log_path.read_text()


@pytest.fixture
def relay(dashboard, tmp_path):
    """A relay subprocess forwarding to the ``dashboard`` fixture; yields its root URL."""
    with running_relay(tmp_path, dashboard.url, dashboard.token_file) as url:
        yield url


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


def test_a_tls_relay_in_front_of_an_https_dashboard_carries_a_site_job(tls_dashboard, private_ca,
                                                                       tmp_path):
    """HTTPS on both hops: the site trusts the relay, the relay verifies the dashboard."""
    ca = str(private_ca.ca_file)
    with running_relay(tmp_path, tls_dashboard.url, tls_dashboard.token_file,
                       *private_ca.dashboard_args(), "--ca-file", ca,
                       context=tls_dashboard.context) as url:
        assert url.startswith("https://")
        with pytest.raises((HTTPException, ConnectionError)):  # no plain HTTP on the TLS port
            http("GET", url.replace("https", "http", 1) + "healthz", timeout=5)
        proc = run([mpiexec(), "-n", "2", sys.executable, "-m", "mpi4py", "-m", "mpi_render",
                    "--grid", "2", "--tile", "16", "--site", "cloud", "--run", "relayed",
                    "--dashboard", url, "--token-file", str(tls_dashboard.token_file),
                    "--ca-file", ca], timeout=120, cwd=tmp_path, check=False)
        assert proc.returncode == 0, proc.stderr
    status, doc = tls_dashboard.api("GET", "api/runs/relayed")
    assert status == 200 and doc["sites"]["cloud"]["stored"] == 2, doc


def test_a_relay_that_cannot_verify_its_https_upstream_exits_2_naming_it(tls_dashboard, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mpi_render.launch.relay", "--listen",
                           f"127.0.0.1:{free_port()}", "--upstream", tls_dashboard.url,
                           "--token-file", str(tls_dashboard.token_file)],
                          capture_output=True, text=True, timeout=60, env=mpi_env())
    assert proc.returncode == 2, proc.stderr
    assert "unable to get local issuer certificate" in proc.stderr


@contextlib.contextmanager
def relay_to_an_expired_certificate(private_ca, tmp_path):
    """A relay started against a verified https dashboard, whose certificate is then replaced
    by an expired one (a new dashboard on the same port); yields ``(relay URL, first dashboard
    (stopped: its token is the relay's), new dashboard)``."""
    expired = private_ca.with_server(private_ca.expired(tmp_path))
    with Dashboard(tmp_path / "d", tls=private_ca) as server:
        with running_relay(tmp_path, server.url, server.token_file, "--ca-file",
                           str(private_ca.ca_file)) as url:
            server.stop()
            with Dashboard(tmp_path / "d2", port=server.port, tls=expired,
                           context=unverified_context()) as replaced:
                yield url, server, replaced


def test_an_upstream_certificate_rejected_later_is_a_502_naming_it(private_ca, tmp_path):
    """The dashboard's certificate changes under a running relay (it expired, say)."""
    with relay_to_an_expired_certificate(private_ca, tmp_path) as (url, server, _):
        status, body = http_json("GET", url + "api/runs", token=server.token)
    assert status == 502 and "certificate has expired" in body["error"], body
    assert body["upstream_tls"] == body["error"]  # what tells a site job it is a verdict


def site_job_through(url: str, token_file, cwd, *extra: str):
    """A one-rank static site job posting through the relay at ``url``."""
    return run([mpiexec(), "-n", "1", sys.executable, "-m", "mpi4py", "-m", "mpi_render",
                "--grid", "2", "--tile", "16", "--site", "cloud", "--run", "relayed",
                "--dashboard", url, "--token-file", str(token_file), *extra], timeout=120,
               cwd=cwd, check=False)


def test_a_site_gets_the_relays_certificate_verdict_as_exit_2_not_a_retry(private_ca, tmp_path):
    """The relay's 502 for a rejected upstream certificate is a verdict for the site job: exit 2
    at the first request, the problem named, nothing rendered or spooled (not exit 3 after the
    deadline, retrying it like an outage)."""
    with relay_to_an_expired_certificate(private_ca, tmp_path) as (url, server, replaced):
        proc = site_job_through(url, server.token_file, tmp_path, "--deadline", "60")
        assert replaced.api("GET", "api/runs")[1]["runs"] == []
    assert proc.returncode == 2, proc.stderr
    assert "cannot reach the dashboard over TLS: the dashboard's TLS certificate was rejected: " \
           "certificate has expired; nothing was stored" in proc.stderr, proc.stderr
    assert "retry" not in proc.stderr and not (tmp_path / "mpi-render-spool").exists()


def test_an_upstream_outage_behind_the_relay_stays_retryable(relay, dashboard, tmp_path):
    dashboard.stop()
    proc = site_job_through(relay, dashboard.token_file, tmp_path, "--deadline", "3")
    assert proc.returncode == 3, proc.stderr  # retried until the deadline, then spooled
    assert "unreachable through the tunnel" in proc.stderr and "retry" in proc.stderr
    assert (tmp_path / "mpi-render-spool").exists()


def test_a_relay_whose_https_upstream_speaks_plain_http_exits_2_naming_it(dashboard):
    upstream = "https://" + dashboard.url.removeprefix("http://")
    proc = subprocess.run([sys.executable, "-m", "mpi_render.launch.relay", "--listen",
                           f"127.0.0.1:{free_port()}", "--upstream", upstream,
                           "--token-file", str(dashboard.token_file)],
                          capture_output=True, text=True, timeout=60, env=mpi_env())
    assert proc.returncode == 2, proc.stderr
    assert "TLS with the dashboard failed: the server does not speak TLS" in proc.stderr

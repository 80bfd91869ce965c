"""The site job against an HTTPS dashboard (real TLS on loopback, a CA made by the test session).

With ``--ca-file`` the tiles arrive; a certificate that cannot be verified (an unknown CA, a
certificate for another host name, an expired one), or an ``https://`` URL for a dashboard that
speaks plain HTTP, ends the job at its first request with exit 2 and the problem named: nothing
rendered, nothing sent, nothing stored, no retry.
"""
from __future__ import annotations

import re
import time

import pytest
from support import VENV_BIN, Dashboard, mpi_env, mpiexec, run
from tlsfiles import unverified_context

from mpi_render.config import RenderConfig
from mpi_render.protocol import encode_batch
from mpi_render.site.client import CertificateRejected, DashboardClient
from mpi_render.site.courier import Backoff, Courier
from mpi_render.site.spool import Spool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
MPI_RENDER = str(VENV_BIN / "mpi-render")
IMAGE = ["--grid", "4", "--tile", "32", "--palette", "fire", "--sites", "onprem,cloud",
         "--max-iter", "64", "--run", "tls1"]
CONFIG = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64, sites=("onprem", "cloud"))
UNTRUSTED = "unable to get local issuer certificate"
# The evidence in brackets is "it answers plain HTTP" when the handshake timed out (Tornado waits
# for the end of the "request"), "wrong version number" when it answered the ClientHello (Tornado
# does when the hello's random bytes hold a blank line): the verdict is the same.
NOT_TLS = re.compile(r"the server does not speak TLS \((it answers plain HTTP|wrong version "
                     r"number)\): is it an http:// server\?; nothing was sent")


def site_job(server: Dashboard, ranks: int, *extra: str, cwd):
    return run([mpiexec(), "-n", str(ranks), MPI_RENDER, *IMAGE, "--site", "onprem",
                "--dashboard", server.url, "--token-file", str(server.token_file), *extra],
               timeout=180, check=False, cwd=cwd)


def as_https(server: Dashboard) -> str:
    """The plain HTTP dashboard's URL with https://, as a user might mistype it."""
    assert server.url.startswith("http://")
    return "https://" + server.url.removeprefix("http://")


def assert_refused_before_rendering(proc, server: Dashboard, problem: str | re.Pattern, cwd,
                                    what: str = "TLS certificate of 127.0.0.1") -> None:
    errors = [line for line in proc.stderr.splitlines() if " ERROR: " in line]
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and what in errors[0], proc.stderr
    assert re.search(problem if isinstance(problem, re.Pattern) else re.escape(problem),
                     errors[0]), proc.stderr
    assert "tiles to render" not in proc.stderr and "retry" not in proc.stderr, proc.stderr
    assert server.api("GET", "api/runs")[1]["runs"] == [], server.log()  # nothing arrived
    assert not (cwd / "mpi-render-spool").exists()  # nothing rendered, so nothing spooled


def test_with_the_ca_file_an_mpi_job_posts_every_tile_over_https(tls_dashboard, private_ca,
                                                                 tmp_path):
    proc = site_job(tls_dashboard, 2, "--ca-file", str(private_ca.ca_file), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    status, doc = tls_dashboard.api("GET", "api/runs/tls1")
    assert status == 200 and doc["sites"]["onprem"]["stored"] == 8, doc
    assert "8 tiles stored on https://127.0.0.1:" in proc.stderr


def test_the_ca_file_also_comes_from_the_environment(tls_dashboard, private_ca, tmp_path):
    proc = run([mpiexec(), "-n", "1", MPI_RENDER, *IMAGE, "--site", "cloud", "--dashboard",
                tls_dashboard.url, "--token-file", str(tls_dashboard.token_file)], timeout=180,
               check=False, cwd=tmp_path, env=mpi_env({"MPI_RENDER_CA_FILE": str(private_ca.ca_file)}))
    assert proc.returncode == 0, proc.stderr
    assert tls_dashboard.api("GET", "api/runs/tls1")[1]["sites"]["cloud"]["stored"] == 8


def test_without_the_ca_file_the_job_exits_2_naming_the_problem(tls_dashboard, tmp_path):
    started = time.monotonic()
    proc = site_job(tls_dashboard, 2, cwd=tmp_path)
    assert_refused_before_rendering(proc, tls_dashboard, UNTRUSTED, tmp_path)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("kind, problem", [
    ("hostname", "IP address mismatch, certificate is not valid for '127.0.0.1'"),
    ("expired", "certificate has expired"),
])
def test_a_wrong_name_or_an_expired_certificate_exits_2(private_ca, tmp_path, kind, problem):
    cert = (private_ca.issue(tmp_path, "other", names=("other.example",)) if kind == "hostname"
            else private_ca.expired(tmp_path))
    with Dashboard(tmp_path / "d", tls=private_ca.with_server(cert),
                   context=unverified_context()) as server:
        proc = site_job(server, 1, "--ca-file", str(private_ca.ca_file), "--only-missing",
                        cwd=tmp_path)
        assert_refused_before_rendering(proc, server, problem, tmp_path)


def test_an_https_url_for_a_plain_http_dashboard_exits_2_at_the_first_request(dashboard,
                                                                              tmp_path):
    """Not an outage: no retry until the deadline (exit 3), no tiles rendered and spooled."""
    started = time.monotonic()
    proc = run([mpiexec(), "-n", "2", MPI_RENDER, *IMAGE, "--site", "onprem", "--dashboard",
                as_https(dashboard), "--token-file", str(dashboard.token_file), "--deadline",
                "20"], timeout=180, check=False, cwd=tmp_path)
    assert_refused_before_rendering(proc, dashboard, NOT_TLS, tmp_path, what="TLS with 127.0.0.1:")
    assert time.monotonic() - started < 20


def test_resend_to_an_untrusted_dashboard_exits_2_and_keeps_the_spool(tls_dashboard, tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.write_run("tls1", "onprem", CONFIG.run_json())
    spool.add(*encode_batch([({"row": 2, "col": 0, "site": "onprem", "rank": 0, "host": "h",
                               "render_ms": 1.0, "encode_ms": 1.0, "iterations": 1},
                              b"\x89PNG not sent")]))
    proc = run([MPI_RENDER, "--resend", "--spool", str(spool.directory), "--dashboard",
                tls_dashboard.url, "--token-file", str(tls_dashboard.token_file)], timeout=60,
               check=False, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert UNTRUSTED in proc.stderr
    assert len(spool.pending()) == 1
    assert tls_dashboard.api("GET", "api/runs")[1]["runs"] == []


def test_a_certificate_failure_mid_run_stops_sending_at_once(tls_dashboard, tmp_path):
    """A batch due after the run was confirmed: one attempt, no backoff, the batch kept."""
    client = DashboardClient(tls_dashboard.url, tls_dashboard.token, timeout_s=5)
    spool = Spool(tmp_path / "spool")
    courier = Courier(client, "tls1", CONFIG, spool, time.monotonic() + 30, Backoff(), None)
    courier.run_confirmed = True
    courier.pending = [spool.add(*encode_batch([({"row": 0, "col": 0, "site": "onprem"},
                                                 b"\x89PNG")]))]
    courier.send_ready()
    assert courier.permanent and courier.tls_refused, courier.stopped
    assert UNTRUSTED in courier.stopped and courier.wait_s() is None
    assert len(spool.pending()) == 1
    with pytest.raises(CertificateRejected, match=UNTRUSTED):
        client.put_run("tls1", CONFIG.run_json())


@pytest.mark.parametrize("kind", ["untrusted", "plain http"])
@pytest.mark.parametrize("mode", [["--split", "dynamic"], ["--serve", "--idle-exit", "30"]],
                         ids=["dynamic", "serve"])
def test_claiming_jobs_refuse_a_tls_failure_with_exit_2(request, tmp_path, mode, kind):
    """The claims and serve paths use the same verifying client: exit 2 at the first request,
    for a certificate nobody trusts and for an https:// URL of a plain HTTP dashboard alike."""
    server = request.getfixturevalue("tls_dashboard" if kind == "untrusted" else "dashboard")
    url, problem = ((server.url, re.compile(f"{UNTRUSTED}; nothing was sent")) if kind == "untrusted"
                    else (as_https(server), NOT_TLS))
    image = IMAGE if mode[0] != "--serve" else []
    started = time.monotonic()
    proc = run([mpiexec(), "-n", "2", MPI_RENDER, *image, *mode, "--site", "onprem",
                "--dashboard", url, "--token-file", str(server.token_file), "--deadline", "25"],
               timeout=180, check=False, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert problem.search(proc.stderr), proc.stderr
    assert time.monotonic() - started < 25  # not the 30 s idle exit: it stopped at once
    assert server.api("GET", "api/runs")[1]["runs"] == []

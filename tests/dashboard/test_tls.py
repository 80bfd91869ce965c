"""The dashboard over real TLS on loopback: HTTPS and WSS on one port, and its refusals to start.

The CA is made for the session by the project's openssl wrapper (``private_ca`` fixture).
"""
from __future__ import annotations

import asyncio
import json
import ssl
import sys
from http.client import HTTPException

import pytest
from support import close_websocket, free_port, http, http_json, run
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from dashboard.testing import read_until_seq, site_batch, small_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def replay_over_wss(server, run_id: str, last_seq: int) -> list:
    """Connect with ``wss://`` trusting the private CA; every message up to ``last_seq``."""
    url = f"wss://127.0.0.1:{server.port}/api/runs/{run_id}/ws?since=0"
    conn = await websocket_connect(HTTPRequest(url, ssl_options=server.context))
    try:
        return await read_until_seq(conn, last_seq)
    finally:
        await close_websocket(conn)


def test_https_ingest_and_wss_replay_on_one_port(tls_dashboard):
    server, config = tls_dashboard, small_config()
    assert server.url.startswith("https://127.0.0.1:")
    assert server.api("PUT", "api/runs/r1", config.run_json())[0] == 201
    content_type, body, cells = site_batch(config, "cloud")
    status, answer = http_json("POST", server.url + "api/runs/r1/tiles", body, server.token,
                               headers={"Content-Type": content_type}, context=server.context)
    assert (status, answer["accepted"]) == (200, len(cells)), (answer, server.log())
    messages = asyncio.run(replay_over_wss(server, "r1", len(cells)))
    assert messages[0]["type"] == "hello" and messages[0]["run"] == "r1", messages[0]
    tiles = [m for m in messages if isinstance(m, tuple)]
    assert sorted((h["row"], h["col"]) for h, _ in tiles) == sorted(cells)
    assert "listening on https://127.0.0.1:" in server.log()


def test_the_tls_port_never_answers_plain_http(tls_dashboard):
    with pytest.raises((HTTPException, ConnectionError)):
        http("GET", f"http://127.0.0.1:{tls_dashboard.port}/healthz", timeout=5)


def test_a_client_that_does_not_trust_the_ca_gets_no_answer(tls_dashboard):
    with pytest.raises(OSError) as caught:  # urllib wraps the verification error in URLError
        http("GET", tls_dashboard.url + "healthz", context=ssl.create_default_context())
    assert "certificate verify failed" in str(caught.value)


def dashboard(tmp_path, *tls_args: str):
    token = tmp_path / "token"
    if not token.exists():
        token.write_text("t0ken\n")
        token.chmod(0o600)
    return run([sys.executable, "-m", "dashboard", "--port", str(free_port()), "--data-dir",
                str(tmp_path / "data"), "--token-file", str(token), *tls_args], timeout=30,
               check=False)


def test_a_key_that_others_can_read_is_refused_without_showing_it(tmp_path, private_ca):
    key = tmp_path / "readable.key"
    key.write_bytes(private_ca.server.key.read_bytes())
    key.chmod(0o644)
    proc = dashboard(tmp_path, "--certfile", str(private_ca.server.cert), "--keyfile", str(key))
    assert proc.returncode == 2, proc.stderr
    assert f"chmod 600 {key}" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("which, message", [
    ("mismatch", "is not the key of certificate"),
    ("not-pem", "both must be PEM"),
    ("missing-cert", "cannot read certificate file"),
    ("missing-key", "cannot read TLS key file"),
])
def test_a_bad_certificate_or_key_is_a_one_line_error(tmp_path, private_ca, which, message):
    other = private_ca.issue(tmp_path, "other")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cert, key = {"mismatch": (private_ca.server.cert, other.key),
                 "not-pem": (junk, private_ca.server.key),
                 "missing-cert": (tmp_path / "absent.pem", private_ca.server.key),
                 "missing-key": (private_ca.server.cert, tmp_path / "absent.key")}[which]
    proc = dashboard(tmp_path, "--certfile", str(cert), "--keyfile", str(key))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "data").exists()  # refused before the store was opened


@pytest.mark.parametrize("flag", ["--certfile", "--keyfile"])
def test_one_of_the_two_flags_alone_is_a_usage_error(tmp_path, private_ca, flag):
    proc = dashboard(tmp_path, flag, str(private_ca.server.cert))
    assert proc.returncode == 2
    assert "--certfile and --keyfile go together" in proc.stderr


def test_the_hello_over_wss_is_json(tls_dashboard):
    """A page that only opens the socket (no tiles yet) gets the hello and the replay marker."""
    async def first_two():
        assert tls_dashboard.api("PUT", "api/runs/empty", small_config().run_json())[0] == 201
        url = f"wss://127.0.0.1:{tls_dashboard.port}/api/runs/empty/ws"
        conn = await websocket_connect(HTTPRequest(url, ssl_options=tls_dashboard.context))
        got = [json.loads(await asyncio.wait_for(conn.read_message(), 10)) for _ in range(2)]
        await close_websocket(conn)
        return [m["type"] for m in got]

    assert asyncio.run(first_two()) == ["hello", "replayed"]

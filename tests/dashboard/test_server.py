"""The real ``python -m dashboard`` process: restart durability, SIGTERM, startup errors."""
import asyncio
import json
import signal
import socket
import stat
import sys

import pytest
from support import Dashboard, close_websocket, free_port, http, http_json, run, wait_for
from tornado.websocket import websocket_connect

from dashboard.testing import site_batch, small_config, tile_meta, tile_png
from mpi_render.protocol import encode_batch

pytestmark = pytest.mark.integration


def post(server, run_id, content_type, body):
    status, raw = http("POST", f"{server.url}api/runs/{run_id}/tiles", body, server.token,
                       headers={"Content-Type": content_type})
    assert status == 200, (raw, server.log())
    return json.loads(raw)


async def read_replay(url: str, run_id: str) -> list:
    """Every message up to and including ``replayed``, raw (text as str, tiles as bytes)."""
    conn = await websocket_connect(f"{url.replace('http', 'ws', 1)}api/runs/{run_id}/ws")
    messages = []
    while not (messages and isinstance(messages[-1], str)
               and json.loads(messages[-1])["type"] == "replayed"):
        messages.append(await asyncio.wait_for(conn.read_message(), 10))
    await close_websocket(conn)
    return messages


def test_a_restart_gives_back_every_run_tile_and_an_identical_replay(tmp_path):
    config = small_config()
    with Dashboard(tmp_path / "d") as server:
        assert server.api("PUT", "api/runs/r1", config.run_json())[0] == 201
        post(server, "r1", *site_batch(config, "cloud")[:2])
        post(server, "r1", *encode_batch([(tile_meta(2, 0, "onprem"), tile_png(32, 9))]))
        doc_before = server.api("GET", "api/runs/r1")[1]
        replay_before = asyncio.run(read_replay(server.url, "r1"))
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash, not a clean stop
        server.start()
        assert server.api("GET", "api/runs/r1")[1] == doc_before
        assert asyncio.run(read_replay(server.url, "r1")) == replay_before
        assert len(replay_before) == 1 + 9 + 1  # hello, 9 tiles, replayed
        answer = post(server, "r1", *encode_batch([(tile_meta(2, 1, "onprem"), tile_png(32, 1))]))
        assert answer == {"accepted": 1, "duplicates": 0, "seq": 10}
        assert server.stop(signal.SIGTERM) == 0
        server.start()
        assert server.api("GET", "api/runs/r1")[1]["seq"] == 10


def test_sigterm_closes_websockets_with_1001_and_exits_0(tmp_path):
    async def scenario(server):
        assert server.api("PUT", "api/runs/r1", small_config().run_json())[0] == 201
        conn = await websocket_connect(f"ws://127.0.0.1:{server.port}/api/runs/r1/ws")
        assert json.loads(await conn.read_message())["type"] == "hello"
        assert json.loads(await conn.read_message())["type"] == "replayed"
        server.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(conn.read_message(), 10) is None
        conn.close()
        return conn.close_code, conn.close_reason

    with Dashboard(tmp_path / "d") as server:
        assert asyncio.run(scenario(server)) == (1001, "server shutting down")
        assert server.proc.wait(15) == 0, server.log()
        assert "mpi-render dashboard listening on http://127.0.0.1:" in server.log()


def dashboard_cmd(tmp_path, port, data_dir=None, token_file=None):
    return [sys.executable, "-m", "dashboard", "--port", str(port),
            "--data-dir", str(data_dir or tmp_path / "data"),
            "--token-file", str(token_file or tmp_path / "token")]


def test_a_taken_port_is_a_one_line_error_and_exit_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = run(dashboard_cmd(tmp_path, busy.getsockname()[1]), timeout=30, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "already in use" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_an_unusable_data_dir_is_a_one_line_error_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run(dashboard_cmd(tmp_path, free_port(), data_dir=blocker / "data"), timeout=30,
               check=False)
    assert proc.returncode == 2 and "data dir" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_token_file_readable_by_others_is_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("secret-value\n")
    token_file.chmod(0o644)
    proc = run(dashboard_cmd(tmp_path, free_port(), token_file=token_file), timeout=30,
               check=False)
    assert proc.returncode == 2 and f"chmod 600 {token_file}" in proc.stderr, proc.stderr
    assert "secret-value" not in proc.stderr + proc.stdout


def test_a_missing_token_file_is_generated_with_mode_0600_and_never_logged(tmp_path):
    server = Dashboard(tmp_path / "d")
    server.token_file.unlink()
    with server:
        wait_for(server.token_file.exists, 10, "the generated token file")
        token = server.token_file.read_text().strip()
        assert len(token) >= 32
        assert stat.S_IMODE(server.token_file.stat().st_mode) == 0o600
        server.token = token
        assert server.api("PUT", "api/runs/r1", small_config().run_json())[0] == 201
        assert token not in server.log()


def claim(server, run_id, site, max_tiles, token=None):
    return http_json("POST", f"{server.url}api/runs/{run_id}/claims",
                     {"site": site, "max_tiles": max_tiles}, token or server.token)


def test_a_restart_loses_the_leases_but_keeps_tiles_and_cancellation(tmp_path):
    config = small_config(split="dynamic")
    with Dashboard(tmp_path / "d", extra_args=("--lease-s", "600")) as server:
        for run_id in ("r1", "gone"):
            assert server.api("PUT", f"api/runs/{run_id}", config.run_json())[0] == 201
        # stored by the site that then leases the rest: the other has no mean time per tile,
        # so it gets no end-game backup (docs/API.md) and the leases show plainly
        post(server, "r1", *encode_batch([(tile_meta(0, 0, "cloud"), tile_png(32))]))
        status, doc = claim(server, "r1", "cloud", 1024)
        assert status == 200 and len(doc["tiles"]) == 15 and doc["lease_s"] == 600, doc
        assert claim(server, "r1", "onprem", 1024)[1]["tiles"] == []
        assert server.api("POST", "api/runs/gone/cancel", b"")[0] == 200
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        server.start()
        status, doc = claim(server, "r1", "onprem", 1024)
        assert status == 200, (doc, server.log())
        assert [(t["row"], t["col"]) for t in doc["tiles"]] == [divmod(t, 4) for t in range(1, 16)]
        assert server.api("GET", "api/runs/r1")[1]["sites"]["cloud"]["stored"] == 1
        assert claim(server, "gone", "cloud", 1)[0] == 410
        assert server.api("GET", "api/runs/gone")[1]["cancelled"] is True


def test_the_control_token_file_is_generated_in_the_data_dir_and_never_logged(tmp_path):
    with Dashboard(tmp_path / "d") as server:
        control_file = server.data_dir / "control-token"
        control = control_file.read_text().strip()
        assert len(control) >= 32 and control != server.token
        assert stat.S_IMODE(control_file.stat().st_mode) == 0o600
        config = small_config(split="dynamic")
        status, _ = http_json("PUT", f"{server.url}api/runs/r1", config.run_json(), control)
        assert status == 201, server.log()
        assert claim(server, "r1", "cloud", 1, token=control)[0] == 403
        assert http_json("POST", f"{server.url}api/runs/r1/cancel", b"", control)[0] == 200
        assert str(control_file) in server.log()  # where to find it, never what it is
        assert control not in server.log() and server.token not in server.log()


@pytest.mark.parametrize("setup, message", [
    ("ingest", "holds the ingest token"),
    ("readable", "chmod 600"),
])
def test_a_bad_control_token_file_is_a_one_line_error_and_exit_2(tmp_path, setup, message):
    (tmp_path / "token").write_text("ingest-secret\n")
    (tmp_path / "token").chmod(0o600)
    control_file = tmp_path / "control"
    control_file.write_text("ingest-secret\n" if setup == "ingest" else "control-secret\n")
    control_file.chmod(0o600 if setup == "ingest" else 0o644)
    proc = run(dashboard_cmd(tmp_path, free_port()) + ["--control-token-file", str(control_file)],
               timeout=30, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "secret" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("lease_s", ["0", "-5", "nan", "inf"])
def test_a_bad_lease_length_is_a_usage_error(tmp_path, lease_s):
    proc = run(dashboard_cmd(tmp_path, free_port()) + ["--lease-s", lease_s], timeout=30,
               check=False)
    assert proc.returncode == 2 and "--lease-s must be a positive number" in proc.stderr, proc.stderr

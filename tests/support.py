"""Helpers shared by the tests that start real processes (dashboard, mpiexec, Slurm).

Every helper has a deadline, and every failure message carries the child's output
(datasette style), so a red test says why.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from mpi_render.launch.processes import free_port, mpiexec_path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def mpi_env(extra: dict | None = None) -> dict:
    """Environment for launching MPI jobs from tests (venv first on PATH, Open MPI as root ok)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


mpiexec = mpiexec_path  # the tests' name for it


def run(cmd: list[str], timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` with a deadline; on a non-zero exit (when ``check``) fail with its output."""
    kw.setdefault("env", mpi_env())
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def http(method: str, url: str, body: bytes | dict | None = None, token: str | None = None,
         headers: dict | None = None, timeout: float = 10,
         context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """One HTTP request; returns ``(status, body)`` for 2xx and error statuses alike.

    ``context`` verifies an ``https://`` URL (default: the system's CAs).
    """
    headers = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_json(method: str, url: str, body=None, token=None, **kw) -> tuple[int, dict]:
    """Like :func:`http` but decodes a JSON answer."""
    status, raw = http(method, url, body, token, **kw)
    return status, json.loads(raw or b"null")


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Dashboard:
    """A real dashboard subprocess on a free loopback port.

    Attributes: ``url`` (with a trailing slash), ``token``, ``token_file``, ``data_dir``,
    ``port``, ``context`` (the client TLS context of an HTTPS dashboard, else None). ``log()``
    returns what it printed so far (for failure messages).

    With ``tls`` (a :class:`tlsfiles.PrivateCA`) it serves HTTPS with the CA's server
    certificate and ``url`` is ``https://``; the test's own requests verify it with ``context``
    (default: trust exactly that CA).
    """

    def __init__(self, workdir: Path, port: int | None = None, extra_args: tuple = (),
                 tls=None, context: ssl.SSLContext | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.token_file = self.workdir / "token"
        self.token = "test-token-" + os.urandom(8).hex()
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/"
        self.context = context or (tls.client_context() if tls else None)
        self.extra_args = tuple(extra_args) + (tls.dashboard_args() if tls else ())
        self.log_path = self.workdir / "dashboard.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Dashboard:
        cmd = [sys.executable, "-m", "dashboard", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--token-file", str(self.token_file),
               *self.extra_args]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=mpi_env(),
                                     cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dashboard exited {self.proc.returncode}\n{self.log()}")
            try:
                if http("GET", self.url + "healthz", timeout=1, context=self.context)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"dashboard not healthy after {timeout} s\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        """Send ``sig`` and wait; SIGKILL after ``timeout``. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(signal.SIGKILL)

    def api(self, method: str, path: str, body=None, auth: bool = True) -> tuple[int, dict]:
        return http_json(method, self.url + path, body, self.token if auth else None,
                         context=self.context)

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


async def close_websocket(conn, timeout_s: float = 5.0) -> None:
    """Close a Tornado WebSocket client and wait for the server's close frame.

    ``conn.close()`` only starts the closing handshake: an event loop that ends right after it
    leaves the socket open, and its ResourceWarning fails whichever later test the garbage
    collector happens to run in.
    """
    conn.close()
    try:
        while await asyncio.wait_for(conn.read_message(), timeout_s) is not None:
            pass
    except asyncio.TimeoutError:
        pass  # the server never answered; nothing more to wait for

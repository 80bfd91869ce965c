"""Security review checks that can run (the findings are in docs/RELIABILITY.md).

Covered elsewhere and not repeated here: the dashboard's token file generated with mode 0600
(tests/dashboard/test_server.py), foreign WebSocket origins refused and
the page's own origin behind a Host-rewriting proxy accepted (tests/dashboard/test_socket.py),
the relay's token check (tests/workflow/test_relay.py), markup from the network shown as text
in Chromium (tests/browser/test_page.py).
"""
from __future__ import annotations

import ast
import re
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from reliability.feeds import create_run, post_tiles, site_tiles
from support import REPO, VENV_BIN, Dashboard, free_port, http, mpi_env

from mpi_render.config import RenderConfig
from mpi_render.launch.processes import descendants

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]

PAGE_FILES = [*sorted((REPO / "dashboard" / "static").rglob("*.*")),
              *sorted((REPO / "dashboard" / "templates").rglob("*.*"))]
# Ways a page can name a URL that ignores its own path (and so escapes a proxy prefix).
ABSOLUTE_URL_PATTERNS = [
    re.compile(r"""\b(?:src|href|action)\s*=\s*["'`]/"""),
    re.compile(r"""\b(?:fetch|URL|WebSocket|EventSource|import)\s*\(\s*["'`]/"""),
    re.compile(r"""\bfrom\s+["']/"""),
    re.compile(r"""url\(\s*["']?/"""),
    re.compile(r"""\b(?:https?|wss?)://(?!www\.w3\.org/)"""),
]
TOKEN_COMPARERS = [REPO / "dashboard" / "auth.py", REPO / "mpi_render" / "launch" / "relay.py"]


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def _watch_cmdlines(proc: subprocess.Popen, timeout_s: float) -> set[str]:
    """Every distinct command line of ``proc``'s descendants, sampled until it exits."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in descendants(proc.pid):
            try:
                seen.add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass  # ended between the listing and the read
        time.sleep(0.02)
    return seen


def test_demo_keeps_the_token_out_of_arguments_and_logs(tmp_path):
    data_dir = tmp_path / "demo"
    cmd = [str(VENV_BIN / "mpi-render-demo"), "--grid", "4", "--tile", "64", "--max-iter", "64",
           "--ranks-per-site", "2", "--no-browser", "--exit-when-done", "--data-dir",
           str(data_dir)]
    with open(tmp_path / "demo.out", "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=mpi_env(),
                                stdin=subprocess.DEVNULL)
        try:
            cmdlines = _watch_cmdlines(proc, timeout_s=150)
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    output = (tmp_path / "demo.out").read_text(errors="replace")
    assert code == 0 and "tiles: 16/16" in output, output
    token_file = data_dir / "token"
    token = token_file.read_text().strip()
    assert len(token) >= 32 and _private(token_file), oct(token_file.stat().st_mode)
    # The scan saw the dashboard and the ranks of both site jobs, or it proves nothing.
    assert any("-m dashboard" in c for c in cmdlines), cmdlines
    assert sum("mpi_render" in c and "--site" in c for c in cmdlines) >= 2, cmdlines
    assert not [c for c in cmdlines if token in c]
    assert token not in output
    leaked = [p for p in data_dir.rglob("*") if p.is_file() and p != token_file
              and token.encode() in p.read_bytes()]
    assert not leaked, leaked
    # The control token: in its own 0600 file and once on stdout (the control link), nowhere else.
    control_file = data_dir / "control-token"
    control = control_file.read_text().strip()
    assert len(control) >= 32 and _private(control_file), oct(control_file.stat().st_mode)
    assert not [c for c in cmdlines if control in c]
    assert output.count(control) == 1 and f"#key={control}" in output, output
    leaked = [p for p in data_dir.rglob("*") if p.is_file() and p != control_file
              and control.encode() in p.read_bytes()]
    assert not leaked, leaked


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=["0644", "0640", "0604"])
def test_every_program_refuses_a_token_file_others_can_read_with_one_error(tmp_path, mode):
    """The dashboard, a site job (one-shot and --serve) and the relay: exit 2, the same line."""
    token_file = tmp_path / "token"
    token_file.write_text("secret-value\n")
    token_file.chmod(mode)
    url = f"http://127.0.0.1:{free_port()}/"
    commands = {
        "mpi-render-dashboard": [str(VENV_BIN / "mpi-render-dashboard"), "--port", str(free_port()),
                                 "--data-dir", str(tmp_path / "data")],
        "mpi-render": [str(VENV_BIN / "mpi-render"), "--grid", "2", "--tile", "16", "--site",
                       "onprem", "--dashboard", url, "--spool", str(tmp_path / "spool"),
                       "--deadline", "5"],
        "mpi-render --serve": [str(VENV_BIN / "mpi-render"), "--serve", "--site", "onprem",
                               "--dashboard", url, "--spool", str(tmp_path / "spool"),
                               "--idle-exit", "5"],
        "python -m mpi_render.launch.relay": [str(VENV_BIN / "python"), "-m",
                                              "mpi_render.launch.relay", "--listen",
                                              f"127.0.0.1:{free_port()}", "--upstream", url],
    }
    expected = (f"error: token file {token_file} is accessible by group/others (mode "
                f"{mode:04o}); run: chmod 600 {token_file}")
    for name, cmd in commands.items():
        proc = subprocess.run([*cmd, "--token-file", str(token_file)], capture_output=True,
                              text=True, timeout=60, env=mpi_env(), stdin=subprocess.DEVNULL)
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert proc.stderr.strip().splitlines() == [f"{name.split(' --')[0]}: {expected}"], (
            name, proc.stderr)
        assert "secret-value" not in proc.stdout + proc.stderr
    assert not (tmp_path / "spool").exists() and not (tmp_path / "data").exists()


def _comparisons_of_tokens(path: Path) -> list[str]:
    """Source of every ``==``/``!=`` whose operands mention a token or credential."""
    found = []
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq))
                                                 for op in node.ops):
            text = ast.get_source_segment(source, node) or ""
            if re.search(r"token|credential|header\[", text, re.IGNORECASE):
                found.append(text)
    return found


@pytest.mark.parametrize("path", TOKEN_COMPARERS, ids=lambda p: p.name)
def test_token_checks_are_constant_time(path):
    assert "hmac.compare_digest" in path.read_text(), path
    assert _comparisons_of_tokens(path) == [], path


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket in LISTEN state on ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _remote, state = line.split()[1:4]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


class _DefaultHostDashboard(Dashboard):
    """The real dashboard started WITHOUT --host, to see what it binds by default."""

    def start(self, timeout: float = 30):
        cmd = [str(VENV_BIN / "mpi-render-dashboard"), "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--token-file", str(self.token_file)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env=mpi_env(), cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while not _listening_addresses(self.port) and time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            time.sleep(0.05)
        return self


def test_dashboard_and_demo_bind_loopback_unless_told_otherwise(tmp_path):
    from mpi_render.launch.demo import parse_args
    with _DefaultHostDashboard(tmp_path / "dash") as dashboard:
        assert _listening_addresses(dashboard.port) == {"127.0.0.1"}, dashboard.log()
    assert parse_args([]).host == "127.0.0.1"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    launchers = [name for name in tracked if name.endswith((".sh", ".sbatch", ".yaml", ".yml"))
                 or Path(name).name == "Makefile"]
    binds_all = sorted(name for name in launchers if (REPO / name).is_file() and re.search(
        r"(--host|--listen)[ =]\"?0\.0\.0\.0", (REPO / name).read_text(errors="replace")))
    # Only the ACTIVATE workflow's scripts listen on every interface (dashboard behind the
    # session proxy, relay for the compute nodes; both need the token to write).
    assert binds_all and all(name.startswith("scripts/workflow/") for name in binds_all), \
        binds_all


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_page_files_use_only_relative_urls(path):
    text = path.read_text(errors="replace")
    hits = [m.group(0) for pattern in ABSOLUTE_URL_PATTERNS for m in pattern.finditer(text)]
    assert hits == [], f"{path.relative_to(REPO)}: {hits}"


def test_responses_carry_content_types_and_nosniff(dashboard):
    config = RenderConfig(grid=2, tile_px=64, max_iter=32)
    create_run(dashboard.url, dashboard.token, "sec", config)
    post_tiles(dashboard.url, dashboard.token, "sec", site_tiles(config, "cloud"))
    expected = {
        "": "text/html", "healthz": "application/json", "api/runs/sec": "application/json",
        "api/runs/sec/tiles/0/0.png": "image/png", "api/runs/sec/image.png": "image/png",
        "api/runs/nope": "application/json", "static/js/main.js": "javascript",
        "no/such/path": "application/json",
    }
    for path, content_type in expected.items():
        try:
            with urllib.request.urlopen(dashboard.url + path, timeout=10) as resp:
                headers = resp.headers
        except urllib.error.HTTPError as err:
            headers = err.headers
        assert content_type in headers.get("Content-Type", ""), (path, dict(headers))
        assert headers.get("X-Content-Type-Options") == "nosniff", (path, dict(headers))
    status, _ = http("POST", dashboard.url + "api/runs/sec/tiles", b"x",
                     headers={"Content-Type": "text/plain"})
    assert status == 401

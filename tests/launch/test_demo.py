"""``mpi-render-demo`` end to end: real dashboard, one real ``mpiexec`` per site.

The demo's children all carry the demo's data directory on their command line (the token file
path), so ``/proc`` tells which of its processes are still alive, including the ones that left
its process groups (hydra's proxies call setsid).
"""
from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import mpi_env

pytestmark = pytest.mark.integration
DEMO = [sys.executable, "-m", "mpi_render.launch.demo"]


def processes_mentioning(text: str) -> dict[int, str]:
    """``{pid: command line}`` of live processes whose command line contains ``text``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def run_demo(args: list[str], timeout_s: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(DEMO + args, capture_output=True, text=True, timeout=timeout_s,
                          env=mpi_env())


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def test_demo_renders_every_tile_and_exits_zero(tmp_path):
    proc = run_demo(["--grid", "4", "--tile", "64", "--no-browser", "--exit-when-done",
                     "--data-dir", str(tmp_path / "demo")])
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()
    assert "tiles: 16/16" in lines, explain(proc)
    assert lines[0].startswith("dashboard: http://127.0.0.1:"), explain(proc)
    for site in ("cloud", "onprem"):
        assert any(line.startswith(f"site {site}: 8/8 tiles in ") and "tiles/s" in line
                   and "mean render" in line for line in lines), explain(proc)
    token = tmp_path / "demo" / "token"
    assert token.stat().st_mode & 0o777 == 0o600
    assert token.read_text().strip() not in proc.stdout + proc.stderr
    assert not processes_mentioning(str(tmp_path)), "the demo left processes behind"


def test_demo_with_tls_runs_everything_over_verified_https(tmp_path):
    data_dir = tmp_path / "demo"
    proc = run_demo(["--grid", "4", "--tile", "64", "--no-browser", "--exit-when-done", "--tls",
                     "--data-dir", str(data_dir)])
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("dashboard: https://127.0.0.1:") and "tiles: 16/16" in lines
    ca_file = data_dir / "tls" / "ca" / "ca.pem"
    assert f"private CA (trust it in the browser, or pass it as --ca-file): {ca_file}" in lines
    for key in (data_dir / "tls" / "server.key", data_dir / "tls" / "ca" / "ca.key"):
        assert key.stat().st_mode & 0o777 == 0o600, key
    logs = data_dir / "logs"
    assert "listening on https://127.0.0.1:" in (logs / "dashboard.log").read_text()
    for site in ("cloud", "onprem"):
        assert "8 tiles stored on https://127.0.0.1:" in (logs / f"site-{site}.log").read_text()
    assert not processes_mentioning(str(tmp_path)), "the demo left processes behind"


def test_sigint_mid_run_stops_every_process(tmp_path):
    data_dir = tmp_path / "demo"
    # Big enough to still be rendering when the signal comes (about 30 s on 2 cores).
    proc = subprocess.Popen(DEMO + ["--grid", "16", "--tile", "256", "--max-iter", "5000",
                                    "--no-browser", "--exit-when-done",
                                    "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=mpi_env())
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                              daemon=True)
    reader.start()
    seen, started = [], None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and started is None:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            # The first progress line means the dashboard and both site jobs are up.
            if seen[-1].startswith("tiles "):
                started = processes_mentioning(str(data_dir))
        assert started, f"the demo never showed progress:\n{''.join(seen)}"
        assert sum("mpi_render" in cmd for cmd in started.values()) >= 2, started
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)  # stdout reaches EOF when the demo exits
    proc.stdout.close()
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert code == 128 + signal.SIGINT, output
    assert "tiles: 256/256" not in output, "the render finished before the signal: make it bigger"
    left = processes_mentioning(str(data_dir))
    assert not left, f"orphans after SIGINT: {left}\n{output}"
    assert not any(pid in left for pid in started)


def test_failing_site_names_the_site_and_its_missing_tiles(tmp_path):
    # An unknown backend makes the cloud site job exit 2 before rendering anything.
    proc = run_demo(["--grid", "4", "--tile", "64", "--no-browser", "--exit-when-done",
                     "--backend", "cloud=no-such-backend", "--data-dir", str(tmp_path / "d")])
    assert proc.returncode == 1, explain(proc)
    assert "tiles: 8/16" in proc.stdout.splitlines(), explain(proc)
    assert "site cloud failed (exit 2)" in proc.stderr, explain(proc)
    cloud_tiles = " ".join(f"r{t // 4}c{t % 4}" for t in range(8))
    assert f"its missing tiles: {cloud_tiles}" in proc.stderr, explain(proc)
    assert "site onprem failed" not in proc.stderr, explain(proc)
    assert "no-such-backend" in proc.stderr, explain(proc)
    assert not processes_mentioning(str(tmp_path)), "the demo left processes behind"


@pytest.mark.parametrize("args, message", [
    (["--grid", "0"], "grid must be"),
    (["--backend", "mars=numpy"], "site must be one of cloud,onprem"),
    (["--center", "1"], "center must have 2 values"),
    (["--ranks-per-site", "0"], "ranks per site must be at least 1"),
])
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path):
    proc = run_demo(args + ["--no-browser", "--data-dir", str(tmp_path)], timeout_s=30)
    assert proc.returncode == 2, explain(proc)
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, explain(proc)
    assert proc.stdout == ""

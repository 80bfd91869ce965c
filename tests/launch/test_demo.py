"""``mpi-render-demo`` end to end: real dashboard, one real serving ``mpiexec`` job per site.

The demo's children all carry the demo's data directory on their command line (the token file
path), so ``/proc`` tells which of its processes are still alive, including the ones that left
its process groups (hydra's proxies call setsid).
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import http_json, mpi_env, wait_for

from mpi_render.config import RenderConfig
from mpi_render.launch.processes import alive
from mpi_render.tls import client_context

pytestmark = pytest.mark.integration
DEMO = [sys.executable, "-m", "mpi_render.launch.demo"]


def processes_mentioning(text: str) -> dict[int, str]:
    """``{pid: command line}`` of live processes whose command line contains ``text``.

    Only processes under this one's root directory count: another checkout's test run in another
    chroot on the same machine uses the same temporary paths.
    """
    found, root = {}, os.readlink("/proc/self/root")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") != root:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def run_demo(args: list[str], timeout_s: float = 180) -> subprocess.CompletedProcess:
    """The demo run to its end; past ``timeout_s`` it is stopped the way a user stops it
    (SIGTERM: it stops everything it started), then killed, and the test fails with its output.
    (``subprocess.run``'s timeout kills only the demo itself and left its dashboard and sites
    running for hours.)"""
    proc = subprocess.Popen(DEMO + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=mpi_env(), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        raise AssertionError(f"the demo ran over {timeout_s} s and was stopped\n--- stdout\n"
                             f"{out}\n--- stderr\n{err}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


class LiveDemo:
    """A demo running in the background; its stdout and stderr are read line by line."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(DEMO + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=mpi_env())
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(
            target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True)
        self.reader.start()

    def wait_line(self, test, timeout_s: float) -> str:
        """The first line (from now on) for which ``test(line)`` is true."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=1))
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if test(self.seen[-1]):
                return self.seen[-1]
        raise AssertionError(f"no such line within {timeout_s:.0f} s:\n{self.output}")

    def interrupt(self, timeout_s: float = 60) -> int:
        """SIGINT, as Ctrl-C; the exit code (after all output is read)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout_s)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(10)  # stdout reaches EOF when the demo exits
        self.proc.stdout.close()
        while not self.lines.empty():
            self.seen.append(self.lines.get())

    @property
    def output(self) -> str:
        return "".join(self.seen)


def link_of(output: str, label: str) -> str:
    """The URL on the demo's line ``LABEL: URL``."""
    found = re.search(rf"^{label}: (\S+)$", output, re.MULTILINE)
    assert found, f"no {label!r} line:\n{output}"
    return found.group(1)


def test_demo_renders_every_tile_and_exits_zero(tmp_path):
    data_dir = tmp_path / "demo"
    proc = run_demo(["--grid", "4", "--tile", "64", "--no-browser", "--exit-when-done",
                     "--data-dir", str(data_dir)])
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()
    assert "tiles: 16/16" in lines, explain(proc)
    read_only = link_of(proc.stdout, "dashboard")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?run=demo-[\w.-]+", read_only), read_only
    for site in ("cloud", "onprem"):
        assert any(line.startswith(f"site {site}: 8/8 tiles in ") and "tiles/s" in line
                   and "mean render" in line for line in lines), explain(proc)
    token, control = data_dir / "token", data_dir / "control-token"
    for path in (token, control):
        assert path.stat().st_mode & 0o777 == 0o600, path
    control_token = control.read_text().strip()
    assert link_of(proc.stdout, "control link") == f"{read_only}#key={control_token}"
    # Printed once (the control link) and nowhere else: not the ingest token, not in any log.
    assert proc.stdout.count(control_token) == 1 and control_token not in proc.stderr
    assert token.read_text().strip() not in proc.stdout + proc.stderr
    for log in (data_dir / "logs").iterdir():
        assert control_token not in log.read_text(errors="replace"), log
    assert not processes_mentioning(str(tmp_path)), "the demo left processes behind"


def test_dynamic_split_completes_with_each_sites_share(tmp_path):
    proc = run_demo(["--grid", "4", "--tile", "64", "--split", "dynamic", "--no-browser",
                     "--exit-when-done", "--data-dir", str(tmp_path / "demo")])
    assert proc.returncode == 0, explain(proc)
    assert "tiles: 16/16" in proc.stdout.splitlines(), explain(proc)
    shares = dict(re.findall(r"^site (\w+): (\d+) tiles \(\d+%\) in ", proc.stdout, re.MULTILINE))
    assert set(shares) == {"cloud", "onprem"}, explain(proc)
    assert sum(map(int, shares.values())) == 16, explain(proc)
    assert "/None" not in proc.stdout, explain(proc)
    assert not processes_mentioning(str(tmp_path)), "the demo left processes behind"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_serving_demo_renders_a_run_made_with_the_control_token_then_stops_on_sigint(tmp_path, tls):
    data_dir = tmp_path / "demo"
    demo = LiveDemo(["--grid", "4", "--tile", "64", "--no-browser", "--data-dir", str(data_dir)]
                    + (["--tls"] if tls else []))
    try:
        demo.wait_line(lambda line: line.strip() == "tiles: 16/16", 120)
        demo.wait_line(lambda line: "keep taking new runs" in line, 30)
        started = processes_mentioning(str(data_dir))
        serving = [cmd for cmd in started.values() if "--serve" in cmd]
        assert len(serving) >= 2, started
        ca_file = data_dir / "tls" / "ca" / "ca.pem"
        # Under --tls every serving site verifies the dashboard with the demo's private CA.
        assert all((f"--ca-file {ca_file}" in cmd) == tls for cmd in serving), serving
        context = client_context(ca_file) if tls else None
        control_token = (data_dir / "control-token").read_text().strip()
        ingest_token = (data_dir / "token").read_text().strip()
        everyone = processes_mentioning("")
        assert not [cmd for cmd in everyone.values()
                    if control_token in cmd or ingest_token in cmd], "a token is in an argv"

        # Someone with the control link renders another view; the serving sites pick it up.
        root = link_of(demo.output, "dashboard").split("?")[0]
        assert root.startswith("https://" if tls else "http://"), root
        second = RenderConfig(grid=4, tile_px=64, center=(-0.1, 0.8), width=0.5,
                              sites=("cloud", "onprem"))
        status, doc = http_json("PUT", f"{root}api/runs/second", second.run_json(),
                                token=control_token, context=context)
        assert status == 201, doc
        doc = wait_for(lambda: (lambda d: d if d["complete"] else None)(
            http_json("GET", f"{root}api/runs/second", context=context)[1]), 60,
            "the second run to complete")
        assert doc["stored"] == 16, doc
        assert {n: s["stored"] for n, s in doc["sites"].items()} == {"cloud": 8, "onprem": 8}
        demo.wait_line(lambda line: line.strip() == "run second: complete, tiles 16/16", 30)
        time.sleep(1.5)  # the idle sites are in a long-poll of api/work now
        asked_s = time.monotonic()
        code = demo.interrupt()
        stop_s = time.monotonic() - asked_s
    finally:
        demo.close()
    assert code == 0, demo.output  # the first render's verdict stands
    # An idle serving site notices SIGTERM when its (1 s) long-poll returns: the stop is prompt.
    assert stop_s < 3.0, f"the demo took {stop_s:.1f} s to stop\n{demo.output}"
    assert not [pid for pid in started if alive(pid)], f"left after SIGINT:\n{demo.output}"
    assert not processes_mentioning(str(data_dir)), demo.output
    for log in (data_dir / "logs").iterdir():
        assert control_token not in log.read_text(errors="replace"), log


def test_demo_with_tls_runs_everything_over_verified_https(tmp_path):
    data_dir = tmp_path / "demo"
    proc = run_demo(["--grid", "4", "--tile", "64", "--no-browser", "--exit-when-done", "--tls",
                     "--data-dir", str(data_dir)])
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("dashboard: https://127.0.0.1:") and "tiles: 16/16" in lines
    ca_file = data_dir / "tls" / "ca" / "ca.pem"
    assert f"private CA (trust it in the browser, or pass it as --ca-file): {ca_file}" in lines
    read_only = link_of(proc.stdout, "dashboard")
    control_token = (data_dir / "control-token").read_text().strip()
    assert link_of(proc.stdout, "control link") == f"{read_only}#key={control_token}"
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
    demo = LiveDemo(["--grid", "16", "--tile", "256", "--max-iter", "5000", "--no-browser",
                     "--exit-when-done", "--data-dir", str(data_dir)])
    try:
        # The first progress line means the dashboard and both site jobs are up.
        demo.wait_line(lambda line: line.startswith("tiles "), 60)
        started = processes_mentioning(str(data_dir))
        assert sum("mpi_render" in cmd for cmd in started.values()) >= 2, started
        code = demo.interrupt()
    finally:
        demo.close()
    output = demo.output
    assert code == 128 + signal.SIGINT, output
    assert "tiles: 256/256" not in output, "the render finished before the signal: make it bigger"
    left = processes_mentioning(str(data_dir))
    assert not left, f"orphans after SIGINT: {left}\n{output}"
    assert not [pid for pid in started if alive(pid)]


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
    (["--center=0,1e-", "--width", "1"], "cy must be a decimal like"),
    (["--location", "flake", "--width", "1e-3"], "--location sets the view: drop --center and --width"),
    (["--ranks-per-site", "0"], "ranks per site must be at least 1"),
])
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path):
    proc = run_demo(args + ["--no-browser", "--data-dir", str(tmp_path)], timeout_s=30)
    assert proc.returncode == 2, explain(proc)
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, explain(proc)
    assert proc.stdout == ""

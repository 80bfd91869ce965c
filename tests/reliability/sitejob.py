"""Site jobs for fault tests: a real ``mpiexec -n R`` job of ``mpi-render`` that a test can
watch, kill rank by rank, and wait for, plus checks on the dashboard's view of a run.

Each job runs in its own session, so :meth:`SiteJob.stop` can end the whole ``mpiexec`` tree
(hydra proxy and ranks) through its process group, and only that tree.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

from reliability.paced_site import PACE_ENV
from support import Dashboard, http_json, mpi_env, mpiexec, wait_for

from mpi_render.config import RenderConfig
from mpi_render.launch.processes import descendants, spawn

PACED_SITE = Path(__file__).with_name("paced_site.py")
# Small and cheap: 32 tiles per site; the pace (sleep per tile) makes the run last.
FAULT_CONFIG = RenderConfig(grid=8, tile_px=64, max_iter=200, palette="fire")
DYNAMIC_CONFIG = dataclasses.replace(FAULT_CONFIG, split="dynamic")
DEFAULT_PACE_S = 0.1


def image_args(config: RenderConfig) -> list[str]:
    """The ``mpi-render`` flags that describe ``config`` (what every site of a run agrees on)."""
    return ["--grid", str(config.grid), "--tile", str(config.tile_px),
            "--palette", config.palette, "--max-iter", str(config.max_iter),
            f"--center={config.view.center_text()}", "--width", config.view.width_text(),
            "--sites", ",".join(config.sites), "--split", config.split]


class SiteJob:
    """One site's ``mpiexec`` job, output in ``workdir/site-NAME.log``.

    The spool defaults to ``workdir/spool-NAME``; a re-run passes the first job's ``spool``.
    With ``run_id=None`` the job is ``mpi-render --serve`` (no image flags, no run).
    """

    def __init__(self, workdir: Path, site: str, dashboard_url: str, run_id: str | None,
                 token_file: Path, *, config: RenderConfig = FAULT_CONFIG, ranks: int = 2,
                 pace_s: float = DEFAULT_PACE_S, spool: Path | None = None,
                 extra_args: tuple = ()):
        self.workdir = Path(workdir)
        self.site, self.config, self.ranks = site, config, ranks
        self.spool = spool or self.workdir / f"spool-{site}"
        self.log_path = self.workdir / f"site-{site}.log"
        self.env = mpi_env({PACE_ENV: str(pace_s)})
        what = ["--serve"] if run_id is None else [*image_args(config), "--run", run_id]
        self.cmd = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", str(PACED_SITE),
                    *what, "--site", site, "--dashboard", dashboard_url,
                    "--token-file", str(token_file), "--spool", str(self.spool),
                    "--backend", "numpy", *extra_args]
        self.proc: subprocess.Popen | None = None

    def start(self) -> SiteJob:
        # spawn creates the log's directory (the workdir) and starts a new session.
        self.proc = spawn(f"site {self.site}", self.cmd, self.log_path, self.env,
                          self.workdir).proc
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait(self, timeout_s: float) -> int:
        """Exit code; fails the test (with the job's output) if it is still running."""
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"site {self.site} still running after {timeout_s} s\n"
                                 f"{self.output()[-4000:]}") from None

    def rank_pids(self) -> dict[int, int]:
        """``{rank: pid}`` of the job's Python ranks (from ``PMI_RANK`` in their environment)."""
        ranks = {}
        for pid in descendants(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if PACED_SITE.name.encode() in cmdline:  # not the hydra proxy between them
                for item in environ:
                    if item.startswith(b"PMI_RANK="):
                        ranks[int(item[len(b"PMI_RANK="):])] = pid
        return ranks

    def kill_rank(self, rank: int) -> None:
        """SIGKILL one rank, as a crash or the OOM killer would."""
        pids = wait_for(lambda: self.rank_pids() if len(self.rank_pids()) == self.ranks else None,
                        10, f"the {self.ranks} ranks of site {self.site}")
        os.kill(pids[rank], signal.SIGKILL)

    def stop(self) -> None:
        """End the whole job tree (its own process group) if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def __enter__(self) -> SiteJob:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to ``mpiexec`` (it forwards SIGTERM/SIGINT to every rank)."""
        self.proc.send_signal(sig)


def run_doc(dashboard: Dashboard, run_id: str) -> dict:
    status, doc = http_json("GET", f"{dashboard.url}api/runs/{run_id}")
    assert status == 200, (status, doc, dashboard.log())
    return doc


def site_stored(dashboard: Dashboard, run_id: str, site: str) -> int:
    """Tiles of ``site`` stored so far (0 while the run does not exist or the dashboard is down)."""
    try:
        status, doc = http_json("GET", f"{dashboard.url}api/runs/{run_id}", timeout=2)
    except OSError:
        return 0
    return doc["sites"][site]["stored"] if status == 200 else 0


def run_stored(dashboard: Dashboard, run_id: str) -> int:
    """Tiles of the run stored so far, any site (0 while it does not exist or the dashboard is
    down)."""
    try:
        status, doc = http_json("GET", f"{dashboard.url}api/runs/{run_id}", timeout=2)
    except OSError:
        return 0
    return doc["stored"] if status == 200 else 0


def wait_run_stored(dashboard: Dashboard, run_id: str, at_least: int, timeout_s: float = 60):
    return wait_for(lambda: (n := run_stored(dashboard, run_id)) >= at_least and n,
                    timeout_s, f"{at_least} tiles of run {run_id} stored")


def assert_complete_once(dashboard: Dashboard, run_id: str, *jobs: SiteJob) -> dict:
    """The run is complete, and no tile took a second sequence number (none stored twice)."""
    doc = run_doc(dashboard, run_id)
    context = "\n".join(f"--- site {job.site}\n{job.output()[-3000:]}" for job in jobs)
    assert doc["complete"] and doc["missing"] == [], (doc["missing"], context)
    assert doc["seq"] == doc["stored"] == doc["total"], (doc, context)
    assert sum(site["stored"] for site in doc["sites"].values()) == doc["total"], (doc, context)
    return doc


def wait_stored(dashboard: Dashboard, run_id: str, site: str, at_least: int,
                timeout_s: float = 60) -> int:
    return wait_for(lambda: (n := site_stored(dashboard, run_id, site)) >= at_least and n,
                    timeout_s, f"{at_least} tiles of {site} stored")


def assert_stored_exactly_once(dashboard: Dashboard, run_id: str, *jobs: SiteJob) -> dict:
    """Every tile of the jobs' sites is stored, and no tile took a second sequence number."""
    doc = run_doc(dashboard, run_id)
    context = "\n".join(f"--- site {job.site}\n{job.output()[-3000:]}" for job in jobs)
    for job in jobs:
        site = doc["sites"][job.site]
        assert site["stored"] == site["owned"], (job.site, doc["missing"], context)
    assert doc["seq"] == doc["stored"], (doc, context)
    return doc

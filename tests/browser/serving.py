"""Serving sites for the browser tests: real ``mpiexec -n R python -m mpi4py -m mpi_render --serve``
jobs that render every run the dashboard offers their site, as a burst site would.

Each job runs in its own session (``spawn``), so :meth:`ServingSite.stop` ends exactly its own
``mpiexec`` tree.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support import mpi_env, mpiexec, wait_for

from mpi_render.launch.processes import spawn


class ServingSite:
    """``mpi-render --serve --site NAME`` against a test dashboard; output in ``workdir/serve-NAME.log``."""

    def __init__(self, workdir: Path, site: str, server, ranks: int = 1, idle_exit_s: float = 300):
        self.workdir = Path(workdir)
        self.site = site
        self.log_path = self.workdir / f"serve-{site}.log"
        self.cmd = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", "-m", "mpi_render",
                    "--serve", "--site", site, "--dashboard", server.url,
                    "--token-file", str(server.token_file), "--spool", str(self.workdir / f"spool-{site}"),
                    "--idle-exit", str(idle_exit_s)]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60) -> ServingSite:
        """Start the job and wait until every rank is warm and it asks for work."""
        self.proc = spawn(f"serving site {self.site}", self.cmd, self.log_path, mpi_env(), self.workdir).proc
        wait_for(lambda: "serving site" in self.output() or self.proc.poll() is not None, timeout_s,
                 f"site {self.site} serving")
        assert self.proc.poll() is None, f"site {self.site} exited {self.proc.returncode}\n{self.output()}"
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM (deliver what is rendered, exit 0); the whole tree is killed if that hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> ServingSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

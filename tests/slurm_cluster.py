"""A real single-node Slurm (slurmctld + slurmd + munge) for tests, configured in a temp directory.

The recipe is the one in ``shared/SLURM.md``: ``SlurmUser=root``, ``proctrack/linuxproc``,
``task/none``, ``cons_tres``, ``SlurmdParameters=config_overrides`` (the node claims 8 CPUs on a
2-core machine), every state/spool/log/pid file inside the temp directory, and a free
SlurmctldPort/SlurmdPort pair so it never clashes with another Slurm on the same machine. Clients
find it through ``SLURM_CONF`` in :attr:`SlurmCluster.env`. The daemons are stopped by the pids in
their pid files, never by name.

    with SlurmCluster(tmp_path) as slurm:
        slurm.sbatch("--wait", "job.sh")
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from support import free_port, mpi_env

MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MUNGE_KEY = Path("/etc/munge/munge.key")
# Our munged's pid file sits next to its socket (a directory the munge user owns; the test's temp
# directory is root-only) and has its own name, so it never touches a system munged's pid file.
MUNGE_PID = Path("/run/munge/munged.mpi-render-tests.pid")
COMMANDS = ("munge", "unmunge", "munged", "slurmctld", "slurmd", "sinfo", "sbatch", "srun",
            "scancel")
NODE_CPUS = 8

CONF_TEMPLATE = """\
# Written by tests/slurm_cluster.py: a throw-away single-node cluster.
ClusterName=mpirender{ctld_port}
# Addresses are given, not looked up: a fresh machine may have no /etc/hosts entry for its own
# name, and then both daemons fail with "Unable to resolve".
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Fast turnaround for tests: a node that stops answering is noticed quickly, killed tasks go fast.
SlurmdTimeout=30
KillWait=5
InactiveLimit=0
# `sbatch --wait` sleeps 2 s between polls and multiplies the sleep by 4 while it is below
# MinJobAge/2 (2, 8, 32 s...: a 3 s job took 42 s with the default 300). With 4 it keeps polling
# every 2 s, and a finished job stays visible for >= 4 s, longer than one poll.
MinJobAge=4
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmUnavailable(RuntimeError):
    """The Slurm or munge programs are not installed."""


def munge_answers(timeout_s: float = 5) -> bool:
    """True when a munged on the default socket encodes and decodes a credential."""
    if not MUNGE_SOCKET.exists():
        return False
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=timeout_s)
        if cred.returncode != 0:
            return False
        back = subprocess.run(["unmunge"], input=cred.stdout, capture_output=True,
                              timeout=timeout_s)
        return back.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still answers kill(0); it is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def stop_pid(pid: int, timeout_s: float = 15) -> None:
    """SIGTERM ``pid``, wait up to ``timeout_s`` seconds, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class SlurmCluster:
    """Context manager: a running single-node Slurm whose files all live in ``workdir``.

    Attributes:
        workdir: the directory holding slurm.conf, state, spool, logs and pid files.
        host: the node name (``hostname -s``).
        env: environment for Slurm clients (``SLURM_CONF`` set, the venv first on PATH).
    Raises:
        SlurmUnavailable: from :meth:`start` when the Slurm/munge programs are missing.
        AssertionError: when a daemon does not come up within ``start_timeout_s`` (with its log).
    """

    def __init__(self, workdir: Path, start_timeout_s: float = 60):
        self.workdir = Path(workdir)
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.workdir / "slurm.conf"
        self.start_timeout_s = start_timeout_s
        self.env = mpi_env({"SLURM_CONF": str(self.conf)})
        for key in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
            if key != "SLURM_CONF":
                del self.env[key]  # an outer Slurm job's settings must not leak into ours
        self._own_munged = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> SlurmCluster:
        missing = [c for c in COMMANDS if shutil.which(c) is None]
        if missing:
            raise SlurmUnavailable(f"missing {', '.join(missing)}: run make test (it installs slurm)")
        self._ensure_munge()
        for sub in ("state", "spool"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CONF_TEMPLATE.format(
            host=self.host, root=self.workdir, cpus=NODE_CPUS,
            ctld_port=free_port(), slurmd_port=free_port()))
        try:
            self._daemon("slurmctld")
            self._daemon("slurmd")
            self._wait_idle()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel every job, stop slurmd then slurmctld (by pid), and our munged if we started it."""
        if self.conf.exists() and _pid_from(self.workdir / "slurmctld.pid"):
            subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True,
                           timeout=30)
        for name in ("slurmd", "slurmctld"):
            pid = _pid_from(self.workdir / f"{name}.pid")
            if pid:
                stop_pid(pid)
        if self._own_munged:
            pid = _pid_from(MUNGE_PID)
            if pid:
                stop_pid(pid)
            self._own_munged = False

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients ---------------------------------------------------------------------------
    def sbatch(self, *args: str, timeout_s: float = 300, **kw) -> subprocess.CompletedProcess:
        """Run ``sbatch ARGS`` against this cluster (add ``--wait`` to get the job's exit code)."""
        return self._client("sbatch", args, timeout_s, **kw)

    def srun(self, *args: str, timeout_s: float = 120, **kw) -> subprocess.CompletedProcess:
        """Run ``srun ARGS`` against this cluster; returns the finished process (not checked)."""
        return self._client("srun", args, timeout_s, **kw)

    def log(self) -> str:
        """The tails of both daemons' logs, for failure messages."""
        parts = []
        for name in ("slurmctld", "slurmd"):
            path = self.workdir / f"{name}.log"
            text = path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"
            parts.append(f"--- {name}.log\n{text}")
        return "\n".join(parts)

    # -- internals -------------------------------------------------------------------------
    def _client(self, cmd: str, args, timeout_s: float, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.workdir)
        return subprocess.run([cmd, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout_s, **kw)

    def _ensure_munge(self) -> None:
        if munge_answers():
            return
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            MUNGE_KEY.write_bytes(os.urandom(1024))
            shutil.chown(MUNGE_KEY, "munge", "munge")
            MUNGE_KEY.chmod(0o400)
        for path in (MUNGE_SOCKET.parent, Path("/var/log/munge"), Path("/var/lib/munge")):
            path.mkdir(parents=True, exist_ok=True)
            shutil.chown(path, "munge", "munge")
        # --force replaces a stale socket left by a munged that died without cleaning up.
        run = subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force",
                              f"--pid-file={MUNGE_PID}"], capture_output=True, text=True,
                             timeout=30)
        if run.returncode != 0:
            raise AssertionError(f"munged exited {run.returncode}: {run.stderr}")
        self._own_munged = True
        deadline = time.monotonic() + 10
        while not munge_answers():
            if time.monotonic() > deadline:
                raise AssertionError("munged started but does not answer on " + str(MUNGE_SOCKET))
            time.sleep(0.1)

    def _daemon(self, name: str) -> None:
        """Start ``name`` (it forks itself) and wait until its pid file names a live process."""
        run = subprocess.run([name], env=self.env, capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            raise AssertionError(f"{name} exited {run.returncode}: {run.stderr}\n{self.log()}")
        deadline = time.monotonic() + self.start_timeout_s
        pid_file = self.workdir / f"{name}.pid"
        while not ((pid := _pid_from(pid_file)) and _alive(pid)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} wrote no live pid to {pid_file}\n{self.log()}")
            time.sleep(0.05)

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        state = ""
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env,
                                 capture_output=True, text=True, timeout=30)
            state = out.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.2)
        raise AssertionError(f"node {self.host} not idle after {self.start_timeout_s} s "
                             f"(sinfo says {state!r})\n{self.log()}")

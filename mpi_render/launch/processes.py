"""Start and stop local child processes (the dashboard, one ``mpiexec`` per site) without orphans.

Each child starts in its own session (so its own process group): a Ctrl-C at the terminal reaches
only the launcher, which then stops its children in a chosen order, and a whole ``mpiexec`` tree
(hydra proxies, ranks) can be signalled at once through its group. Before signalling, the
launcher also snapshots the child's descendants from ``/proc`` and checks them afterwards, so a
grandchild that left the group is not left behind either.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

POLL_S = 0.05


@dataclass
class Child:
    """A started child process and where its output goes.

    Attributes:
        name: what the launcher calls it in messages (``dashboard``, ``site cloud``).
        proc: the ``Popen`` object (its pid is also its process-group id).
        log_path: file that receives its stdout and stderr.
        started_s / ended_s: ``time.monotonic()`` at start and when first seen ended.
    """

    name: str
    proc: subprocess.Popen
    log_path: Path
    started_s: float = field(default_factory=time.monotonic)
    ended_s: float | None = None

    def poll(self) -> int | None:
        """Exit code, or ``None`` while running; records ``ended_s`` the first time."""
        code = self.proc.poll()
        if code is not None and self.ended_s is None:
            self.ended_s = time.monotonic()
        return code

    def log_tail(self, max_chars: int = 2000) -> str:
        """The last ``max_chars`` characters of its output."""
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:]
        except OSError:
            return ""


def spawn(name: str, cmd: list[str], log_path: Path, env: dict | None = None,
          cwd: Path | None = None) -> Child:
    """Start ``cmd`` in a new session with stdin closed and output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    return Child(name, proc, log_path)


def proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name (state first), or ``None``."""
    try:
        # The command name may contain spaces and parentheses: split after the last ')'.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid`` (not ``pid`` itself), as ``{pid: start time}``.

    The start time (clock ticks since boot) tells a descendant from a later process that
    reused its pid.
    """
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        fields = proc_stat(int(entry)) if entry.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append((int(entry), fields[19]))
    found, todo = {}, [pid]
    while todo:
        for child, start in children.get(todo.pop(), ()):
            if child not in found:
                found[child] = start
                todo.append(child)
    return found


def alive(pid: int, start: str | None = None) -> bool:
    """True while ``pid`` exists, is not a zombie and (if given) started at ``start``."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z" and start in (None, fields[19])


def _signal_all(pgid: int, pids: dict[int, str], sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the whole group is gone already
    _signal_pids(pids, sig)


def _signal_pids(pids: dict[int, str], sig: int) -> None:
    for pid, start in pids.items():
        if alive(pid, start):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def stop_all(children: list[Child], timeout_s: float = 10.0) -> list[int | None]:
    """Stop ``children`` and everything they started, all at once: SIGTERM, then SIGKILL to
    what still runs after ``timeout_s``. (At once, so slow stoppers wait in parallel: a
    serving site notices SIGTERM only when its long-poll of up to 1 s returns.)

    Returns:
        Each child's exit code (negative for a signal), or ``None`` if it could not be reaped.
    """
    trees = [descendants(child.proc.pid) for child in children]

    def running() -> bool:
        return any(child.poll() is None or any(alive(p, s) for p, s in tree.items())
                   for child, tree in zip(children, trees))

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not running():
            break
        for child, tree in zip(children, trees):
            _signal_all(child.proc.pid, tree, sig)
        deadline = time.monotonic() + timeout_s
        while running() and time.monotonic() < deadline:
            time.sleep(POLL_S)
            # A launcher may still be starting processes when the signal comes (mpiexec's
            # proxies spawning ranks): those it starts later get the same signal.
            for child, tree in zip(children, trees):
                if child.poll() is None:
                    late = {pid: start for pid, start in descendants(child.proc.pid).items()
                            if pid not in tree}
                    tree.update(late)
                    _signal_pids(late, sig)
    codes = []
    for child in children:
        try:
            codes.append(child.proc.wait(timeout_s))
        except subprocess.TimeoutExpired:
            codes.append(None)
    return codes


def stop(child: Child, timeout_s: float = 10.0) -> int | None:
    """:func:`stop_all` of one child: its exit code, or ``None`` if it could not be reaped."""
    return stop_all([child], timeout_s)[0]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def mpiexec_path() -> str:
    """The ``mpiexec`` next to this interpreter (the ``mpich`` wheel's), else the one on PATH.

    Raises:
        FileNotFoundError: no ``mpiexec`` anywhere (the message says how to get one).
    """
    local = Path(sys.executable).parent / "mpiexec"
    if local.exists():
        return str(local)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if not found:
        raise FileNotFoundError("no mpiexec found: pip install 'mpi-render[mpich]' "
                                "or install an MPI (e.g. apt-get install mpich)")
    return found


def dashboard_command(host: str, port: int, data_dir: Path, token_file: Path,
                      control_token_file: Path,
                      tls: tuple[Path, Path] | None = None) -> list[str]:
    """The dashboard server as a child of this interpreter (tokens as file paths only);
    ``tls`` = (certfile, keyfile) serves HTTPS and WSS."""
    cmd = [sys.executable, "-m", "dashboard", "--host", host, "--port", str(port),
           "--data-dir", str(data_dir), "--token-file", str(token_file),
           "--control-token-file", str(control_token_file)]
    if tls is not None:
        cmd += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    return cmd


def serve_command(site: str, ranks: int, dashboard_url: str, token_file: Path,
                  backend: str = "auto", hostfile: Path | None = None,
                  ca_file: Path | None = None) -> list[str]:
    """One serving site job: ``mpiexec -n R python -m mpi4py -m mpi_render --serve --site S ...``.

    The job renders every run of ``site`` the dashboard offers (each run brings its own image)
    until SIGTERM. ``python -m mpi4py`` makes an exception in one rank abort the whole job
    instead of hanging it. The token travels as a file path, never on the command line.
    """
    cmd = [mpiexec_path(), "-n", str(ranks)]
    if hostfile is not None:
        cmd += ["-hostfile", str(hostfile)]
    cmd += [sys.executable, "-m", "mpi4py", "-m", "mpi_render", "--serve", "--site", site,
            "--backend", backend, "--dashboard", dashboard_url, "--token-file", str(token_file)]
    if ca_file is not None:
        cmd += ["--ca-file", str(ca_file)]
    return cmd

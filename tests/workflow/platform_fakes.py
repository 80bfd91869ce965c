"""What the ACTIVATE platform gives a workflow step, faked on this machine for
:mod:`workflow.executor`.

``ssh:`` jobs run here with ``HOME`` set to the resource's directory (each resource is a
directory); ``parallelworks/checkout`` copies this repository's working tree; ``ssh`` and ``pw``
on the steps' PATH are the stand-ins in ``fakes/``; a cancel is SIGTERM to the step's process
group, then SIGKILL. Everything else (bash, python3, pip, Slurm) is real.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

FAKES = Path(__file__).resolve().parent / "fakes"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Resource:
    """One compute resource: ``uri`` as the CLI names it, the object the form would send."""

    uri: str
    id: str
    ip: str
    home: Path
    scheduler: str = ""
    provider: str = "existing"
    env: dict = field(default_factory=dict)

    def as_input(self) -> dict:
        # CLI launches may leave the name empty (a field lesson): the workflow must not need it.
        return {"id": self.id, "ip": self.ip, "name": "", "schedulerType": self.scheduler,
                "provider": self.provider}


def pip_settings() -> dict:
    """This machine's pip setup (index, wheel dirs, cache) for steps whose HOME is elsewhere."""
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    user_config = Path.home() / ".config" / "pip" / "pip.conf"
    if "PIP_CONFIG_FILE" not in env and user_config.exists():
        env["PIP_CONFIG_FILE"] = str(user_config)
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return env


def copy_checkout(repo: Path, dest: Path) -> None:
    """``parallelworks/checkout``: the repository's tracked and new files, as in the work tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=repo, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = repo / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def stop_group(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    """SIGTERM the step's process group (what a platform cancel does), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is not None:
            return

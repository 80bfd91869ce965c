"""A local stand-in for the ACTIVATE runner: runs ``workflow.yaml`` on this machine.

What it does as the platform would: fills input defaults (inside groups and in each item of a
``list`` input, after its ``template``) and resolves ``pw://user/NAME`` resources to resource
objects; substitutes ``${{ inputs.* }}``, ``${{ needs.JOB.outputs.* }}`` and ``${{ sessions.* }}``
(an unknown reference is an error, never an empty string; a whole list or object becomes its
JSON text and an absent optional input an empty string: an assumption about the platform that
the workflow's scripts are written to accept either way); starts each
job when every job in its ``needs`` succeeded (independent jobs run in parallel, a job whose need
failed is skipped); runs ``run:`` steps with bash in the job directory (``working-directory`` is
relative to it) with ``PW_USER``, ``PW_JOB_ID``, ``PW_PLATFORM_HOST`` and ``OUTPUTS`` set, and
publishes every ``KEY=value`` line a job writes to ``$OUTPUTS`` as its outputs; ``early-cancel:
any-job-failed`` stops a waiting step when another job fails; every step's ``cleanup`` runs at
the end (:meth:`Executor.finish`), newest first.

What it fakes: ``ssh:`` jobs run here with ``HOME`` set to the resource's directory (the two
resources are two directories); ``parallelworks/checkout`` copies this repository's working
tree; ``parallelworks/update-session`` records its ``with:``; ``ssh`` and ``pw`` on the steps'
PATH are the stand-ins in ``fakes/``. Everything else (bash, python3, pip, Slurm) is real.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
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


def load_workflow(path: Path) -> dict:
    """The workflow document; ``"on"`` must be a string key (quoted in the file)."""
    doc = yaml.safe_load(Path(path).read_text())
    if True in doc:
        raise ValueError("workflow.yaml has a bare `on:` key (YAML 1.1 reads it as true)")
    return doc


def input_values(spec: dict, given: dict, resources: dict[str, Resource]) -> dict:
    """Inputs as jobs see them: defaults filled in (inside groups too), resources resolved."""
    values = {}
    for name, field_spec in spec.items():
        value = given.get(name, field_spec.get("default"))
        if field_spec["type"] == "group":
            value = input_values(field_spec["items"], value or {}, resources)
        elif field_spec["type"] == "list" and value is not None:
            template = field_spec["template"]
            value = [input_values(template["items"], item, resources)
                     if template.get("type") == "group" else item for item in value]
        elif field_spec["type"] == "compute-clusters" and isinstance(value, str):
            value = resources[value].as_input()
        values[name] = value
    unknown = set(given) - set(spec)
    if unknown:
        raise ValueError(f"inputs not declared by the workflow: {sorted(unknown)}")
    return values


def evaluate(expr: str, context: dict):
    """Value of a dotted reference such as ``needs.prepare.outputs.port`` (KeyError if absent)."""
    value = context
    for part in expr.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"${{{{ {expr} }}}} does not resolve (no {part!r})")
        value = value[part]
    return value


def substitute(value, context: dict):
    """``value`` with every ``${{ ... }}`` replaced (recursively through lists and dicts)."""
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if isinstance(value, str):
        return EXPR.sub(lambda m: _text(evaluate(m.group(1), context)), value)
    return value


def _text(value) -> str:
    """How a substituted value reads in a step: objects and lists as JSON, absent as empty."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def pip_settings() -> dict:
    """This machine's pip setup (index, wheel dirs, cache) for steps whose HOME is elsewhere."""
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    user_config = Path.home() / ".config" / "pip" / "pip.conf"
    if "PIP_CONFIG_FILE" not in env and user_config.exists():
        env["PIP_CONFIG_FILE"] = str(user_config)
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return env


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def copy_checkout(repo: Path, dest: Path) -> None:
    """``parallelworks/checkout``: the repository's tracked and new files, as in the work tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=repo, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = repo / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


class Executor:
    """Runs one workflow run; :meth:`start`, then :meth:`wait`, then :meth:`finish`.

    Attributes:
        status: ``{job: pending|running|success|failed|skipped|cancelled}``.
        outputs: ``{job: {key: value}}``; sessions: the recorded ``update-session`` calls.
    """

    def __init__(self, workflow: dict, inputs: dict, resources: dict[str, Resource], root: Path,
                 repo: Path, job_id: str = "4242", user: str = "tester"):
        self.workflow, self.root, self.repo, self.job_id = workflow, Path(root), repo, job_id
        self.by_ip = {r.ip: r for r in resources.values()}
        spec = workflow["on"]["execute"]["inputs"]
        self.context = {"inputs": input_values(spec, inputs, resources), "needs": {},
                        "sessions": {name: name for name in workflow.get("sessions", {})}}
        self.jobs = workflow["jobs"]
        self.status = {name: "pending" for name in self.jobs}
        self.outputs: dict[str, dict] = {name: {} for name in self.jobs}
        self.logs: dict[str, list[str]] = {name: [] for name in self.jobs}
        self.sessions: list[dict] = []
        self.cleanups: list[tuple[str, dict, Path]] = []
        self.running: dict[str, tuple[subprocess.Popen, bool]] = {}
        self.lock = threading.Condition()
        self.base_env = {"PATH": f"{FAKES}:{SYSTEM_PATH}", "PW_USER": user, "PW_JOB_ID": job_id,
                         "PW_PLATFORM_HOST": "https://activate.example", "LANG": "C.UTF-8",
                         "FAKE_SSH_HOSTS": json.dumps({ip: {"home": str(r.home), "env": r.env}
                                                       for ip, r in self.by_ip.items()})}
        self.base_env.update(pip_settings())

    # -- scheduling ---------------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._schedule, name="executor", daemon=True).start()

    def _schedule(self) -> None:
        with self.lock:
            while "pending" in self.status.values():
                for name, state in list(self.status.items()):
                    if state != "pending":
                        continue
                    states = [self.status[need] for need in needs_of(self.jobs[name])]
                    if all(s == "success" for s in states):
                        self.status[name] = "running"
                        threading.Thread(target=self._run_job, args=(name,), daemon=True).start()
                    elif any(s in ("failed", "skipped", "cancelled") for s in states):
                        self.status[name] = "skipped"
                self.lock.wait(0.5)

    def wait(self, jobs: list[str], timeout_s: float) -> None:
        """Wait until ``jobs`` ended; raise AssertionError (with logs) unless all succeeded."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while any(self.status[j] in ("pending", "running") for j in jobs):
                if time.monotonic() > deadline:
                    break
                self.lock.wait(1)
        bad = [j for j in jobs if self.status[j] != "success"]
        if bad:
            states = [self.status[j] for j in bad]
            raise AssertionError(f"jobs {bad} ended {states}\n{self.report()}")

    def report(self) -> str:
        return "\n".join(f"=== job {name} ({self.status[name]})\n" + "".join(lines)[-5000:]
                         for name, lines in self.logs.items())

    # -- jobs and steps -----------------------------------------------------------------------
    def _job_dir(self, job: dict) -> tuple[Path, dict]:
        """Where a job's steps start, and its environment (``ssh:`` jobs: on the resource)."""
        env = dict(self.base_env)
        if "ssh" in job:
            host = substitute(job["ssh"]["remoteHost"], self.context)
            resource = self.by_ip[host]
            env.update(resource.env, HOME=str(resource.home))
            job_dir = resource.home / "pw" / "jobs" / self.job_id
        else:  # the user workspace
            env["HOME"] = str(self.root / "workspace")
            job_dir = self.root / "workspace" / "pw" / "jobs" / self.job_id
            env["PW_PARENT_JOB_DIR"] = str(job_dir)
        env.update(job.get("env", {}))
        return job_dir, env

    def _run_job(self, name: str) -> None:
        job = self.jobs[name]
        try:
            with self.lock:
                self.context["needs"] = {n: {"outputs": dict(o)} for n, o in self.outputs.items()
                                         if self.status[n] == "success"}
                context = {**self.context, "needs": {n: self.context["needs"][n]
                                                     for n in needs_of(job)}}
            job_dir, env = self._job_dir(job)
            state = "success"
            for number, step in enumerate(job["steps"]):
                step = substitute(step, context)
                if not self._run_step(name, number, step, job_dir, env):
                    state = "failed"
                    break
                if self.status[name] == "cancelling":
                    break  # a cancelled server may well exit 0
        except Exception as exc:  # a bad reference or a missing fake fails the job, loudly
            self.logs[name].append(f"executor: {type(exc).__name__}: {exc}\n")
            state = "failed"
        with self.lock:
            if self.status[name] == "cancelling":
                state = "cancelled"
            self.status[name] = state
            if state == "failed":
                self._early_cancel()
            self.lock.notify_all()

    def _run_step(self, name: str, number: int, step: dict, job_dir: Path, env: dict) -> bool:
        cwd = job_dir / step.get("working-directory", ".")
        cwd.mkdir(parents=True, exist_ok=True)
        self.logs[name].append(f"--- step {number}: {step.get('name', '')}\n")
        if "uses" in step:
            return self._use(name, step, job_dir)
        outputs = self.root / "outputs" / f"{name}-{number}"
        outputs.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text("")
        step_env = dict(env, OUTPUTS=str(outputs), **step.get("env", {}))
        if "cleanup" in step:
            with self.lock:
                self.cleanups.append((step["cleanup"], step_env, cwd))
        log_path = self.root / "logs" / f"{name}-{number}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=cwd,
                                    env=step_env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        with self.lock:
            self.running[name] = (proc, step.get("early-cancel") == "any-job-failed")
        code = proc.wait()
        with self.lock:
            del self.running[name]
        self.logs[name].append(log_path.read_text(errors="replace") + f"(exit {code})\n")
        for line in outputs.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                self.outputs[name][key.strip()] = value
        return code == 0

    def _use(self, name: str, step: dict, job_dir: Path) -> bool:
        action, args = step["uses"], step.get("with", {})
        if action == "parallelworks/checkout":
            copy_checkout(self.repo, job_dir / args.get("path", "."))
        elif action == "parallelworks/update-session":
            self.sessions.append(args)
        else:
            raise NotImplementedError(f"no fake for action {action}")
        return True

    # -- stopping -----------------------------------------------------------------------------
    def _early_cancel(self) -> None:
        for job, (proc, early) in self.running.items():
            if early:
                self.status[job] = "cancelling"
                _stop_group(proc)

    def finish(self, timeout_s: float = 60) -> list[str]:
        """Cancel what still runs (as a user cancelling the run), then run every cleanup.

        Returns:
            One line per cleanup that failed (empty when all went well).
        """
        with self.lock:
            for job, (proc, _) in list(self.running.items()):
                self.status[job] = "cancelling"
                _stop_group(proc)
            cleanups = list(reversed(self.cleanups))
            deadline = time.monotonic() + timeout_s
            while "cancelling" in self.status.values() and time.monotonic() < deadline:
                self.lock.wait(0.5)
        failures = []
        for command, env, cwd in cleanups:
            done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=timeout_s)
            if done.returncode != 0:
                failures.append(f"{command}: exit {done.returncode}: {done.stderr.strip()}")
        return failures


def _stop_group(proc: subprocess.Popen, timeout_s: float = 10) -> None:
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

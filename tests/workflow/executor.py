"""A local stand-in for the ACTIVATE runner: runs ``workflow.yaml`` on this machine.

What it does as the platform would: reads the document and its inputs and expressions
(:mod:`workflow.document`); starts each job when every job in its ``needs`` succeeded
(independent jobs run in parallel, a job whose need failed is skipped); runs ``run:`` steps with
bash in the job directory (``working-directory`` is relative to it) with ``PW_USER``,
``PW_JOB_ID``, ``PW_PLATFORM_HOST`` and ``OUTPUTS`` set, and publishes every ``KEY=value`` line a
job writes to ``$OUTPUTS`` as its outputs; ``early-cancel: any-job-failed`` stops a waiting step
when another job fails; every step's ``cleanup`` runs at the end (:meth:`Executor.finish`),
newest first. ``parallelworks/update-session`` records its ``with:``. What it fakes (resources,
the step environment, the checkout action, a cancel): :mod:`workflow.platform_fakes`.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from workflow.document import input_values, needs_of, substitute
from workflow.platform_fakes import (
    FAKES,
    SYSTEM_PATH,
    Resource,
    copy_checkout,
    pip_settings,
    stop_group,
)


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
                stop_group(proc)

    def finish(self, timeout_s: float = 60) -> list[str]:
        """Cancel what still runs (as a user cancelling the run), then run every cleanup.

        Returns:
            One line per cleanup that failed (empty when all went well).
        """
        with self.lock:
            for job, (proc, _) in list(self.running.items()):
                self.status[job] = "cancelling"
                stop_group(proc)
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

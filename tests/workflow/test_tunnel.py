"""scripts/workflow/tunnel.sh against a real dashboard, through the fake ssh: when it closes.

The rule: while the sites serve (SERVE_MINUTES > 0) never; otherwise once the dashboard reports
the run complete AND the site behind the tunnel has left CLOUD_WORKDIR/site.done (with a dynamic
split the other sites may complete the run before this one even started). The ssh process is
recorded under the NAME argument, so cleanup.sh WORKDIR NAME stops exactly it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import REPO, Dashboard, http, wait_for
from workflow.platform_fakes import FAKES, SYSTEM_PATH

from dashboard.testing import site_batch, small_config
from mpi_render.launch.processes import alive, free_port

pytestmark = pytest.mark.integration
SCRIPTS = REPO / "scripts" / "workflow"
RUN = "tunnelled"
CHECK_S = 5  # tunnel.sh looks at the close rule every 5 s


class Tunnel:
    """tunnel.sh for a complete run of a real dashboard, to the fake host cloud.test."""

    def __init__(self, tmp_path: Path, dash: Dashboard, name: str, serve_minutes: str):
        self.work, self.cloud_work = tmp_path / "onprem", tmp_path / "cloud" / "work"
        (self.work / "venv" / "bin").mkdir(parents=True)
        self.cloud_work.parent.mkdir()
        python = self.work / "venv" / "bin" / "python"  # use_work wants a prepared venv
        python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        python.chmod(0o755)
        (self.work / "token").write_text(dash.token + "\n")
        (self.work / "token").chmod(0o600)
        self.name, self.tunnel_port = name, free_port()
        hosts = {"cloud.test": {"home": str(self.cloud_work.parent), "env": {}}}
        self.env = dict(os.environ, PATH=f"{FAKES}:{SYSTEM_PATH}", FAKE_SSH_HOSTS=json.dumps(hosts))
        self.proc = subprocess.Popen(
            ["bash", str(SCRIPTS / "tunnel.sh"), str(self.work), str(dash.port), RUN, "cloud.test",
             str(self.cloud_work), str(self.tunnel_port), "", name, serve_minutes],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
            start_new_session=True)

    def output(self) -> str:
        """What it printed (read once it has ended)."""
        if self.proc.poll() is None:
            return "(still running)"
        self.printed = getattr(self, "printed", "") + self.proc.stdout.read()
        return self.printed

    def ssh_pid(self) -> int:
        return int((self.work / "pids" / self.name).read_text().split()[0])

    def wait_forwarding(self) -> None:
        """Until the token is on the cloud side and the dashboard answers through the tunnel."""
        def through() -> bool:
            try:
                url = f"http://127.0.0.1:{self.tunnel_port}/healthz"
                return http("GET", url, timeout=2)[0] == 200
            except OSError:
                return False
        wait_for(through, 30, f"the tunnel to forward\n{self.output()}", interval=0.2)
        copied = self.cloud_work / "token"
        assert copied.read_text() == (self.work / "token").read_text()
        assert copied.stat().st_mode & 0o777 == 0o600

    def close(self) -> None:
        """What the step's cleanup does (cleanup.sh WORKDIR NAME), and the script itself."""
        subprocess.run(["bash", str(SCRIPTS / "cleanup.sh"), str(self.work), self.name],
                       env=self.env, capture_output=True, timeout=30)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def dash(tmp_path):
    """A dashboard whose run RUN is complete (every tile posted)."""
    with Dashboard(tmp_path / "dash") as running:
        config = small_config()
        assert running.api("PUT", f"api/runs/{RUN}", config.run_json())[0] == 201
        for site in config.sites:
            content_type, body, _ = site_batch(config, site)
            status, answer = http("POST", f"{running.url}api/runs/{RUN}/tiles", body,
                                  running.token, headers={"Content-Type": content_type})
            assert status == 200, answer
        assert running.api("GET", f"api/runs/{RUN}")[1]["complete"]
        yield running


@pytest.mark.timeout(120)
def test_a_complete_run_keeps_the_tunnel_until_the_site_has_finished(tmp_path, dash):
    tunnel = Tunnel(tmp_path, dash, "tunnel-extra7", "0")
    try:
        tunnel.wait_forwarding()
        ssh_pid = tunnel.ssh_pid()
        time.sleep(CHECK_S + 1)  # the run is complete, but the site has not finished
        assert tunnel.proc.poll() is None, tunnel.output()
        (tunnel.cloud_work / "site.done").touch()  # what render-cloud.sh leaves when it ends
        assert tunnel.proc.wait(3 * CHECK_S) == 0, tunnel.output()
        assert "tunnel closed" in tunnel.output()
        assert not alive(ssh_pid) and not (tunnel.work / "pids" / "tunnel-extra7").exists()
    finally:
        tunnel.close()


@pytest.mark.timeout(120)
def test_while_the_sites_serve_the_tunnel_stays_until_it_is_stopped(tmp_path, dash):
    tunnel = Tunnel(tmp_path, dash, "tunnel", "0.5")
    try:
        tunnel.cloud_work.mkdir(parents=True)
        (tunnel.cloud_work / "site.done").touch()  # the first render is over: serving now
        tunnel.wait_forwarding()
        ssh_pid = tunnel.ssh_pid()
        time.sleep(CHECK_S + 1)
        assert tunnel.proc.poll() is None and alive(ssh_pid), tunnel.output()
    finally:
        tunnel.close()
    assert not alive(ssh_pid), "cleanup.sh WORKDIR tunnel left the ssh process"

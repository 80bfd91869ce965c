"""workflow.yaml run for real by the local executor: three resources (three directories) and
three sites: on-prem with mpiexec, the cloud cluster and one extra cluster (the extra_clusters
list input) both through the real single-node Slurm, the dashboard and tunnels as on ACTIVATE.
With three sites the split defaults to dynamic: the sites claim the tiles.

One run covers it all (each run builds three venvs, so a second one would double the time):
with advanced.serve_minutes 0.2, after the first render every site (the extra one too) serves a
run made with the control token, and stops by itself 12 s after its last work. It ends with
every tile of both runs on the dashboard, the session bound to the dashboard's port, the summary
and the control link printed, and (after cleanup) no process of the run left: every process the
run starts inherits PW_JOB_ID, so /proc tells exactly which are its own. (serve.sh with 0
minutes, the default, is checked by test_workflow_static.py.)
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from support import REPO, http_json, wait_for
from workflow.document import load_workflow
from workflow.executor import Executor
from workflow.platform_fakes import Resource

from mpi_render.config import RenderConfig
from mpi_render.launch.processes import alive
from mpi_render.locations import LOCATIONS

pytestmark = [pytest.mark.integration, pytest.mark.slurm]
SEED = {"onprem_resource": "pw://user/onprem_resource", "cloud_resource": "pw://user/cloud_cluster",
        # The seed's shape; grid 4 / 128 px (allowed values) keep it fast.
        "render_settings": {"grid_size": "4", "image_size": "128", "palette": "electric"}}
EXTRA = "pw://user/extra_cluster"
INPUTS = dict(SEED, extra_clusters=[{"resource": EXTRA, "scheduler": True, "ranks": 2}])
FLAKE = LOCATIONS["flake"]
# The first render is a deep view typed in the form's advanced group: 160-digit decimals that must
# reach every site's run config as typed (rendered by perturbation).
DEEP_VIEW = {"location": "custom", "center_re": FLAKE.cx, "center_im": FLAKE.cy,
             "width": "1.7e-157", "max_iter": "50000"}


def processes_with_env(key: str, value: str) -> dict[int, str]:
    """Live processes whose environment has ``key=value``: ``{pid: command line}``."""
    wanted = f"{key}={value}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                    b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def start_workflow(tmp_path: Path, slurm, inputs: dict) -> Executor:
    """The workflow on three resource directories (cloud and extra on the local Slurm), started."""
    job_id = f"t{os.getpid()}{int(time.time()) % 100000}"
    resources = {
        SEED["onprem_resource"]: Resource(SEED["onprem_resource"], "onprem-0001", "onprem.test",
                                          tmp_path / "onprem"),
        SEED["cloud_resource"]: Resource(SEED["cloud_resource"], "cloud-0002", "cloud.test",
                                         tmp_path / "cloud", scheduler="slurm", provider="aws",
                                         env={"SLURM_CONF": str(slurm.conf)}),
        EXTRA: Resource(EXTRA, "extra-0003", "extra.test", tmp_path / "extra", scheduler="slurm",
                        provider="aws", env={"SLURM_CONF": str(slurm.conf)}),
    }
    for resource in resources.values():
        resource.home.mkdir()
    run = Executor(load_workflow(REPO / "workflow.yaml"), inputs, resources, tmp_path / "platform",
                   REPO, job_id=job_id)
    run.start()
    return run


def finish_leaving_nothing(run: Executor) -> None:
    """Cancel the run as a user would, run the cleanups; no process of the run may be left."""
    failures = run.finish()
    assert not failures, failures
    assert run.status["dashboard"] == "cancelled", run.report()
    deadline = time.monotonic() + 30
    while processes_with_env("PW_JOB_ID", run.job_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_with_env("PW_JOB_ID", run.job_id), run.report()


def dynamic_run(port: int, run_id: str) -> dict:
    """The run document of a complete dynamic run of the three sites (every tile stored once)."""
    status, doc = http_json("GET", f"http://127.0.0.1:{port}/api/runs/{run_id}")
    assert status == 200 and doc["complete"], doc
    assert doc["stored"] == doc["total"] == 16, doc
    assert doc["config"]["sites"] == ["cloud", "onprem", "extra1"], doc["config"]
    assert doc["config"]["split"] == "dynamic", doc["config"]
    assert sum(s["stored"] for s in doc["sites"].values()) == 16, doc["sites"]
    assert all(s["owned"] is None for s in doc["sites"].values()), doc["sites"]
    return doc


@pytest.mark.timeout(1200)
def test_three_sites_render_every_tile_then_serve_a_run_made_with_the_control_token(tmp_path,
                                                                                    slurm):
    # 0.2 idle minutes: the serving sites stop by themselves 12 s after their last work.
    run = start_workflow(tmp_path, slurm, dict(INPUTS, advanced={"serve_minutes": 0.2},
                                               view=DEEP_VIEW))
    try:
        run.wait(["render_onprem", "render_cloud"], timeout_s=1000)
        onprem = run.outputs["prepare_onprem"]
        run_id, port = onprem["run_id"], int(onprem["port"])
        doc = dynamic_run(port, run_id)  # split dynamic: the default for more than two sites
        assert doc["config"]["tile_px"] == 128 and doc["config"]["palette"] == "electric"
        assert doc["config"]["view"] == {"cx": FLAKE.cx, "cy": FLAKE.cy, "width": "1.7e-157"}
        assert doc["config"]["max_iter"] == 50_000

        # What the page's "Render this view" does with the control link's token; the serving
        # sites (each started once its first render ended) claim its tiles.
        control_token = (Path(onprem["workdir"]) / "control-token").read_text().strip()
        second = RenderConfig(grid=4, tile_px=128, center=(-0.1, 0.8), width=0.5,
                              sites=("cloud", "onprem", "extra1"), split="dynamic")
        status, answer = http_json("PUT", f"http://127.0.0.1:{port}/api/runs/zoom-1",
                                   second.run_json(), token=control_token)
        assert status == 201, answer
        wait_for(lambda: http_json("GET", f"http://127.0.0.1:{port}/api/runs/zoom-1")[1]
                 .get("complete"), 300, f"the serving sites to render zoom-1\n{run.report()}")
        dynamic_run(port, "zoom-1")

        serving = ["serve_onprem", "serve_cloud", "serve_extra"]
        run.wait(["render_extra", "summary"] + serving, timeout_s=240)  # serve jobs: idle exit
        for job in serving:
            log = "".join(run.logs[job])
            assert "nothing to do for" in log, run.report()  # the idle exit, logged
            assert "served every run offered" in log, run.report()
        assert run.status["dashboard"] == "running", run.report()
        assert run.status["tunnel"] == "running", "the tunnel must stay for later runs"

        session = run.sessions[0]
        assert session["name"] == "dashboard" and session["target"] == "onprem-0001"
        assert int(session["remotePort"]) == port and session["remoteHost"] == "localhost"
        assert session["localPort"].isdigit() and session["local_port"] == session["localPort"]

        for prepare in ("prepare_onprem", "prepare_cloud"):  # numba installed, kernel warmed up
            assert "kernel backend: numba" in "".join(run.logs[prepare]), run.report()

        summary = "".join(run.logs["summary"])
        assert "tiles: 16/16" in summary, run.report()
        read_only = f"https://activate.example/me/session/tester/dashboard/?run={run_id}"
        assert read_only in summary, summary
        control = Path(onprem["workdir"]) / "control-token"
        assert stat.S_IMODE(control.stat().st_mode) == 0o600
        assert f"control link: {read_only}#key={control_token}" in summary, summary
        cloud_work = Path(run.outputs["prepare_cloud"]["workdir"])
        assert cloud_work.is_relative_to(tmp_path / "cloud") and run.job_id in str(cloud_work)
        extra_work = tmp_path / "extra" / "mpi-render-runs" / run.job_id / "extra1"
        # Each Slurm site: one sbatch for the first render, a second one serving.
        for work in (cloud_work, extra_work):
            assert len(list(work.glob("slurm-*.out"))) == 2, f"{work}: two sbatch jobs"
        assert "extra1: every tile it rendered is stored" in "".join(run.logs["render_extra"])
        for work in (Path(onprem["workdir"]), cloud_work, extra_work):
            assert stat.S_IMODE((work / "token").stat().st_mode) == 0o600
    finally:
        finish_leaving_nothing(run)

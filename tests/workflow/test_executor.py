"""workflow.yaml run for real by the local executor: two resources (two directories), the cloud
half through the real single-node Slurm, the dashboard and tunnel as on ACTIVATE.

Ends with every tile on the dashboard, the session bound to the dashboard's port, the summary
(and the control link) printed, and (after cleanup) no process of the run left: every process
the run starts inherits PW_JOB_ID, so /proc tells exactly which are its own. With
advanced.serve_minutes > 0 the sites then serve a run made with the control token, and stop by
themselves once idle.
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from support import REPO, http_json, wait_for
from workflow.executor import Executor, Resource, load_workflow

from mpi_render.config import RenderConfig
from mpi_render.launch.processes import alive

pytestmark = [pytest.mark.integration, pytest.mark.slurm]
SEED = {"onprem_resource": "pw://user/onprem_resource", "cloud_resource": "pw://user/cloud_cluster",
        # The seed's shape; grid 4 / 128 px (allowed values) keep it fast.
        "render_settings": {"grid_size": "4", "image_size": "128", "palette": "electric"}}


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
    """The workflow on two resource directories (the cloud one on the local Slurm), started."""
    job_id = f"t{os.getpid()}{int(time.time()) % 100000}"
    resources = {
        SEED["onprem_resource"]: Resource(SEED["onprem_resource"], "onprem-0001", "onprem.test",
                                          tmp_path / "onprem"),
        SEED["cloud_resource"]: Resource(SEED["cloud_resource"], "cloud-0002", "cloud.test",
                                         tmp_path / "cloud", scheduler="slurm", provider="aws",
                                         env={"SLURM_CONF": str(slurm.conf)}),
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


def site_tiles(port: int, run_id: str) -> dict[str, int]:
    status, doc = http_json("GET", f"http://127.0.0.1:{port}/api/runs/{run_id}")
    assert status == 200 and doc["complete"], doc
    return {name: site["stored"] for name, site in doc["sites"].items()}


@pytest.mark.timeout(900)
def test_workflow_renders_every_tile_across_both_resources(tmp_path, slurm):
    run = start_workflow(tmp_path, slurm, SEED)
    try:
        run.wait(["summary"], timeout_s=720)
        run.wait(["tunnel"], timeout_s=60)  # it closes itself once the run is complete
        run.wait(["serve_onprem", "serve_cloud"], timeout_s=60)  # serving is off by default
        assert run.status["dashboard"] == "running", run.report()
        for job in ("serve_onprem", "serve_cloud"):
            assert "serving is off" in "".join(run.logs[job]), run.report()

        onprem = run.outputs["prepare_onprem"]
        run_id, port = onprem["run_id"], int(onprem["port"])
        status, doc = http_json("GET", f"http://127.0.0.1:{port}/api/runs/{run_id}")
        assert status == 200 and doc["complete"], (doc, run.report())
        assert doc["stored"] == doc["total"] == 16
        assert site_tiles(port, run_id) == {"cloud": 8, "onprem": 8}
        assert doc["config"]["tile_px"] == 128 and doc["config"]["palette"] == "electric"

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
        assert f"control link: {read_only}#key={control.read_text().strip()}" in summary, summary
        cloud_work = Path(run.outputs["prepare_cloud"]["workdir"])
        assert cloud_work.is_relative_to(tmp_path / "cloud") and run.job_id in str(cloud_work)
        assert list(cloud_work.glob("slurm-*.out")), "the cloud half did not go through sbatch"
        for work in (Path(onprem["workdir"]), cloud_work):
            assert stat.S_IMODE((work / "token").stat().st_mode) == 0o600
    finally:
        finish_leaving_nothing(run)


@pytest.mark.timeout(900)
def test_serving_sites_render_a_run_made_with_the_control_token_then_exit_when_idle(tmp_path,
                                                                                      slurm):
    # 0.2 idle minutes: the sites stop by themselves 12 s after their last work.
    inputs = dict(SEED, advanced={"serve_minutes": 0.2})
    run = start_workflow(tmp_path, slurm, inputs)
    try:
        run.wait(["render_onprem", "render_cloud"], timeout_s=720)
        onprem = run.outputs["prepare_onprem"]
        run_id, port = onprem["run_id"], int(onprem["port"])
        assert site_tiles(port, run_id) == {"cloud": 8, "onprem": 8}

        # What the page's "Render this view" does with the control link's token.
        control_token = (Path(onprem["workdir"]) / "control-token").read_text().strip()
        second = RenderConfig(grid=4, tile_px=128, center=(-0.1, 0.8), width=0.5,
                              sites=("cloud", "onprem"))
        status, doc = http_json("PUT", f"http://127.0.0.1:{port}/api/runs/zoom-1",
                                second.run_json(), token=control_token)
        assert status == 201, doc
        wait_for(lambda: http_json("GET", f"http://127.0.0.1:{port}/api/runs/zoom-1")[1]
                 .get("complete"), 300, f"the serving sites to render zoom-1\n{run.report()}")
        assert site_tiles(port, "zoom-1") == {"cloud": 8, "onprem": 8}

        run.wait(["serve_onprem", "serve_cloud", "summary"], timeout_s=180)  # idle exit
        for job in ("serve_onprem", "serve_cloud"):
            log = "".join(run.logs[job])
            assert "nothing to do for" in log, run.report()  # the idle exit, logged
            assert "served every run offered" in log, run.report()
        cloud_work = Path(run.outputs["prepare_cloud"]["workdir"])
        assert len(list(cloud_work.glob("slurm-*.out"))) == 2, "the serving cloud site: sbatch"
        assert run.status["tunnel"] == "running", "the tunnel must stay for later runs"
        summary = "".join(run.logs["summary"])
        assert f"#key={control_token}" in summary, summary
    finally:
        finish_leaving_nothing(run)

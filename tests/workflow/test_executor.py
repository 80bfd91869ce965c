"""workflow.yaml run for real by the local executor: three resources (three directories) and
three sites: on-prem with mpiexec, the cloud cluster and one extra cluster (the extra_clusters
list input) both through the real single-node Slurm, the dashboard and tunnels as on ACTIVATE.
With three sites the split defaults to dynamic: the sites claim the tiles.

Ends with every tile on the dashboard, the session bound to the dashboard's port, the summary
printed, and (after cleanup) no process of the run left: every process the run starts inherits
PW_JOB_ID, so /proc tells exactly which are its own.
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from support import REPO, http_json
from workflow.executor import Executor, Resource, load_workflow

from mpi_render.launch.processes import alive

pytestmark = [pytest.mark.integration, pytest.mark.slurm]
SEED = {"onprem_resource": "pw://user/onprem_resource", "cloud_resource": "pw://user/cloud_cluster",
        # The seed's shape; grid 4 / 128 px (allowed values) keep it fast.
        "render_settings": {"grid_size": "4", "image_size": "128", "palette": "electric"}}
EXTRA = "pw://user/extra_cluster"
INPUTS = dict(SEED, extra_clusters=[{"resource": EXTRA, "scheduler": True, "ranks": 2}])


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


@pytest.mark.timeout(1200)
def test_workflow_renders_every_tile_across_three_sites_two_on_slurm(tmp_path, slurm):
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
    run = Executor(load_workflow(REPO / "workflow.yaml"), INPUTS, resources, tmp_path / "platform",
                   REPO, job_id=job_id)
    run.start()
    try:
        run.wait(["summary"], timeout_s=1000)
        run.wait(["tunnel"], timeout_s=60)  # it closes itself once the run is complete
        assert run.status["dashboard"] == "running", run.report()

        onprem = run.outputs["prepare_onprem"]
        run_id, port = onprem["run_id"], int(onprem["port"])
        status, doc = http_json("GET", f"http://127.0.0.1:{port}/api/runs/{run_id}")
        assert status == 200 and doc["complete"], (doc, run.report())
        assert doc["stored"] == doc["total"] == 16
        assert doc["config"]["sites"] == ["cloud", "onprem", "extra1"]
        assert doc["config"]["split"] == "dynamic"  # the default for more than two sites
        assert sum(s["stored"] for s in doc["sites"].values()) == 16, doc["sites"]
        assert all(s["owned"] is None for s in doc["sites"].values())
        assert doc["config"]["tile_px"] == 128 and doc["config"]["palette"] == "electric"

        session = run.sessions[0]
        assert session["name"] == "dashboard" and session["target"] == "onprem-0001"
        assert int(session["remotePort"]) == port and session["remoteHost"] == "localhost"
        assert session["localPort"].isdigit() and session["local_port"] == session["localPort"]

        for prepare in ("prepare_onprem", "prepare_cloud"):  # numba installed, kernel warmed up
            assert "kernel backend: numba" in "".join(run.logs[prepare]), run.report()

        summary = "".join(run.logs["summary"])
        assert "tiles: 16/16" in summary, run.report()
        assert (f"https://activate.example/me/session/tester/dashboard/?run={run_id}"
                in summary), summary
        cloud_work = Path(run.outputs["prepare_cloud"]["workdir"])
        assert cloud_work.is_relative_to(tmp_path / "cloud") and job_id in str(cloud_work)
        assert list(cloud_work.glob("slurm-*.out")), "the cloud half did not go through sbatch"
        extra_work = tmp_path / "extra" / "mpi-render-runs" / job_id / "extra1"
        assert list(extra_work.glob("slurm-*.out")), "the extra site did not go through sbatch"
        assert "extra1: every tile it rendered is stored" in "".join(run.logs["render_extra"])
        for work in (Path(onprem["workdir"]), cloud_work, extra_work):
            assert stat.S_IMODE((work / "token").stat().st_mode) == 0o600
    finally:
        failures = run.finish()
    assert not failures, failures
    assert run.status["dashboard"] == "cancelled", run.report()
    deadline = time.monotonic() + 30
    while processes_with_env("PW_JOB_ID", job_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_with_env("PW_JOB_ID", job_id), run.report()

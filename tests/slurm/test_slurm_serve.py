"""A serving site job under the local Slurm (``sbatch --wait scripts/render.sbatch --serve``,
``srun --mpi=pmi2`` ranks): it picks up a run created after it started, renders the run and
ends by ``--idle-exit`` with exit 0, so ``sbatch --wait`` succeeds too.
"""
from __future__ import annotations

import subprocess

import pytest
from support import REPO, VENV_BIN, wait_for

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.slurm, pytest.mark.integration, pytest.mark.timeout(300)]
SBATCH_SCRIPT = REPO / "scripts" / "render.sbatch"
CONFIG = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64, sites=("cloud",),
                      split="dynamic")


def test_a_serving_slurm_job_picks_up_a_run_created_after_it_started(slurm, dashboard, tmp_path):
    env = dict(slurm.env, MPI_RENDER_VENV=str(VENV_BIN.parent), MPI_RENDER_SITE="cloud",
               MPI_RENDER_DASHBOARD_URL=dashboard.url,
               MPI_RENDER_TOKEN_FILE=str(dashboard.token_file))
    job = subprocess.Popen(["sbatch", "--wait", "-n", "2", "-o", str(tmp_path / "job-%j.out"),
                            str(SBATCH_SCRIPT), "--serve", "--idle-exit", "3"],
                           env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)

    def output() -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in tmp_path.glob("job-*.out"))

    try:
        wait_for(lambda: "serving site cloud" in output() or job.poll() is not None, 120,
                 "the serving job to start")
        assert job.poll() is None, f"{output()}\n{slurm.log()}"
        status, _ = dashboard.api("PUT", "api/runs/slurm-serve", CONFIG.run_json())
        assert status == 201, dashboard.log()
        wait_for(lambda: dashboard.api("GET", "api/runs/slurm-serve")[1]["complete"], 60,
                 f"slurm-serve complete\n{output()}")
        sbatch_out, _ = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 0, f"{sbatch_out}\n{output()}\n{slurm.log()}"
    _, doc = dashboard.api("GET", "api/runs/slurm-serve")
    assert doc["stored"] == doc["seq"] == CONFIG.total_tiles, doc
    assert "srun --mpi=pmi2" in output() and "rank 1/2" in output(), output()

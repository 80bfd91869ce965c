"""The Slurm launch path, for real: a local single-node Slurm (the session fixture ``slurm``), the
batch script ``scripts/render.sbatch`` under ``sbatch --wait``, ``srun --mpi=pmi2`` ranks of the
``mpich`` wheel, and a second site launched with ``mpiexec -f hostfiles/localhost`` at the same
time, both posting to a real dashboard.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import REPO, VENV_BIN, mpiexec, run

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.slurm, pytest.mark.integration, pytest.mark.timeout(600)]

SBATCH_SCRIPT = REPO / "scripts" / "render.sbatch"
HOSTFILE = REPO / "hostfiles" / "localhost"
CONFIG = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64, sites=("cloud", "onprem"))
JOB_TIMEOUT_S = 240


def render_flags(config: RenderConfig) -> list[str]:
    """The mpi-render flags that describe ``config`` (the part every site must agree on)."""
    cx, cy = config.center
    return ["--grid", str(config.grid), "--tile", str(config.tile_px), "--palette", config.palette,
            "--max-iter", str(config.max_iter), f"--center={cx},{cy}", "--width",
            str(config.width), "--sites", ",".join(config.sites), "--split", config.split]


def job_output(workdir: Path) -> str:
    """Everything the batch jobs under ``workdir`` printed (their -o files)."""
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                     for p in sorted(workdir.glob("job-*.out")))


def sbatch_env(slurm, dashboard, run_id: str, site: str) -> dict:
    env = dict(slurm.env)
    env.update(MPI_RENDER_VENV=str(VENV_BIN.parent), MPI_RENDER_DASHBOARD_URL=dashboard.url,
               MPI_RENDER_RUN=run_id, MPI_RENDER_TOKEN_FILE=str(dashboard.token_file),
               MPI_RENDER_SITE=site)
    return env


def test_one_site_through_sbatch_and_one_through_mpiexec_store_every_tile(
        slurm, dashboard, tmp_path):
    run_id = "slurm-two-sites"
    status, _ = dashboard.api("PUT", f"api/runs/{run_id}", CONFIG.run_json())
    assert status == 201, dashboard.log()

    cloud = subprocess.Popen(
        ["sbatch", "--wait", "-n", "2", "-o", str(tmp_path / "job-%j.out"), str(SBATCH_SCRIPT),
         *render_flags(CONFIG)],
        env=sbatch_env(slurm, dashboard, run_id, "cloud"), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run([mpiexec(), "-f", str(HOSTFILE), "-n", "2", str(VENV_BIN / "python"), "-m", "mpi4py",
             "-m", "mpi_render", "--site", "onprem", "--dashboard", dashboard.url, "--run", run_id,
             "--token-file", str(dashboard.token_file), *render_flags(CONFIG)],
            timeout=JOB_TIMEOUT_S, cwd=tmp_path)
        sbatch_out, _ = cloud.communicate(timeout=JOB_TIMEOUT_S)
    finally:
        if cloud.poll() is None:
            cloud.kill()
            cloud.wait()
    assert cloud.returncode == 0, (f"sbatch --wait exited {cloud.returncode}\n{sbatch_out}\n"
                                   f"{job_output(tmp_path)}\n{slurm.log()}\n{dashboard.log()}")

    status, doc = dashboard.api("GET", f"api/runs/{run_id}")
    assert status == 200, doc
    assert (doc["stored"], doc["total"], doc["complete"]) == (16, 16, True), doc
    assert doc["missing"] == []
    owned = CONFIG.owned()
    for site in CONFIG.sites:
        assert doc["sites"][site]["stored"] == len(owned[site]), (site, doc["sites"])


def test_srun_pmi2_gives_one_world_of_slurm_ntasks_ranks(slurm):
    probe = ("import os, sys; from mpi4py import MPI; w = MPI.COMM_WORLD; "
             "sys.stdout.write(f\"{w.rank} {w.size} {os.environ['SLURM_NTASKS']}\\n\")")
    proc = slurm.srun("--mpi=pmi2", "-n", "2", str(VENV_BIN / "python"), "-c", probe)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{slurm.log()}"
    assert sorted(proc.stdout.split("\n")[:-1]) == ["0 2 2", "1 2 2"], proc.stdout


def test_failing_site_job_makes_sbatch_wait_fail(slurm, dashboard, tmp_path):
    """A bad flag makes mpi-render exit 2 on every rank; the job, and sbatch --wait, fail too.

    ``-n 3`` on the command line also checks that it overrides the script's ``#SBATCH --ntasks``.
    """
    proc = slurm.sbatch("--wait", "-n", "3", "-o", str(tmp_path / "job-%j.out"),
                        str(SBATCH_SCRIPT), *render_flags(CONFIG), "--grid", "0",
                        env=sbatch_env(slurm, dashboard, "slurm-bad-grid", "cloud"),
                        cwd=tmp_path, timeout_s=JOB_TIMEOUT_S)
    output = job_output(tmp_path)
    assert proc.returncode == 2, f"{proc.stdout}\n{output}"  # mpi-render's bad-input code
    assert "3 tasks" in output and "grid" in output, output


def test_sbatch_script_without_a_venv_exits_2_and_says_how_to_fix_it(slurm, tmp_path):
    env = dict(slurm.env, MPI_RENDER_VENV=str(tmp_path / "no-venv"))
    proc = slurm.sbatch("--wait", "-o", str(tmp_path / "job-%j.out"), str(SBATCH_SCRIPT),
                        env=env, cwd=tmp_path, timeout_s=JOB_TIMEOUT_S)
    output = job_output(tmp_path)
    assert proc.returncode == 2, f"{proc.stdout}\n{proc.stderr}\n{output}"
    assert "MPI_RENDER_VENV" in output, output


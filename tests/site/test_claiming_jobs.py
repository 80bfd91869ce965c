"""Claiming site jobs as a user runs them: real ``mpiexec``, a real dashboard process.

* ``--split dynamic``: two sites of unequal size share a run; the mosaic is byte-identical to
  a serial render and every tile is stored once; a cancelled run stops the job (exit 1).
* ``--serve``: newest run first, static and dynamic runs alike, a run created later is picked
  up within about a second, ``--idle-exit`` ends the job with 0; bad combinations exit 2.
"""
from __future__ import annotations

import dataclasses
import time

import pytest
from reliability.sitejob import DYNAMIC_CONFIG, SiteJob, assert_complete_once, run_doc, wait_run_stored
from support import VENV_BIN, http, mpiexec, run, wait_for

from mpi_render import tile as tile_mod
from mpi_render.config import RenderConfig
from mpi_render.tiling import tile_position

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
SITES = DYNAMIC_CONFIG.sites


def test_two_dynamic_sites_of_unequal_size_share_a_run_byte_for_byte(tmp_path, dashboard):
    big = SiteJob(tmp_path, SITES[0], dashboard.url, "dyn-share", dashboard.token_file,
                  config=DYNAMIC_CONFIG, ranks=2, pace_s=0.05)
    small = SiteJob(tmp_path, SITES[1], dashboard.url, "dyn-share", dashboard.token_file,
                    config=DYNAMIC_CONFIG, ranks=1, pace_s=0.05)
    with big, small:
        codes = [big.wait(timeout_s=60), small.wait(timeout_s=60)]
    assert codes == [0, 0], big.output()[-3000:] + small.output()[-3000:]
    doc = assert_complete_once(dashboard, "dyn-share", big, small)
    shares = {site: doc["sites"][site]["stored"] for site in SITES}
    assert all(shares.values()) and all(doc["sites"][s]["owned"] is None for s in SITES), shares
    for index in range(DYNAMIC_CONFIG.total_tiles):
        row, col = tile_position(DYNAMIC_CONFIG.grid, index)
        status, png = http("GET", f"{dashboard.url}api/runs/dyn-share/tiles/{row}/{col}.png")
        assert status == 200
        assert png == tile_mod.render_tile(DYNAMIC_CONFIG, row, col, "numpy").png, (row, col)


def test_a_cancelled_dynamic_run_stops_the_job_with_exit_1(tmp_path, dashboard):
    job = SiteJob(tmp_path, SITES[0], dashboard.url, "dyn-cancel", dashboard.token_file,
                  config=DYNAMIC_CONFIG, pace_s=0.2)
    with job:
        wait_run_stored(dashboard, "dyn-cancel", at_least=2)
        status, _ = dashboard.api("POST", "api/runs/dyn-cancel/cancel", {})
        assert status == 200, dashboard.log()
        code = job.wait(timeout_s=30)
    output = job.output()
    assert code == 1, output[-4000:]
    assert "run dyn-cancel was cancelled on the dashboard" in output, output[-4000:]
    assert not job.spool.exists(), list(job.spool.rglob("*"))
    assert run_doc(dashboard, "dyn-cancel")["stored"] < DYNAMIC_CONFIG.total_tiles


def test_a_drained_dynamic_job_sends_its_last_tiles_at_once(tmp_path, dashboard):
    """Once nothing is left to claim (the end game) the poster sends every tile at once: batches
    that would wait a minute for their age do not hold the run's completion up (nor the job,
    which ends once the run is complete)."""
    config = dataclasses.replace(DYNAMIC_CONFIG, grid=3)  # 9 tiles: one batch, never full
    job = SiteJob(tmp_path, SITES[0], dashboard.url, "dyn-hurry", dashboard.token_file,
                  config=config, ranks=1, pace_s=0.0, extra_args=("--batch-age-ms", "60000"))
    with job:
        wait_run_stored(dashboard, "dyn-hurry", at_least=9, timeout_s=30)
        assert job.wait(timeout_s=30) == 0, job.output()[-3000:]
    assert run_doc(dashboard, "dyn-hurry")["sites"][SITES[0]]["stored"] == 9


def put_run(dashboard, run_id: str, config) -> float:
    status, doc = dashboard.api("PUT", f"api/runs/{run_id}", config.run_json())
    assert status == 201, (status, doc, dashboard.log())
    return time.monotonic()


def test_serve_takes_newest_first_static_and_dynamic_then_idles_out(tmp_path, dashboard):
    small = RenderConfig(grid=3, tile_px=32, max_iter=64, palette="ocean", sites=SITES,
                         split="dynamic")
    put_run(dashboard, "serve-old", small)
    time.sleep(0.05)  # created_at orders the runs
    put_run(dashboard, "serve-new", small)
    job = SiteJob(tmp_path, SITES[0], dashboard.url, None, dashboard.token_file, pace_s=0.05,
                  extra_args=("--idle-exit", "2"))
    with job:
        for run_id in ("serve-old", "serve-new"):
            wait_for(lambda run_id=run_id: run_doc(dashboard, run_id)["complete"], 60,
                     f"{run_id} complete\n{job.output()[-3000:]}")
        created = put_run(dashboard, "serve-static", RenderConfig(
            grid=4, tile_px=32, max_iter=64, sites=(SITES[1], SITES[0])))
        wait_run_stored(dashboard, "serve-static", at_least=1, timeout_s=10)
        pickup_s = time.monotonic() - created
        wait_for(lambda: run_doc(dashboard, "serve-static")["sites"][SITES[0]]["stored"] == 8,
                 30, f"the site's half of serve-static\n{job.output()[-3000:]}")
        code = job.wait(timeout_s=30)
    assert code == 0, job.output()[-4000:]
    first_at = {r: run_doc(dashboard, r)["sites"][SITES[0]]["first_at"]
                for r in ("serve-old", "serve-new")}
    assert first_at["serve-new"] < first_at["serve-old"], first_at
    # First tile stored: pickup + one paced tile + the poster's 250 ms batching.
    assert pickup_s < 1.5, (pickup_s, job.output()[-3000:])
    doc = run_doc(dashboard, "serve-static")
    assert doc["sites"][SITES[1]]["stored"] == 0, doc["sites"]  # only the site's own tiles
    for run_id in ("serve-old", "serve-new"):
        assert_complete_once(dashboard, run_id, job)
    assert "(--idle-exit); stopping" in job.output()


MPI_RENDER = str(VENV_BIN / "mpi-render")


@pytest.mark.parametrize("args, message", [
    (["--serve", "--grid", "4", "--site", "a"], "--serve takes each run's image from the dashboard"),
    (["--site", "a", "--sites", "a,b", "--out", "D", "--idle-exit", "5"],
     "--idle-exit applies to --serve only"),
    (["--site", "a", "--sites", "a,b", "--split", "dynamic", "--out", "D"],
     "--split dynamic claims tiles from the dashboard"),
], ids=["serve-image-flag", "idle-exit-alone", "dynamic-without-dashboard"])
def test_bad_claiming_flags_under_mpiexec_exit_2_on_every_rank(tmp_path, dashboard, args, message):
    argv = [mpiexec(), "-n", "2", MPI_RENDER, *args, "--token-file", str(dashboard.token_file)]
    if "--serve" in args:
        argv += ["--dashboard", dashboard.url]
    proc = run(argv, timeout=60, check=False, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and message in errors[0], proc.stderr

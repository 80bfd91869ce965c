"""Deep views in real site jobs: one reference per job shared by the ranks, the same bytes from
every site and backend, the reference's progress reported, the kernel named in each tile.

Real ``mpiexec`` jobs and a real dashboard process; the views are the Flake (width 1.7e-157,
50,000 iterations) on a small grid, and a view centred inside the set whose reference orbit runs
its whole ``max_iter`` (long enough to be announced).
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from reliability.sitejob import SiteJob, assert_complete_once, image_args
from support import VENV_BIN, http, mpi_env, mpiexec, run, wait_for

from mpi_render import tile as tile_mod
from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS
from mpi_render.tiling import tile_position

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
FLAKE = LOCATIONS["flake"]
DEEP = RenderConfig(grid=2, tile_px=32, palette="cosmic", max_iter=FLAKE.max_iter,
                    center=(FLAKE.cx, FLAKE.cy), width=FLAKE.width, sites=("fast", "slow"),
                    split="dynamic")
# Inside the main cardioid: the reference never escapes, so its orbit runs all of max_iter
# (seconds at this depth): the phase a site announces. Every pixel is inside too.
SLOW_ORBIT = RenderConfig(grid=1, tile_px=16, palette="fire", max_iter=3_000_000,
                          center=("-0.1", "0.1"), width="1e-40", sites=("fast",),
                          split="dynamic")


def serial_png(config: RenderConfig, index: int, reference) -> bytes:
    return tile_mod.render_tile(config, *tile_position(config.grid, index), "numba",
                                reference=reference).png


def stored_meta(dashboard, run_id: str) -> list[dict]:
    with sqlite3.connect(dashboard.data_dir / "dashboard.sqlite3") as conn:
        return [json.loads(meta) for (meta,) in conn.execute(
            "SELECT meta FROM tiles WHERE run = ?", (run_id,))]


def test_a_static_job_computes_one_reference_and_every_rank_renders_the_serial_tiles(tmp_path):
    config = dataclasses.replace(DEEP, sites=("a",), split="contiguous")
    out = tmp_path / "out"
    done = run([mpiexec(), "-n", "3", str(VENV_BIN / "mpi-render"), *image_args(config),
                "--site", "a", "--out", str(out)], timeout=180, cwd=tmp_path, env=mpi_env())
    assert done.stderr.count("reference orbit of 35170 iterations") == 1, done.stderr
    assert "reference broadcast to 2 ranks" in done.stderr, done.stderr
    assert (f"view: centre {FLAKE.cx}, {FLAKE.cy}, width 1.7e-157, max_iter 50000, the "
            f"perturbation kernel") in done.stderr, done.stderr  # the log carries it digit for digit
    reference = tile_mod.prepare_reference(config)
    for index in range(config.total_tiles):
        row, col = tile_position(config.grid, index)
        assert (out / f"r{row}c{col}.png").read_bytes() == serial_png(config, index, reference)


def test_two_sites_numba_and_numpy_store_the_same_bytes_in_a_dynamic_deep_run(tmp_path,
                                                                             dashboard):
    fast = SiteJob(tmp_path, "fast", dashboard.url, "deep-dyn", dashboard.token_file,
                   config=DEEP, ranks=1, pace_s=0.0, extra_args=("--backend", "numba"))
    slow = SiteJob(tmp_path, "slow", dashboard.url, "deep-dyn", dashboard.token_file,
                   config=DEEP, ranks=1, pace_s=0.0)  # SiteJob's default backend: numpy
    with fast, slow:
        codes = [fast.wait(timeout_s=180), slow.wait(timeout_s=180)]
    assert codes == [0, 0], fast.output()[-3000:] + slow.output()[-3000:]
    for job in (fast, slow):  # each site prepares the (same) reference itself, once
        assert job.output().count("reference orbit of 35170 iterations") == 1, job.output()
    assert_complete_once(dashboard, "deep-dyn", fast, slow)
    reference = tile_mod.prepare_reference(DEEP)
    for index in range(DEEP.total_tiles):
        row, col = tile_position(DEEP.grid, index)
        status, png = http("GET", f"{dashboard.url}api/runs/deep-dyn/tiles/{row}/{col}.png")
        assert status == 200 and png == serial_png(DEEP, index, reference), (row, col)
    assert {meta["kernel"] for meta in stored_meta(dashboard, "deep-dyn")} == {"perturbation"}


def test_a_serving_site_announces_a_slow_reference_then_renders_the_run(tmp_path, dashboard):
    server = SiteJob(tmp_path, "fast", dashboard.url, None, dashboard.token_file, ranks=2,
                     pace_s=0.0, extra_args=("--backend", "numba", "--log-level", "INFO"))
    with server:
        status, doc = dashboard.api("PUT", "api/runs/slow-orbit", SLOW_ORBIT.run_json())
        assert status == 201, doc
        wait_for(lambda: dashboard.api("GET", "api/runs/slow-orbit", auth=False)[1]["complete"],
                 180, "the slow-orbit run to complete")
        doc = dashboard.api("GET", "api/runs/slow-orbit", auth=False)[1]
    assert doc["phases"]["fast"] == {"site": "fast", "phase": "reference",
                                     "done": 3_000_000, "total": 3_000_000,
                                     "elapsed_s": pytest.approx(doc["phases"]["fast"]["elapsed_s"])}
    assert doc["phases"]["fast"]["elapsed_s"] >= 1.0
    output = server.output()
    assert "run slow-orbit: reference orbit" in output and "% (" in output, output[-3000:]
    assert {meta["kernel"] for meta in stored_meta(dashboard, "slow-orbit")} == {"perturbation"}

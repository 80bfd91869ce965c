"""The site job as a user runs it: real mpiexec, real console script, real dashboard process."""
import io
import re
import shlex
import sys
import time

import pytest
from PIL import Image
from support import VENV_BIN, Dashboard, http, mpi_env, mpiexec, run

from mpi_render import tile as tile_mod
from mpi_render.config import RenderConfig
from mpi_render.tiling import site_tiles, tile_position

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
MPI_RENDER = str(VENV_BIN / "mpi-render")
IMAGE = ["--grid", "4", "--tile", "64", "--palette", "fire", "--sites", "onprem,cloud",
         "--max-iter", "128"]
CONFIG = RenderConfig(grid=4, tile_px=64, palette="fire", max_iter=128, sites=("onprem", "cloud"))


def serial_png(config: RenderConfig, index: int) -> bytes:
    return tile_mod.render_tile(config, *tile_position(config.grid, index), "numpy").png


def test_done_when_command_writes_exactly_the_site_tiles(tmp_path):
    out = tmp_path / "D"
    run([mpiexec(), "-n", "3", MPI_RENDER, "--grid", "4", "--tile", "64", "--palette", "fire",
         "--site", "onprem", "--sites", "onprem,cloud", "--out", str(out)], timeout=180,
        cwd=tmp_path)
    config = RenderConfig(grid=4, tile_px=64, palette="fire", sites=("onprem", "cloud"))
    expected = {f"r{r}c{c}.png": index for index in site_tiles(4, ["onprem", "cloud"], "onprem")
                for r, c in [tile_position(4, index)]}
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for name, index in expected.items():
        data = (out / name).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "P", (64, 64))
        assert data == serial_png(config, index), name


SCRIPT = [MPI_RENDER]
MPI4PY = [sys.executable, "-m", "mpi4py", "-m", "mpi_render"]


@pytest.mark.parametrize("launch, bad, message", [
    (SCRIPT, ["--grid", "65"], "grid must be an integer in 1..64"),
    (MPI4PY, ["--grid", "65"], "grid must be an integer in 1..64"),
    (SCRIPT, ["--palette", "rainbow"], "unknown palette 'rainbow'"),
    (SCRIPT, ["--site", "mars"], "--site 'mars' is not in --sites onprem,cloud"),
    (MPI4PY, ["--weights", "0.2,0.2"], "weights must sum to 1"),
    (SCRIPT, ["--dashboard", "http://127.0.0.1:1/", "--token-file", "/nonexistent"],
     "cannot read token file"),
], ids=["grid", "grid-mpi4py", "palette", "site", "weights-mpi4py", "token"])
def test_bad_input_under_mpiexec_exits_2_quickly_on_every_rank(tmp_path, launch, bad, message):
    argv = [mpiexec(), "-n", "2", *launch, *IMAGE, "--site", "onprem", "--out", "D", *bad]
    started = time.monotonic()
    proc = run(argv, timeout=60, check=False, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - started < 30
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("mpi-render: error: "), proc.stderr
    assert message in errors[0]
    assert not (tmp_path / "D").exists()


def test_srun_without_mpi_wiring_is_refused_with_a_hint(tmp_path):
    # What each task sees after `srun -n 3` without --mpi: SLURM_NTASKS=3, a world of 1.
    proc = run([sys.executable, "-m", "mpi_render", *IMAGE, "--site", "onprem", "--out", "D"],
               timeout=60, check=False, cwd=tmp_path,
               env=mpi_env({"SLURM_NTASKS": "3", "SLURM_PROCID": "0"}))
    assert proc.returncode == 2
    assert "Slurm started 3 tasks but MPI sees a world of 1" in proc.stderr
    assert "srun --mpi=pmi2" in proc.stderr


def site_job(dashboard: Dashboard, site: str, ranks: int, *extra, check=True, cwd=None):
    return run([mpiexec(), "-n", str(ranks), MPI_RENDER, *IMAGE, "--site", site,
                "--dashboard", dashboard.url, "--run", "it1", "--token-file",
                str(dashboard.token_file), *extra], timeout=180, check=check, cwd=cwd)


def test_two_sites_fill_the_real_dashboard_with_the_serial_image(dashboard, tmp_path):
    site_job(dashboard, "onprem", 3, cwd=tmp_path)
    site_job(dashboard, "cloud", 2, cwd=tmp_path)
    status, doc = dashboard.api("GET", "api/runs/it1")
    assert status == 200 and doc["complete"] and doc["stored"] == 16, doc
    assert RenderConfig.from_run_json(doc["config"]) == CONFIG  # equal as decimals
    for index in range(16):
        row, col = tile_position(4, index)
        status, png = http("GET", f"{dashboard.url}api/runs/it1/tiles/{row}/{col}.png")
        assert status == 200 and png == serial_png(CONFIG, index), (row, col)
    again = site_job(dashboard, "cloud", 2, "--only-missing", cwd=tmp_path)
    assert "0 of the site's 8 tiles to render" in again.stderr
    assert not (tmp_path / "mpi-render-spool" / "it1" / "cloud").exists()


def test_a_dashboard_outage_ends_in_the_spool_and_the_printed_command_resends(tmp_path):
    dashboard = Dashboard(tmp_path / "dash")  # not started yet: the dashboard is "down"
    proc = site_job(dashboard, "onprem", 2, "--deadline", "2", check=False, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "8 tiles (1 batches) are spooled in" in proc.stderr
    command = re.search(r"resend them with: (.+)$", proc.stderr, re.MULTILINE).group(1)
    with dashboard:
        resent = run(shlex.split(command), timeout=60, cwd=tmp_path)
        assert "8 tiles stored" in resent.stderr
        status, doc = dashboard.api("GET", "api/runs/it1")
    assert status == 200 and doc["sites"]["onprem"]["stored"] == 8, doc
    assert not (tmp_path / "mpi-render-spool" / "it1" / "onprem").exists()

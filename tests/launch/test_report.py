"""Progress and summary text (``mpi_render.launch.report``) from a real dashboard's run documents.

Static runs show ``stored/owned`` per site; dynamic runs, where no site owns a tile (``owned:
null``), show each site's achieved share of the stored tiles, in tiles and per cent.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
from support import Dashboard, http

from dashboard.testing import site_batch, small_config
from mpi_render.launch import report

pytestmark = pytest.mark.integration


def run_doc(owned, missing_site) -> dict:
    """A run document as the dashboard serves it: 15 of 16 tiles, cloud 9, onprem 6, r3c3 missing."""
    return {"stored": 15, "total": 16, "created_at": 100.0,
            "sites": {"cloud": {"stored": 9, "owned": owned, "last_at": 103.0,
                                "render_ms_mean": 2.0},
                      "onprem": {"stored": 6, "owned": owned, "last_at": 102.0,
                                 "render_ms_mean": None}},
            "missing": [{"row": 3, "col": 3, "site": missing_site}]}


def post(dash: Dashboard, run_id: str, config, site: str, indices) -> None:
    content_type, body, _ = site_batch(config, site, indices)
    status, answer = http("POST", f"{dash.url}api/runs/{run_id}/tiles", body, dash.token,
                          headers={"Content-Type": content_type})
    assert status == 200, answer


def report_cli(dash: Dashboard, run_id: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpi_render.launch.report", "--dashboard",
                           dash.url, "--run", run_id], capture_output=True, text=True, timeout=60)


@pytest.fixture
def dash(tmp_path):
    with Dashboard(tmp_path / "dash") as running:
        yield running


def test_dynamic_run_shows_each_sites_achieved_share(dash):
    config = small_config(split="dynamic")  # 4 x 4: 16 tiles, nobody owns any
    assert dash.api("PUT", "api/runs/dyn", config.run_json())[0] == 201
    post(dash, "dyn", config, "cloud", range(0, 9))
    post(dash, "dyn", config, "onprem", range(9, 12))
    status, doc = dash.api("GET", "api/runs/dyn")
    assert status == 200 and doc["sites"]["cloud"]["owned"] is None, doc
    assert report.progress_line(doc) == "tiles 12/16 | cloud 9 (75%) | onprem 3 (25%)"

    partial = report_cli(dash, "dyn")
    assert partial.returncode == 1, partial.stdout + partial.stderr
    lines = partial.stdout.splitlines()
    assert lines[0] == "tiles: 12/16"
    assert lines[1].startswith("site cloud: 9 tiles (75%) in ") and "tiles/s" in lines[1], lines
    assert lines[2].startswith("site onprem: 3 tiles (25%) in "), lines
    assert lines[3] == "missing (dynamic split, no owner): r3c0 r3c1 r3c2 r3c3", lines
    assert "None" not in partial.stdout

    post(dash, "dyn", config, "onprem", range(12, 16))
    done = report_cli(dash, "dyn")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "tiles: 16/16"
    assert lines[1].startswith("site cloud: 9 tiles (56%) in "), lines
    assert lines[2].startswith("site onprem: 7 tiles (44%) in "), lines
    assert "missing" not in done.stdout


def test_static_run_shows_stored_of_owned_and_missing_by_owner(dash):
    config = small_config()  # contiguous: cloud owns tiles 0..7, onprem 8..15
    assert dash.api("PUT", "api/runs/half", config.run_json())[0] == 201
    post(dash, "half", config, "cloud", range(0, 8))
    post(dash, "half", config, "onprem", range(8, 14))
    status, doc = dash.api("GET", "api/runs/half")
    assert report.progress_line(doc) == "tiles 14/16 | cloud 8/8 | onprem 6/8"
    proc = report_cli(dash, "half")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "tiles: 14/16"
    assert lines[1].startswith("site cloud: 8/8 tiles in ")
    assert lines[2].startswith("site onprem: 6/8 tiles in ")
    assert lines[3] == "missing from site onprem: r3c2 r3c3"
    assert lines[4] == "view: centre -0.75, 0.0, width 3.0, max_iter 64"


def test_shares_of_a_dynamic_run_with_nothing_stored_are_zero(dash):
    config = small_config(split="dynamic")
    assert dash.api("PUT", "api/runs/empty", config.run_json())[0] == 201
    doc = dash.api("GET", "api/runs/empty")[1]
    assert report.progress_line(doc) == "tiles 0/16 | cloud 0 (0%) | onprem 0 (0%)"
    assert report.summary_lines(doc)[1] == "site cloud: 0 tiles (0%) in - s (- tiles/s), mean render -"


def test_the_summary_ends_with_the_view_exactly_as_the_run_config_gives_it():
    cx = "-1.9999661944503703041843468850635057967553124154072485151176192294480158424234268438"
    doc = dict(run_doc(None, None), config={"view": {"cx": cx, "cy": "3.0e-34", "width": "1.7e-157"},
                                            "max_iter": 50_000})
    assert report.summary_lines(doc)[-1] == f"view: centre {cx}, 3.0e-34, width 1.7e-157, max_iter 50000"


def test_a_dynamic_summary_gives_each_sites_share_time_rate_and_mean_render():
    doc = run_doc(None, None)
    assert report.progress_line(doc) == "tiles 15/16 | cloud 9 (60%) | onprem 6 (40%)"
    lines = report.summary_lines(doc)
    assert lines == ["tiles: 15/16",
                     "site cloud: 9 tiles (60%) in 3.00 s (3.0 tiles/s), mean render 2.0 ms",
                     "site onprem: 6 tiles (40%) in 2.00 s (3.0 tiles/s), mean render -",
                     "missing (dynamic split, no owner): r3c3"]

"""mpi_render.launch.report: the summary of a static and of a dynamic run document."""
from __future__ import annotations

from mpi_render.launch.report import progress_line, summary_lines


def run_doc(owned, missing_site) -> dict:
    return {"stored": 15, "total": 16, "created_at": 100.0,
            "sites": {"cloud": {"stored": 9, "owned": owned, "last_at": 103.0,
                                "render_ms_mean": 2.0},
                      "onprem": {"stored": 6, "owned": owned, "last_at": 102.0,
                                 "render_ms_mean": None}},
            "missing": [{"row": 3, "col": 3, "site": missing_site}]}


def test_a_static_run_shows_each_site_against_its_share():
    doc = run_doc(8, "onprem")
    assert progress_line(doc) == "tiles 15/16 | cloud 9/8 | onprem 6/8"
    assert "missing from site onprem: r3c3" in summary_lines(doc)


def test_a_dynamic_run_shows_what_each_site_rendered_and_unowned_missing_tiles():
    doc = run_doc(None, None)
    assert progress_line(doc) == "tiles 15/16 | cloud 9 | onprem 6"
    lines = summary_lines(doc)
    assert "site cloud: 9 tiles in 3.00 s (3.0 tiles/s), mean render 2.0 ms" in lines
    assert "missing (dynamic run: any site): r3c3" in lines

"""Fault 5: the same batch posted twice (also at the same instant), and two sites posting at once.

Expected: idempotent ingest. A repeated tile with the same bytes is a duplicate, never a second
row or sequence number; the counts in the answers add up to exactly the tiles of the run.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from reliability.feeds import create_run, post_tiles, site_tiles
from reliability.sitejob import run_doc
from support import Dashboard

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

CONFIG = RenderConfig(grid=8, tile_px=64, max_iter=64)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """One dashboard for the module (each test uses its own run id)."""
    with Dashboard(tmp_path_factory.mktemp("ingest")) as server:
        yield server


def _totals(answers) -> tuple[int, int]:
    assert all(code == 200 for code, _ in answers), answers
    return (sum(a["accepted"] for _, a in answers), sum(a["duplicates"] for _, a in answers))


def test_same_batch_twice_is_idempotent(dashboard):
    create_run(dashboard.url, dashboard.token, "twice", CONFIG)
    tiles = site_tiles(CONFIG, "cloud")
    first = post_tiles(dashboard.url, dashboard.token, "twice", tiles, batch_size=8)
    again = post_tiles(dashboard.url, dashboard.token, "twice", tiles, batch_size=8)
    # A retried batch that overlaps half-stored work: new tiles accepted, the rest duplicates.
    onprem = site_tiles(CONFIG, "onprem")
    post_tiles(dashboard.url, dashboard.token, "twice", onprem[:10], batch_size=10)
    overlap = post_tiles(dashboard.url, dashboard.token, "twice", onprem, batch_size=32)
    assert _totals(first) == (32, 0)
    assert _totals(again) == (0, 32)
    assert _totals(overlap) == (22, 10)
    doc = run_doc(dashboard, "twice")
    assert doc["stored"] == doc["seq"] == 64 and doc["complete"], doc


def test_same_batch_at_the_same_instant_is_stored_once(dashboard):
    create_run(dashboard.url, dashboard.token, "race", CONFIG)
    tiles = site_tiles(CONFIG, "cloud")
    batches = [tiles[i:i + 4] for i in range(0, len(tiles), 4)]
    racers = 4
    start = threading.Barrier(racers)

    def post_all():
        start.wait(10)
        return [answer for batch in batches
                for answer in post_tiles(dashboard.url, dashboard.token, "race", batch)]

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(lambda _: post_all(), range(racers)))
    accepted = sum(_totals(answers)[0] for answers in results)
    duplicates = sum(_totals(answers)[1] for answers in results)
    assert (accepted, duplicates) == (32, 32 * (racers - 1)), results
    doc = run_doc(dashboard, "race")
    assert doc["sites"]["cloud"]["stored"] == doc["seq"] == 32, doc


def test_two_sites_posting_at_once_count_right(dashboard):
    create_run(dashboard.url, dashboard.token, "both", CONFIG)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(
            lambda site: post_tiles(dashboard.url, dashboard.token, "both",
                                    site_tiles(CONFIG, site), batch_size=4),
            CONFIG.sites))
    assert [_totals(answers) for answers in results] == [(32, 0), (32, 0)]
    doc = run_doc(dashboard, "both")
    assert doc["stored"] == doc["seq"] == 64 and doc["complete"] and not doc["missing"], doc
    assert {name: s["stored"] for name, s in doc["sites"].items()} == {"cloud": 32, "onprem": 32}

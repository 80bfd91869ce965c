"""Fault 7: the dashboard's disk fills up, or its data directory is read-only.

Disk full (a 2 MiB tmpfs as data directory, grown to 64 MiB to give space back): ingest answers
507 with a JSON error, stores nothing of the refused batch and leaves the stored runs intact; a
real site job that posts meanwhile keeps its tiles and retries, and delivers them all once space
is back. Read-only data directory: the dashboard refuses to start (exit 2, one line) and leaves
the data untouched.
"""
from __future__ import annotations

import hashlib
import sqlite3

import pytest
from reliability.feeds import create_run, post_tiles, site_tiles
from reliability.mounts import fill, read_only_view, resize, tmpfs
from reliability.sitejob import SiteJob, assert_stored_exactly_once, run_doc
from support import Dashboard, http, wait_for

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(150)]

DATA_KIB = 2048
KEPT = RenderConfig(grid=4, tile_px=64, max_iter=64)
FILLER = RenderConfig(grid=32, tile_px=256, max_iter=64)  # ~66 KB per tile: fills 2 MiB fast
# Seahorse valley at 256 px: ~650 KB for the cloud half, posted as ONE batch (--batch-tiles 32,
# no age flush). It cannot fit into the WAL space a refused filler batch leaves for reuse (at most
# 4 x 66 KB), so the job's batch really meets the full disk.
JOB = RenderConfig(grid=8, tile_px=256, max_iter=500,
                   center=(-0.743643887037151, 0.131825904205330), width=0.02)


def _fill_with_tiles(dashboard: Dashboard) -> tuple[int, int, dict]:
    """Post filler tiles until the dashboard refuses; returns (accepted, status, error)."""
    create_run(dashboard.url, dashboard.token, "filler", FILLER)
    tiles = site_tiles(FILLER, "cloud", noise_rows=256)
    accepted = 0
    for start in range(0, len(tiles), 4):
        [(status, answer)] = post_tiles(dashboard.url, dashboard.token, "filler",
                                        tiles[start:start + 4], batch_size=4)
        if status != 200:
            return accepted, status, answer
        accepted += answer["accepted"]
    raise AssertionError(f"{accepted} tiles fit into a {DATA_KIB} KiB data directory")


def test_disk_full_answers_507_keeps_runs_and_the_poster_delivers_later(tmp_path):
    dashboard = Dashboard(tmp_path / "dash")
    with tmpfs(dashboard.data_dir, DATA_KIB), dashboard:
        create_run(dashboard.url, dashboard.token, "kept", KEPT)
        kept_tiles = [tile for site in KEPT.sites for tile in site_tiles(KEPT, site, noise_rows=16)]
        kept = {(m["row"], m["col"]): png for m, png in kept_tiles}
        post_tiles(dashboard.url, dashboard.token, "kept", kept_tiles)

        accepted, status, error = _fill_with_tiles(dashboard)
        assert status == 507 and isinstance(error.get("error"), str), (status, error)
        assert run_doc(dashboard, "filler")["stored"] == accepted  # nothing half-stored
        ballast = fill(dashboard.data_dir)  # what SQLite left free is gone too

        job = SiteJob(tmp_path, "cloud", dashboard.url, "job", dashboard.token_file,
                      config=JOB, pace_s=0, extra_args=(
                          "--deadline", "90", "--batch-tiles", "32", "--batch-age-ms", "600000"))
        with job:
            wait_for(lambda: job.output().count("; retry ") >= 2, 60,
                     "the site job to retry against the full disk", interval=0.2)
            assert job.proc.poll() is None, job.output()
            resize(dashboard.data_dir, 64 * 1024)  # space is back
            ballast.unlink()
            assert job.wait(timeout_s=90) == 0, job.output()
        assert_stored_exactly_once(dashboard, "job", job)
        for (row, col), png in kept.items():
            assert http("GET", f"{dashboard.url}api/runs/kept/tiles/{row}/{col}.png") == \
                (200, png), (row, col)
        dashboard.stop()
        check = sqlite3.connect(dashboard.data_dir / "dashboard.sqlite3")
        try:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            check.close()
    print(f"disk full after {accepted} filler tiles: 507 {error['error']!r}; the site job "
          f"retried and delivered its 32 tiles once space was back; integrity_check ok")


def _digest(directory) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_read_only_data_dir_refuses_to_start_and_changes_nothing(tmp_path):
    with Dashboard(tmp_path / "dash") as dashboard:
        create_run(dashboard.url, dashboard.token, "kept", KEPT)
        post_tiles(dashboard.url, dashboard.token, "kept", site_tiles(KEPT, "cloud"))
    before = _digest(dashboard.data_dir)
    with read_only_view(dashboard.data_dir, tmp_path / "ro") as view:
        frozen = Dashboard(tmp_path / "dash-ro")
        frozen.data_dir = view
        with pytest.raises(AssertionError, match="dashboard exited 2") as refused:
            frozen.start(timeout=20)
    assert _digest(dashboard.data_dir) == before
    message = [line for line in frozen.log().splitlines() if line.strip()]
    assert len(message) == 1 and "not" in message[0], frozen.log()
    print(f"read-only data dir: {message[0]!r} (exit 2); data unchanged; {refused.type.__name__}")

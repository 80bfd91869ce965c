"""Load: 50 WebSocket readers plus one stalled client during a two-site run, and a 10,000-tile soak.

The tiles are synthetic palette PNGs posted by a test poster (``feeds.py``), not rendered: a real
32x32x256 render takes minutes on this shared 2-core machine, and the dashboard cannot tell the
difference (same sizes, same validation, same fan-out).
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from reliability.feeds import create_run, post_tiles, site_tiles
from reliability.wsclients import StalledClient, read_run
from support import Dashboard

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(240)]

READERS = 50
LOAD_NOISE_ROWS = 8  # ~4 KB per 256 px tile, like a full-view Mandelbrot tile (5.8 KB mean)
# 256 random rows (~66 KB per tile): 256 tiles are a ~17 MB stream per client, more than the
# dashboard's 8 MiB per-client buffer plus what the kernel buffers for the stalled client (~3 MB).
DROP_NOISE_ROWS = 256
SOAK_TILES = 10_000
SOAK_GRID = 50  # four runs of 50x50 = 10,000 tiles
SOAK_NOISE_ROWS = 64  # ~4.3 KB per 64 px tile: 43 MiB stored in all
PEAK_RSS_BOUND_MB = 400


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/{pid}/status")


async def _watch_run(dashboard: Dashboard, run_id: str, config: RenderConfig, tiles: dict,
                     readers: int):
    """``readers`` WebSocket readers and one stalled client watch while every site posts."""
    ws_path = f"/api/runs/{run_id}/ws?since=0"
    ws_url = f"ws://127.0.0.1:{dashboard.port}{ws_path}"
    stalled = StalledClient("127.0.0.1", dashboard.port, ws_path)
    reading = [asyncio.ensure_future(read_run(ws_url, config.total_tiles, timeout_s=120))
               for _ in range(readers)]
    await asyncio.sleep(0.5)  # let every reader get its hello before the first tile
    posting = [asyncio.to_thread(post_tiles, dashboard.url, dashboard.token, run_id, tiles[site],
                                 32, 60)
               for site in config.sites]
    answers = await asyncio.gather(*posting)
    posted_at = time.monotonic()
    receptions = await asyncio.gather(*reading)
    return stalled, answers, posted_at, receptions


def _check_receptions(config: RenderConfig, answers, doc: dict, receptions, log: str) -> str:
    """Every POST accepted, the run complete, every reader got every tile once in seq order."""
    total = config.total_tiles
    for site_answers in answers:
        assert all(code == 200 for code, _ in site_answers), site_answers
    assert sum(a["accepted"] for site_answers in answers for _, a in site_answers) == total
    assert doc["stored"] == doc["total"] == doc["seq"] == total, doc
    every_tile = {divmod(index, config.grid) for index in range(total)}
    for reader, got in enumerate(receptions):
        assert got.hello is not None and got.hello["type"] == "hello", (reader, got.hello)
        assert set(got.keys) == every_tile and max(got.keys.values()) == 1, \
            f"reader {reader}: {len(got.keys)} distinct tiles, close code {got.close_code}\n{log}"
        assert got.seqs == sorted(got.seqs) and len(set(got.seqs)) == total, reader


def _run_with_watchers(tmp_path, config: RenderConfig, noise_rows: int, readers: int):
    """Post a run while readers and a stalled client watch; the stalled one is read last."""
    tiles = {site: site_tiles(config, site, noise_rows) for site in config.sites}
    with Dashboard(tmp_path / "dash") as dashboard:
        create_run(dashboard.url, dashboard.token, "load", config)
        stalled, answers, posted_at, receptions = asyncio.run(
            _watch_run(dashboard, "load", config, tiles, readers))
        stalled_result = stalled.drain(timeout_s=20, until_tiles=config.total_tiles)
        status, doc = dashboard.api("GET", "api/runs/load")
        log = dashboard.log()
    _check_receptions(config, answers, doc, receptions, log)
    lag_s = sorted(got.done_at - posted_at for got in receptions)
    print(f"{readers} readers: the last got every tile {lag_s[-1]:.2f} s after the last POST "
          f"answer (median {lag_s[len(lag_s) // 2]:.2f} s); stalled client: "
          f"{stalled_result[0]} tiles, close code {stalled_result[1]}, "
          f"dropped {stalled_result[2]}")
    return stalled_result, log


def test_fifty_readers_get_every_tile_of_a_two_site_run_exactly_once(tmp_path):
    config = RenderConfig(grid=32, tile_px=256, max_iter=256)
    (tiles, _code, closed), log = _run_with_watchers(tmp_path, config, LOAD_NOISE_ROWS, READERS)
    # ~5 MB per client is within the 8 MiB budget: the client that reads only at the end is
    # kept, and loses nothing.
    assert (tiles, closed) == (config.total_tiles, False), log


def test_a_client_that_never_reads_is_dropped_and_the_others_get_everything(tmp_path):
    config = RenderConfig(grid=16, tile_px=256, max_iter=256)
    (tiles, close_code, dropped), log = _run_with_watchers(tmp_path, config, DROP_NOISE_ROWS, 3)
    # The close frame (4000) is queued behind the data the client never read, so the server
    # aborts the connection after its close timeout: the client sees the connection end early.
    assert dropped and tiles < config.total_tiles, (tiles, close_code, log)
    assert "closing slow WebSocket client" in log, log


def test_ten_thousand_tile_soak_keeps_memory_bounded(tmp_path):
    config = RenderConfig(grid=SOAK_GRID, tile_px=64, max_iter=64, palette="fire")
    # Every run gets the same tile bytes: the dashboard stores them per run all the same.
    tiles = {site: site_tiles(config, site, SOAK_NOISE_ROWS) for site in config.sites}
    runs = SOAK_TILES // config.total_tiles
    with Dashboard(tmp_path / "dash") as dashboard:
        pid = dashboard.proc.pid
        start_rss_kb = _status_kb(pid, "VmRSS")
        rss_after_kb = []
        for number in range(runs):
            run_id = f"soak-{number}"
            create_run(dashboard.url, dashboard.token, run_id, config)
            for site in config.sites:
                answers = post_tiles(dashboard.url, dashboard.token, run_id, tiles[site],
                                     batch_size=250)
                assert all(code == 200 for code, _ in answers), (answers, dashboard.log())
            status, doc = dashboard.api("GET", f"api/runs/{run_id}")
            assert doc["stored"] == doc["total"] == config.total_tiles, doc
            rss_after_kb.append(_status_kb(pid, "VmRSS"))
        peak_kb = _status_kb(pid, "VmHWM")
    stored_mb = runs * sum(len(png) for site in tiles.values() for _, png in site) / 2 ** 20
    print(f"soak of {SOAK_TILES} tiles ({stored_mb:.0f} MiB of PNG): RSS at start "
          f"{start_rss_kb / 1024:.0f} MiB, after each run "
          f"{[round(kb / 1024) for kb in rss_after_kb]} MiB, peak (VmHWM) {peak_kb / 1024:.0f} MiB")
    assert peak_kb < PEAK_RSS_BOUND_MB * 1024, peak_kb
    # Bounded, not proportional to what is stored: the second half of the runs stores about
    # 20 MiB of PNG bytes; a dashboard that kept them would grow by at least that much.
    assert rss_after_kb[-1] - rss_after_kb[1] < 10 * 1024, rss_after_kb

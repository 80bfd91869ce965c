"""The activity panel in Debian Chromium: tiles and busy time per site, host and rank, a timeline
with one lane per rank and one bar per tile in its site's colour, tiles without ``rendered_at``
counted but not drawn, the "colour tiles by rank" overlay, and 1024 tiles on 64 ranks.

Tiles are posted through the real API with the metadata a site job sends (``rank``, ``host``,
``render_ms``, ``rendered_at``), so the page reads exactly what a run would give it.
"""
from __future__ import annotations

import time

import pytest
from browser.kit import (
    create_run,
    new_run_id,
    post_tiles,
    solid_png,
    tile_rgb,
    wait_text,
)
from support import wait_for

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SITE_RGB = {"cloud": (0x4C, 0x9A, 0xFF), "onprem": (0xFF, 0x9F, 0x43)}
ZEBRA_RGB = (0x16, 0x1C, 0x27)  # every other lane's background


def timed_tiles(config: RenderConfig, lanes, start_s: float, render_ms: float = 40.0, timed=True):
    """Every tile of the grid, dealt round-robin to ``lanes`` [(site, host, rank)], each lane
    rendering its tiles back to back from ``start_s`` (``rendered_at`` omitted unless ``timed``)."""
    png = solid_png(config.tile_px, tile_rgb(1, 1))
    ends = dict.fromkeys(lanes, start_s)
    entries = []
    for index in range(config.total_tiles):
        lane = lanes[index % len(lanes)]
        site, host, rank = lane
        ends[lane] += render_ms / 1000
        meta = {"row": index // config.grid, "col": index % config.grid, "site": site, "rank": rank,
                "host": host, "render_ms": render_ms}
        if timed:
            meta["rendered_at"] = ends[lane]
        entries.append((meta, png))
    return entries


def lane_pixels(page, lane: int) -> list[tuple[int, int, int, int]]:
    """RGBA along the middle of timeline lane ``lane`` (0 = top), every 2 CSS px of the plot."""
    return [tuple(p) for p in page.evaluate("""(lane) => {
      const canvas = document.getElementById("timeline");
      const d = canvas.dataset, ratio = canvas.width / canvas.clientWidth;
      const y = Math.floor((Number(d.laneTop) + (lane + 0.5) * Number(d.laneHeight)) * ratio);
      const ctx = canvas.getContext("2d"), out = [];
      for (let x = Number(d.plotLeft) + 1; x < canvas.clientWidth - 12; x += 2) {
        out.push(Array.from(ctx.getImageData(Math.floor(x * ratio), y, 1, 1).data));
      }
      return out;
    }""", lane)]


def close_to(rgba, rgb, tolerance=12) -> bool:
    return rgba[3] > 200 and all(abs(a - b) <= tolerance for a, b in zip(rgba, rgb))


def test_two_sites_of_two_ranks_show_four_lanes_with_their_tiles(server, page):
    config = RenderConfig(grid=8, tile_px=16, palette="fire", max_iter=64, split="dynamic")
    run_id = new_run_id("activity")
    create_run(server, run_id, config)
    lanes = [("cloud", "cloud-node", 0), ("cloud", "cloud-node", 1),
             ("onprem", "onprem-server", 0), ("onprem", "onprem-server", 1)]
    entries = timed_tiles(config, lanes, time.time() - 10)
    untimed = [({k: v for k, v in meta.items() if k != "rendered_at"}, png) for meta, png in entries[-4:]]
    post_tiles(server, run_id, entries[:-4] + untimed)  # the last 4 as from an older site job
    page.goto(f"{server.url}?run={run_id}")
    wait_text(page, "#tiles-stored", "64")
    timeline = page.locator("#timeline")
    wait_for(lambda: timeline.get_attribute("data-bars") == "60", 10, "60 bars in the timeline")
    assert timeline.get_attribute("data-lanes") == "4"

    rows = page.locator("#activity-rows tr")
    table = [[cell.strip() for cell in row.locator("td").all_text_contents()] for row in rows.all()]
    assert table == [
        ["cloud", "32", "1.28 s", "40.0 ms"],
        ["cloud-node", "32", "1.28 s", "40.0 ms"],
        ["rank 0", "16", "0.64 s", "40.0 ms"], ["rank 1", "16", "0.64 s", "40.0 ms"],
        ["onprem", "32", "1.28 s", "40.0 ms"],
        ["onprem-server", "32", "1.28 s", "40.0 ms"],
        ["rank 0", "16", "0.64 s", "40.0 ms"], ["rank 1", "16", "0.64 s", "40.0 ms"],
    ]
    assert "4 tiles without a render time" in (page.locator("#activity-note").text_content() or "")
    for lane, (site, _, _) in enumerate(lanes):  # each lane has bars, all in its site's colour
        pixels = lane_pixels(page, lane)
        bars = [p for p in pixels if p[3] > 200 and not close_to(p, ZEBRA_RGB)]
        assert len(bars) > len(pixels) / 2, f"lane {lane} is mostly bars: {pixels[:6]}"
        in_colour = [p for p in bars if close_to(p, SITE_RGB[site])]
        assert len(in_colour) > 0.9 * len(bars), (lane, site, bars[:4])

    # Colour tiles by rank: tile (0, 0) was rendered by cloud rank 0, tile (0, 1) by cloud rank 1.
    page.check("#show-ranks")
    read = """() => {
      const canvas = document.getElementById("rank-layer"), cell = canvas.width / 8;
      const ctx = canvas.getContext("2d");
      return [0, 1, 4].map((col) => Array.from(
        ctx.getImageData(Math.floor((col + 0.5) * cell), Math.floor(cell / 2), 1, 1).data));
    }"""
    wait_for(lambda: all(rgba[3] > 100 for rgba in page.evaluate(read)), 5, "the rank colours drawn")
    colours = page.evaluate(read)
    assert colours[0] != colours[1] and colours[0] == colours[2], colours  # lanes 0, 1, 0


def test_1024_tiles_on_64_ranks_stay_readable(server, page):
    config = RenderConfig(grid=32, tile_px=16, palette="fire", max_iter=64, split="dynamic")
    run_id = new_run_id("activity")
    create_run(server, run_id, config)
    lanes = [(site, f"{site}-node{node}", rank) for site in ("cloud", "onprem") for node in (1, 2)
             for rank in range(16)]
    post_tiles(server, run_id, timed_tiles(config, lanes, time.time() - 30, render_ms=25.0))
    page.goto(f"{server.url}?run={run_id}")
    wait_text(page, "#tiles-stored", "1024")
    timeline = page.locator("#timeline")
    wait_for(lambda: timeline.get_attribute("data-bars") == "1024", 10, "1024 bars")
    assert timeline.get_attribute("data-lanes") == "64"
    assert int(timeline.get_attribute("data-lane-height")) >= 11, "a lane keeps room for its label"
    assert page.locator("#activity-rows tr.level-rank").count() == 64
    for lane in (0, 31, 32, 63):  # first and last lane of each site: bars in the site's colour
        site = lanes[lane][0]
        assert any(close_to(p, SITE_RGB[site]) for p in lane_pixels(page, lane)), (lane, site)

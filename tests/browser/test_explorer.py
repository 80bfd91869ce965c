"""The deep-zoom viewer in Debian Chromium against a real dashboard: wheel zoom about the pointer,
drag to pan, keys and the fit button, full-resolution tiles fetched (behind the path-prefix proxy)
and drawn sharp, a drag that opens no tile, and a late joiner of a 32x32x512 run zoomed in while
live tiles keep arriving.

The tiles are striped (one-pixel columns in two colours, :func:`browser.kit.striped_png`): every
overview blurs the stripes into one colour, so stripes on the stage prove a full-resolution tile.
"""
from __future__ import annotations

import pytest
from browser.kit import (
    all_cells,
    create_run,
    new_run_id,
    post_tiles,
    solid_tiles,
    stage_box,
    stage_colours,
    stage_data,
    stripe_rgb,
    striped_tiles,
    tile_rgb,
    wait_text,
    wide_rgb,
    wide_stripe_rgb,
)
from browser.prefix_proxy import PrefixProxy
from support import wait_for

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

TILE_URL_PART = "/tiles/"


def wait_stage(page, name: str, predicate, what: str, timeout_s: float = 20):
    try:
        wait_for(lambda: predicate(stage_data(page, name)), timeout_s, what, interval=0.05)
    except AssertionError as err:
        raise AssertionError(f"{err}; data-{name} is {stage_data(page, name)!r}") from None


def tile_of(rgb) -> tuple[int, int]:
    """The (row, col) a stage colour belongs to: tile_rgb and stripe_rgb share red and green."""
    return (rgb[0] - 64) // 12, (rgb[1] - 64) // 12


def transitions(colours) -> int:
    return sum(1 for a, b in zip(colours, colours[1:]) if a != b)


def tile_requests(requests) -> list[str]:
    return [url for url in requests if TILE_URL_PART in url]


def open_run(page, url: str, tiles: int) -> None:
    page.goto(url)
    wait_text(page, "#tiles-stored", str(tiles))
    wait_stage(page, "tiles-drawn", lambda v: v == str(tiles), f"{tiles} tiles drawn")


def open_small_run(server, page, label: str) -> None:
    """A complete 4x4 run of solid 32 px tiles, open on the page (the overview is full size)."""
    config = RenderConfig(grid=4, tile_px=32, palette="ocean", max_iter=64)
    run_id = new_run_id(label)
    create_run(server, run_id, config)
    post_tiles(server, run_id, solid_tiles(config, all_cells(config)))
    open_run(page, f"{server.url}?run={run_id}", 16)


def test_wheel_zoom_and_drag_fetch_sharp_tiles_behind_the_prefix_proxy(server, page, port):
    config = RenderConfig(grid=8, tile_px=512, palette="fire", max_iter=64)  # 256 px overview cells
    run_id = new_run_id("zoom")
    create_run(server, run_id, config)
    post_tiles(server, run_id, striped_tiles(config, all_cells(config)))
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    with PrefixProxy(server.port, port) as proxy:
        open_run(page, f"{proxy.url}?run={run_id}", 64)
        box = stage_box(page)
        side = box["width"]
        x, y = side * 0.27, side * 0.60  # inside tile r4 c2, 32 px from its right edge
        row_of_points = [(x + i, y) for i in range(24)]
        fit = stage_colours(page, row_of_points)
        assert {tile_of(rgb) for rgb in fit} == {(4, 2)}
        assert transitions(fit) <= 1, f"the overview blurs the stripes: {fit[:8]}"
        assert not tile_requests(requests), "no tile is fetched while the overview is sharp enough"

        page.mouse.move(box["x"] + x, box["y"] + y)
        for _ in range(10):  # 10 notches: 1.5 ** 10 = 57.7x
            page.mouse.wheel(0, -100)
        wait_stage(page, "zoom", lambda v: v and float(v) > 50, "zoomed in 50x")
        wait_stage(page, "sharp-tiles", lambda v: v and int(v) >= 1, "a sharp tile drawn")
        zoomed = stage_colours(page, row_of_points)
        # The point under the pointer stayed in its tile, and its stripes are drawn sharp.
        assert {tile_of(rgb) for rgb in zoomed} == {(4, 2)}
        assert set(zoomed) == {tile_rgb(4, 2), stripe_rgb(4, 2)}, zoomed[:12]
        assert transitions(zoomed) >= 2
        fetched = tile_requests(requests)
        assert f"{proxy.url}api/runs/{run_id}/tiles/4/2.png" in fetched
        # The views on the way in (one per wheel notch) showed at most 3 x 3 cells past the
        # overview's resolution: those are fetched, never the whole grid.
        assert len(fetched) <= 9, f"only the visible tiles are fetched: {fetched}"

        before = page.locator("#mosaic").screenshot()
        page.mouse.down()
        for step in range(1, 11):  # drag 300 px right and 200 px down, in steps
            page.mouse.move(box["x"] + x + 30 * step, box["y"] + y + 20 * step)
        page.mouse.up()
        page.wait_for_timeout(100)
        assert page.locator("#mosaic").screenshot() != before, "the drag moved the picture"
        dragged = stage_colours(page, [(x + 300 + i, y + 200) for i in range(24)])
        assert {tile_of(rgb) for rgb in dragged} == {(4, 2)}, "the image followed the pointer"
        assert page.locator("#tile-dialog[open]").count() == 0, "a drag is not a tile click"
    assert proxy.stray_paths == []
    outside = [url for url in requests if not url.startswith(proxy.url)]
    assert not outside, f"requests outside the prefix: {outside}"


def test_a_drag_opens_no_tile_and_a_click_does(server, page):
    open_small_run(server, page, "drag")
    box = stage_box(page)
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 90, box["y"] + 60, steps=5)
    page.mouse.up()  # press and release over the image: a click event, but after a drag
    page.wait_for_timeout(200)
    assert page.locator("#tile-dialog[open]").count() == 0
    page.mouse.click(box["x"] + 40, box["y"] + 40)
    page.wait_for_selector("#tile-dialog[open]")
    assert page.locator("#tile-title").text_content() == "tile r0 c0"


def test_keys_and_the_fit_button_zoom_about_the_centre(server, page):
    open_small_run(server, page, "keys")
    side = stage_box(page)["width"]
    corner = (side * 0.1, side * 0.1)  # tile r0 c0 at fit
    assert stage_colours(page, [corner]) == [tile_rgb(0, 0)]
    page.keyboard.press("+")
    page.keyboard.press("+")
    wait_stage(page, "zoom", lambda v: v == "2.250", "zoom 2.25")
    assert page.locator("#zoom-level").text_content() == "2.3x"
    # About the centre: the stage corner now shows tile r1 c1 (image point 0.5 - 0.4 / 2.25).
    wait_for(lambda: stage_colours(page, [corner]) == [tile_rgb(1, 1)], 5, "tile r1 c1 in the corner")
    page.keyboard.press("-")
    wait_stage(page, "zoom", lambda v: v == "1.500", "zoom 1.5")
    page.keyboard.press("0")
    wait_stage(page, "zoom", lambda v: v == "1.000", "fit")
    page.keyboard.press("+")
    wait_stage(page, "zoom", lambda v: v == "1.500", "zoom 1.5")
    page.click("#view-fit")
    wait_stage(page, "zoom", lambda v: v == "1.000", "fit after the button")
    wait_for(lambda: stage_colours(page, [corner]) == [tile_rgb(0, 0)], 5, "the whole image again")


def test_late_joiner_of_32x32x512_zooms_in_while_live_tiles_arrive(server, page):
    config = RenderConfig(grid=32, tile_px=512, palette="cosmic", max_iter=64)  # 64 px overview cells
    run_id = new_run_id("big")
    create_run(server, run_id, config)
    held_back = [(15, 15), (15, 16), (16, 15), (16, 16)]  # the four cells around the centre
    stored = [cell for cell in all_cells(config) if cell not in held_back]
    for start in range(0, len(stored), 256):
        batch = stored[start:start + 256]
        post_tiles(server, run_id, striped_tiles(config, batch, wide_rgb, wide_stripe_rgb))
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_run(page, f"{server.url}?run={run_id}", len(stored))
    assert stage_data(page, "overview-seq") == str(len(stored)), "the late join drew overview.png"

    for _ in range(6):  # 1.5 ** 6 = 11.4x about the centre: cells 14..17 are in view
        page.keyboard.press("+")
    wait_stage(page, "zoom", lambda v: v == "11.391", "zoom 11.4")
    wait_stage(page, "sharp-tiles", lambda v: v == "12", "the 12 stored cells in view drawn sharp")
    # Only cells in view are fetched: every cell in view now, and at most the cells a view on the
    # way in showed once its cells outgrew the overview's 64 px (on this 630 px stage from 3.4x:
    # cells 11..20), whether or not the browser painted those views (the key presses may fall
    # into one frame or several): never the whole grid.
    fetched = {tuple(int(part) for part in url.rsplit("/tiles/", 1)[1][:-4].split("/"))
               for url in tile_requests(requests)}
    in_view = {(row, col) for row in range(14, 18) for col in range(14, 18)} - set(held_back)
    on_the_way = {(row, col) for row in range(11, 21) for col in range(11, 21)} - set(held_back)
    assert in_view <= fetched <= on_the_way, f"fetched {sorted(fetched)}"

    for _ in range(4):  # 1.5 ** 10 = 57.7x: only the four missing cells are in view
        page.keyboard.press("+")
    wait_stage(page, "zoom", lambda v: v == "57.665", "zoom 57.7")
    side = stage_box(page)["width"]
    quadrants = {(15, 15): (-40, -40), (15, 16): (24, -40), (16, 15): (-40, 40), (16, 16): (24, 40)}

    def row_of_points(cell):  # 16 stage points in a row inside the cell's quarter of the stage
        dx, dy = quadrants[cell]
        return [(side / 2 + dx + i, side / 2 + dy) for i in range(16)]

    page.wait_for_timeout(200)
    assert stage_data(page, "sharp-tiles") == "0"
    assert set(stage_colours(page, row_of_points((15, 15)))) == {(0x0B, 0x0E, 0x14)}, "not stored yet"

    post_tiles(server, run_id, striped_tiles(config, held_back, wide_rgb, wide_stripe_rgb))  # live, zoomed in
    wait_text(page, "#tiles-stored", str(config.total_tiles))
    wait_stage(page, "sharp-tiles", lambda v: v == "4", "the live tiles drawn sharp in place")
    for cell in held_back:  # 2.2 stage px per tile pixel: the one-pixel stripes show
        assert set(stage_colours(page, row_of_points(cell))) == {wide_rgb(*cell), wide_stripe_rgb(*cell)}

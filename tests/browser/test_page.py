"""The live page in Debian Chromium against a real dashboard: live tiles, late join, missing
tiles, run picker, markup from the network shown as text, reconnect after a restart, and a
screenshot in test-artifacts/.

One browser and one dashboard per module (the restart test has its own dashboard); each test
makes its own run, so the tests do not depend on one another.
"""
from __future__ import annotations

import base64
import signal
import urllib.request

import pytest
from browser.kit import (
    ARTIFACTS,
    BACKGROUND_RGB,
    SMALL,
    all_cells,
    cell_colours,
    create_run,
    new_run_id,
    post_tiles,
    solid_png,
    solid_tiles,
    text,
    tile_rgb,
    wait_for_colours,
    wait_text,
)
from browser.prefix_proxy import PrefixProxy
from support import Dashboard, http, wait_for

from mpi_render.config import RenderConfig
from mpi_render.encode import PNG_SIGNATURE
from mpi_render.protocol import encode_frame

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

def test_live_tiles_appear_while_they_are_posted(server, page):
    run_id = new_run_id("live")
    create_run(server, run_id, SMALL)
    page.goto(f"{server.url}?run={run_id}")
    page.wait_for_selector("#connection[data-state=live]")
    cells = all_cells(SMALL)
    for start in range(0, len(cells), 4):
        batch = cells[start:start + 4]
        post_tiles(server, run_id, solid_tiles(SMALL, batch))
        wait_for_colours(page, SMALL.grid, {cell: tile_rgb(*cell) for cell in batch})
        later = cells[start + 4:]
        assert cell_colours(page, SMALL.grid, later) == [BACKGROUND_RGB] * len(later)
    wait_text(page, "#tiles-stored", "16")
    wait_text(page, "#run-state", "complete")
    assert text(page, "#tiles-total") == "16"
    assert page.locator("#mosaic").get_attribute("data-tiles-drawn") == "16"


def test_the_picker_labels_the_shown_run_with_the_tiles_the_page_holds(server, page):
    """The picker's label came only from the api/runs poll (every 3 s), so a run that completed
    on screen went on reading "10/16"; it now follows the tiles the page holds."""
    run_id = new_run_id("picker")
    create_run(server, run_id, SMALL)
    cells = all_cells(SMALL)
    post_tiles(server, run_id, solid_tiles(SMALL, cells[:10]))
    page.goto(f"{server.url}?run={run_id}")
    wait_text(page, "#tiles-stored", "10")
    option = page.locator(f"#run-picker option[value='{run_id}']")
    wait_for(lambda: option.text_content() == f"{run_id}  (10/16)", 10, "the label of 10 tiles")
    post_tiles(server, run_id, solid_tiles(SMALL, cells[10:]))
    wait_text(page, "#run-state", "complete")
    assert option.text_content() == f"{run_id}  (16/16, complete)"
    assert page.locator("#run-picker").evaluate("(select) => select.selectedOptions[0].textContent") \
        == f"{run_id}  (16/16, complete)"


def test_late_joiner_sees_every_tile_and_the_missing_ones(server, page):
    config = RenderConfig(grid=8, tile_px=16, palette="ocean", max_iter=64)
    run_id = new_run_id("late")
    create_run(server, run_id, config)
    cells = all_cells(config)
    stored, held_back = cells[:-2], cells[-2:]
    for start in range(0, len(stored), 16):
        post_tiles(server, run_id, solid_tiles(config, stored[start:start + 16]))

    page.goto(f"{server.url}?run={run_id}")
    wait_text(page, "#tiles-stored", "62")
    wait_for_colours(page, config.grid, {cell: tile_rgb(*cell) for cell in stored})
    assert cell_colours(page, config.grid, held_back) == [BACKGROUND_RGB] * 2
    wait_text(page, "#missing-count", "(2)")
    assert page.locator("#missing-list li").all_text_contents() == ["r7c6 onprem", "r7c7 onprem"]
    sites = page.locator("#site-list .site-count").all_text_contents()
    assert sites == ["32 / 32", "30 / 32"]
    assert text(page, "#run-state") == "rendering"

    post_tiles(server, run_id, solid_tiles(config, held_back))
    wait_text(page, "#tiles-stored", "64")
    wait_for_colours(page, config.grid, {cell: tile_rgb(*cell) for cell in held_back})
    wait_text(page, "#missing-count", "(0)")
    assert text(page, "#run-state") == "complete"


# RGBA of the site-border overlay on the left edge of each listed tile.
_READ_BORDERS_JS = """([grid, cells]) => {
  const canvas = document.getElementById("overlay");
  const ctx = canvas.getContext("2d");
  const cell = canvas.width / grid;
  return cells.map(([row, col]) => Array.from(
    ctx.getImageData(Math.floor(col * cell), Math.floor((row + 0.5) * cell), 1, 1).data));
}"""


def test_a_dynamic_run_shows_each_sites_achieved_share_and_cancellation(server, page):
    config = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64, split="dynamic")
    run_id = new_run_id("dynamic")
    create_run(server, run_id, config)
    page.goto(f"{server.url}?run={run_id}")
    page.wait_for_selector("#connection[data-state=live]")
    renderer = {divmod(t, 4): "cloud" if t < 9 else "onprem" for t in range(12)}  # 4 missing
    post_tiles(server, run_id, [
        ({"row": row, "col": col, "site": site, "render_ms": 2.0},
         solid_png(config.tile_px, tile_rgb(row, col))) for (row, col), site in renderer.items()])
    wait_text(page, "#tiles-stored", "12")
    sites = page.locator("#site-list .site-count").all_text_contents()
    assert sites == ["9 tiles · 56%", "3 tiles · 19%"]  # of the 16 tiles, no owned share
    wait_text(page, "#missing-count", "(4)")
    assert page.locator("#missing-list li").all_text_contents() == ["r3c0", "r3c1", "r3c2", "r3c3"]
    # each stored tile is outlined in the colour of the site that rendered it
    cloud_rgb, onprem_rgb = (0x4C, 0x9A, 0xFF), (0xFF, 0x9F, 0x43)

    def nearest(rgba):
        distance = lambda rgb: sum((a - b) ** 2 for a, b in zip(rgba, rgb))  # noqa: E731
        return "cloud" if distance(cloud_rgb) < distance(onprem_rgb) else "onprem"

    def edges():
        # the text counts a tile on arrival; its border is redrawn a frame or two later
        cloud_edge, onprem_edge = page.evaluate(_READ_BORDERS_JS, [4, [[0, 0], [2, 1]]])
        drawn = cloud_edge[3] > 0 and onprem_edge[3] > 0
        return (nearest(cloud_edge), nearest(onprem_edge)) if drawn else None

    wait_for(lambda: edges() == ("cloud", "onprem"), 10, f"borders by renderer, last {edges()}")
    assert text(page, "#run-state") == "rendering"
    assert server.api("POST", f"api/runs/{run_id}/cancel", b"")[0] == 200
    wait_text(page, "#run-state", "cancelled")


def test_every_stored_tile_of_a_dynamic_run_loses_its_missing_outline(server, page):
    """issue 19 reported stored tiles keeping a grey "missing" outline in a dynamic run: the page
    joins mid-run through the overview image, tiles of two sites arrive live, a second page joins
    the complete run; no stored tile is outlined as missing on either."""
    config = RenderConfig(grid=16, tile_px=256, palette="fire", max_iter=64, split="dynamic")
    run_id = new_run_id("outlines")
    create_run(server, run_id, config)
    pngs = {}

    def tiles(cells):
        for row, col in cells:
            pngs.setdefault((row, col), solid_png(config.tile_px, (4 * row, 4 * col, 200)))
        return [({"row": row, "col": col, "site": "cloud" if (row + col) % 3 else "onprem",
                  "render_ms": 3.0}, pngs[row, col]) for row, col in cells]

    cells = all_cells(config)
    post_tiles(server, run_id, tiles(cells[:100]))
    page.goto(f"{server.url}?run={run_id}")  # a late join (100 >= 64 tiles): the overview image
    wait_text(page, "#tiles-stored", "100")
    assert page.locator("#mosaic").get_attribute("data-overview-seq") == "100"
    overlay = page.locator("#overlay")
    wait_for(lambda: overlay.get_attribute("data-missing-outlines") == "156", 10, "156 outlined missing")
    for start in range(100, len(cells), 26):
        post_tiles(server, run_id, tiles(cells[start:start + 26]))
    wait_text(page, "#run-state", "complete")
    wait_for(lambda: overlay.get_attribute("data-missing-outlines") == "0", 10,
             f"no missing outline, {overlay.get_attribute('data-missing-outlines')} left")
    late = page.context.new_page()
    late.goto(f"{server.url}?run={run_id}")
    wait_text(late, "#run-state", "complete")
    wait_for(lambda: late.locator("#mosaic").get_attribute("data-tiles-drawn") == "256", 10, "256 drawn")
    assert late.locator("#overlay").get_attribute("data-missing-outlines") == "0"


# Counts the tile frames the page receives with and without PNG bytes (installed before its scripts).
_COUNT_FRAMES_JS = """
window.__frames = {headerOnly: 0, withPng: 0};
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", ({data}) => {
      if (typeof data === "string") return;
      const headerBytes = new DataView(data).getUint32(4, false);
      window.__frames[8 + headerBytes === data.byteLength ? "headerOnly" : "withPng"] += 1;
    });
  }
};
"""


def test_late_joiner_of_large_tiles_draws_the_overview_image(server, page):
    config = RenderConfig(grid=8, tile_px=512, palette="fire", max_iter=64)  # 256 px cells
    run_id = new_run_id("overview")
    create_run(server, run_id, config)
    cells = all_cells(config)
    stored, later = cells[:60], cells[60:]
    post_tiles(server, run_id, solid_tiles(config, stored))

    page.add_init_script(_COUNT_FRAMES_JS)
    page.goto(f"{server.url}?run={run_id}&overview_min=8")
    wait_text(page, "#tiles-stored", "60")
    wait_for_colours(page, config.grid, {cell: tile_rgb(*cell) for cell in stored})
    assert cell_colours(page, config.grid, later) == [BACKGROUND_RGB] * len(later)
    mosaic = page.locator("#mosaic")
    assert mosaic.get_attribute("data-overview-seq") == "60"
    wait_for(lambda: mosaic.get_attribute("data-tiles-drawn") == "60", 10, "60 tiles drawn")
    assert mosaic.get_attribute("data-replayed-seq") == "60"
    assert page.evaluate("window.__frames") == {"headerOnly": 60, "withPng": 0}

    post_tiles(server, run_id, solid_tiles(config, later))  # live tiles come whole
    wait_for_colours(page, config.grid, {cell: tile_rgb(*cell) for cell in later})
    wait_for(lambda: mosaic.get_attribute("data-tiles-drawn") == "64", 10, "64 tiles drawn")
    assert page.evaluate("window.__frames") == {"headerOnly": 60, "withPng": 4}
    page.click("#mosaic", position={"x": 5, "y": 5})  # still the full-resolution tile
    page.wait_for_function("document.getElementById('tile-image').complete")
    assert page.evaluate("document.getElementById('tile-image').naturalWidth") == 512


def test_the_prefix_proxy_passes_a_304_through(server, port):
    """Chromium revalidates api/runs with If-None-Match; the dashboard's 304 must reach it as a
    304 (the proxy used to answer 500 there, failing whichever browser test hit it)."""
    with PrefixProxy(server.port, port) as proxy:
        request = urllib.request.Request(f"{proxy.url}api/runs")
        with urllib.request.urlopen(request, timeout=10) as first:
            etag = first.headers["Etag"]
        assert etag
        status, body = http("GET", f"{proxy.url}api/runs", headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")


def test_page_works_under_a_path_prefix_behind_a_host_rewriting_proxy(server, page, port):
    run_id = new_run_id("prefix")
    create_run(server, run_id, SMALL)
    requests, sockets = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    with PrefixProxy(server.port, port) as proxy:
        page.goto(f"{proxy.url}?run={run_id}")
        page.wait_for_selector("#connection[data-state=live]")
        post_tiles(server, run_id, solid_tiles(SMALL, all_cells(SMALL)))
        wait_for_colours(page, SMALL.grid, {cell: tile_rgb(*cell) for cell in all_cells(SMALL)})
        wait_text(page, "#tiles-stored", "16")

        page.click("#mosaic", position={"x": 5, "y": 5})  # the full-resolution tile
        page.wait_for_function("document.getElementById('tile-image').complete")
        assert page.evaluate("document.getElementById('tile-image').naturalWidth") == SMALL.tile_px
        mosaic = page.evaluate("""fetch(document.getElementById("mosaic-link").href)
            .then((r) => `${r.status} ${r.headers.get("content-type")}`)""")
        assert mosaic == "200 image/png"
    assert proxy.stray_paths == []
    outside = [url for url in requests if not url.startswith(proxy.url)]
    assert not outside, f"requests outside the prefix: {outside}"
    assert any(url.endswith("static/favicon.svg") for url in requests)
    ws_base = proxy.url.replace("http://", "ws://")
    assert sockets == [f"{ws_base}api/runs/{run_id}/ws?since=0"]


def test_page_follows_the_newest_run_and_the_picker_pins_one(server, page):
    first = new_run_id("follow")
    create_run(server, first, SMALL)
    page.goto(server.url)
    wait_text(page, "#run-id", first)
    second = new_run_id("follow")
    create_run(server, second, SMALL)
    wait_text(page, "#run-id", second)
    post_tiles(server, second, solid_tiles(SMALL, [(0, 0)]))
    wait_for_colours(page, SMALL.grid, {(0, 0): tile_rgb(0, 0)})

    page.select_option("#run-picker", first)
    wait_text(page, "#run-id", first)
    assert f"run={first}" in page.url
    create_run(server, new_run_id("follow"), SMALL)
    page.wait_for_timeout(500)  # a pinned run stays, even when a newer one appears
    assert text(page, "#run-id") == first


def test_markup_from_the_network_is_shown_as_text(server, page):
    markup = '<img src=x onerror="window.__injected = 1">'
    bad = RenderConfig().run_json()
    bad["sites"] = ["cloud", markup]
    status, doc = server.api("PUT", f"api/runs/{new_run_id('markup')}", bad)
    assert status == 422 and "error" in doc  # such a site name never gets into a run

    run_id = new_run_id("markup")
    create_run(server, run_id, SMALL)
    post_tiles(server, run_id, solid_tiles(SMALL, [(0, 0)], host=markup))
    page.goto(f"{server.url}?run={run_id}")
    wait_text(page, "#tiles-stored", "1")
    wait_for(lambda: markup in text(page, "#site-list"), 5, "the host name in the site panel")
    page.click("#mosaic", position={"x": 5, "y": 5})
    page.wait_for_selector("#tile-dialog[open]")
    assert markup in text(page, "#tile-meta")
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    assert page.evaluate("window.__injected") is None


def test_reconnects_after_a_dashboard_restart_and_resumes(tmp_path, page):
    config = RenderConfig(grid=4, tile_px=32, palette="cosmic", max_iter=64)
    cells = all_cells(config)
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.dashboard_goes_away = True  # the failed reconnects are logged as console errors
    with Dashboard(tmp_path / "restart") as server:
        run_id = new_run_id("restart")
        create_run(server, run_id, config)
        seq = post_tiles(server, run_id, solid_tiles(config, cells[:8]))["seq"]
        page.goto(f"{server.url}?run={run_id}")
        wait_for_colours(page, config.grid, {cell: tile_rgb(*cell) for cell in cells[:8]})

        server.stop(signal.SIGTERM)
        page.wait_for_selector("#connection[data-state=retrying]", timeout=10_000)
        server.start()
        post_tiles(server, run_id, solid_tiles(config, cells[8:]))
        page.wait_for_selector("#connection[data-state=live]", timeout=20_000)
        wait_for_colours(page, config.grid, {cell: tile_rgb(*cell) for cell in cells})
        wait_text(page, "#tiles-stored", "16")
        opened = list(sockets)  # before the final stop, after which the page reconnects again
    assert page.locator("#mosaic").get_attribute("data-tiles-drawn") == "16"
    assert opened[0].endswith("?since=0")
    assert opened[-1].endswith(f"?since={seq}"), opened


def test_screenshot_of_a_real_two_site_run(server, page):
    from mpi_render.tile import render_tile

    config = RenderConfig(grid=8, tile_px=128, palette="electric", max_iter=256,
                          split="interleaved")
    run_id = new_run_id("mandelbrot")
    create_run(server, run_id, config)
    page.goto(f"{server.url}?run={run_id}")
    page.wait_for_selector("#connection[data-state=live]")
    owner = {index: site for site, indices in config.owned().items() for index in indices}
    hosts = {"cloud": "cloud-node-1", "onprem": "onprem-server"}
    tiles = []
    for index in range(config.total_tiles):
        tile = render_tile(config, *divmod(index, config.grid), backend="numpy")
        site = owner[index]
        tiles.append((tile.meta(site, index % 2, hosts[site]), tile.png))
    posted = tiles[:-3]  # leave 3 tiles missing, as mid-run
    for start in range(0, len(posted), 6):
        post_tiles(server, run_id, posted[start:start + 6])
        page.wait_for_timeout(150)
    wait_text(page, "#tiles-stored", str(config.total_tiles - 3))
    page.wait_for_function("document.getElementById('mosaic').dataset.tilesDrawn === '61'")
    page.wait_for_timeout(1200)  # one chart refresh
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.click("#mosaic", position={"x": 20, "y": 20})
    page.wait_for_selector("#tile-dialog[open]")
    page.wait_for_function("document.getElementById('tile-image').complete")
    assert page.evaluate("document.getElementById('tile-image').naturalWidth") == config.tile_px
    page.screenshot(path=str(ARTIFACTS / "dashboard-tile.png"))


def test_page_modules_agree_with_the_server_formats(server, page):
    png = solid_png(16, (1, 2, 3))
    header = {"seq": 7, "row": 1, "col": 2, "site": "onprem", "host": "h\u00e9te"}
    frame = base64.b64encode(encode_frame(header, png)).decode()
    page.goto(server.url)
    result = page.evaluate("""async (frame) => {
      const { decodeFrame } = await import("./static/js/frame.js");
      const { cellPx } = await import("./static/js/mosaic.js");
      const { binRates } = await import("./static/js/chart.js");
      const bytes = Uint8Array.from(atob(frame), (c) => c.charCodeAt(0));
      const { header, pngOffset } = decodeFrame(bytes.buffer);
      let badMagic = null;
      try { decodeFrame(new Uint8Array(12).buffer); } catch (err) { badMagic = err.message; }
      return {
        header, pngBytes: Array.from(bytes.subarray(pngOffset, pngOffset + 8)), badMagic,
        cells: [cellPx(4, 128), cellPx(32, 512), cellPx(64, 2048), cellPx(8, 256)],
        rates: binRates([{ storedAt: [100.1, 100.2, 101.5] }, { storedAt: [102.9] }], 100, 3),
        longRates: binRates([{ storedAt: [100, 150, 151] }], 100, 200),
      };
    }""", frame)
    assert result["header"] == header
    assert bytes(result["pngBytes"]) == png[:8] == PNG_SIGNATURE
    assert result["badMagic"] == "not a tile frame (bad magic)"
    # The overview is capped at 2048 px a side: 32 x 512 px tiles are drawn at 64 px.
    assert result["cells"] == [128, 64, 32, 256]
    # Bins are at least 1 s (3 s of history: 3 bins), at most ~40 (200 s: 5 s bins).
    assert result["rates"] == {"binS": 1, "rates": [[2, 1, 0], [0, 0, 1]]}
    assert result["longRates"]["binS"] == 5
    assert result["longRates"]["rates"][0][0] == 0.2 and result["longRates"]["rates"][0][10] == 0.4

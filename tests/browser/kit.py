"""Shared pieces of the browser tests: Chromium, runs, tiles and canvas reads.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright's sync API; it is never downloaded
by Playwright. Tiles are either solid-colour 8-bit palette PNGs (a colour per tile, so a canvas
pixel says exactly which tile was drawn where) or real Mandelbrot tiles from
``mpi_render.tile.render_tile``.
"""
from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from PIL import Image
from support import REPO, http_json, wait_for

from mpi_render.config import RenderConfig
from mpi_render.protocol import encode_batch

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = REPO / "test-artifacts"
BACKGROUND_RGB = (0x0B, 0x0E, 0x14)  # the empty overview canvas (mosaic.js)
VIEWPORT = {"width": 1440, "height": 960}  # every test tab's window, in CSS px
SMALL = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64)  # 16 tiles, quick to draw
_run_ids = itertools.count()


def launch_chromium(playwright, *extra_args: str):
    """Debian Chromium, headless (plus ``extra_args``); fails (never skips) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian chromium), "
                    "or `apt-get install -y chromium`")
    return playwright.chromium.launch(executable_path=str(CHROMIUM),
                                      args=CHROMIUM_ARGS + list(extra_args))


def new_tab(browser):
    """A page in a browser context of its own (no cookies or storage shared), VIEWPORT sized."""
    return browser.new_context(viewport=VIEWPORT).new_page()


def tile_rgb(row: int, col: int) -> tuple[int, int, int]:
    """A colour that differs for every tile of a grid up to 16 x 16, never the background."""
    return (64 + 12 * row, 64 + 12 * col, 224 - 8 * ((row + col) % 8))


def solid_png(tile_px: int, rgb: tuple[int, int, int]) -> bytes:
    """A ``tile_px`` square 8-bit palette PNG of one colour (the wire format of real tiles)."""
    image = Image.new("P", (tile_px, tile_px), 0)
    image.putpalette(list(rgb) + [0, 0, 0] * 255)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def stripe_rgb(row: int, col: int) -> tuple[int, int, int]:
    """The second colour of tile (row, col)'s stripes: :func:`tile_rgb` with another blue."""
    red, green, blue = tile_rgb(row, col)
    return (red, green, 255 - blue)


def wide_rgb(row: int, col: int) -> tuple[int, int, int]:
    """Like :func:`tile_rgb` for grids up to 64 x 64: red and green say the row and column."""
    return (2 + 4 * row, 2 + 4 * col, 200)


def wide_stripe_rgb(row: int, col: int) -> tuple[int, int, int]:
    """The second stripe colour that goes with :func:`wide_rgb`."""
    return (2 + 4 * row, 2 + 4 * col, 55)


def striped_png(tile_px: int, first: tuple, second: tuple) -> bytes:
    """A tile of one-pixel vertical stripes, ``first`` on even columns and ``second`` on odd.

    Any overview (the server's subsampling, the page's bilinear downscale) loses the stripes; only
    the tile drawn at full resolution shows them, so they tell a sharp tile from a blurred one.
    """
    image = Image.new("P", (tile_px, tile_px), 0)
    image.putpalette(list(first) + list(second) + [0, 0, 0] * 254)
    image.putdata([x % 2 for x in range(tile_px)] * tile_px)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def owners(config: RenderConfig) -> dict[tuple[int, int], str]:
    """``(row, col) -> site`` under the run's split (the project's one split function)."""
    return {divmod(index, config.grid): site
            for site, indices in config.owned().items() for index in indices}


def solid_tiles(config: RenderConfig, cells, **meta) -> list[tuple[dict, bytes]]:
    """Batch entries for ``cells`` [(row, col)], each tile solid in :func:`tile_rgb`."""
    owner = owners(config)
    return [({"row": row, "col": col, "site": owner[row, col], "rank": 0, "host": "test-host",
              "render_ms": 5.0 + row, "encode_ms": 1.0, "iterations": 1000, **meta},
             solid_png(config.tile_px, tile_rgb(row, col))) for row, col in cells]


def striped_tiles(config: RenderConfig, cells, first=tile_rgb, second=stripe_rgb,
                  **meta) -> list[tuple[dict, bytes]]:
    """Batch entries for ``cells``, each tile striped in ``first(row, col)`` / ``second(row, col)``."""
    owner = owners(config)
    pngs = {}  # the stripes are the same for every tile but the colours: encode each once
    entries = []
    for row, col in cells:
        key = (first(row, col), second(row, col))
        if key not in pngs:
            pngs[key] = striped_png(config.tile_px, *key)
        entries.append(({"row": row, "col": col, "site": owner.get((row, col), config.sites[0]),
                         "rank": 0, "host": "test-host", "render_ms": 5.0, **meta}, pngs[key]))
    return entries


def all_cells(config: RenderConfig) -> list[tuple[int, int]]:
    """Every ``(row, col)`` of the run's grid, row by row."""
    return [(row, col) for row in range(config.grid) for col in range(config.grid)]


def new_run_id(label: str) -> str:
    """A run id no other browser test of this session uses: ``LABEL-N``."""
    return f"{label}-{next(_run_ids)}"


def create_run(server, run_id: str, config: RenderConfig) -> None:
    status, doc = server.api("PUT", f"api/runs/{run_id}", config.run_json())
    assert status == 201, (status, doc, server.log())


def post_tiles(server, run_id: str, tiles: list[tuple[dict, bytes]]) -> dict:
    content_type, body = encode_batch(tiles)
    status, doc = http_json("POST", f"{server.url}api/runs/{run_id}/tiles", body, server.token,
                            headers={"Content-Type": content_type}, context=server.context)
    assert status == 200, (status, doc, server.log())
    return doc


def stored_run(server, config: RenderConfig = SMALL, label: str = "parent") -> str:
    """A new run whose tiles are all stored (solid colours): a page opens it and zooms in."""
    run_id = new_run_id(label)
    create_run(server, run_id, config)
    post_tiles(server, run_id, solid_tiles(config, all_cells(config)))
    return run_id


def run_doc(server, run_id: str) -> dict:
    """GET api/runs/{run_id} (it must exist)."""
    status, doc = http_json("GET", f"{server.url}api/runs/{run_id}", context=server.context)
    assert status == 200, (status, doc)
    return doc


def control_key(server) -> str:
    """The dashboard's control token: what a control link carries as ``#key=``."""
    return (server.data_dir / "control-token").read_text().strip()


# Centre pixel of each listed tile on the overview canvas (the canvas may be downscaled).
_READ_CELLS_JS = """([grid, cells]) => {
  const canvas = document.getElementById("mosaic");
  const ctx = canvas.getContext("2d");
  const cell = canvas.width / grid;
  return cells.map(([row, col]) => Array.from(
    ctx.getImageData(Math.floor((col + 0.5) * cell), Math.floor((row + 0.5) * cell), 1, 1).data
  ).slice(0, 3));
}"""


def cell_colours(page, grid: int, cells) -> list[tuple[int, int, int]]:
    """RGB at the centre of each tile ``(row, col)`` in ``cells`` as drawn on the page."""
    return [tuple(rgb) for rgb in page.evaluate(_READ_CELLS_JS, [grid, [list(c) for c in cells]])]


def wait_for_colours(page, grid: int, expected: dict, timeout_s: float = 15) -> None:
    """Wait until every tile ``(row, col) -> rgb`` in ``expected`` shows its colour."""
    cells = list(expected)

    def drawn():
        return cell_colours(page, grid, cells) == [expected[c] for c in cells]

    try:
        wait_for(drawn, timeout_s, "tiles drawn on the canvas", interval=0.1)
    except AssertionError:
        got = dict(zip(cells, cell_colours(page, grid, cells)))
        wrong = {c: (got[c], expected[c]) for c in cells if got[c] != expected[c]}
        raise AssertionError(f"{len(wrong)} tiles not drawn as expected (got, want): "
                             f"{dict(list(wrong.items())[:8])}") from None


# RGB of stage points given in CSS px of the canvas (the canvas holds device pixels).
_READ_POINTS_JS = """(points) => {
  const canvas = document.getElementById("mosaic");
  const ratio = canvas.width / canvas.clientWidth;
  const ctx = canvas.getContext("2d");
  return points.map(([x, y]) => Array.from(
    ctx.getImageData(Math.floor(x * ratio), Math.floor(y * ratio), 1, 1).data).slice(0, 3));
}"""


def stage_colours(page, points) -> list[tuple[int, int, int]]:
    """RGB at stage points ``(x, y)`` in CSS px relative to the canvas's top-left corner."""
    return [tuple(rgb) for rgb in page.evaluate(_READ_POINTS_JS, [list(p) for p in points])]


def stage_data(page, name: str) -> str:
    """The stage canvas's ``data-NAME`` ("" when unset): what the viewer painted (viewer.js)."""
    return page.locator("#mosaic").get_attribute(f"data-{name}") or ""


def stage_box(page) -> dict:
    """The stage canvas's box in page CSS px: {x, y, width, height}."""
    return page.locator("#mosaic").bounding_box()


def text(page, selector: str) -> str:
    return page.locator(selector).text_content() or ""


def wait_text(page, selector: str, value: str, timeout_s: float = 15) -> None:
    """Wait until the element's text is exactly ``value``."""
    try:
        wait_for(lambda: text(page, selector) == value, timeout_s, f"{selector} == {value!r}",
                 interval=0.1)
    except AssertionError as err:
        raise AssertionError(f"{err}; it reads {text(page, selector)!r}") from None

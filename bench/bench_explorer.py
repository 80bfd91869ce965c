"""The page as an explorer, in Debian Chromium: frame rate while panning a zoomed 32x32x512 run,
and the time from a click on "Render this view" to the last tile drawn on two warm serving sites.

Run: ``.venv/bin/python bench/bench_explorer.py [--quick] [--rounds N]``. Prints markdown tables.

**Pan.** A dashboard stores a complete full-view run of 32x32 tiles of 512 px (the project's own
tiles, ``harness.tile_set``); the page opens it (the late-join overview path), zooms in with the
``+`` key (6 presses: 11.4x, 224 px cells, so the viewer fetches and draws 256 px decodes of the
full tiles), waits until the visible tiles are sharp, then drags the image with Playwright's
mouse (``mouse.move(..., steps=N)``: one pointermove per step) across 4 cells and back. New cells
come into view, so fetches and decodes run during the pan, as for a person. A MutationObserver
counts the viewer's paints (it stamps ``data-zoom`` on every paint) and a requestAnimationFrame
loop records every frame's timestamp: **paints/s** over the drag is the frame rate a person
sees (goal >= 30), the frame interval p95 the worst stutter.

**Render this view.** Two ``mpi-render --serve`` sites (``cloud`` and ``onprem``, 1 rank each,
the machine has 2 cores) stay warm; a parent run of 16x16 tiles of 256 px (split dynamic) is
rendered by them first. The page, opened with the control link, zooms in 2.25x and clicks
"Render this view" (max_iter as suggested). The page clock stamps the click (a capture
listener) and the first animation frame at which the stage shows the new run with all 256 tiles
drawn (``data-run`` and ``data-tiles-drawn``, set together at each paint). Goal <= 2 s. Each
round goes Back to the parent and renders the same view again under a new id (``-z1``,
``-z1-2``, ...): the sites render it from scratch every time.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import BatchPoster, Dashboard, create_run, run_doc

from mpi_render.config import RenderConfig

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1440, "height": 960}
TIMEOUT_MS = 120_000

# Paint and frame recorder, installed before the page's scripts.
RECORDER_JS = """
window.__pan = {recording: false, paints: [], frames: []};
new MutationObserver(() => {
  if (window.__pan.recording) window.__pan.paints.push(performance.now());
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-zoom"]});
const frame = (t) => {
  if (window.__pan.recording) window.__pan.frames.push(t);
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
document.addEventListener("click", (event) => {
  if (event.target.id === "render-view") window.__clickMs = performance.now();
}, true);
"""


def stage(page, name: str) -> str:
    return page.locator("#mosaic").get_attribute(f"data-{name}") or ""


def press_zoom(page, presses: int) -> None:
    for _ in range(presses):
        page.keyboard.press("+")
    zoom = 1.5 ** presses
    page.wait_for_function(
        f"Math.abs(Number(document.getElementById('mosaic').dataset.zoom) - {zoom}) < 1e-3")


def wait_sharp(page, quiet_s: float = 0.5) -> None:
    """Wait until the visible tiles are sharp: data-sharp-tiles > 0 and unchanged for quiet_s."""
    page.wait_for_function("Number(document.getElementById('mosaic').dataset.sharpTiles) > 0",
                           timeout=TIMEOUT_MS)
    last, since = None, time.monotonic()
    while time.monotonic() - since < quiet_s:
        now = stage(page, "sharp-tiles")
        if now != last:
            last, since = now, time.monotonic()
        page.wait_for_timeout(50)


def pan_round(browser, dash: Dashboard, run_id: str, total: int, steps: int) -> dict:
    """One pan over a zoomed run in a fresh context: paints/s and frame intervals (ms)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.add_init_script(RECORDER_JS)
        page.goto(f"{dash.url}?run={run_id}")
        page.wait_for_function(f"document.getElementById('mosaic').dataset.tilesDrawn === '{total}'",
                               timeout=TIMEOUT_MS)
        press_zoom(page, 6)
        wait_sharp(page)
        box = page.locator("#mosaic").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        cell_px = box["width"] * 1.5 ** 6 / 32
        page.mouse.move(x, y)
        page.mouse.down()
        page.evaluate("window.__pan.recording = true")
        page.mouse.move(x - 4 * cell_px, y - cell_px, steps=steps)
        page.mouse.move(x, y, steps=steps)
        page.evaluate("window.__pan.recording = false")
        page.mouse.up()
        record = page.evaluate("window.__pan")
        fetched = int(stage(page, "fetched-tiles") or 0)
    finally:
        context.close()
    paints, frames = record["paints"], record["frames"]
    span_ms = paints[-1] - paints[0] if len(paints) > 1 else float("nan")
    intervals = [b - a for a, b in zip(frames, frames[1:])]
    return {"paints": len(paints), "fps": (len(paints) - 1) / span_ms * 1000, "span_ms": span_ms,
            "p95_ms": harness.percentile(intervals, 95), "max_ms": max(intervals), "fetched": fetched}


def store_pan_run(dash: Dashboard, run_id: str, grid: int, tile_px: int) -> None:
    create_run(dash, run_id, grid, tile_px)
    poster = BatchPoster(dash.url, dash.token)
    for body in BatchPoster.encode(harness.tile_set(grid, tile_px), 32):
        poster.post(run_id, body)
    poster.close()


def render_view_rounds(browser, tmp: Path, grid: int, tile_px: int, rounds: int) -> list[dict]:
    """Click-to-last-tile rounds on two warm serving sites; returns ms and the child's settings."""
    from browser.serving import ServingSite

    parent = RenderConfig(grid=grid, tile_px=tile_px, max_iter=256, split="dynamic")
    results = []
    with Dashboard(tmp / "serve-dash") as dash, ServingSite(tmp, "cloud", dash), \
            ServingSite(tmp, "onprem", dash):
        status, doc = dash.api("PUT", "api/runs/explore", parent.run_json())
        if status != 201:
            raise RuntimeError(f"PUT api/runs/explore answered {status}: {doc}")
        key = (dash.data_dir / "control-token").read_text().strip()
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.add_init_script(RECORDER_JS)
        page.goto(f"{dash.url}?run=explore#key={key}")
        total = grid * grid
        for _ in range(rounds):
            page.wait_for_function(
                "document.getElementById('mosaic').dataset.run === 'explore' && "
                f"document.getElementById('mosaic').dataset.tilesDrawn === '{total}'", timeout=TIMEOUT_MS)
            press_zoom(page, 2)
            page.click("#render-view")
            page.wait_for_function("document.getElementById('run-id').textContent !== 'explore'")
            child = page.locator("#run-id").text_content()
            done_ms = page.wait_for_function(
                f"document.getElementById('mosaic').dataset.run === '{child}' && "
                f"document.getElementById('mosaic').dataset.tilesDrawn === '{total}' && performance.now()",
                polling="raf", timeout=TIMEOUT_MS).json_value()
            child_doc = run_doc(dash, child)
            results.append({"ms": done_ms - page.evaluate("window.__clickMs"), "run": child,
                            "max_iter": child_doc["config"]["max_iter"],
                            "shares": {s: v["stored"] for s, v in child_doc["sites"].items()}})
            page.click("#lineage-back")
        context.close()
    return results


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    args = harness.bench_args(__doc__, argv, rounds=3)
    pan_grid, pan_tile = (16, 256) if args.quick else (32, 512)
    view_grid, view_tile = (8, 128) if args.quick else (16, 256)
    print("## The page as an explorer (Chromium)\n")
    print(harness.machine_line(), "\n")
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with Dashboard(Path(tmp) / "pan-dash") as dash:
                store_pan_run(dash, "pan", pan_grid, pan_tile)
                pans = [pan_round(browser, dash, "pan", pan_grid * pan_grid, steps=60)
                        for _ in range(args.rounds)]
            views = render_view_rounds(browser, Path(tmp), view_grid, view_tile, args.rounds)
        finally:
            browser.close()
    print(f"Pan inside a zoomed {pan_grid}x{pan_grid}x{pan_tile} run (11.4x, 4 cells across and back, "
          f"120 pointer moves), {args.rounds} rounds, fresh context each\n")
    print(harness.table(
        ["run", "paints", "pan ms", "paints/s (median)", "per round", "frame p95 ms", "frame max ms",
         "tiles fetched", "goal"],
        [[f"{pan_grid}x{pan_grid}x{pan_tile}", pans[0]["paints"],
          f"{harness.median([p['span_ms'] for p in pans]):.0f}",
          f"**{harness.median([p['fps'] for p in pans]):.0f}**", " / ".join(f"{p['fps']:.0f}" for p in pans),
          f"{harness.median([p['p95_ms'] for p in pans]):.0f}", f"{max(p['max_ms'] for p in pans):.0f}",
          pans[0]["fetched"], ">= 30 /s"]]))
    print(f"\nClick on \"Render this view\" to the last tile drawn: {view_grid}x{view_grid}x{view_tile} "
          f"view (2.25x), two warm serving sites of 1 rank, {args.rounds} rounds\n")
    print(harness.table(
        ["view", "max_iter", "click -> last tile drawn ms (median)", "per round ms", "tiles per site",
         "goal"],
        [[f"{view_grid}x{view_grid}x{view_tile}", views[0]["max_iter"],
          f"**{harness.median([v['ms'] for v in views]):.0f}**", " / ".join(f"{v['ms']:.0f}" for v in views),
          " / ".join(str(v["shares"]) for v in views), "<= 2000 ms"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The page as an explorer, in Chromium: frame rate while panning a zoomed 32x32x512 run (at the
full view, at the Flake's depth and at the deepest view the dashboard takes), and the time from a
click on "Render this view" to the first and last tile drawn on two warm serving sites (a shallow
view, and a view at the Flake's depth with the share spent on the reference orbit).

Run: ``.venv/bin/python bench/bench_explorer.py [--quick] [--rounds N]``. Prints markdown tables.

**Pan.** A dashboard stores a complete run of 32x32 tiles of 512 px (the project's own tiles,
``harness.tile_set``; the pictures are the full view's whatever the run's view, which changes
nothing for the page's painting); the page opens it (the late-join overview path), zooms in with
the ``+`` key (6 presses: 11.4x, 224 px cells, so the viewer fetches and draws 256 px decodes of
the full tiles), waits until the visible tiles are sharp, then drags the image with Playwright's
mouse (``mouse.move(..., steps=N)``: one pointermove per step) across 4 cells and back. New cells
come into view, so fetches and decodes run during the pan, as for a person. A MutationObserver
counts the viewer's paints (it stamps ``data-zoom`` on every paint) and a requestAnimationFrame
loop records every frame's timestamp: **paints/s** over the drag is the frame rate a person
sees (goal >= 30), the frame interval p95 the worst stutter. Three runs differ only in their view:
the full set; the Flake (width 1.7e-157, a 163-digit centre); and a 4,993-character centre of
width 1e-4985, where every camera move recomputes the exact region (BigInt decimals, region.js)
and the "Where" panel shows ~5,000 digits.

**Render this view.** Two ``mpi-render --serve`` sites (``cloud`` and ``onprem``, 1 rank each,
the machine has 2 cores) stay warm; a parent run of 16x16 tiles of 256 px (split dynamic) is
rendered by them first. The page, opened with the control link, zooms in 2.25x and clicks
"Render this view". The page clock stamps the click (a capture listener) and the first animation
frames at which the stage shows the new run with one tile and with all 256 tiles drawn
(``data-run`` and ``data-tiles-drawn``, set together at each paint). Each round goes Back to the
parent and renders the same view again under a new id (``-z1``, ``-z1-2``, ...): the sites
render it from scratch every time. Two parents: the full view (max_iter as suggested; goal last
tile <= 2 s), and the Flake (max_iter 50,000 typed in the box). For the Flake the table gives
the **share of the click -> last tile time the sites spent on the reference orbit**: the longest
time a site logged for the child run's reference orbit and BLA table (``run ID: reference orbit
of N iterations ... in X s, BLA table in Y s``; an orbit of more than a second is also reported
to the page as ``reference`` phases, ``POST api/runs/{id}/phase``, which the table counts too),
and the kernel the tile headers name.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import BatchPoster, Dashboard, create_run, run_doc

from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1440, "height": 960}
TIMEOUT_MS = 180_000
FLAKE = LOCATIONS["flake"]
# The deepest centre the dashboard takes, near the Flake's: 4,993 characters (limit 5,000).
EDGE_CX = "-1." + (FLAKE.cx[3:] * 40)[:4990]
PAN_VIEWS = [("full set", None), ("Flake, width 1.7e-157", (FLAKE.cx, FLAKE.cy, FLAKE.width)),
             ("4,993-character centre, width 1e-4985", (EDGE_CX, "0", "1e-4985"))]

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


def pan_round(browser, dash: Dashboard, run_id: str, grid: int, steps: int) -> dict:
    """One pan over a zoomed run of ``grid`` x ``grid`` tiles in a fresh context: paints/s and
    frame intervals (ms)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.add_init_script(RECORDER_JS)
        page.goto(f"{dash.url}?run={run_id}")
        page.wait_for_function(f"document.getElementById('mosaic').dataset.tilesDrawn === '{grid * grid}'",
                               timeout=TIMEOUT_MS)
        press_zoom(page, 6)
        wait_sharp(page)
        box = page.locator("#mosaic").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        cell_px = box["width"] * 1.5 ** 6 / grid
        page.mouse.move(x, y)
        page.mouse.down()
        page.evaluate("window.__pan.recording = true")
        page.mouse.move(x - 4 * cell_px, y - cell_px, steps=steps)
        page.mouse.move(x, y, steps=steps)
        page.evaluate("window.__pan.recording = false")
        page.mouse.up()
        record = page.evaluate("window.__pan")
        fetched = int(stage(page, "fetched-tiles") or 0)
        digits = len(page.locator("#pos-cx").text_content() or "")
    finally:
        context.close()
    paints, frames = record["paints"], record["frames"]
    span_ms = paints[-1] - paints[0] if len(paints) > 1 else float("nan")
    intervals = [b - a for a, b in zip(frames, frames[1:])]
    return {"paints": len(paints), "fps": (len(paints) - 1) / span_ms * 1000, "span_ms": span_ms,
            "p95_ms": harness.percentile(intervals, 95), "max_ms": max(intervals), "fetched": fetched,
            "digits": digits}


def store_pan_run(dash: Dashboard, run_id: str, grid: int, tile_px: int, view) -> None:
    create_run(dash, run_id, grid, tile_px, view=view)
    poster = BatchPoster(dash.url, dash.token)
    for body in BatchPoster.encode(harness.tile_set(grid, tile_px), 32):
        poster.post(run_id, body)
    poster.close()


def render_view_rounds(browser, tmp: Path, parent: RenderConfig, rounds: int,
                       max_iter: int | None = None) -> list[dict]:
    """Click -> first and last tile drawn, on two warm serving sites; ms, the child's settings,
    the longest reference-orbit phase a site reported (s, or None) and the kernels named."""
    from browser.serving import ServingSite

    results = []
    total = parent.total_tiles
    tmp.mkdir(parents=True, exist_ok=True)
    with Dashboard(tmp / "serve-dash") as dash, ServingSite(tmp, "cloud", dash) as cloud, \
            ServingSite(tmp, "onprem", dash) as onprem:
        status, doc = dash.api("PUT", "api/runs/explore", parent.run_json())
        if status != 201:
            raise RuntimeError(f"PUT api/runs/explore answered {status}: {doc}")
        key = (dash.data_dir / "control-token").read_text().strip()
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.add_init_script(RECORDER_JS)
        reports = []  # every phase report the page was sent: in a hello or a phase message
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda data: reports.extend(phase_reports(data))))
        page.goto(f"{dash.url}?run=explore#key={key}")
        drawn = ("document.getElementById('mosaic').dataset.run === '{run}' && "
                 "Number(document.getElementById('mosaic').dataset.tilesDrawn) >= {tiles}")
        for _ in range(rounds):
            page.wait_for_function(drawn.format(run="explore", tiles=total), timeout=TIMEOUT_MS)
            press_zoom(page, 2)
            if max_iter is not None:
                page.fill("#render-max-iter", str(max_iter))
            page.click("#render-view")
            page.wait_for_function("document.getElementById('run-id').textContent !== 'explore'")
            child = page.locator("#run-id").text_content()
            first_ms = page.wait_for_function(f"{drawn.format(run=child, tiles=1)} && performance.now()",
                                              polling="raf", timeout=TIMEOUT_MS).json_value()
            last_ms = page.wait_for_function(f"{drawn.format(run=child, tiles=total)} && performance.now()",
                                             polling="raf", timeout=TIMEOUT_MS).json_value()
            click_ms = page.evaluate("window.__clickMs")
            child_doc = run_doc(dash, child)
            reference = [r["elapsed_s"] for r in reports if r["run"] == child and r["phase"] == "reference"]
            reference += orbit_seconds(child, cloud.output() + onprem.output())
            results.append({
                "first_ms": first_ms - click_ms, "ms": last_ms - click_ms, "run": child,
                "max_iter": child_doc["config"]["max_iter"],
                "shares": {s: v["stored"] for s, v in child_doc["sites"].items()},
                "reference_s": max(reference) if reference else None,
                "kernels": " / ".join(page.locator("#site-list .site-detail").all_text_contents()),
            })
            page.click("#lineage-back")
        context.close()
    return results


def orbit_seconds(run_id: str, logs: str) -> list[float]:
    """Seconds of each reference orbit + BLA table the sites logged for ``run_id``."""
    pattern = re.compile(rf"run {re.escape(run_id)}: reference orbit of \d+ iterations at \d+ bits "
                         r"in ([0-9.]+) s, BLA table in ([0-9.]+) s")
    return [float(orbit) + float(table) for orbit, table in pattern.findall(logs)]


def phase_reports(data) -> list[dict]:
    """The phase reports in one WebSocket message (text frames only: tiles are binary)."""
    if not isinstance(data, str) or '"phase' not in data:
        return []
    msg = json.loads(data)
    if msg.get("type") == "phase":
        return [msg]
    if msg.get("type") == "hello":
        return [{**report, "run": msg["run"]} for report in (msg.get("phases") or {}).values()]
    return []


def reference_share(views: list[dict]) -> str:
    shares = [v["reference_s"] * 1000 / v["ms"] for v in views if v["reference_s"] is not None]
    if not shares:
        return "n/a: no reference orbit (the double kernel rendered it)"
    return f"**{harness.median(shares):.1%}** ({' / '.join(f'{s:.1%}' for s in shares)})"


def kernels_named(views: list[dict]) -> str:
    named = {part.split("kernel", 1)[1].strip(" s") for v in views for part in v["kernels"].split(" / ")
             if "kernel" in part}
    return ", ".join(sorted(named)) or "none named (tiles without a kernel field)"


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
            pans = {}
            with Dashboard(Path(tmp) / "pan-dash") as dash:
                for index, (label, view) in enumerate(PAN_VIEWS):
                    store_pan_run(dash, f"pan{index}", pan_grid, pan_tile, view)
                    pans[label] = [pan_round(browser, dash, f"pan{index}", pan_grid, steps=60)
                                   for _ in range(args.rounds)]
            shallow = RenderConfig(grid=view_grid, tile_px=view_tile, max_iter=256, split="dynamic")
            views = render_view_rounds(browser, Path(tmp) / "shallow", shallow, args.rounds)
            deep = RenderConfig(grid=view_grid, tile_px=view_tile, max_iter=FLAKE.max_iter,
                                center=(FLAKE.cx, FLAKE.cy), width=FLAKE.width, split="dynamic")
            deep_views = render_view_rounds(browser, Path(tmp) / "deep", deep, args.rounds,
                                            max_iter=FLAKE.max_iter)
        finally:
            browser.close()
    print(f"Pan inside a zoomed {pan_grid}x{pan_grid}x{pan_tile} run (11.4x, 4 cells across and back, "
          f"120 pointer moves), {args.rounds} rounds, fresh context each\n")
    print(harness.table(
        ["view", "paints", "pan ms", "paints/s (median)", "per round", "frame p95 ms", "frame max ms",
         "tiles fetched", "re characters", "goal"],
        [[label, rounds[0]["paints"], f"{harness.median([p['span_ms'] for p in rounds]):.0f}",
          f"**{harness.median([p['fps'] for p in rounds]):.0f}**",
          " / ".join(f"{p['fps']:.0f}" for p in rounds),
          f"{harness.median([p['p95_ms'] for p in rounds]):.0f}", f"{max(p['max_ms'] for p in rounds):.0f}",
          rounds[0]["fetched"], rounds[0]["digits"], ">= 30 /s"] for label, rounds in pans.items()]))
    print(f"\nClick on \"Render this view\" to the first and last tile drawn: {view_grid}x{view_grid}x"
          f"{view_tile} view (2.25x), two warm serving sites of 1 rank, {args.rounds} rounds\n")
    rows = []
    for label, results in (("full view", views), ("Flake, 1.7e-157", deep_views)):
        rows.append([label, results[0]["max_iter"], f"{harness.median([v['first_ms'] for v in results]):.0f}",
                     f"**{harness.median([v['ms'] for v in results]):.0f}**",
                     " / ".join(f"{v['ms']:.0f}" for v in results),
                     " / ".join(str(v["shares"]) for v in results),
                     reference_share(results) if results is deep_views else "-", kernels_named(results)])
    print(harness.table(
        ["parent", "max_iter", "click -> first tile ms (median)", "click -> last tile ms (median)",
         "per round ms", "tiles per site", "reference orbit share", "kernels"], rows))
    print("\nGoal for the full view: last tile <= 2000 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

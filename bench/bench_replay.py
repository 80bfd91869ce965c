"""Late-join replay in a real browser: time until every tile of a finished run is drawn.

Run: ``.venv/bin/python bench/bench_replay.py [--quick]``. Prints a markdown table.

A dashboard stores a complete full-view run (32x32 tiles of 512 px: 1024 PNGs, rendered once
by the project's tile pipeline and cached). Each round opens the page ``./?run=ID`` in a fresh
browser context of Debian Chromium (Playwright; ``--headless --no-sandbox --disable-gpu
--disable-background-networking --disable-component-update``) and reads, from the page's own
clock, the time from navigation start (``performance.now() == 0``) until the overview canvas
``#mosaic`` says ``data-tiles-drawn == 1024`` (set by ``dashboard/static/js/mosaic.js`` after
the requestAnimationFrame that drew the tiles). A MutationObserver installed before any page
script runs stamps that moment. Target < 2 s. The page takes the late-join path of a big run
(``overview.png`` drawn first, header-only replay, see docs/API.md): the first round also pays
the dashboard's cold overview build, later rounds get it from its cache.

``browser CPU`` is the user + system CPU of every Chromium process (descendants of this
script, the dashboard excluded) during the round, ``dashboard CPU`` the dashboard's: on 2
cores, (browser + dashboard CPU) / 2 is a floor for the wall time whatever else runs.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import BatchPoster, Dashboard, create_run, run_doc

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
RUN_ID = "replay"
PAGE_TIMEOUT_S = 60

# Stamps performance.now() when the mosaic canvas first reports `target` drawn tiles, when it
# drew its first tile, and when the "replayed" message arrived (every frame received; the rest
# of the time is decoding and drawing).
STAMP_SCRIPT = """
(target) => {
  window.__bench = {allDrawnMs: null, firstDrawnMs: null, replayedMs: null};
  new MutationObserver(() => {
    const canvas = document.getElementById("mosaic");
    const drawn = canvas ? Number(canvas.dataset.tilesDrawn || 0) : 0;
    if (canvas && canvas.dataset.replayedSeq && window.__bench.replayedMs === null) {
      window.__bench.replayedMs = performance.now();
    }
    if (drawn > 0 && window.__bench.firstDrawnMs === null) {
      window.__bench.firstDrawnMs = performance.now();
    }
    if (drawn >= target && window.__bench.allDrawnMs === null) {
      window.__bench.allDrawnMs = performance.now();
    }
  }).observe(document, {subtree: true, attributes: true,
                        attributeFilter: ["data-tiles-drawn", "data-replayed-seq"]});
}
"""


def store_run(dash: Dashboard, grid: int, tile_px: int) -> float:
    """Store every tile of a full-view run; returns the PNG megabytes stored."""
    tiles = harness.tile_set(grid, tile_px)
    create_run(dash, RUN_ID, grid, tile_px)
    poster = BatchPoster(dash.url, dash.token)
    for body in BatchPoster.encode(tiles, 32):
        poster.post(RUN_ID, body)
    poster.close()
    if not run_doc(dash, RUN_ID)["complete"]:
        raise RuntimeError("the replay run is not complete after posting every tile")
    return sum(len(png) for _, png in tiles) / 1e6


def replay_round(browser, dash: Dashboard, total: int) -> dict:
    """Open the page in a fresh context; returns page-clock milliseconds to first/all drawn,
    and the CPU seconds the browser's processes and the dashboard used meanwhile."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.add_init_script(f"({STAMP_SCRIPT})({total})")
        browser_cpu = harness.descendants_cpu_s(os.getpid(), exclude=(dash.proc.pid,))
        dash_cpu = harness.proc_cpu_s(dash.proc.pid)
        start = time.perf_counter()
        page.goto(f"{dash.url}?run={RUN_ID}", wait_until="commit")
        page.wait_for_function("() => window.__bench && window.__bench.allDrawnMs !== null",
                               timeout=PAGE_TIMEOUT_S * 1000)
        outer_s = time.perf_counter() - start
        browser_cpu = harness.descendants_cpu_s(os.getpid(), exclude=(dash.proc.pid,)) - browser_cpu
        dash_cpu = harness.proc_cpu_s(dash.proc.pid) - dash_cpu
        stamps = page.evaluate("() => window.__bench")
    finally:
        context.close()
    return {"all_ms": stamps["allDrawnMs"], "first_ms": stamps["firstDrawnMs"],
            "replayed_ms": stamps["replayedMs"], "outer_s": outer_s,
            "browser_cpu_s": browser_cpu, "dashboard_cpu_s": dash_cpu}


def _median_ms(values) -> str:
    known = [v for v in values if v is not None]
    return f"{harness.median(known):.0f}" if known else "n/a"


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    args = harness.bench_args(__doc__, argv)
    quick, rounds = args.quick, args.rounds
    grid, tile_px = (8, 512) if quick else (32, 512)
    print("## Late-join replay in Chromium\n")
    print(harness.machine_line(), "\n")
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        with Dashboard(Path(tmp) / "dash") as dash:
            png_mb = store_run(dash, grid, tile_px)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    results = [replay_round(browser, dash, grid * grid) for _ in range(rounds)]
                finally:
                    browser.close()
    all_ms = [r["all_ms"] for r in results]
    print(f"Complete run of {grid}x{grid} tiles of {tile_px} px ({png_mb:.1f} MB of PNG), page "
          f"opened after the run, {rounds} rounds, fresh browser context each\n")
    print(harness.table(
        ["tiles", "first tile drawn ms", "all frames received ms", "all drawn ms (median)",
         "per round ms", "goto -> all drawn, outer s", "browser CPU s", "dashboard CPU s",
         "target"],
        [[grid * grid, f"{harness.median([r['first_ms'] for r in results]):.0f}",
          _median_ms([r["replayed_ms"] for r in results]),
          f"**{harness.median(all_ms):.0f}**", " / ".join(f"{v:.0f}" for v in all_ms),
          f"{harness.median([r['outer_s'] for r in results]):.2f}",
          f"{harness.median([r['browser_cpu_s'] for r in results]):.2f}",
          f"{harness.median([r['dashboard_cpu_s'] for r in results]):.2f}", "< 2000 ms"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The explorer's screenshots in docs/: a zoomed view, the activity panel, a view rendered with
"Render this view", and a deep view with its coordinates (the Flake, chosen from the famous
locations, zoomed 3.4x more and rendered), all from a real dashboard, two real serving sites
(``mpi-render --serve``, 2 ranks each) and Debian Chromium.

Run: ``.venv/bin/python scripts/explorer_screenshots.py [--out docs]``. Writes
``explorer-zoomed.png``, ``explorer-activity.png``, ``explorer-render-view.png`` and
``explorer-deep.png`` (the serving sites render it by perturbation, as any deep view).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser.kit import launch_chromium  # noqa: E402 (after the path to the test helpers)
from browser.serving import ServingSite  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from support import Dashboard  # noqa: E402

from mpi_render.config import RenderConfig  # noqa: E402

# A seahorse-valley view, as in the demo: detail that rewards a zoom.
FIRST = RenderConfig(grid=16, tile_px=256, palette="cosmic", max_iter=768,
                     center=(-0.7436438870, 0.1318259043), width=0.02, split="dynamic")
TIMEOUT_MS = 180_000
DEEP_TIMEOUT_MS = 1_800_000  # 256 tiles at max_iter 50,000 on two 2-rank sites
SHOTS = ("explorer-zoomed.png", "explorer-render-view.png", "explorer-activity.png", "explorer-deep.png")


def wait_drawn(page, run_id: str, total: int, timeout_ms: int = TIMEOUT_MS) -> None:
    page.wait_for_function(
        f"document.getElementById('mosaic').dataset.run === '{run_id}' && "
        f"document.getElementById('mosaic').dataset.tilesDrawn === '{total}'", timeout=timeout_ms)
    page.wait_for_timeout(1200)  # a text and chart refresh


def shoot_deep(page, out: Path, total: int) -> None:
    """The Flake from the famous locations, 3 key presses (3.4x) deeper, rendered: the stage and
    the "Where" panel with its coordinates."""
    page.uncheck("#show-ranks")
    page.click("#famous-list button:text-is('flake')")
    page.wait_for_function("document.getElementById('run-id').textContent.startsWith('flake')")
    flake = page.locator("#run-id").text_content()
    wait_drawn(page, flake, total, DEEP_TIMEOUT_MS)
    for _ in range(3):
        page.keyboard.press("+")
    page.wait_for_timeout(500)
    page.click("#render-view")
    page.wait_for_function(f"document.getElementById('run-id').textContent !== '{flake}'")
    wait_drawn(page, page.locator("#run-id").text_content(), total, DEEP_TIMEOUT_MS)
    page.locator("section.layout").screenshot(path=str(out / "explorer-deep.png"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="directory for the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    total = FIRST.total_tiles
    with tempfile.TemporaryDirectory(prefix="explorer-shots-") as tmp, sync_playwright() as pw:
        work = Path(tmp)
        with Dashboard(work / "dashboard") as server, \
                ServingSite(work, "cloud", server, ranks=2), ServingSite(work, "onprem", server, ranks=2):
            status, doc = server.api("PUT", "api/runs/seahorse", FIRST.run_json())
            assert status == 201, (status, doc)
            key = (server.data_dir / "control-token").read_text().strip()
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1440, "height": 960})
            page.goto(f"{server.url}?run=seahorse#key={key}")
            wait_drawn(page, "seahorse", total)
            viewer = page.locator(".panel.viewer")

            box = page.locator("#mosaic").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.55)
            for _ in range(5):  # 7.6x about the pointer: full-resolution tiles, drawn sharp
                page.mouse.wheel(0, -100)
            page.wait_for_function("Number(document.getElementById('mosaic').dataset.sharpTiles) > 0")
            page.wait_for_timeout(1500)
            viewer.screenshot(path=str(args.out / "explorer-zoomed.png"))

            page.click("#render-view")
            wait_drawn(page, "seahorse-z1", total)
            viewer.screenshot(path=str(args.out / "explorer-render-view.png"))

            page.check("#show-ranks")
            page.wait_for_timeout(300)
            page.screenshot(path=str(args.out / "explorer-activity.png"), full_page=True)

            shoot_deep(page, args.out, total)
            browser.close()
    for name in SHOTS:
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

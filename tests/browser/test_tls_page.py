"""The page over HTTPS in Debian Chromium: it loads from a TLS dashboard and live tiles arrive
over WSS (the page derives ``wss://`` from ``location.href``).

How Chromium trusts the test's private CA: ``--ignore-certificate-errors-spki-list`` with the
SHA-256 of the server certificate's public key. That trusts exactly one key, so any other
certificate (another server, a man in the middle) still fails as it would for a user. Playwright's
``ignore_https_errors`` would accept every certificate, and the test could then pass against the
wrong server. A second browser without the pin proves that the pin is what makes the page load.
"""
from __future__ import annotations

import pytest
from browser import kit
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from support import Dashboard

from mpi_render.config import RenderConfig
from mpi_render.launch.certs import spki_sha256

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
CONFIG = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64)


@pytest.fixture(scope="module")
def server(tmp_path_factory, private_ca):
    with Dashboard(tmp_path_factory.mktemp("tls-browser") / "dashboard", tls=private_ca) as dash:
        yield dash


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as driver:
        yield driver


def test_live_tiles_arrive_over_wss_on_the_https_page(server, private_ca, playwright):
    pin = spki_sha256(private_ca.server.cert)
    browser = kit.launch_chromium(playwright, f"--ignore-certificate-errors-spki-list={pin}")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, sockets = [], []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        kit.create_run(server, "tls-live", CONFIG)
        page.goto(f"{server.url}?run=tls-live")
        assert page.url.startswith("https://127.0.0.1:")
        page.wait_for_selector("#connection[data-state=live]")
        cells = [(row, col) for row in range(CONFIG.grid) for col in range(CONFIG.grid)]
        first, rest = cells[:8], cells[8:]
        kit.post_tiles(server, "tls-live", kit.solid_tiles(CONFIG, first))
        kit.wait_for_colours(page, CONFIG.grid, {cell: kit.tile_rgb(*cell) for cell in first})
        kit.post_tiles(server, "tls-live", kit.solid_tiles(CONFIG, rest))
        kit.wait_for_colours(page, CONFIG.grid, {cell: kit.tile_rgb(*cell) for cell in rest})
        kit.wait_text(page, "#tiles-stored", "16")
        kit.wait_text(page, "#run-state", "complete")
        assert len(kit.cell_colours(page, CONFIG.grid, cells)) == 16
        assert sockets and all(url.startswith(f"wss://127.0.0.1:{server.port}/api/runs/tls-live/ws")
                               for url in sockets), sockets
        assert not errors, errors
    finally:
        browser.close()


def test_without_the_pin_chromium_refuses_the_private_certificate(server, playwright):
    browser = kit.launch_chromium(playwright)
    try:
        page = browser.new_page()
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"{server.url}healthz")
    finally:
        browser.close()

"""The browser tests' fixtures: one Chromium and one dashboard per module, a fresh page per test.

A module that needs another dashboard (HTTPS, say) defines its own ``server`` fixture, which
overrides this one for that module.
"""
from __future__ import annotations

import pytest
from browser.kit import launch_chromium, new_tab
from playwright.sync_api import sync_playwright
from support import Dashboard


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    """One Chromium per test module."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory):
    """One real dashboard subprocess per test module (each test makes its own runs)."""
    with Dashboard(tmp_path_factory.mktemp("browser") / "dashboard") as dashboard:
        yield dashboard


# What Chromium logs as a console error when a request or socket finds no server: expected only
# in a test that stops the dashboard on purpose (it sets `page.dashboard_goes_away = True`).
_NETWORK_ERRORS = ("WebSocket connection to ", "Failed to load resource: net::ERR_CONNECTION_REFUSED")


@pytest.fixture(name="page")
def page_fixture(browser):
    """A fresh page; any uncaught script error or console error fails the test."""
    tab = new_tab(browser)
    tab.dashboard_goes_away = False
    errors = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield tab
    tab.context.close()
    if tab.dashboard_goes_away:
        errors = [text for text in errors if not text.startswith(_NETWORK_ERRORS)]
    assert not errors, f"script errors on the page: {errors}"

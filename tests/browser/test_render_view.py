""""Render this view" in Debian Chromium against a real dashboard: the control link's key leaves
the address bar at once and travels only as an Authorization header; the button makes a dynamic
run of the visible region and the page follows it (breadcrumb, Back); the stage says "starting"
until the new run's hello; a view deeper than doubles resolve is rendered (deep views in depth:
test_deep_explorer.py); a read-only page has no button; and end to end, two serving sites
(``mpi-render --serve``) render the chosen view while the page shows it.
"""
from __future__ import annotations

import math

import pytest
from browser.kit import control_key, create_run, run_doc, stored_run, text, wait_text
from browser.serving import ServingSite
from support import Dashboard, wait_for

from mpi_render.config import RenderConfig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

BUTTON = "Render this view"


def zoom_in(page, presses: int, before: int = 0) -> None:
    """Press + ``presses`` times (after ``before`` presses since the fit) and wait for the zoom."""
    for _ in range(presses):
        page.keyboard.press("+")
    zoom = 1.5 ** (before + presses)
    wait_for(lambda: abs(float(page.locator("#mosaic").get_attribute("data-zoom")) - zoom) < 1e-3, 5,
             f"zoom 1.5^{presses}")


def location(page) -> str:
    """The address bar as the page sees it (page.url can lag behind history.pushState)."""
    return page.evaluate("location.href")


def test_a_read_only_page_has_no_render_button(server, page):
    run_id = stored_run(server)
    page.goto(f"{server.url}?run={run_id}")
    wait_text(page, "#tiles-stored", "16")
    zoom_in(page, 2)
    assert page.get_by_role("button", name=BUTTON).count() == 0
    assert page.locator("#render-controls").is_hidden()
    assert page.locator("#goto").is_hidden(), "no Go to without the key"
    assert page.locator("#position").is_visible(), "the coordinates are for everyone"
    assert page.evaluate("Object.keys(sessionStorage)") == []


def test_the_key_leaves_the_address_bar_and_travels_only_as_a_header(server, page):
    run_id = stored_run(server)
    key = control_key(server)
    requests, sockets = [], []
    page.on("request", lambda request: requests.append(request))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{server.url}?run={run_id}#key={key}")
    # replaceState ran before the page made any request of its own.
    assert key not in location(page) and "key=" not in location(page)
    assert location(page) == f"{server.url}?run={run_id}"
    wait_text(page, "#tiles-stored", "16")
    assert key in page.evaluate("Object.values(sessionStorage)")
    assert key not in page.content()

    button = page.get_by_role("button", name=BUTTON)
    assert button.is_disabled(), "the view is the run's own"
    zoom_in(page, 2)
    assert button.is_enabled()
    button.click()
    wait_for(lambda: f"run={run_id}-z1" in location(page), 10, "the page follows the new run")
    puts = [r for r in requests if r.method == "PUT"]
    assert [r.url for r in puts] == [f"{server.url}api/runs/{run_id}-z1"]
    assert puts[0].headers["authorization"] == f"Bearer {key}"
    assert puts[0].post_data_json["parent"] == run_id and key not in puts[0].post_data
    # The key is the only thing the page keeps in sessionStorage (lineage lives on the dashboard).
    assert page.evaluate("Object.values(sessionStorage)") == [key]
    # The navigation itself (its URL as typed, fragment included) is the only URL with the key;
    # a fragment is never sent, and no request the page made carries it.
    document = f"{server.url}?run={run_id}#key={key}"
    leaked = [r.url for r in requests if key in r.url and r.url != document]
    leaked += [url for url in sockets if key in url]
    assert not leaked, leaked
    assert all(key not in (r.headers.get("referer") or "") for r in requests)
    assert key not in server.log()


def test_render_this_view_makes_a_dynamic_run_of_the_visible_region_and_follows_it(server, page):
    parent = RenderConfig(grid=4, tile_px=32, palette="ocean", max_iter=100, center=(-0.5, 0.25),
                          width=2.0, sites=("cloud", "onprem"), split="interleaved")
    run_id = stored_run(server, parent)
    page.goto(f"{server.url}?run={run_id}#key={control_key(server)}")
    wait_text(page, "#tiles-stored", "16")
    assert page.locator("#lineage").is_hidden(), "a run without a known parent has no breadcrumb"
    zoom_in(page, 4)  # 5.0625x about the centre
    suggested = int(page.locator("#render-max-iter").input_value())
    # 256 + 320 per decade of zoom from the whole set (3 wide), at least the parent's 100 + 320
    # per decade below it: here the first, 256 + 320 * log10(3 / (2 / 1.5**4))
    width = 2 / 1.5 ** 4
    assert suggested == round(max(256 + 320 * math.log10(3 / width), 100 + 320 * math.log10(2 / width)))
    assert suggested == 538
    page.fill("#render-max-iter", "777")
    page.get_by_role("button", name=BUTTON).click()
    child = f"{run_id}-z1"
    wait_text(page, "#run-id", child)
    assert location(page).endswith(f"?run={child}")
    doc = run_doc(server, child)
    config = doc["config"]
    assert doc["parent"] == run_id
    # About the centre: the centre stays; the width is 2 / 1.5**4 to 8 significant digits.
    assert config["view"] == {"cx": "-0.5", "cy": "0.25", "width": "0.3950617"}
    assert {k: config[k] for k in ("grid", "tile_px", "palette", "sites", "split", "max_iter")} == {
        "grid": 4, "tile_px": 32, "palette": "ocean", "sites": ["cloud", "onprem"], "split": "dynamic",
        "max_iter": 777}
    assert page.locator("#mosaic").get_attribute("data-zoom") == "1.000", "the new run is shown whole"
    assert page.locator("#lineage li").all_text_contents() == [run_id, child]

    # A second view of the same parent gets a sibling id; the breadcrumb and Back walk up.
    page.click("#lineage-back")
    wait_text(page, "#run-id", run_id)
    # The stage says which run it shows once that run's hello reset it (the text "16" may
    # still be the parent's from before): zoom only then, or the hello would undo the zoom.
    wait_for(lambda: page.locator("#mosaic").get_attribute("data-run") == run_id, 10,
             "the parent's hello")
    wait_text(page, "#tiles-stored", "16")
    zoom_in(page, 2)
    page.get_by_role("button", name=BUTTON).click()
    wait_text(page, "#run-id", f"{run_id}-z1-2")
    page.locator("#lineage a", has_text=run_id).click()
    wait_text(page, "#run-id", run_id)
    assert location(page).endswith(f"?run={run_id}")


def test_the_stage_says_starting_until_the_new_runs_hello(server, page):
    """Until the new run's hello the page showed the parent's picture, zoomed, under the new
    run's name; now the stage is cleared and says "starting"."""
    run_id = stored_run(server)
    child = f"{run_id}-z1"
    held = []  # the page opens the new run's socket only after reading its document: hold that

    def hold(route):
        if route.request.method == "GET":
            held.append(route)
        else:
            route.continue_()  # the PUT that makes the run

    page.route(f"**/api/runs/{child}", hold)
    page.goto(f"{server.url}?run={run_id}#key={control_key(server)}")
    wait_text(page, "#tiles-stored", "16")
    zoom_in(page, 2)
    page.get_by_role("button", name=BUTTON).click()
    wait_text(page, "#run-id", child)
    wait_for(lambda: held, 10, "the page asks for the new run's document")
    page.wait_for_timeout(300)  # several frames
    stage = page.locator("#mosaic")
    shown = {name: stage.get_attribute(f"data-{name}") for name in ("run", "zoom", "tiles-drawn")}
    assert shown == {"run": "", "zoom": "1.000", "tiles-drawn": "0"}, shown
    assert page.locator("#stage-note").is_visible() and text(page, "#stage-note") == f"starting {child} …"
    assert text(page, "#run-state") == "starting" and text(page, "#tiles-stored") == "0"
    held[0].continue_()
    wait_for(lambda: stage.get_attribute("data-run") == child, 10, "the new run's hello")
    assert page.locator("#stage-note").is_hidden()
    wait_text(page, "#run-state", "waiting")


def test_a_view_deeper_than_doubles_resolve_is_rendered_as_exact_strings(server, page):
    deep = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64, center=("-0.75", "0.1"),
                        width="1e-12")  # 7.8e-15 between pixels: 11x deeper is past doubles
    run_id = stored_run(server, deep)
    page.goto(f"{server.url}?run={run_id}#key={control_key(server)}")
    wait_text(page, "#tiles-stored", "16")
    zoom_in(page, 6)  # 11.4x: 6.9e-16 between pixels near 0.75, which once was refused
    button = page.get_by_role("button", name=BUTTON)
    assert button.is_enabled() and text(page, "#render-note") == ""
    child = f"{run_id}-z1"
    button.click()
    wait_text(page, "#run-id", child)
    # 1e-12 / 1.5**6 to 8 significant digits; the centre stays, spelled as given
    assert run_doc(server, child)["config"]["view"] == {"cx": "-0.75", "cy": "0.1", "width": "8.77915e-14"}


@pytest.mark.timeout(240)
def test_the_control_link_renders_a_chosen_view_with_serving_sites_and_the_page_follows_it(tmp_path, page):
    first = RenderConfig(grid=4, tile_px=64, palette="electric", max_iter=200, split="dynamic")
    page.dashboard_goes_away = True  # the dashboard stops at the end of the test, the page after it
    with Dashboard(tmp_path / "dashboard") as server, \
            ServingSite(tmp_path, "cloud", server), ServingSite(tmp_path, "onprem", server) as onprem:
        create_run(server, "explore", first)  # the serving sites render it
        page.goto(f"{server.url}?run=explore#key={control_key(server)}")
        wait_text(page, "#run-state", "complete", timeout_s=60)
        zoom_in(page, 3)
        page.get_by_role("button", name=BUTTON).click()
        wait_text(page, "#run-id", "explore-z1")
        stage = page.locator("#mosaic")
        wait_for(lambda: stage.get_attribute("data-run") == "explore-z1"
                 and stage.get_attribute("data-tiles-drawn") == "16", 60,
                 f"the 16 tiles of explore-z1 drawn\n{onprem.output()[-2000:]}")
        wait_text(page, "#run-state", "complete")
        doc = run_doc(server, "explore-z1")
        assert doc["complete"] and doc["config"]["split"] == "dynamic"
        assert doc["config"]["view"]["width"] == "0.8888889"  # 3 / 1.5**3 to 7 digits (a 256 px image)
        assert doc["parent"] == "explore"
        assert sum(site["stored"] for site in doc["sites"].values()) == 16
        # Every tile came with its render time: the activity timeline has a bar for each.
        wait_for(lambda: page.locator("#timeline").get_attribute("data-bars") == "16", 10, "16 bars")

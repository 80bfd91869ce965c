"""The page at any depth, in Debian Chromium against a real dashboard: the exact camera (its
arithmetic checked against Python's Fraction), zooming from the full view past 1e-20 and from the
Flake with "Render this view" on two serving sites, the coordinates text, a pasted location
rendered with the control key, lineage kept by the dashboard (after a reload, in a new tab), the
5,000-character limit, and the sites' reference-orbit phases and kernels in the site panel.

The serving sites render a view deeper than doubles resolve by perturbation (mpi_render.deep,
after a reference orbit); these tests need every tile to arrive, not the picture, and the views
are chosen so that the pixels escape within a few hundred iterations.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from browser.kit import (
    control_key,
    create_run,
    new_run_id,
    new_tab,
    post_tiles,
    run_doc,
    solid_png,
    stage_box,
    stage_data,
    stored_run,
    text,
    wait_text,
)
from browser.serving import ServingSite
from support import Dashboard, http_json, wait_for

from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS
from mpi_render.view import parse_decimal

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

STRICT_DECIMAL = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")  # the dashboard's syntax
WHEEL_ZOOM = 1.5  # one notch of the wheel (viewer.js)


# -- the exact arithmetic the page must do, in Python ----------------------------------------

def floor_log10(value: Fraction) -> int:
    value = abs(value)
    # from the bit lengths (str() of a 5,000-digit int is refused by CPython's conversion guard)
    guess = math.floor((value.numerator.bit_length() - value.denominator.bit_length()) * math.log10(2))
    while Fraction(10) ** guess > value:
        guess -= 1
    while Fraction(10) ** (guess + 1) <= value:
        guess += 1
    return guess


def quantum_exponent(width: Fraction, image_px: int) -> int:
    """region.js's rule: 10**k is at most a thousandth of the pixel pitch."""
    return floor_log10(width) - math.ceil(math.log10(image_px)) - 3


def round_to(value: Fraction, k: int) -> Fraction:
    unit = Fraction(10) ** k
    whole = math.floor(abs(value) / unit + Fraction(1, 2))  # ties away from zero
    return (whole if value >= 0 else -whole) * unit


def expected_region(view: dict, camera: dict, image_px: int) -> tuple[Fraction, Fraction, Fraction, int]:
    """The region a camera {x0, y0, span} (doubles) shows over `view`, exactly, and its decade k."""
    cx, cy, width = (parse_decimal(name, view[name]) for name in ("cx", "cy", "width"))
    x0, y0, span = (Fraction(camera[name]) for name in ("x0", "y0", "span"))
    shown = width * span
    k = quantum_exponent(shown, image_px)
    half = Fraction(1, 2)
    return (round_to(cx + (x0 + span / 2 - half) * width, k),
            round_to(cy - (y0 + span / 2 - half) * width, k), round_to(shown, k), k)


def is_multiple(value: Fraction, k: int) -> bool:
    return (value / Fraction(10) ** k).denominator == 1


# -- page helpers ------------------------------------------------------------------------------

def camera_of(page) -> dict:
    """The camera's doubles as the stage painted them (String() of a double reads back exactly)."""
    return {name: float(stage_data(page, name)) for name in ("x0", "y0", "span")}


def coordinates(page) -> dict:
    return {name: text(page, f"#pos-{name}") for name in ("cx", "cy", "width", "zoom", "max-iter")}


def wait_hello(page, run_id: str, timeout_s: float = 20) -> None:
    """Wait until the stage belongs to `run_id` (its hello reset it)."""
    wait_for(lambda: stage_data(page, "run") == run_id, timeout_s, f"the hello of {run_id}")


def wheel_zoom(page, notches: int, fx: float, fy: float) -> None:
    """Wheel `notches` times in at the stage point (fx, fy) (fractions of its side)."""
    box = stage_box(page)
    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    before = float(stage_data(page, "zoom"))
    for _ in range(notches):
        page.mouse.wheel(0, -100)
    want = before * WHEEL_ZOOM ** notches
    wait_for(lambda: abs(float(stage_data(page, "zoom")) - want) < 1e-3 * want, 5, f"zoom {want:.3f}")


def click_render(page, parent: str) -> str:
    """Click "Render this view" and return the new run's id (the page follows it)."""
    page.get_by_role("button", name="Render this view").click()
    wait_for(lambda: text(page, "#run-id") != parent, 10, "the page follows the new run")
    return text(page, "#run-id")


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    """A dashboard and two warm serving sites (cloud, onprem) shared by this module's renders."""
    work = tmp_path_factory.mktemp("deep")
    with Dashboard(work / "dashboard") as server, ServingSite(work, "cloud", server), \
            ServingSite(work, "onprem", server):
        yield server


# -- the page's pure modules against the Python oracle ----------------------------------------

_MODULES_JS = """async (cases) => {
  const { Decimal } = await import("./static/js/decimal.js");
  const region = await import("./static/js/region.js");
  const { parseLocation } = await import("./static/js/goto.js");
  const attempt = (fn) => { try { return fn(); } catch (err) { return { error: err.message }; } };
  return {
    doubles: cases.doubles.map((x) => Decimal.fromDouble(x).toString()),
    sums: cases.pairs.map(([a, b]) => Decimal.parse(a).add(Decimal.parse(b)).toString()),
    products: cases.pairs.map(([a, b]) => Decimal.parse(a).mul(Decimal.parse(b)).toString()),
    quotients: cases.pairs.map(([a, b]) => Decimal.parse(a).div(Decimal.parse(b), -40).toString()),
    rounded: cases.rounding.map(([a, k]) => Decimal.parse(a).roundTo(k).toString()),
    regions: cases.regions.map(({ view, camera, imagePx }) => {
      const r = region.regionOf(region.exactView(view), camera, imagePx);
      return region.viewStrings(r);
    }),
    zooms: cases.widths.map((w) => region.zoomText(Decimal.parse(w))),
    suggested: cases.widths.map((w) => region.suggestMaxIter(Decimal.parse(w))),
    fromParent: region.suggestMaxIter(Decimal.parse("1e-10"),
      { maxIter: 5000, width: Decimal.parse("1e-8") }),
    limits: cases.limits.map((view) => region.limitProblem(view)),
    pasted: cases.pasted.map((text) => attempt(() => parseLocation(text, 256))),
  };
}"""


def test_the_page_arithmetic_is_exact_and_the_pasted_forms_are_read(server, page):
    doubles = [0.1, -0.75, 1 / 3, 5e-324, 2.0 ** -60 * 3, 1e300, 0.30000000000000004]
    pairs = [("-1.99996619445037030418434688506350579675531241540724851511761922944801584", "3e-80"),
             ("0.1", "0.2"), ("-123.456e-3", "7.89e5"), ("1e-4000", "-3")]
    rounding = [("1.25", -1), ("-1.25", -1), ("1.2499", -1), ("123456", 3), ("0.0004", -3)]
    flake = LOCATIONS["flake"]
    regions = [
        {"view": {"cx": flake.cx, "cy": flake.cy, "width": flake.width},
         "camera": {"x0": 0.4111111111111111, "y0": 0.2718281828459045, "span": 1 / 25.62890625},
         "imagePx": 4096},
        {"view": {"cx": -0.75, "cy": 0, "width": 3},
         "camera": {"x0": 0.123, "y0": 0.456, "span": 0.1}, "imagePx": 256},
        {"view": {"cx": "0.3", "cy": "0.6", "width": "1e-2000"},
         "camera": {"x0": 0.7, "y0": 0.05, "span": 0.03125}, "imagePx": 2048},
    ]
    widths = ["3", "0.02", "1.7e-157", "1e-4000"]
    limits = [{"cx": "-1." + "7" * 4998, "cy": "0", "width": "1e-4990"},
              {"cx": "0", "cy": "0", "width": "1e-5001"}, {"cx": "0.1", "cy": "0", "width": "1"}]
    kf = "Re: -1.25\r\nIm: 0.0\r\nZoom: 1.76E157\r\nIterations: 50000\r\nreal: 1\r\nimag: 1\r\n"
    pasted = ["-0.7436438870, 0.1318259043, 0.02, 4096", "\u22120.5 0 1", kf,
              'x = "-1.5"\ny = "0.25"\ndx = "1e-30"\nmax_iter = 2000', "re: .5, im: -2., radius: 1E-3",
              "1, 2", "re: 1, im: x, width: 1", "1, 2, -3", "1, 2, 3, 0"]
    page.goto(server.url)
    got = page.evaluate(_MODULES_JS, {"doubles": doubles, "pairs": [list(p) for p in pairs],
                                      "rounding": [list(r) for r in rounding], "regions": regions,
                                      "widths": widths, "limits": limits, "pasted": pasted})

    def value(text):
        assert STRICT_DECIMAL.match(text), text  # the dashboard's syntax
        return Fraction(Decimal(text))

    assert [value(t) for t in got["doubles"]] == [Fraction(x) for x in doubles]
    exact = [(parse_decimal("a", a), parse_decimal("b", b)) for a, b in pairs]
    assert [value(t) for t in got["sums"]] == [a + b for a, b in exact]
    assert [value(t) for t in got["products"]] == [a * b for a, b in exact]
    assert [value(t) for t in got["quotients"]] == [round_to(a / b, -40) for a, b in exact]
    assert [value(t) for t in got["rounded"]] == [Fraction(1, 10) * 13, Fraction(-13, 10),
                                                  Fraction(12, 10), 123000, 0]
    for case, strings in zip(regions, got["regions"]):
        cx, cy, width, k = expected_region(case["view"], case["camera"], case["imagePx"])
        assert (value(strings["cx"]), value(strings["cy"]), value(strings["width"])) == (cx, cy, width)
    # As many digits as the depth needs: the Flake zoomed 25.6x on 4096 px keeps 166 decimals.
    assert len(got["regions"][0]["cx"].split(".")[1]) == 166
    assert got["zooms"] == ["1", "150", "1.8e157", "3e4000"]
    # 256 + 320 per decade of zoom: 0, 2.18, 157.25 and 4000.48 decades
    assert got["suggested"] == [256, 952, 50575, 1_280_409]
    assert got["fromParent"] == 5000 + 640
    assert "5,001 characters for cx" in got["limits"][0] and "5,000" in got["limits"][0]
    assert "below 1e-5000" in got["limits"][1] and got["limits"][2] is None

    plain, minus, kf_read, fractalshades, radius, *bad = got["pasted"]
    assert plain == {"view": {"cx": "-0.7436438870", "cy": "0.1318259043", "width": "0.02"}, "maxIter": 4096}
    assert minus == {"view": {"cx": "-0.5", "cy": "0", "width": "1"}, "maxIter": None}
    assert kf_read["view"]["cx"] == "-1.25" and kf_read["view"]["cy"] == "0.0" and kf_read["maxIter"] == 50000
    kf_width = value(kf_read["view"]["width"])  # 4 / zoom: the half-height is 2 / zoom
    k = quantum_exponent(Fraction(4, 10 ** 157), 256) - 1
    assert is_multiple(kf_width, k) and abs(kf_width - 4 / Fraction("1.76e157")) <= Fraction(10) ** k / 2
    assert fractalshades == {"view": {"cx": "-1.5", "cy": "0.25", "width": "1e-30"}, "maxIter": 2000}
    assert radius == {"view": {"cx": "0.5", "cy": "-2", "width": "0.002"}, "maxIter": None}
    messages = [case["error"] for case in bad]
    assert "Expected 3 or 4 numbers" in messages[0] and "Kalles Fraktaler" in messages[0]
    assert messages[1].startswith("im: not a decimal number")
    assert messages[2] == "width must be positive."
    assert messages[3].startswith("max_iter must be a whole number from 1 to 100,000,000")


# -- zooming deep on the page, rendered by serving sites ----------------------------------------

def check_child_view(parent_view: dict, camera: dict, image_px: int, child_view: dict) -> int:
    """The child's view strings are the parent's region under `camera`, exact to 10**k with no
    digit below it; returns k."""
    cx, cy, width, k = expected_region(parent_view, camera, image_px)
    got = [parse_decimal(name, child_view[name]) for name in ("cx", "cy", "width")]
    assert got == [cx, cy, width], (child_view, camera)
    assert all(is_multiple(value, k) for value in got)
    # The centre lies inside the parent's view, the width is the parent's over the zoom.
    pcx, pcy, pwidth = (parse_decimal(name, parent_view[name]) for name in ("cx", "cy", "width"))
    assert abs(cx - pcx) < pwidth / 2 and abs(cy - pcy) < pwidth / 2
    assert abs(width - pwidth * Fraction(camera["span"])) <= Fraction(10) ** k / 2
    # Enough digits: every value within 1/2000 of the new pixel pitch.
    assert Fraction(10) ** k <= width / image_px / 1000
    return k


def open_new_run(server, page, config: RenderConfig, label: str) -> str:
    """Create a run and open it on the page with the control key; returns its id."""
    run_id = new_run_id(label)
    create_run(server, run_id, config)
    page.goto(f"{server.url}?run={run_id}#key={control_key(server)}")
    wait_hello(page, run_id)
    return run_id


def test_zoom_from_the_full_view_past_1e_minus_20_and_render_it(serving, page):
    server = serving
    first = RenderConfig(grid=4, tile_px=128, palette="fire", max_iter=200, split="dynamic")
    run_id = open_new_run(server, page, first, "deep")
    # Zoom at c0 = 0.3 + 0.6i (outside the set, escapes at iteration 15): it stays under the
    # pointer at (0.85, 0.3) of the stage in every run of the chain.
    view = first.run_json()["view"]
    steps = 0
    while parse_decimal("width", view["width"]) >= Fraction(1, 10 ** 20):
        wheel_zoom(page, 10, 0.85, 0.3)  # 1.5**10 = 57.7x, within the 64x of a 512 px image
        camera = camera_of(page)
        child = click_render(page, run_id)
        wait_hello(page, child)
        doc = run_doc(server, child)
        assert doc["parent"] == run_id
        check_child_view(view, camera, first.image_px, doc["config"]["view"])
        run_id, view = child, doc["config"]["view"]
        steps += 1
    assert steps == 12 and parse_decimal("width", view["width"]) < Fraction(1, 10 ** 20)
    # The point under the pointer (c0 to the pixel the mouse landed on) stayed put all the way.
    assert abs(parse_decimal("cx", view["cx"]) - Fraction(3, 10)) < Fraction(1, 100)
    assert abs(parse_decimal("cy", view["cy"]) - Fraction(6, 10)) < Fraction(1, 100)
    wait_for(lambda: stage_data(page, "tiles-drawn") == "16", 120, f"the 16 tiles of {run_id} drawn")
    wait_text(page, "#run-state", "complete")
    assert coordinates(page)["cx"] == view["cx"] and coordinates(page)["width"] == view["width"]
    assert len(page.locator("#lineage li").all_text_contents()) == 6  # root, "…", the last 4


def test_the_flake_zoomed_8_times_more_renders_the_view_the_arithmetic_gives(serving, page):
    server = serving
    start = RenderConfig(grid=4, tile_px=64, palette="cosmic", max_iter=128, split="dynamic")
    run_id = open_new_run(server, page, start, "start")
    flake = LOCATIONS["flake"]
    page.locator("#famous-list button", has_text="flake").click()
    wait_for(lambda: text(page, "#run-id").startswith("flake"), 10, "the page follows the Flake")
    flake_id = text(page, "#run-id")
    wait_hello(page, flake_id)
    doc = run_doc(server, flake_id)
    assert doc["parent"] == run_id
    assert doc["config"]["view"] == {"cx": flake.cx, "cy": flake.cy, "width": flake.width}
    assert doc["config"]["max_iter"] == flake.max_iter
    # The coordinates text is the run config, digit for digit.
    wait_for(lambda: coordinates(page)["cx"] == flake.cx, 5, "the Flake's coordinates")
    assert coordinates(page) == {"cx": flake.cx, "cy": flake.cy, "width": "1.7e-157",
                                 "zoom": "1.8e157", "max-iter": "50000"}

    wheel_zoom(page, 8, 0.4, 0.6)  # 25.6x more, off-centre
    camera = camera_of(page)
    cx, cy, width, k = expected_region(doc["config"]["view"], camera, start.image_px)
    shown = coordinates(page)
    assert [parse_decimal(n, shown[n]) for n in ("cx", "cy", "width")] == [cx, cy, width]
    # 1.7e-157 / 25.6 = 6.6e-159 on 256 px: k = -159 - 3 - 3, a 166-digit fraction
    assert k == -165 and len(shown["cx"].split(".")[1]) <= 165
    child = click_render(page, flake_id)
    wait_hello(page, child)
    child_doc = run_doc(server, child)
    check_child_view(doc["config"]["view"], camera, start.image_px, child_doc["config"]["view"])
    assert child_doc["config"]["max_iter"] == int(shown["max-iter"]) > flake.max_iter
    wait_for(lambda: coordinates(page)["cx"] == child_doc["config"]["view"]["cx"], 5, "the new coordinates")
    wait_for(lambda: stage_data(page, "tiles-drawn") == "16", 120, f"the 16 tiles of {child} drawn")
    assert page.locator("#lineage li").all_text_contents() == [run_id, flake_id, child]


# -- the coordinates, Go to, lineage and limits (no sites needed: the runs stay empty) ----------

SMALL = RenderConfig(grid=4, tile_px=32, palette="ocean", max_iter=64)


def test_a_pasted_location_renders_and_copy_gives_the_coordinates(server, page):
    run_id = stored_run(server, SMALL, "paste")
    key = control_key(server)
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url.rstrip("/"))
    page.goto(f"{server.url}?run={run_id}#key={key}")
    wait_hello(page, run_id)
    page.click("#pos-copy")
    wait_text(page, "#pos-copied", "copied")
    # JSON numbers as JavaScript prints them (the same decimals as Python's repr)
    assert page.evaluate("navigator.clipboard.readText()") == "-0.75, 0, 3, 64"

    # Kalles Fraktaler's location text, rendered with Ctrl+Enter in the box.
    flake = LOCATIONS["flake"]
    page.fill("#goto-text", f"Re: {flake.cx}\nIm: {flake.cy}\nZoom: 2.5E157\nIterations: 4000\nreal: 1\n")
    page.press("#goto-text", "Control+Enter")
    wait_text(page, "#run-id", "goto")
    wait_hello(page, "goto")
    doc = run_doc(server, "goto")
    assert doc["parent"] == run_id and doc["config"]["max_iter"] == 4000
    view = doc["config"]["view"]
    assert (view["cx"], view["cy"]) == (flake.cx, flake.cy)
    width = parse_decimal("width", view["width"])  # 4 / zoom, to 1/1000 of a pixel of 128 px
    assert abs(width - Fraction(4) / Fraction("2.5e157")) <= Fraction(10) ** -164 / 2
    assert coordinates(page) == {"cx": flake.cx, "cy": flake.cy, "width": view["width"],
                                 "zoom": "1.9e157", "max-iter": "4000"}  # 3 / width
    assert {name: doc["config"][name] for name in ("grid", "tile_px", "palette", "sites", "split")} \
        == {"grid": 4, "tile_px": 32, "palette": "ocean", "sites": ["cloud", "onprem"], "split": "dynamic"}

    # What the copy button gives is a location the box reads back: the same view.
    page.click("#pos-copy")
    wait_text(page, "#pos-copied", "copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{flake.cx}, {flake.cy}, {view['width']}, 4000"
    page.fill("#goto-text", copied)
    page.click("#goto-go")
    wait_text(page, "#run-id", "goto-2")
    assert run_doc(server, "goto-2")["config"]["view"] == view

    # A location the box cannot read says so and makes nothing.
    page.fill("#goto-text", "-0.75, 0.1")
    page.click("#goto-go")
    assert text(page, "#goto-note").startswith("Expected 3 or 4 numbers (re, im, width[, max_iter]), got 2.")
    assert page.locator("#goto-note").get_attribute("data-error") == "true"
    newest = [run["id"] for run in http_json("GET", f"{server.url}api/runs")[1]["runs"]][:2]
    assert newest == ["goto-2", "goto"]
    # The key went only as the Bearer header of the two PUTs; sessionStorage holds it, nothing else.
    puts = [r for r in requests if r.method == "PUT"]
    assert [r.url for r in puts] == [f"{server.url}api/runs/goto", f"{server.url}api/runs/goto-2"]
    assert all(r.headers["authorization"] == f"Bearer {key}" and key not in r.post_data for r in puts)
    assert not [r.url for r in requests if key in r.url and "#key=" not in r.url]
    assert page.evaluate("Object.values(sessionStorage)") == [key] and key not in page.content()


def test_lineage_is_the_dashboards_after_a_reload_in_a_new_tab_and_for_a_late_joiner(server, page, browser):
    run_id = stored_run(server, SMALL, "tree")
    follower = new_tab(browser)
    errors = []
    follower.on("pageerror", lambda exc: errors.append(str(exc)))
    follower.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    follower.goto(server.url)  # a read-only viewer following the newest run
    page.goto(f"{server.url}?run={run_id}#key={control_key(server)}")
    wait_hello(page, run_id)
    chain = [run_id]
    for _ in range(2):
        page.keyboard.press("+")
        page.keyboard.press("+")
        wait_for(lambda: stage_data(page, "zoom") == "2.250", 5, "zoom 2.25")
        chain.append(click_render(page, chain[-1]))
        wait_hello(page, chain[-1])
    crumbs = lambda tab: tab.locator("#lineage li").all_text_contents()  # noqa: E731
    assert crumbs(page) == chain
    # The viewer who was watching follows the new run and shows where it came from.
    wait_for(lambda: crumbs(follower) == chain, 10, f"the follower's breadcrumb {crumbs(follower)}")

    page.reload()  # sessionStorage keeps only the key: the chain comes from the dashboard
    wait_hello(page, chain[-1])
    wait_for(lambda: crumbs(page) == chain, 10, "the breadcrumb after a reload")
    assert page.evaluate("Object.keys(sessionStorage).length") == 1

    late = new_tab(browser)  # a new tab, no key
    late.on("pageerror", lambda exc: errors.append(str(exc)))
    late.goto(f"{server.url}?run={chain[-1]}")
    wait_for(lambda: crumbs(late) == chain, 10, "the breadcrumb in a new tab")
    assert late.evaluate("Object.keys(sessionStorage)") == []
    late.click("#lineage-back")
    wait_text(late, "#run-id", chain[1])
    wait_for(lambda: crumbs(late) == chain[:2], 10, "Back walks up")
    assert late.evaluate("location.search") == f"?run={chain[1]}"
    late.locator("#lineage a", has_text=chain[0]).click()
    wait_text(late, "#run-id", chain[0])
    assert late.locator("#lineage").is_hidden(), "the root has no breadcrumb"
    late.context.close()
    follower.context.close()
    assert not errors, errors


def test_a_view_needing_more_than_5000_characters_is_refused_with_a_message(server, page):
    digits = "123456789" * 600
    deep = RenderConfig(grid=4, tile_px=32, palette="fire", max_iter=64,
                        center=("-1." + digits[:4990], "0"), width="1e-4990")
    run_id = stored_run(server, deep, "edge")
    page.goto(f"{server.url}?run={run_id}#key={control_key(server)}")
    wait_hello(page, run_id)
    button = page.get_by_role("button", name="Render this view")
    view = deep.run_json()["view"]

    def expected() -> tuple[str, str | None]:
        """The centre's text under the camera now, and the page's message for it (None: none)."""
        cx, _, _, k = expected_region(view, camera_of(page), deep.image_px)
        units = Decimal(int(-cx * 10 ** -k))  # 1ddd...d; Decimal(int) is exact, str() unlimited
        spelled = "-1." + str(units)[1:].rjust(-k, "0").rstrip("0")
        message = None if len(spelled) <= 5000 else (
            f"This view needs {len(spelled):,} characters for cx; the dashboard takes at most 5,000 "
            "per value, so this is as deep as mpi-render goes here. Zoom out a little.")
        return spelled, message

    def matches() -> bool:
        spelled, message = expected()
        if message is None:
            return button.is_enabled() and text(page, "#pos-cx") == spelled
        return button.is_disabled() and text(page, "#render-note") == message

    wheel_zoom(page, 2, 0.3, 0.3)  # 2.25x off-centre: digits down to 1e-4997, 5,000 characters
    wait_for(matches, 5, "the page agrees with the exact arithmetic")
    assert expected()[1] is None and len(text(page, "#pos-cx")) <= 5000
    wheel_zoom(page, 4, 0.3, 0.3)  # 11.4x: down to 1e-4998, one character more
    refused = 0
    box = stage_box(page)
    for step in range(6):  # a last digit 0 is dropped; a few views make a refusal certain
        wait_for(matches, 5, f"the page agrees with the exact arithmetic (view {step})")
        refused += expected()[1] is not None
        if refused:
            break
        page.mouse.move(box["x"] + 100, box["y"] + 100)  # a drag (more than 5 px: not a click)
        page.mouse.down()
        page.mouse.move(box["x"] + 110 + step, box["y"] + 103, steps=3)
        page.mouse.up()
    assert refused, "no view past 5,000 characters"
    for _ in range(4):
        page.mouse.wheel(0, 100)
    wait_for(lambda: stage_data(page, "zoom") == "2.250", 5, f"back to 2.25x, at {stage_data(page, 'zoom')}")
    wait_for(matches, 5, "the page agrees with the exact arithmetic")
    spelled, message = expected()
    assert message is None
    camera = camera_of(page)
    button.click()
    child = f"{run_id}-z1"
    wait_hello(page, child)
    check_child_view(view, camera, deep.image_px, run_doc(server, child)["config"]["view"])
    assert run_doc(server, child)["config"]["view"]["cx"] == spelled == coordinates(page)["cx"]


def test_the_site_panel_shows_reference_orbit_progress_and_kernels(server, page, browser):
    config = RenderConfig(grid=2, tile_px=32, palette="fire", max_iter=50_000, split="dynamic",
                          center=(LOCATIONS["flake"].cx, LOCATIONS["flake"].cy), width="1.7e-157")
    run_id = new_run_id("phases")
    create_run(server, run_id, config)
    page.goto(f"{server.url}?run={run_id}")
    wait_hello(page, run_id)
    assert text(page, "#run-state") == "waiting"

    def report(site, phase, done, elapsed_s):
        body = {"site": site, "phase": phase, "done": done, "total": 50_000, "elapsed_s": elapsed_s}
        assert server.api("POST", f"api/runs/{run_id}/phase", body)[0] == 200

    phase_of = lambda tab, i: tab.locator("#site-list .site-phase").nth(i)  # noqa: E731
    report("cloud", "reference", 12_000, 1.2)
    wait_text(page, "#run-state", "reference orbit")
    wait_for(lambda: phase_of(page, 0).is_visible(), 5, "cloud's phase shown")
    assert text(page, "#site-list .site-phase >> nth=0") \
        == "reference orbit 12,000 / 50,000 iterations (24 %) · 1.2 s"
    assert phase_of(page, 1).is_hidden(), "onprem reported nothing"
    assert text(page, "#stage-note") == "cloud: reference orbit 12,000 / 50,000 iterations (24 %) · 1.2 s"
    late = new_tab(browser)  # from the hello
    late.goto(f"{server.url}?run={run_id}")
    wait_text(late, "#run-state", "reference orbit")
    wait_text(late, "#site-list .site-phase >> nth=0",
              "reference orbit 12,000 / 50,000 iterations (24 %) · 1.2 s")

    report("cloud", "reference", 50_000, 3.14)  # the last report of an orbit says done = total
    report("cloud", "rendering", 0, 3.2)
    report("onprem", "reference", 49_999, 3.3)
    wait_text(page, "#site-list .site-phase >> nth=0", "reference orbit done: 50,000 iterations in 3.1 s")
    wait_text(page, "#site-list .site-phase >> nth=1",
              "reference orbit 49,999 / 50,000 iterations (99 %) · 3.3 s")
    # The dashboard keeps only a site's latest report: a page that joins now sees cloud rendering.
    late.reload()
    wait_text(late, "#site-list .site-phase >> nth=0", "rendering (reference orbit done)")
    late.context.close()
    png = solid_png(config.tile_px, (200, 40, 40))
    post_tiles(server, run_id, [({"row": 0, "col": col, "site": "cloud", "kernel": "perturbation"}, png)
                                for col in (0, 1)])
    wait_text(page, "#run-state", "rendering")
    assert page.locator("#stage-note").is_hidden(), "tiles are coming: no note over them"
    post_tiles(server, run_id, [({"row": 1, "col": 0, "site": "onprem", "kernel": "perturbation"}, png),
                                ({"row": 1, "col": 1, "site": "onprem", "kernel": "double"}, png)])
    wait_text(page, "#run-state", "complete")
    details = page.locator("#site-list .site-detail").all_text_contents()
    assert details[0].endswith(" · kernel perturbation"), details
    assert details[1].endswith(" · kernels perturbation 1, double 1"), details
    page.click("#mosaic", position={"x": 20, "y": 20})
    page.wait_for_selector("#tile-dialog[open]")
    assert "perturbation" in page.locator("#tile-meta").text_content()

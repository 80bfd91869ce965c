"""RenderConfig: validation messages, the run JSON round trip, and the tiling doctests."""
import doctest

import pytest

from mpi_render import tiling
from mpi_render.config import RenderConfig, check_run_id


def test_tiling_doctests_pass():
    result = doctest.testmod(tiling)
    assert result.attempted >= 4 and result.failed == 0


def test_run_json_round_trip_keeps_every_field():
    config = RenderConfig(grid=4, tile_px=64, palette="Fire", max_iter=500, center=(-0.5, 0.1),
                          width=2.5, sites=("a", "b", "c"), split="contiguous",
                          weights=(0.2, 0.3, 0.5))
    again = RenderConfig.from_run_json(config.run_json())
    assert again == config
    assert again.palette == "fire"


@pytest.mark.parametrize("kwargs, message", [
    ({"grid": 0}, "grid must be an integer in 1..64"),
    ({"grid": 65}, "grid must be an integer in 1..64"),
    ({"tile_px": 15}, "tile must be an integer in 16..2048"),
    ({"tile_px": 4096}, "tile must be an integer in 16..2048"),
    ({"palette": "rainbow"}, "valid palettes: electric, fire, ocean, cosmic"),
    ({"center": (float("nan"), 0.0)}, "cx must be finite"),
    ({"center": ("0", "1e-")}, "cy must be a decimal like"),
    ({"center": "0,0"}, "center must be two values CX,CY"),
    ({"width": 0.0}, "width must be positive"),
    ({"width": "-0.0e5"}, "width must be positive"),
    ({"max_iter": 100_000_001}, "max_iter must be an integer in 1..100000000"),
    ({"sites": ("a", "a")}, "site names must be unique"),
    ({"sites": ("<b>x</b>",)}, "site names must match"),
    ({"split": "random"}, "split must be one of contiguous, interleaved"),
    ({"weights": (0.5, 0.6)}, "weights must sum to 1"),
    ({"weights": (1.0,)}, "weights must have one value per site"),
])
def test_bad_config_is_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        RenderConfig(**kwargs)


@pytest.mark.parametrize("doc, message", [
    ({}, "missing field 'view'"),
    ({"view": [], "grid": 4}, "view must be an object"),
    ([], "must be a JSON object"),
])
def test_malformed_run_json_is_refused(doc, message):
    with pytest.raises(ValueError, match=message):
        RenderConfig.from_run_json(doc)


@pytest.mark.parametrize("run_id", ["", "..", "../etc", "a/b", "x" * 65, "sp ace"])
def test_bad_run_ids_are_refused(run_id):
    with pytest.raises(ValueError, match="run id must match"):
        check_run_id(run_id)


def test_the_same_view_in_another_spelling_is_the_same_config():
    base = RenderConfig(center=(-0.75, 0.0), width=3.0)
    spelled = RenderConfig(center=("-75e-2", "-0.000"), width="3.0e0")
    assert spelled == base and hash(spelled) == hash(base)
    assert spelled.run_json()["view"] == {"cx": "-75e-2", "cy": "-0.000", "width": "3.0e0"}
    assert RenderConfig(center=("-0.75", "1e-300"), width=3.0) != base


def test_a_deep_view_round_trips_digit_for_digit():
    cx = "-1.99996619445037030418434688506350579675531241540724851511761922944801584242342684"
    config = RenderConfig(center=(cx, "0"), width="1.7e-157", max_iter=50_000)
    again = RenderConfig.from_run_json(config.run_json())
    assert again.run_json()["view"] == {"cx": cx, "cy": "0", "width": "1.7e-157"}
    assert again == config and again.image_px == 8 * 256


def test_owned_tiles_follow_the_split():
    config = RenderConfig(grid=2, sites=("cloud", "onprem"))
    assert config.owned() == {"cloud": [0, 1], "onprem": [2, 3]}
    assert config.total_tiles == 4

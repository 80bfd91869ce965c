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
    ({"center": (float("nan"), 0.0)}, "center must be two finite numbers"),
    ({"width": 0.0}, "width must be a positive finite number"),
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


def test_owned_tiles_follow_the_split():
    config = RenderConfig(grid=2, sites=("cloud", "onprem"))
    assert config.owned() == {"cloud": [0, 1], "onprem": [2, 3]}
    assert config.total_tiles == 4

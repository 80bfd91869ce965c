"""The workflow's view input as mpi-render flags (mpi_render/launch/viewflags.py)."""
import subprocess
import sys

import pytest

from mpi_render.cliargs import build_parser, resolve
from mpi_render.launch.viewflags import CHOICES, view_flags
from mpi_render.locations import LOCATIONS

FLAKE = LOCATIONS["flake"]


def config_of(flags: list[str]):
    """The run config mpi-render builds from these flags (what every site of the run passes)."""
    return resolve(build_parser("mpi-render"), [*flags, "--site", "a", "--sites", "a",
                                                "--out", "d"], {}).config


@pytest.mark.parametrize("environ", [{}, {"VIEW_LOCATION": ""}, {"VIEW_LOCATION": "default"}])
def test_the_seeds_view_keeps_the_advanced_cap(environ):
    flags = view_flags(dict(environ, MAX_ITER="300"))
    assert flags == ["--max-iter", "300"]
    assert config_of(flags).view == config_of([]).view


def test_a_famous_place_with_its_own_cap_or_the_one_given():
    assert view_flags({"VIEW_LOCATION": "Flake", "MAX_ITER": "256"}) == ["--location", "flake"]
    config = config_of(view_flags({"VIEW_LOCATION": "flake", "MAX_ITER": "256"}))
    assert (config.view, config.max_iter) == (FLAKE.view(), FLAKE.max_iter)
    given = view_flags({"VIEW_LOCATION": "tripod", "VIEW_MAX_ITER": " 900 "})
    assert config_of(given).max_iter == 900


def test_a_custom_view_reaches_the_config_digit_for_digit():
    environ = {"VIEW_LOCATION": "custom", "VIEW_CENTER_RE": FLAKE.cx, "VIEW_CENTER_IM": FLAKE.cy,
               "VIEW_WIDTH": "1.7e-157", "VIEW_MAX_ITER": "", "MAX_ITER": "4096"}
    config = config_of(view_flags(environ))
    assert config.run_json()["view"] == {"cx": FLAKE.cx, "cy": FLAKE.cy, "width": "1.7e-157"}
    assert config.max_iter == 4096


@pytest.mark.parametrize("environ, message", [
    ({"VIEW_LOCATION": "atlantis"}, "view.location must be one of default, full"),
    ({"VIEW_LOCATION": "custom", "VIEW_CENTER_RE": "-0.5", "VIEW_CENTER_IM": "1e-",
      "VIEW_WIDTH": "1"}, "view.center_im: cy must be a decimal like"),
    ({"VIEW_LOCATION": "custom", "VIEW_CENTER_RE": "x", "VIEW_CENTER_IM": "0",
      "VIEW_WIDTH": "1"}, "view.center_re: cx must be a decimal like"),
    ({"VIEW_LOCATION": "custom", "VIEW_CENTER_RE": "0", "VIEW_CENTER_IM": "0",
      "VIEW_WIDTH": "-1e-9"}, "view.width: width must be positive"),
    ({"VIEW_LOCATION": "flake", "VIEW_MAX_ITER": "lots"}, "view.max_iter must be a whole number"),
    ({"VIEW_LOCATION": "default", "MAX_ITER": "0"}, "advanced.max_iter must be a whole number"),
])
def test_bad_input_names_the_field(environ, message):
    with pytest.raises(ValueError, match=message):
        view_flags(environ)


def test_the_command_prints_one_line_or_fails_with_exit_2():
    ok = subprocess.run([sys.executable, "-m", "mpi_render.launch.viewflags"], capture_output=True,
                        text=True, env={"VIEW_LOCATION": "spiral", "PATH": "/usr/bin:/bin"})
    assert (ok.returncode, ok.stdout) == (0, "--location spiral\n"), ok.stderr
    bad = subprocess.run([sys.executable, "-m", "mpi_render.launch.viewflags"], capture_output=True,
                         text=True, env={"VIEW_LOCATION": "mars", "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "view.location" in bad.stderr
    assert bad.stdout == ""


def test_every_choice_is_default_a_location_or_custom():
    assert set(CHOICES) == {"default", "custom", *LOCATIONS}

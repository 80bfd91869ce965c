"""The famous places: every entry is a valid view, the flake is Dinkydau's, the deep ones are as
deep as promised (each is checked against the MPFR brute force in test_accuracy.py)."""
from fractions import Fraction

import pytest

from mpi_render import deep
from mpi_render.locations import LOCATIONS, location
from mpi_render.view import View

FLAKE_CX = ("-1.9999661944503703041843468850635057967553124154072485151176192294480158424234268438"
            "1376129778868913812287046406560949864353810575744772166485672496092803920095332")
FLAKE_CY = ("0.000000000000000000000000000000000300138243679093832407249730397759249873468311907733"
            "35270174257280120474975614823581185647299288414075519224186504978181625478529")


def test_every_location_is_a_valid_view_with_a_description():
    for name, place in LOCATIONS.items():
        View(place.cx, place.cy, place.width)
        assert 1 <= place.max_iter <= 100_000_000 and place.description
        assert all(isinstance(v, str) for v in (place.cx, place.cy, place.width)), name


def fields(name):
    place = location(name)
    return place.cx, place.cy, place.width, place.max_iter


def test_the_required_places_are_there_as_given():
    assert fields("flake") == (FLAKE_CX, FLAKE_CY, "1.7e-157", 50000)
    assert fields("seahorse") == ("-0.7436438870", "0.1318259043", "0.02", 4096)
    assert View(*fields("full")[:3]) == View(-0.75, 0.0, 3.0) and fields("full")[3] == 256


def test_deep_places_are_deep_and_need_the_right_kernels():
    def view(name):
        return location(name).view()

    assert view("spiral").exact[2] < Fraction(1, 10**300) and deep.geometry.is_wide(view("spiral"))
    assert view("tripod").exact[2] < Fraction(1, 10**1000)
    assert not deep.geometry.is_wide(view("flake"))
    for name in ("flake", "spiral", "tripod", "minibrot"):
        assert deep.choose_kernel(view(name), 1024) == "perturbation"
    for name in ("full", "seahorse"):
        assert deep.choose_kernel(view(name), 1024) == "double"


def test_an_unknown_location_is_a_clear_error():
    with pytest.raises(ValueError, match="known locations: full, seahorse, flake, spiral, tripod"):
        location("atlantis")

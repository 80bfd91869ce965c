"""View values: exact decimals of any depth, kept as given, compared by value, bounded."""
import doctest
from fractions import Fraction

import pytest

from mpi_render import view as view_mod
from mpi_render.view import MAX_CHARS, View, parse_decimal

FLAKE_CX = ("-1.999966194450370304184346885063505796755312415407248515117619229448015842423"
            "42684381376129778868913812287046406560949864353810575744772166485672496092803920095332")


def test_view_doctests_pass():
    result = doctest.testmod(view_mod)
    assert result.attempted >= 1 and result.failed == 0


@pytest.mark.parametrize("text, exact", [
    ("0", Fraction(0)), ("-0.000", Fraction(0)), ("+12", Fraction(12)), ("1.5e-3", Fraction(3, 2000)),
    ("-75E-2", Fraction(-3, 4)), ("007.50", Fraction(15, 2)), ("1e-5000", Fraction(1, 10**5000)),
    ("0.000000000000000000001e-4979", Fraction(1, 10**5000)),
])
def test_decimal_strings_are_read_exactly(text, exact):
    assert parse_decimal("cx", text) == exact


def test_numbers_mean_the_decimal_they_print_as():
    assert parse_decimal("cx", 0.1) == parse_decimal("cx", "0.1") == Fraction(1, 10)
    assert parse_decimal("cx", 3) == 3 and parse_decimal("cx", -1e-300) == Fraction(-1, 10**300)


@pytest.mark.parametrize("value, message", [
    ("NaN", "cx must be a decimal like"), ("inf", "cx must be a decimal like"),
    ("-Infinity", "cx must be a decimal like"), ("1e", "cx must be a decimal like"),
    (".5", "cx must be a decimal like"), ("5.", "cx must be a decimal like"),
    ("0x10", "cx must be a decimal like"), ("1_000", "cx must be a decimal like"),
    (" 1", "cx must be a decimal like"), ("", "cx must be a decimal like"),
    (float("nan"), "cx must be finite"), (float("-inf"), "cx must be finite"),
    (True, "cx must be a number or a decimal string"), (None, "must be a number or a decimal"),
    ("1" * (MAX_CHARS + 1), f"cx has {MAX_CHARS + 1} characters"),
    ("1e-999999999", "cx is below 1e-5000 in magnitude"), ("0.01e-4999", "below 1e-5000"),
    ("1e300", "below 1e300"), (1e300, "below 1e300"), ("99" + "9" * 299, "below 1e300"),
])
def test_bad_values_are_refused_naming_the_field(value, message):
    with pytest.raises(ValueError, match=message):
        parse_decimal("cx", value)


def test_a_view_keeps_each_value_as_given_and_compares_exactly():
    deep = View(FLAKE_CX, "0", "1.7e-157")
    assert deep.json() == {"cx": FLAKE_CX, "cy": "0", "width": "1.7e-157"}
    assert deep == View(FLAKE_CX + "000", "-0e7", "17e-158")
    assert deep != View(FLAKE_CX[:-1], "0", "1.7e-157")
    assert View(-0.75, 0, 3).json() == {"cx": -0.75, "cy": 0.0, "width": 3.0}
    assert View("-0.75", "0", "3") == View(-0.75, 0.0, 3.0)


def test_floats_are_the_nearest_doubles_and_pitch_is_exact():
    deep = View(FLAKE_CX, "0", "1.7e-157")
    assert deep.floats() == (float(FLAKE_CX), 0.0, 1.7e-157)
    assert deep.pitch(1024) == Fraction(17, 10**158) / 1024
    assert View("0.1", "0", "3").floats()[0] == 0.1


def test_width_must_be_positive():
    for width in ("0", "-1e-9", 0.0, -3):
        with pytest.raises(ValueError, match="width must be positive"):
            View(0, 0, width)


def test_command_line_text_round_trips():
    assert View(-0.75, 0.0, 3.0).center_text() == "-0.75,0.0"
    assert View(FLAKE_CX, "0", "1.7e-157").width_text() == "1.7e-157"


def test_every_location_is_a_valid_view_and_names_are_case_insensitive():
    from mpi_render.locations import LOCATIONS, location

    for name, place in LOCATIONS.items():
        assert place.name == name and place.view().exact[2] > 0 and place.max_iter >= 1
        assert place.json()["view"] == {"cx": place.cx, "cy": place.cy, "width": place.width}
    assert location(" Flake ").width == "1.7e-157"
    with pytest.raises(ValueError, match="known locations: full, seahorse, flake"):
        location("atlantis")

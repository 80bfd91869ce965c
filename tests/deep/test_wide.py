"""The wide-exponent number (mpi_render.deep.wide) against exact fractions."""
import doctest
import importlib
import math
from fractions import Fraction

import numpy as np
import pytest

from mpi_render.deep import bla, brute, geometry, orbit, tail, wide

# the package exports the function prepare(), which shadows the module's name
MODULES = (wide, geometry, brute, importlib.import_module("mpi_render.deep.prepare"), bla, orbit,
           tail)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_doctests_pass(module):
    result = doctest.testmod(module)
    assert result.failed == 0


def exact(x: float, y: float, e: int) -> tuple[Fraction, Fraction]:
    scale = Fraction(2) ** e
    return Fraction(x) * scale, Fraction(y) * scale


CASES = [(0.75, -0.5, 3), (0.5, 0.999, -2000), (-0.6, 0.0, -3000), (0.0, 0.5, 10)]


@pytest.mark.parametrize("a", CASES)
@pytest.mark.parametrize("b", CASES)
def test_add_and_mul_round_like_one_rounding_of_the_exact_value(a, b):
    for op, want in ((wide.add, lambda p, q: (p[0] + q[0], p[1] + q[1])),
                     (wide.mul, lambda p, q: (p[0] * q[0] - p[1] * q[1],
                                              p[0] * q[1] + p[1] * q[0]))):
        x, y, e = op(*a, *b)
        assert max(abs(x), abs(y)) < 1 and (max(abs(x), abs(y)) >= 0.5 or x == y == 0.0)
        got = exact(x, y, e)
        target = want(exact(*a), exact(*b))
        big = max(abs(target[0]), abs(target[1]))
        for g, t in zip(got, target):  # within a few ulps of the larger part
            assert abs(g - t) <= big * Fraction(1, 2**50)


def test_adding_a_far_smaller_number_leaves_the_larger():
    assert wide.add(0.75, 0.0, 0, 0.5, 0.5, -4000) == (0.75, 0.0, 0)
    assert wide.add(0.0, 0.0, wide.ZERO_EXP, 0.5, 0.25, -5000) == (0.5, 0.25, -5000)


def test_l1_less_is_exact_near_equality():
    r, re = 0.75, -1000
    assert wide.l1_less(0.5, 0.25 - 2.0**-53, -1000, r, re)  # one ulp below R
    assert not wide.l1_less(0.5, 0.25, -1000, r, re)
    assert not wide.l1_less(0.5, 0.5, -999, 0.0, wide.ZERO_EXP)


def test_array_twins_give_the_same_bits():
    rng = np.random.default_rng(5)
    ax, ay, bx, by = (rng.uniform(-1, 1, 200) for _ in range(4))
    ae, be = rng.integers(-3000, 10, 200), rng.integers(-3000, 10, 200)
    a = wide.normalise_array(ax, ay, ae)
    b = wide.normalise_array(bx, by, be)
    with np.errstate(all="ignore"):
        add, mul = wide.add_array(*a, *b), wide.mul_array(*a, *b)
        less = wide.l1_less_array(*a, np.abs(b[0]), b[2])
    for k in range(200):
        pa = (float(a[0][k]), float(a[1][k]), int(a[2][k]))
        pb = (float(b[0][k]), float(b[1][k]), int(b[2][k]))
        assert (add[0][k], add[1][k], add[2][k]) == wide.add(*pa, *pb)
        assert (mul[0][k], mul[1][k], mul[2][k]) == wide.mul(*pa, *pb)
        r, _, re = wide.normalise(abs(pb[0]), 0.0, pb[2])
        assert bool(less[k]) == wide.l1_less(*pa, abs(pb[0]), pb[2]) or r != abs(pb[0])


def test_round_wide_is_correctly_rounded_far_below_the_double_range():
    value = Fraction(3, 7) / Fraction(2) ** 4000
    mantissa, exponent = geometry.round_wide(value)
    assert 0.5 <= mantissa < 1
    assert abs(Fraction(mantissa) * Fraction(2) ** exponent - value) <= value * Fraction(1, 2**53)
    assert math.frexp(mantissa)[1] == 0

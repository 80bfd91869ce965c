"""log2 from IEEE basic operations: within its stated bound of the true logarithm over every
positive double, equal bit for bit to the plain-Python oracle, and its constants derived by the
script that says where they come from."""
import math
import subprocess
import sys

import colour_oracle
import gmpy2
import numpy as np
import pytest
from support import REPO

from mpi_render.exactlog import CENTRE, COEFFICIENTS, log2_into
from mpi_render.palettes import LN2

# The docstring's bounds: against the exact value (MPFR), and against math.log2, which rounds too.
EXACT_BOUND = (7e-15, 1.2e-16)  # |error| <= a + b |log2 x|
MATH_BOUND = (7.5e-15, 2.3e-16)


def every_magnitude(n: int, seed: int) -> np.ndarray:
    """``n`` positive normal doubles spread over every binary exponent, plus the powers of two,
    their neighbours on both sides, and the mapping's own ranges (r2 > 4, log2 r2 in (2, 1024],
    1 + y in [1, 1e6])."""
    rng = np.random.default_rng(seed)
    spread = np.ldexp(rng.uniform(0.5, 1.0, n), rng.integers(-1021, 1025, n))
    powers = np.ldexp(1.0, np.arange(-1022, 1024))
    return np.concatenate([
        spread, powers, np.nextafter(powers, 0), np.nextafter(powers, np.inf)[:-1],
        np.linspace(0.5, 2.0, 20001), np.linspace(2.0, 1024.0, 20001),
        np.exp(rng.uniform(math.log(4.0), math.log(1.7e308), n // 4)),
        1.0 + rng.uniform(0.0, 1e6, n // 4), 1.0 + rng.uniform(0.0, 1e-6, n // 4),
        [5e-308, np.finfo(np.float64).max, CENTRE, CENTRE / 2, 2 * CENTRE]])


def test_log2_is_within_its_bound_of_math_log2_over_every_double():
    x = every_magnitude(400_000, seed=1)
    got = log2_into(x, np.empty_like(x))
    want = np.array([math.log2(v) for v in x])
    err = np.abs(got - want)
    a, b = MATH_BOUND
    worst = int(np.argmax(err - b * np.abs(want)))
    assert (err <= a + b * np.abs(want)).all(), (x[worst], err[worst])
    assert err[np.abs(want) < 64].max() <= a  # the mapping's range: log2 of 2..2^64
    assert err.max() > 1e-15  # the comparison sees the polynomial's error (not vacuous)


def test_log2_is_within_its_bound_of_the_exact_value():
    """The truth from MPFR (correctly rounded at 120 bits) on a sample of every magnitude."""
    x = every_magnitude(20_000, seed=2)[::5]
    got = log2_into(x, np.empty_like(x))
    a, b = EXACT_BOUND
    with gmpy2.context(precision=120):
        err = np.array([float(abs(gmpy2.mpfr(g) - gmpy2.log2(gmpy2.mpfr(v))))
                        for g, v in zip(got, x)])
    assert (err <= a + b * np.abs(got)).all(), x[np.argmax(err - b * np.abs(got))]


def test_natural_log_of_one_plus_y_through_log2():
    """The mapping's last step, ``ln(1 + y) = LN2 log2(1 + y)``, against math.log1p over its
    whole range (y = COLOUR_STRETCH nu / COLOUR_PERIOD, nu from 0 to past 1e8: y <= 1.1e5),
    to an absolute bound (an absolute error is what can move a pixel to the next colour)."""
    rng = np.random.default_rng(3)
    y = np.concatenate([[0.0, 5e-324, 1e-300, 1e-16, 1e-9], rng.uniform(0, 1e-3, 50_000),
                        rng.uniform(0, 30, 50_000),
                        np.exp(rng.uniform(math.log(1e-3), math.log(2e5), 100_000))])
    got = log2_into(y + 1.0, np.empty_like(y)) * LN2
    want = np.array([math.log1p(v) for v in y])
    err = np.abs(got - want)
    assert (err <= 5.5e-15 + 2.3e-16 * want).all(), y[np.argmax(err - 2.3e-16 * want)]


@pytest.mark.parametrize("minus", [0.0, 2.0, -3.5])
def test_log2_equals_the_python_oracle_bit_for_bit(minus):
    """The same doubles as the scalar evaluation, on every magnitude, at array lengths that
    exercise numpy's SIMD bodies and their scalar tails, strided and shifted by one element."""
    x = every_magnitude(30_000, seed=4)
    x = np.concatenate([x, [0.0, np.inf, np.nan, 4.0, 65536.0]])
    want = np.array([colour_oracle.log2(float(v), minus) for v in x])
    got = log2_into(x, np.empty_like(x), minus=minus)
    assert got.tobytes() == want.tobytes()
    for part in (x[1:], x[::3], x[5:12], x[:1]):
        got = log2_into(part, np.empty_like(part), minus=minus)
        assert got.tobytes() == np.array([colour_oracle.log2(float(v), minus)
                                          for v in part]).tobytes()


def test_special_values_are_nan_and_out_may_be_the_input():
    x = np.array([[np.inf, np.nan, 8.0, 0.5]])
    got = log2_into(x, x)
    assert got is x and np.isnan(x[0, :2]).all()
    np.testing.assert_allclose(x[0, 2:], [3.0, -1.0], rtol=0, atol=1e-14)


def test_constants_are_the_scripts_output():
    """The polynomial is the minimax fit scripts/log2_coefficients.py derives (in MPFR, so the
    same digits everywhere), and the centre and ln 2 are the doubles nearest sqrt(1/2), ln 2."""
    printed = subprocess.run([sys.executable, str(REPO / "scripts" / "log2_coefficients.py")],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    lines = dict(line.split(" = ") for line in printed.splitlines())
    assert [float.fromhex(lines[f"q{k}"]) for k in range(6)] == list(COEFFICIENTS)
    assert float(lines["minimax error"]) < 7e-15
    with gmpy2.context(precision=200):
        assert CENTRE == float(gmpy2.sqrt(gmpy2.mpfr(0.5)))
        assert LN2 == float(gmpy2.log(2))

"""The reference orbit: ``Z_{n+1} = Z_n^2 + C`` at the reference point, in MPFR (gmpy2).

The reference point ``C`` is the view centre rounded to ``prec`` bits (an exact binary fraction;
pixel offsets are taken from it exactly, :mod:`.geometry`). The orbit is iterated with the
contract's escape test ``|Z_n|^2 > 4`` until it escapes or reaches ``max_iter``, in MPFR real
operations (``x*x``, ``y*y``, ``x*y``: three multiplications a step, every result correctly
rounded to ``prec`` bits, so the orbit is the same bits on every machine), and every ``Z_n`` is
stored rounded to the nearest double. Views that need the wide form (:mod:`.wide`) also get each
``Z_n`` as a normalised wide complex, exact to the double's 53 bits even where ``|Z_n|`` is far
below the double range (near a minibrot's nucleus the reference passes very close to 0).

Costs (measured on this machine, docs/PERFORMANCE.md): about 1.3-2 us per iteration at 600 bits
(the Flake's 35,170 iterations in 0.045-0.07 s), growing slowly with the precision; 16 bytes per
iteration (plus 24 in wide views), collected as doubles while the orbit runs (an MPFR value is
kept only where ``|Z|`` is tiny).
"""
from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import gmpy2
import numpy as np

from . import wide

PROGRESS_EVERY_S = 0.25  # at most one progress callback per this many seconds
TINY = 2.0**-900  # |Z| below this: its wide form is taken from MPFR, not from the double

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Orbit:
    """A reference orbit.

    Attributes:
        point: the reference point ``C`` exactly, ``(Fraction, Fraction)``.
        zx, zy: float64 arrays of ``length + 1`` values ``Z_0 .. Z_length`` (``Z_0 = 0``).
        length: the last index: the escape iteration (``|Z_length|^2 > 4``) or ``max_iter``.
        escaped: whether the reference escaped.
        wide: ``(wzx, wzy, wze)`` (float64, float64, int64 arrays, normalised wide complexes of
            every ``Z_n``) in wide views, else None.
    """

    point: tuple[Fraction, Fraction]
    zx: np.ndarray
    zy: np.ndarray
    length: int
    escaped: bool
    wide: tuple[np.ndarray, np.ndarray, np.ndarray] | None


def round_point(point: tuple[Fraction, Fraction], prec: int) -> tuple[Fraction, Fraction]:
    """``point`` rounded to ``prec``-bit binary fractions (nearest), exactly."""
    with gmpy2.context(precision=prec):
        ratios = [gmpy2.mpfr(gmpy2.mpq(v.numerator, v.denominator)).as_integer_ratio()
                  for v in point]
    # Python ints, not gmpy2's mpz: an mpz / mpz would be an mpfr, not a correctly rounded float
    return tuple(Fraction(int(num), int(den)) for num, den in ratios)


def reference_orbit(centre: tuple[Fraction, Fraction], prec: int, max_iter: int,
                    with_wide: bool = False, progress: Progress | None = None) -> Orbit:
    """Iterate the reference orbit at ``centre`` rounded to ``prec`` bits.

    Args:
        centre: the view centre, exact.
        prec: MPFR precision in bits (:func:`.geometry.precision_bits`).
        max_iter: iteration cap.
        with_wide: also store the wide form of every ``Z_n`` (wide views).
        progress: ``progress(done_iterations, max_iter)``, called at most every 0.25 s while
            the orbit runs (not at all for short orbits).

    Returns:
        The :class:`Orbit`.
    """
    point = round_point(centre, prec)
    # doubles as they come (8 bytes an iteration, not an MPFR object): a 10**8-iteration
    # orbit must not hold 10**8 mpfr values; tiny values also keep their wide form from MPFR
    xs, ys = array("d", [0.0]), array("d", [0.0])
    tiny = {}
    start = last_report = time.perf_counter()
    with gmpy2.context(precision=prec):
        cr = gmpy2.mpfr(gmpy2.mpq(point[0].numerator, point[0].denominator))
        ci = gmpy2.mpfr(gmpy2.mpq(point[1].numerator, point[1].denominator))
        x = gmpy2.mpfr(0)
        y = gmpy2.mpfr(0)
        four = gmpy2.mpfr(4)
        n = 0
        escaped = False
        while n < max_iter:
            x2 = x * x
            y2 = y * y
            if x2 + y2 > four:
                escaped = True
                break
            t = x * y
            y = t + t + ci
            x = x2 - y2 + cr
            fx, fy = float(x), float(y)
            xs.append(fx)
            ys.append(fy)
            n += 1
            if with_wide and abs(fx) < TINY and abs(fy) < TINY:
                tiny[n] = _wide_of(x, y)
            if progress is not None and n & 1023 == 0:
                now = time.perf_counter()
                if now - last_report >= PROGRESS_EVERY_S:
                    progress(n, max_iter)
                    last_report = now
        if not escaped and x * x + y * y > four:  # Z_max_iter itself may lie outside
            escaped = True
    zx = np.frombuffer(xs, dtype=np.float64).copy()
    zy = np.frombuffer(ys, dtype=np.float64).copy()
    wide_form = _wide_form(zx, zy, tiny) if with_wide else None
    if progress is not None and time.perf_counter() - start >= PROGRESS_EVERY_S:
        progress(n, max_iter)
    return Orbit(point=point, zx=zx, zy=zy, length=n, escaped=escaped, wide=wide_form)


def _wide_form(zx: np.ndarray, zy: np.ndarray, tiny: dict):
    """Normalised wide complexes of the orbit: from the doubles (``frexp`` is exact) where they
    are far from underflow, from the MPFR values (``tiny``: index -> wide) where ``|Z|`` is
    tiny."""
    big = np.maximum(np.abs(zx), np.abs(zy))
    _, k = np.frexp(big)
    wze = k.astype(np.int64)
    wzx = np.ldexp(zx, -k)
    wzy = np.ldexp(zy, -k)
    wze[big == 0.0] = wide.ZERO_EXP
    for n, (mx, my, e) in tiny.items():
        wzx[n], wzy[n], wze[n] = mx, my, e
    return wzx, wzy, wze


def _wide_of(x, y) -> tuple[float, float, int]:
    """The normalised wide complex nearest ``x + i*y`` (MPFR values)."""
    if x == 0 and y == 0:
        return 0.0, 0.0, wide.ZERO_EXP
    e = max(gmpy2.frexp(v)[0] for v in (x, y) if v != 0)
    # the larger mantissa lies in [0.5, 1) before rounding; rounding may reach 1.0
    return wide.normalise(float(gmpy2.mul_2exp(x, -e)), float(gmpy2.mul_2exp(y, -e)), e)

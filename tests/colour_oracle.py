"""The colour mapping in plain Python, one pixel at a time: the oracle of its machine independence.

Written from the operation order the docstrings of ``mpi_render.exactlog.log2_into`` and
``mpi_render.palettes.smooth_indices`` state, with scalar floats and the ``math`` module's exact
``frexp`` and ``floor`` only. Python floats are IEEE-754 doubles and every operation here is one
correctly rounded operation (CPython evaluates and rounds each on its own: nothing is fused), so
these functions give the bits that any conforming machine gives; the numpy code must equal them
bit for bit on every input (tests/unit/test_exactlog.py, tests/unit/test_palettes.py).
"""
from __future__ import annotations

import math

from mpi_render.exactlog import CENTRE, COEFFICIENTS
from mpi_render.palettes import COLOUR_PERIOD, COLOUR_STRETCH, CYCLE, INTERIOR_INDEX, LN2


def log2(x: float, minus: float = 0.0) -> float:
    """``log2(x) - minus`` by the operations of ``log2_into``, in its order."""
    mantissa, exponent = math.frexp(x)  # (inf, 0) for inf, (nan, 0) for nan, as C's frexp
    s = (mantissa - CENTRE) / (mantissa + CENTRE)
    z = s * s
    p = z * COEFFICIENTS[5] + COEFFICIENTS[4]
    for k in (3, 2, 1, 0):
        p = p * z + COEFFICIENTS[k]
    return p * s + (float(exponent) - (0.5 + minus))


def smooth_value(count: int, extra: int, r2: float) -> float:
    """The clamped smooth value of an escaped pixel (``count < max_iter``)."""
    levels = log2(log2(r2), minus=2.0)
    value = (float(count) + float(extra)) - levels
    return value if value >= 0.0 else 0.0  # like fmax(value, 0): nan becomes 0


def cycles(count: int, extra: int, r2: float) -> float:
    """The position of an escaped pixel on the colour cycles, before the fraction is taken."""
    u = smooth_value(count, extra, r2) * (COLOUR_STRETCH / COLOUR_PERIOD) + 1.0
    return log2(u) * (LN2 / COLOUR_STRETCH)


def index(count: int, extra: int, r2: float, max_iter: int) -> int:
    """The palette index of one pixel."""
    if count >= max_iter:
        return INTERIOR_INDEX
    position = cycles(count, extra, r2)
    return int((position - float(math.floor(position))) * float(CYCLE))

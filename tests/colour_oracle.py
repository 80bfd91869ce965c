"""The colour mapping in plain Python, one pixel at a time: the oracle of its machine independence.

Written from the operation order the docstrings of ``mpi_render.exactlog.log2_into`` and
``mpi_render.palettes.numpy_indices`` state, with scalar floats and the ``math`` module's exact
``frexp`` and ``floor`` only. Python floats are IEEE-754 doubles and every operation here is one
correctly rounded operation (CPython evaluates and rounds each on its own: nothing is fused), so
these functions give the bits that any conforming machine gives; the numpy code and its compiled
twin must equal them bit for bit on every input (tests/unit/test_exactlog.py,
tests/unit/test_palettes.py, tests/kernels/test_colour.py). Below the oracle: the demanding
inputs those tests feed it.
"""
from __future__ import annotations

import math

import numpy as np

from mpi_render import palettes
from mpi_render.escape import SMOOTH_MAX_EXTRA, SMOOTH_R2, Escape
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


MAX_ITER = 10**8  # the largest max_iter a run may ask for (DESIGN.md)


def indices(escape: Escape, max_iter: int) -> np.ndarray:
    """:func:`index` of every pixel of ``escape`` (uint8, its shape)."""
    pixels = zip(escape.counts.ravel().tolist(), escape.extra.ravel().tolist(),
                 escape.r2.ravel().tolist())
    return np.array([index(c, x, v, max_iter) for c, x, v in pixels],
                    np.uint8).reshape(escape.counts.shape)


def oracle_inputs(n: int, seed: int) -> Escape:
    """A row of ``n`` random pixels and every edge case, as an Escape: counts from 0 to just
    below MAX_ITER (and the interior, count == MAX_ITER with r2 = 0), extra 0..64, r2 just
    above SMOOTH_R2, far above it, overflowed (inf), and between 4 and SMOOTH_R2 where the
    tail hit its cap."""
    rng = np.random.default_rng(seed)
    counts = np.concatenate([
        rng.integers(0, 64, n // 4), np.exp(rng.uniform(0, math.log(MAX_ITER), n // 2)),
        rng.integers(MAX_ITER - 1000, MAX_ITER, n // 4)]).astype(np.uint32)
    extra = rng.integers(0, SMOOTH_MAX_EXTRA + 1, counts.size).astype(np.uint8)
    r2 = np.exp(rng.uniform(math.log(SMOOTH_R2), math.log(SMOOTH_R2 ** 2), counts.size))
    above = np.nextafter(SMOOTH_R2, np.inf)
    edges = [  # (count, extra, r2)
        *[(c, x, v) for c in (0, 1, 2, 3, 7, 8, 24, 255, 10**6, MAX_ITER - 1)
          for x in (0, 1, SMOOTH_MAX_EXTRA)
          for v in (above, np.nextafter(above, np.inf), SMOOTH_R2 * 1.5, SMOOTH_R2 ** 2,
                    2.0**64, 1e100, 1e300, np.finfo(np.float64).max, np.inf)],
        *[(c, SMOOTH_MAX_EXTRA, v) for c in (1, 50, 99_999) for v in (4.000001, 17.0, SMOOTH_R2)],
        *[(MAX_ITER, 0, 0.0)] * 5, (MAX_ITER + 7, 0, 0.0)]
    counts = np.concatenate([counts, np.array([e[0] for e in edges], np.uint32)])
    extra = np.concatenate([extra, np.array([e[1] for e in edges], np.uint8)])
    r2 = np.concatenate([r2, [e[2] for e in edges]])
    return Escape(counts[None, :], extra[None, :], r2[None, :])


def border_pixels(values: int = 40, steps: int = 20) -> Escape:
    """Pixels on the borders between two colours: for smooth values from 3 to 9e7, the r2 where
    the oracle's index changes (bisection), and the r2 around it in steps that move the cycle
    position by about half a unit in its last place. An operation rounded otherwise than the
    oracle's moves that change to another pixel, which among random pixels would show in about
    one pixel of 1e12."""
    a, b = palettes.COLOUR_STRETCH / palettes.COLOUR_PERIOD, palettes.COLOUR_STRETCH
    rows = []
    for value in np.geomspace(3.0, 9e7, values).tolist():
        position = math.log1p(a * value) / b
        value = math.expm1((math.floor(position * 255) + 1) / 255 * b) / a  # a border's value
        count = math.floor(value) + 2  # extra 1: log2(log2 r2) = count + 3 - value, in (4, 5]
        r2 = 2.0 ** 2.0 ** (count + 3 - value)
        low, high = r2 * (1 - 1e-6), r2 * (1 + 1e-6)  # indices differ at the two ends
        for _ in range(80):
            middle = (low + high) / 2
            same = index(count, 1, middle, MAX_ITER) == index(count, 1, low, MAX_ITER)
            low, high = (middle, high) if same else (low, middle)
        # r2 (1 + d) moves the position by d / (ln 2^2 log2 r2 PERIOD (1 + a value)) cycles
        ulps = 0.5 * position * math.log(2) ** 2 * math.log2(r2) * b * (1 + a * value) / a
        bits = np.float64(high).view(np.int64) + max(1, round(ulps)) * np.arange(-steps, steps)
        rows += [(count, 1, r) for r in bits.view(np.float64).tolist()]
    counts, extra, r2 = (np.array(column) for column in zip(*rows))
    return Escape(counts.astype(np.uint32)[None, :], extra.astype(np.uint8)[None, :],
                  r2[None, :])


def joined(*escapes: Escape) -> Escape:
    """One row of the pixels of several one-row Escapes, side by side."""
    return Escape(*(np.hstack([getattr(e, name) for e in escapes])
                    for name in ("counts", "extra", "r2")))

"""The colour mapping of :func:`mpi_render.palettes.smooth_indices` compiled by numba: the same
operations in the same order, in one pass over the pixels.

:func:`indices_flat` computes pixel by pixel what the numpy path computes array by array
(:func:`mpi_render.palettes.numpy_indices`, :func:`mpi_render.exactlog.log2_into`): the same
float64 operations, each rounded on its own, in the order their docstrings state, with the same
constants (imported from those modules). So it gives the numpy path's bytes, which are the
plain-Python oracle's (tests/colour_oracle.py; tests/kernels/test_colour.py holds the three
equal bit for bit). What keeps it exact:

* no ``fastmath``: LLVM may neither reassociate nor contract a multiply and an add into an FMA
  (which would round once where the numpy path rounds twice); the machine code has no FMA
  instruction (a test reads it);
* ``frexp`` from the bits of the double instead of a call to libm per value (a call would keep
  the loop from being vectorised). :func:`_frexp` is C's and numpy's ``frexp`` on every double
  (zero, subnormals, negatives, inf and nan included). :func:`_frexp_positive`, 5 operations
  fewer, is the same on positive normal finite doubles, and the first pass uses it: where
  ``r2`` lies in [2, largest double], ``log2 r2`` lies in [1 - 8e-15, 1024] and ``1 + nu
  STRETCH / PERIOD`` in [1, 5e6] (:mod:`mpi_render.exactlog`'s error bound), so each of the
  pixel's three ``frexp`` has a positive normal finite argument. Every escaped pixel a kernel
  reports has ``r2 > 4`` or ``r2 = inf`` (an orbit that overflowed, ``|c| > 1e154``); if some
  escaped pixel has ``r2`` outside that range, a second pass recomputes every pixel with
  :func:`_frexp`;
* ``floor`` is ``llvm.floor`` (an exact operation), the index the truncation of a number in
  [0, 255], as ``np.copyto`` does it;
* numpy's error model: a division by zero gives inf or nan as numpy's does, never an exception.

Interior pixels (``count >= max_iter``) are computed like the others and their result replaced
by :data:`~mpi_render.palettes.INTERIOR_INDEX`, as in the numpy path. The first pass has no
branch, so LLVM vectorises it (AVX-512: 8 pixels a vector, 4 vectors in flight): ~0.17 ms for a
256 px tile against the numpy path's ~1 ms (``docs/PERFORMANCE.md``, "Smooth colour").

numba's cache watches only this file, and the constants of :mod:`mpi_render.exactlog` and
:mod:`mpi_render.palettes` are compiled in, so ``PINNED_SOURCES`` pins their hash: editing them
must change this file (a test checks the pin). This module imports numba; the tile pipeline
imports it only when the mapping runs on numba's JIT (:mod:`.colour_native` runs the same code
from a prebuilt library without numba).
"""
from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import viewer

from ..exactlog import CENTRE, COEFFICIENTS
from ..palettes import COLOUR_PERIOD, COLOUR_STRETCH, CYCLE, INTERIOR_INDEX, LN2

# sha256 of ../exactlog.py and ../palettes.py (numba's cache watches only this file; a test
# checks it)
PINNED_SOURCES = "a8d38773c356e857"
Q0, Q1, Q2, Q3, Q4, Q5 = COEFFICIENTS
PER_VALUE = COLOUR_STRETCH / COLOUR_PERIOD  # the quotients of smooth_indices, divided as it
PER_LOG2 = LN2 / COLOUR_STRETCH  # divides them: once, in Python
SPAN = float(CYCLE)
LARGEST = float.fromhex("0x1.fffffffffffffp+1023")  # the largest finite double
EXPONENT_BITS = 0x7FF0000000000000
HALF_EXPONENT = 1022 << 52  # the exponent field of [1/2, 1)
SUBNORMAL_SCALE = 2.0**54  # brings a subnormal into the normal range, exactly


@numba.njit(inline="always")
def _frexp(x):
    """``(m, e)`` with ``x = m 2^e``, ``m`` in [1/2, 1) (negative x: in (-1, -1/2]), and
    ``(x, 0)`` for zero, inf and nan: C's and numpy's ``frexp`` on every double."""
    tiny = (viewer(x, np.int64) & EXPONENT_BITS) == 0  # zero or subnormal
    y = x * SUBNORMAL_SCALE if tiny else x  # exact: a power of two times a subnormal
    bits = viewer(y, np.int64)
    field = (bits >> 52) & 0x7FF
    mantissa = viewer((bits & ~EXPONENT_BITS) | HALF_EXPONENT, np.float64)
    exponent = field - 1076 if tiny else field - 1022
    if field == 0 or field == 0x7FF:  # zero, inf, nan
        return y, 0
    return mantissa, exponent


@numba.njit(inline="always")
def _frexp_positive(x):
    """:func:`_frexp` of a positive normal finite double (of no other)."""
    bits = viewer(x, np.int64)
    return viewer((bits & ~EXPONENT_BITS) | HALF_EXPONENT, np.float64), (bits >> 52) - 1022


@numba.njit(inline="always", error_model="numpy")
def _log2(x, minus, frexp):
    """:func:`mpi_render.exactlog.log2_into` of one value, its operations in its order, with
    ``frexp`` (:func:`_frexp` or, for positive normal finite ``x``, :func:`_frexp_positive`)."""
    m, e = frexp(x)
    d = m + CENTRE
    s = (m - CENTRE) / d
    z = s * s
    p = z * Q5 + Q4
    p = p * z + Q3
    p = p * z + Q2
    p = p * z + Q1
    p = p * z + Q0
    p = p * s
    return p + (float(e) - (0.5 + minus))


@numba.njit(inline="always", error_model="numpy")
def _index(count, extra, r2, max_iter, frexp):
    """The palette index of one pixel: :func:`mpi_render.palettes.numpy_indices`' operations
    in its order."""
    levels = _log2(r2, 0.0, frexp)  # log2 r2
    levels = _log2(levels, 2.0, frexp)  # log2(log2 r2) - 2
    value = (float(count) + float(extra)) - levels
    value = value if value >= 0.0 else 0.0  # fmax(value, 0): nan to 0
    cycles = _log2(value * PER_VALUE + 1.0, 0.0, frexp) * PER_LOG2
    position = (cycles - np.floor(cycles)) * SPAN
    return INTERIOR_INDEX if count >= max_iter else int(position)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def indices_flat(counts, extra, r2, max_iter, out):
    """Palette indices of ``out.size`` pixels into ``out``: what
    :func:`mpi_render.palettes.numpy_indices` gives for them, byte for byte (module docstring).

    Args:
        counts: uint32, extra: uint8, r2: float64, out: uint8: 1-d arrays of one size.
        max_iter: pixels with ``count >= max_iter`` get ``INTERIOR_INDEX``.
    """
    unusual = False  # an escaped pixel with r2 outside [2, LARGEST]
    for i in range(out.size):
        r2_i = r2[i]  # read once: for LLVM a store to out may change r2 (and reading it
        # again after the store halves the pixels in flight)
        out[i] = _index(counts[i], extra[i], r2_i, max_iter, _frexp_positive)
        unusual |= (counts[i] < max_iter) & ~((r2_i >= 2.0) & (r2_i <= LARGEST))
    if unusual:
        for i in range(out.size):
            out[i] = _index(counts[i], extra[i], r2[i], max_iter, _frexp)

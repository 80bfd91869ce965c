"""The wide-exponent number: a double mantissa with an integer exponent, for views below 1e-300.

A **wide complex** ``(x, y, e)`` means ``(x + i*y) * 2**e``; it is *normalised* when
``max(|x|, |y|)`` lies in ``[0.5, 1)``, or when it is zero: ``(0.0, 0.0, ZERO_EXP)``. A
**wide real** ``(r, e)`` likewise (``0.5 <= |r| < 1``). The mantissas are ordinary doubles, so
every operation here is a handful of IEEE multiplications and additions plus ``frexp`` and
``ldexp``, both exact (``ldexp`` rounds correctly where it underflows into the subnormals).
These are the only operations, and they are done in the same order everywhere: the scalar
functions below are plain Python, called as they are by the reference loop and registered with
numba's ``register_jitable`` by :mod:`.numba_backend`, which compiles them into its kernels (this
module never imports numba: ranks that run the prebuilt library do not either); the array
twins at the end (numpy backend, BLA table) repeat the same expressions elementwise. So the three
backends agree bit for bit in wide views too.

``ldexp`` is only called with shifts that cannot overflow (a mantissa below 2 scaled by a
non-positive power, or by a bounded one), and shifts are clamped to ``-SHIFT_LIMIT``: below
that every mantissa below 2 scales to 0 anyway, and a clamp keeps numpy's int conversion and
Python's ``math.ldexp`` (which raises on overflow) away from huge numbers.
"""
from __future__ import annotations

import math

import numpy as np

ZERO_EXP = -(1 << 40)  # the exponent of zero: below every real exponent, no int64 overflow
SHIFT_LIMIT = 2200  # a shift below -SHIFT_LIMIT gives 0 for any mantissa below 2


def shift(x: float, k: int) -> float:
    """``x * 2**k`` for ``k <= 0`` (or small positive k): ``ldexp`` with the shift clamped.

    >>> shift(0.75, -2), shift(0.75, ZERO_EXP)
    (0.1875, 0.0)
    """
    return math.ldexp(x, max(k, -SHIFT_LIMIT))


def normalise(x: float, y: float, e: int) -> tuple[float, float, int]:
    """The normalised wide complex equal to ``(x + i*y) * 2**e`` (``x, y`` finite doubles).

    >>> normalise(3.0, -1.0, 0), normalise(0.0, 0.0, 7)
    ((0.75, -0.25, 2), (0.0, 0.0, -1099511627776))
    """
    big = max(abs(x), abs(y))
    if big == 0.0:
        return 0.0, 0.0, ZERO_EXP
    k = math.frexp(big)[1]
    return math.ldexp(x, -k), math.ldexp(y, -k), e + k


def add(ax: float, ay: float, ae: int, bx: float, by: float, be: int) -> tuple[float, float, int]:
    """``a + b`` of two wide complexes (normalised inputs), normalised.

    The smaller operand is shifted to the larger's exponent (non-positive shifts only), the
    mantissas added, the sum normalised.

    >>> add(0.5, 0.0, 1, 0.5, 0.0, -1)
    (0.625, 0.0, 1)
    """
    if ae >= be:
        d = be - ae
        return normalise(ax + shift(bx, d), ay + shift(by, d), ae)
    d = ae - be
    return normalise(shift(ax, d) + bx, shift(ay, d) + by, be)


def mul(ax: float, ay: float, ae: int, bx: float, by: float, be: int) -> tuple[float, float, int]:
    """``a * b`` of two wide complexes, normalised (mantissa products cannot overflow).

    >>> mul(0.5, 0.5, 1, 0.5, -0.5, 3)
    (0.5, 0.0, 4)
    """
    return normalise(ax * bx - ay * by, ax * by + ay * bx, ae + be)


def to_float(x: float, e: int) -> float:
    """The double nearest ``x * 2**e`` for a mantissa ``|x| < 2`` and ``e <= 1000`` (0 or a
    subnormal far down)."""
    return math.ldexp(x, max(e, -SHIFT_LIMIT))


def l1_less(x: float, y: float, e: int, r: float, re: int) -> bool:
    """``|x| + |y|`` times ``2**e`` < ``r * 2**re``, exactly, for a normalised wide complex and a
    normalised wide real ``(r, re)`` (``r >= 0``).

    The L1 norm of a normalised mantissa lies in ``[0.5, 2)``, so exponents more than two
    apart decide; otherwise the L1 norm is shifted by at most 2 (exact) and compared.

    >>> l1_less(0.5, 0.5, 0, 0.75, 1), l1_less(0.5, 0.5, 3, 0.75, 1)
    (True, False)
    >>> l1_less(0.0, 0.0, ZERO_EXP, 0.0, ZERO_EXP)
    False
    """
    if e < re - 2:
        return r > 0.0
    if e > re + 1:
        return False
    return math.ldexp(abs(x) + abs(y), e - re) < r


# Array twins (numpy, elementwise, the same expressions in the same order). Exponents are int64
# arrays. Callers run them under np.errstate(all="ignore"): subnormal results are expected.

def shift_array(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Elementwise :func:`shift`."""
    return np.ldexp(x, np.maximum(k, -SHIFT_LIMIT))


def normalise_array(x: np.ndarray, y: np.ndarray, e: np.ndarray):
    """Elementwise :func:`normalise`."""
    big = np.maximum(np.abs(x), np.abs(y))
    k = np.frexp(big)[1].astype(np.int64)
    zero = big == 0.0
    return (np.ldexp(x, -k), np.ldexp(y, -k),
            np.where(zero, np.int64(ZERO_EXP), e + k))


def add_array(ax, ay, ae, bx, by, be):
    """Elementwise :func:`add`."""
    first = ae >= be
    top = np.where(first, ae, be)
    d = np.where(first, be - ae, ae - be)
    sx = np.where(first, ax + shift_array(bx, d), shift_array(ax, d) + bx)
    sy = np.where(first, ay + shift_array(by, d), shift_array(ay, d) + by)
    return normalise_array(sx, sy, top)


def mul_array(ax, ay, ae, bx, by, be):
    """Elementwise :func:`mul`."""
    return normalise_array(ax * bx - ay * by, ax * by + ay * bx, ae + be)


def to_float_array(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Elementwise :func:`to_float`."""
    return np.ldexp(x, np.maximum(e, -SHIFT_LIMIT))


def l1_less_array(x, y, e, r, re) -> np.ndarray:
    """Elementwise :func:`l1_less`."""
    near = np.ldexp(np.abs(x) + np.abs(y), np.clip(e - re, -3, 2)) < r
    return np.where(e < re - 2, r > 0.0, np.where(e > re + 1, False, near))

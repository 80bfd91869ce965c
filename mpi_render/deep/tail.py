"""The smooth tail of an escaped pixel (the contract of :mod:`mpi_render.escape`), shared.

After the escape at count n with full value ``z = Z_m + z_m`` (a double), the pixel goes on with
``z <- z^2 + c`` in double, in the contract's order, ``c`` the reference point rounded to doubles
plus the pixel's offset as a double, until ``|z|^2 > SMOOTH_R2`` or ``SMOOTH_MAX_EXTRA`` more
iterations: ``(extra, r2)``. :func:`smooth_tail` is plain Python, called by the reference loop
and registered with numba by :mod:`.numba_backend`; :func:`smooth_tail_array` is its
elementwise twin for :mod:`.numpy_backend`.
"""
from __future__ import annotations

import numpy as np

from ..escape import SMOOTH_MAX_EXTRA, SMOOTH_R2


def smooth_tail(x: float, y: float, cr: float, ci: float) -> tuple[int, float]:
    """``(extra, r2)`` after an escape with full value ``x + iy`` (module docstring).

    >>> smooth_tail(3.0, 0.0, 0.0, 0.0)  # 9, 81, 6561: |6561|^2 > 65536 after 3 more
    (3, 43046721.0)
    """
    extra = 0
    r2 = x * x + y * y
    while r2 <= SMOOTH_R2 and extra < SMOOTH_MAX_EXTRA:
        x2 = x * x
        y2 = y * y
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        extra += 1
        r2 = x * x + y * y
    return extra, r2


def smooth_tail_array(x: np.ndarray, y: np.ndarray, cr: np.ndarray, ci: np.ndarray):
    """Elementwise :func:`smooth_tail`: ``(extra uint8, r2 float64)`` arrays."""
    extra = np.zeros(x.size, dtype=np.int64)
    r2 = x * x + y * y
    going = r2 <= SMOOTH_R2
    while going.any():
        x2 = x * x
        y2 = y * y
        t = x * y
        y = np.where(going, (t + t) + ci, y)
        x = np.where(going, (x2 - y2) + cr, x)
        extra += going
        r2 = np.where(going, x * x + y * y, r2)
        going &= (r2 <= SMOOTH_R2) & (extra < SMOOTH_MAX_EXTRA)
    return extra.astype(np.uint8), r2

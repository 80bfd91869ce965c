"""What every kernel reports per pixel beyond the escape count: the data smooth colouring needs.

The escape count stays the contract (DESIGN.md): ``n = min(first iteration with |z|^2 > 4,
max_iter)``. Colour is a continuous function of the pixel's smooth escape value, which needs
``|z|`` well past the escape radius: after the count, a kernel goes on iterating the same pixel
(``x2 = x*x; y2 = y*y; t = x*y; y = (t+t)+ci; x = (x2-y2)+cr``, the contract's order) until
``|z_m|^2 > SMOOTH_R2`` or ``m - n == SMOOTH_MAX_EXTRA``, and reports

* ``extra = m - n`` (uint8), and
* ``r2 = x*x + y*y`` at iteration ``m`` (float64, the sum of the two squares in that order).

For a pixel that did not escape (``n == max_iter``) ``extra = 0`` and ``r2 = 0.0``. Only these
IEEE basic operations are involved, so every backend reports the same bits, and the colouring
(logarithms, palette) is done once, in numpy, by the tile pipeline: a tile is the same bytes
whichever site, rank or backend renders it. ``SMOOTH_MAX_EXTRA`` bounds the extra work where the
orbit leaves slowly (just outside ``|z| = 2`` near ``c = -2`` it grows by about 4x a step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMOOTH_R2 = 65536.0  # |z|^2 past which the smooth value is read (|z| > 256)
SMOOTH_MAX_EXTRA = 64  # at most this many iterations after the count


@dataclass(frozen=True)
class Escape:
    """Per-pixel escape data of one tile (all arrays ``(height, width)``, row 0 at the top).

    Attributes:
        counts: uint32 escape counts (the contract).
        extra: uint8 iterations after the count until ``|z|^2 > SMOOTH_R2`` (module docstring).
        r2: float64 ``|z|^2`` at iteration ``counts + extra``; 0.0 where ``counts == max_iter``.
    """

    counts: np.ndarray
    extra: np.ndarray
    r2: np.ndarray

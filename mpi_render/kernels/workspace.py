"""Scratch arrays of the SIMD kernel, sized without importing numba.

Shared by :mod:`.numba_backend` (numba's JIT) and :mod:`.native` (the same compiled
code from a prebuilt library), so both hand the kernel the same layout. The lane count is a
parameter, not an import: it is compiled into the kernel, and numba's cache only notices
edits to ``numba_backend.py``, so the constant must live there.
"""
from __future__ import annotations

import threading

import numpy as np

_held = threading.local()


def workspace(width: int, lanes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scratch for rows of ``width`` pixels and a kernel of ``lanes`` lanes per lane set.

    Returns ``(floats, ints, skip)``: float64, int64 and bool arrays whose contents do not
    matter. The kernel lays out in them the row's ``cr`` padded to whole lane groups, the group
    and refill lane sets (with their saved points for cycle detection), the row's pixels
    left after the bulb test, and the survivors' queue; it allocates nothing itself.
    """
    padded = -(-width // lanes) * lanes
    return (np.empty(2 * padded + 11 * lanes + 4 * width),
            np.empty(padded + 9 * lanes + 2 * width, np.int64), np.empty(padded, np.bool_))


def escape_scratch(pixels: int) -> np.ndarray:
    """A float64 scratch array of ``pixels`` entries for the escape states of the smooth-colour
    data (its contents do not matter).

    Kept per thread and reused: a fresh one per call cost as much as the smooth tails
    themselves in page faults on a 1024² view (``docs/PERFORMANCE.md``).
    """
    held = getattr(_held, "scratch", None)
    if held is None or held.size < pixels:
        held = _held.scratch = np.empty(pixels)
    return held[:pixels]

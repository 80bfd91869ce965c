"""Scratch and output arrays of the SIMD kernel, sized without importing numba, and scratch kept
per thread.

Shared by :mod:`.numba_backend` (numba's JIT) and :mod:`.native` (the same compiled
code from a prebuilt library), so both hand the kernel the same layout. The lane count is a
parameter, not an import: it is compiled into the kernel, and numba's cache only notices
edits to ``numba_backend.py``, so the constant must live there.

:func:`held` keeps large scratch arrays per thread: glibc gives freed arrays of a few hundred
KB back to the system and faults fresh ones in page by page, which cost more than the work on
them (the smooth tails of a 1024² view; the colour mapping of a 256 px tile: 225 page faults,
0.66 ms against 0.28 ms; ``docs/PERFORMANCE.md``).
"""
from __future__ import annotations

import threading

import numpy as np

from ..escape import Escape

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


def escape_outputs(width: int, height: int, smooth: bool) -> tuple[Escape, np.ndarray]:
    """The arrays the kernel fills for ``height`` rows of ``width`` pixels.

    Returns:
        ``(escape, z_y)``: an :class:`~mpi_render.escape.Escape` of uninitialised C-contiguous
        arrays, which the kernel fills through their flat views (``a.reshape(-1)``): counts
        ``(height, width)``; with ``smooth`` ``extra`` and ``r2`` of that shape too and ``z_y``
        the float64 scratch of the escape states' y (``width * height``, kept per thread:
        :func:`held`); without ``smooth`` (the counts-only kernel) those three are empty,
        ``extra`` and ``r2`` of shape ``(0, 0)``.
    """
    shape = (height, width) if smooth else (0, 0)
    return (Escape(np.empty((height, width), np.uint32), np.empty(shape, np.uint8),
                   np.empty(shape)), held("escape states", shape[0] * shape[1]))


def held(name: str, size: int, dtype: type = np.float64) -> np.ndarray:
    """A scratch array of ``size`` entries of ``dtype`` (contents undefined), kept for this
    thread under ``name`` and reused by the next call with the same name (module docstring).

    The caller must be done with it before it asks for ``name`` again.
    """
    arrays = _held.__dict__.setdefault("arrays", {})
    array = arrays.get(name)
    if array is None or array.size < size or array.dtype != dtype:
        array = arrays[name] = np.empty(size, dtype)
    return array[:size]

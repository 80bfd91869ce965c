"""Escape-time counts for one tile: pixel geometry, argument checks and backend choice.

Two entry points: :func:`escape_counts` (the counts: the contract) and :func:`escape_data`
(the counts and the smooth-colour data of :mod:`mpi_render.escape`, which the tile pipeline
colours). Backends, all bit-identical to the exact references (:mod:`.reference`,
``reference.c``), counts, ``extra`` and ``r2`` alike:
``numpy`` (always there, :mod:`.numpy_backend`) and ``numba`` (the optional extra,
:mod:`.numba_backend`, run from its prebuilt native library when there is one, :mod:`.native`).
``auto`` picks numba when it can run, else numpy. numba is imported only when first needed, and
not at all when the native library exists, so
``import mpi_render`` stays cheap for the dashboard and the CLI's argument checks.
"""
from __future__ import annotations

import functools
import importlib
import math

import numpy as np

from ..escape import Escape

BACKENDS = ("numpy", "numba")
MAX_ITER_LIMIT = 2**32 - 1  # counts are uint32


@functools.cache
def _kernel(backend: str):
    """The backend, or None if it cannot run: an object with ``escape_counts(cr, ci, max_iter,
    shortcuts) -> (counts, iterations)`` and ``escape_data(...) -> (Escape, iterations)``.

    For numba: the prebuilt native library of the numba kernel when one matches this code and
    CPU (:mod:`.native`; no numba import), else numba's JIT.
    """
    if backend == "numba":
        from . import native
        library = native.load()
        if library is not None:
            return library
    try:
        return importlib.import_module(f"{__package__}.{backend}_backend")
    except ImportError:
        return None


def available_backends() -> tuple[str, ...]:
    """The backends that can run in this process, fastest first."""
    return tuple(name for name in ("numba", "numpy") if _kernel(name) is not None)


def resolve_backend(backend: str = "auto") -> str:
    """Map ``auto`` to the fastest available backend and check an explicit name.

    Raises:
        ValueError: unknown or unavailable backend; the message names the valid ones.
    """
    available = available_backends()
    if backend == "auto":
        return available[0]
    if backend not in available:
        why = "is not installed" if backend in BACKENDS else "is unknown"
        raise ValueError(f"backend {backend!r} {why}; backend must be one of "
                         f"auto, {', '.join(available)}")
    return backend


def pixel_centres(xmin: float, ymax: float, dx: float, dy: float,
                  width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``(cr, ci)``: real parts of the columns and imaginary parts of the rows (row 0 = top).

    The expressions are the same as the C yardstick's ``cref.tile`` so the coordinates are
    bit-identical.

    >>> cr, ci = pixel_centres(-2.0, 1.0, 1.0, 0.5, 2, 2)
    >>> cr.tolist(), ci.tolist()
    ([-1.5, -0.5], [0.75, 0.25])
    """
    cr = xmin + (np.arange(width, dtype=np.float64) + 0.5) * dx
    ci = ymax - (np.arange(height, dtype=np.float64) + 0.5) * dy
    return cr, ci


def _check_args(xmin, ymax, dx, dy, width, height, max_iter) -> None:
    for name, value in (("xmin", xmin), ("ymax", ymax), ("dx", dx), ("dy", dy)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    for name, value, limit in (("width", width, 1 << 16), ("height", height, 1 << 16),
                               ("max_iter", max_iter, MAX_ITER_LIMIT)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 1 <= value <= limit:
            raise ValueError(f"{name} must be an integer in 1..{limit}, got {value!r}")


def escape_counts(xmin: float, ymax: float, dx: float, dy: float, width: int, height: int,
                  max_iter: int, backend: str = "auto", shortcuts: bool = True) -> np.ndarray:
    """Escape-time counts of a ``width x height`` pixel tile.

    Args:
        xmin: real part of the tile's left edge; ymax: imaginary part of its top edge.
        dx, dy: pixel pitch in complex-plane units (pixel centres at half steps).
        width, height: tile size in pixels.
        max_iter: iteration cap (1 .. 2**32-1).
        backend: ``auto``, ``numpy`` or ``numba``.
        shortcuts: the exact interior shortcuts (default): pixels the margin-kept cardioid /
            period-2 bulb test accepts, and orbits that return bit for bit to an earlier point,
            get ``max_iter`` without iterating further. The counts are the same either way;
            ``False`` is the brute-force loop, kept for comparison.

    Returns:
        uint32 array (height, width): ``min(escape iteration, max_iter)`` per pixel.

    Raises:
        ValueError: bad geometry, ``max_iter`` or backend.

    >>> escape_counts(-2.0, 1.0, 1.0, 1.0, 3, 2, 20, backend="numpy").tolist()
    [[3, 20, 5], [3, 20, 5]]
    """
    return escape_counts_and_work(xmin, ymax, dx, dy, width, height, max_iter, backend,
                                  shortcuts)[0]


def escape_counts_and_work(xmin: float, ymax: float, dx: float, dy: float, width: int,
                           height: int, max_iter: int, backend: str = "auto",
                           shortcuts: bool = True) -> tuple[np.ndarray, int]:
    """:func:`escape_counts` and the iterations the backend ran to get them.

    Returns:
        ``(counts, iterations)``. numba counts lane iterations (16 lanes per step of a lane
        set, idle lanes included); numpy counts pixel iterations of its entry pass and its
        blind blocks. With ``shortcuts`` they show how much the shortcuts saved (the brute
        force runs at least the sum of the counts).

    Raises:
        ValueError: as :func:`escape_counts`.
    """
    return _run("escape_counts", xmin, ymax, dx, dy, width, height, max_iter, backend,
                shortcuts)


def escape_data(xmin: float, ymax: float, dx: float, dy: float, width: int, height: int,
                max_iter: int, backend: str = "auto", shortcuts: bool = True) -> Escape:
    """:func:`escape_counts` and the smooth-colour data of every pixel (:mod:`mpi_render.escape`).

    Args and Raises: as :func:`escape_counts`.

    Returns:
        :class:`mpi_render.escape.Escape` of ``(height, width)`` arrays: the counts (the same
        as :func:`escape_counts`'), and ``extra``, ``r2`` of the escaped pixels (0 and 0.0 where
        the count is ``max_iter``). Bit-identical across backends and shortcuts.

    >>> escape = escape_data(-2.0, 1.0, 1.0, 1.0, 3, 1, 20, backend="numpy")
    >>> escape.counts.tolist(), escape.extra.tolist(), escape.r2.tolist()
    ([[3, 20, 5]], [[3, 0, 3]], [[126458.77312359982, 0.0, 993327669.4335848]])
    """
    return _run("escape_data", xmin, ymax, dx, dy, width, height, max_iter, backend,
                shortcuts)[0]


def _run(entry: str, xmin, ymax, dx, dy, width, height, max_iter, backend, shortcuts):
    """Check the arguments and call the backend's ``entry`` (``escape_counts`` or
    ``escape_data``) on the tile's pixel centres."""
    _check_args(xmin, ymax, dx, dy, width, height, max_iter)
    kernel = _kernel(resolve_backend(backend))
    cr, ci = pixel_centres(xmin, ymax, dx, dy, width, height)
    return getattr(kernel, entry)(cr, ci, int(max_iter), bool(shortcuts))

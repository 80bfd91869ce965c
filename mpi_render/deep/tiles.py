"""``tile_escape()``: one tile of a prepared deep view, by any backend, as an :class:`Escape`.

The tile's ``2 * tile_px`` exact offsets are computed here (:mod:`.geometry`), rounded once to
the delta type, and handed to the chosen backend, so every backend starts from the same bits:

* ``numba``: the prebuilt native library when it exists for this code and CPU
  (:mod:`.native`: no numba import), else numba's JIT (:mod:`.numba_backend`);
* ``numpy``: vectorised over the tile's pixels (:mod:`.numpy_backend`);
* ``reference``: the plain Python loop (:mod:`.loop`), the oracle (slow: tests only).
"""
from __future__ import annotations

import functools

import numpy as np

from ..escape import Escape
from ..tiling import tile_index
from ..view import View
from . import geometry, loop
from . import stats as st
from .prepare import Reference, prepare

BACKENDS = ("numba", "numpy", "reference")


@functools.cache
def _numba_kernels():
    """``(tile_plain, tile_wide)`` from the native library, else from numba's JIT, else None."""
    from . import native

    library = native.load()
    if library is not None:
        return library
    try:
        from . import numba_backend
    except ImportError:
        return None
    return numba_backend.tile_plain, numba_backend.tile_wide


def warm_up(backend: str = "numba") -> None:
    """Compile or load ``backend``'s kernels once per process (a plain and a wide view of 8 x 8
    pixels), so no tile pays for it. On numba's JIT (no native library for this code and CPU
    yet) it then builds that library, so later processes start without numba (:mod:`.native`).

    Raises:
        ValueError: unknown or unavailable backend.
    """
    for width in ("1e-20", "1e-320"):
        reference = prepare(View("-0.75", "0.1", width), 8, 64)
        tile_escape(reference, 1, 8, 0, 0, backend=backend)
    if backend == "numba":
        from . import native

        if native.load() is None:
            native.ensure_built()


def available_backends() -> tuple[str, ...]:
    """The backends that can run in this process, fastest first."""
    return tuple(name for name in BACKENDS if name != "numba" or _numba_kernels() is not None)


def tile_offsets(reference: Reference, grid: int, tile_px: int, row: int, col: int):
    """``(dcx, dcy)``: the tile's offsets rounded to the delta type: float64 arrays in plain
    views; ``((mantissas, exponents), (mantissas, exponents))`` in wide views. Cached per
    column and per row (a tile shares them with its neighbours)."""
    cache = reference.offsets_cache
    keys = (("re", grid, tile_px, col), ("im", grid, tile_px, row))
    if any(key not in cache for key in keys):
        dc_re, dc_im = geometry.rounded_offsets(reference.view, grid, tile_px, row, col,
                                                reference.orbit.point, reference.wide)
        if len(cache) > 4 * grid:  # bounded: a few runs' columns and rows
            cache.clear()
        cache[keys[0]] = _as_arrays(dc_re, reference.wide)
        cache[keys[1]] = _as_arrays(dc_im, reference.wide)
    return cache[keys[0]], cache[keys[1]]


def _as_arrays(values, wide_view: bool):
    if not wide_view:
        return np.array(values, dtype=np.float64)
    return (np.array([p[0] for p in values], dtype=np.float64),
            np.array([p[1] for p in values], dtype=np.int64))


def _check(reference: Reference, grid: int, tile_px: int, row: int, col: int,
           backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numba" and _numba_kernels() is None:
        raise ValueError("backend 'numba' is not installed; use numpy or reference")
    for name, value in (("grid", grid), ("tile_px", tile_px)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if grid * tile_px != reference.image_px:
        raise ValueError(f"grid * tile_px must be the prepared image size "
                         f"{reference.image_px}, got {grid} * {tile_px}")
    tile_index(grid, row, col)


def tile_escape(reference: Reference, grid: int, tile_px: int, row: int, col: int,
                backend: str = "numba", stats: np.ndarray | None = None) -> Escape:
    """Escape data of tile ``(row, col)`` of the view ``reference`` was prepared for.

    Args:
        reference: from :func:`.prepare.prepare` (or :meth:`.Reference.from_arrays`).
        grid, tile_px: the tiling (``grid * tile_px`` must be the prepared image size).
        row, col: the tile (row 0 at the top).
        backend: ``numba``, ``numpy`` or ``reference`` (module docstring).
        stats: a :func:`.stats.new` vector to add this tile's step statistics to.

    Returns:
        The :class:`mpi_render.escape.Escape` (arrays ``(tile_px, tile_px)``).

    Raises:
        ValueError: unknown or unavailable backend, a tiling that does not match the prepared
            image size, or a tile outside the grid.
    """
    _check(reference, grid, tile_px, row, col, backend)
    dcx, dcy = tile_offsets(reference, grid, tile_px, row, col)
    counters = st.new()
    if backend == "reference":
        escape = _reference_tile(reference, dcx, dcy, counters, tile_px)
    else:
        counts = np.empty(tile_px * tile_px, dtype=np.uint32)
        extra = np.empty(tile_px * tile_px, dtype=np.uint8)
        r2 = np.empty(tile_px * tile_px, dtype=np.float64)
        run = _run_numba if backend == "numba" else _run_numpy
        run(reference, dcx, dcy, counts, extra, r2, counters)
        shape = (tile_px, tile_px)
        escape = Escape(counts.reshape(shape), extra.reshape(shape), r2.reshape(shape))
    if stats is not None:
        stats += counters
    return escape


def _reference_tile(reference, dcx, dcy, counters, tile_px) -> Escape:
    if reference.wide:
        dcx = list(zip(dcx[0].tolist(), dcx[1].tolist()))
        dcy = list(zip(dcy[0].tolist(), dcy[1].tolist()))
    else:
        dcx, dcy = dcx.tolist(), dcy.tolist()
    counter_list = [0] * counters.size
    rows = loop.tile(reference, dcx, dcy, counter_list)
    counters += np.array(counter_list, dtype=np.int64)
    flat = [pixel for row in rows for pixel in row]
    shape = (tile_px, tile_px)
    return Escape(np.array([p[0] for p in flat], dtype=np.uint32).reshape(shape),
                  np.array([p[1] for p in flat], dtype=np.uint8).reshape(shape),
                  np.array([p[2] for p in flat], dtype=np.float64).reshape(shape))


def _run_numba(reference, dcx, dcy, counts, extra, r2, counters) -> None:
    tile_plain, tile_wide = _numba_kernels()
    orbit, table = reference.orbit, reference.table
    cr, ci = float(orbit.point[0]), float(orbit.point[1])
    if reference.wide:
        wzx, wzy, wze = orbit.wide
        tile_wide(orbit.zx, orbit.zy, wzx, wzy, wze, orbit.length, table.starts, table.radius,
                  table.radius_wide, table.radius_exp, table.coeffs, table.coeff_exps,
                  reference.checkpoints, cr, ci, dcx[0], dcx[1],
                  dcy[0], dcy[1], reference.max_iter, reference.interior, counts, extra, r2,
                  counters)
    else:
        tile_plain(orbit.zx, orbit.zy, orbit.length, table.starts, table.radius, table.coeffs,
                   reference.checkpoints, cr, ci, dcx, dcy, reference.max_iter, reference.interior,
                   counts, extra, r2, counters)


def _run_numpy(reference, dcx, dcy, counts, extra, r2, counters) -> None:
    from . import numpy_backend

    numpy_backend.tile(reference, dcx, dcy, counts, extra, r2, counters)

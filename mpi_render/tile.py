"""The tile pipeline: geometry -> escape counts -> palette indices -> PNG bytes, with timings.

This is what every rank runs per tile; rank 0 only forwards the bytes and :meth:`RenderedTile.meta`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .config import RenderConfig
from .encode import encode_png
from .kernels import native
from .kernels.dispatch import escape_counts, resolve_backend
from .palettes import palette_bytes, palette_indices
from .tiling import tile_bounds, tile_index

WARM_UP_PX = 8


@dataclass(frozen=True)
class KernelChoice:
    """How a process renders its tiles (``mpi-render --backend``, ``--no-shortcuts``).

    Attributes:
        backend: ``auto`` (numba when it can run, else numpy), ``numpy`` or ``numba``.
        shortcuts: the exact interior shortcuts (default); False is the brute force (same
            counts, for comparisons).
    """

    backend: str = "auto"
    shortcuts: bool = True

    def warmed_up(self) -> KernelChoice:
        """This choice with ``backend`` resolved, its kernels compiled or loaded in this
        process (:func:`warm_up`).

        Raises:
            ValueError: unknown or unavailable backend.
        """
        return replace(self, backend=warm_up(self.backend))


@dataclass(frozen=True)
class RenderedTile:
    """One finished tile.

    Attributes:
        row, col: tile position (row 0 at the top).
        png: the 8-bit palette PNG, ``tile_px`` square.
        render_ms: kernel wall time in milliseconds.
        encode_ms: palette mapping plus PNG encoding wall time in milliseconds.
        iterations: sum of the escape counts of all pixels.
        rendered_at: wall-clock time (epoch seconds, this host's clock) when the tile was
            finished, i.e. after its kernel and its encoding.
    """

    row: int
    col: int
    png: bytes
    render_ms: float
    encode_ms: float
    iterations: int
    rendered_at: float = 0.0

    def meta(self, site: str, rank: int, host: str) -> dict:
        """The batch-manifest entry: ``{row, col, site, rank, host, render_ms, encode_ms,
        iterations, rendered_at}`` (DESIGN.md, "Tiles on the wire")."""
        return {"row": self.row, "col": self.col, "site": site, "rank": rank, "host": host,
                "render_ms": self.render_ms, "encode_ms": self.encode_ms,
                "iterations": self.iterations, "rendered_at": self.rendered_at}


def render_tile(config: RenderConfig, row: int, col: int, backend: str = "auto",
                shortcuts: bool = True) -> RenderedTile:
    """Render, colour and encode tile ``(row, col)`` of ``config``.

    ``shortcuts=False`` renders with the brute-force loop (same counts, for benchmarks; see
    :func:`.kernels.escape_counts`).

    Raises:
        ValueError: the tile is outside the grid, or the backend is unknown or unavailable.
    """
    tile_index(config.grid, row, col)
    cx, cy, width = config.view.floats()
    bounds = tile_bounds(config.grid, config.tile_px, (cx, cy), width, row, col)
    start = time.perf_counter()
    counts = escape_counts(bounds.xmin, bounds.ymax, bounds.dx, bounds.dy, config.tile_px,
                           config.tile_px, config.max_iter, backend=backend, shortcuts=shortcuts)
    rendered = time.perf_counter()
    png = encode_png(palette_indices(counts, config.max_iter), palette_bytes(config.palette))
    encoded = time.perf_counter()
    return RenderedTile(row=row, col=col, png=png, render_ms=(rendered - start) * 1e3,
                        encode_ms=(encoded - rendered) * 1e3,
                        iterations=int(counts.sum(dtype=np.uint64)), rendered_at=time.time())


def warm_up(backend: str = "auto") -> str:
    """Compile or load the backend's kernels once per process, so no tile pays for it.

    With numba's JIT (no native library for this code and CPU yet), it then builds that library
    so that later processes start without numba (:mod:`.kernels.native`).

    Returns:
        The resolved backend name (``auto`` becomes ``numba`` or ``numpy``).

    Raises:
        ValueError: unknown or unavailable backend.
    """
    name = resolve_backend(backend)
    for shortcuts in (False, True):
        escape_counts(-2.0, 1.0, 0.25, 0.25, WARM_UP_PX, WARM_UP_PX, 4, backend=name,
                      shortcuts=shortcuts)
    if name == "numba" and native.load() is None:  # running on numba's JIT
        native.ensure_built()
    return name

"""The tile pipeline: geometry -> escape data -> palette indices -> PNG bytes, with timings.

This is what every rank runs per tile; rank 0 only forwards the bytes and :meth:`RenderedTile.meta`.

**Which kernel** (DESIGN.md, "Deep views"): the double kernel (:mod:`.kernels`, bit-identical to
the brute force) while it resolves every pixel, perturbation (:mod:`.deep`) below that line
(:func:`mpi_render.deep.needs_perturbation`: the pixel pitch against the coordinates). A deep
view needs its :class:`~mpi_render.deep.Reference` (MPFR orbit + BLA table), prepared once per
view: :func:`prepare_reference`. A site job prepares it on rank 0 and shares it with its ranks
(:mod:`mpi_render.site.rendering`); the functions here prepare it themselves when none is given.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace

import numpy as np

from .config import RenderConfig
from .deep.geometry import check_kernel, choose_kernel
from .encode import encode_png
from .escape import Escape
from .kernels import colour_native, native
from .kernels.dispatch import escape_data, resolve_backend
from .palettes import compiled_mapping, palette_bytes, smooth_indices
from .tiling import tile_bounds, tile_index

WARM_UP_PX = 8
KEEP_REFERENCES = 4  # prepared references kept by prepare_reference (per process)


@dataclass(frozen=True)
class KernelChoice:
    """How a process renders its tiles (``mpi-render --backend``, ``--kernel``,
    ``--no-shortcuts``).

    Attributes:
        backend: ``auto`` (numba when it can run, else numpy), ``numpy`` or ``numba``.
        shortcuts: the double kernel's exact interior shortcuts (default); False is its brute
            force (same counts, for comparisons).
        kernel: ``auto`` (by depth: :func:`kernel_for`), or ``double`` / ``perturbation``
            forced (for tests and comparisons).

    Raises:
        ValueError: an unknown kernel name.
    """

    backend: str = "auto"
    shortcuts: bool = True
    kernel: str = "auto"

    def __post_init__(self):
        check_kernel(self.kernel)

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
        kernel: ``double`` or ``perturbation``: which kernel rendered it.
    """

    row: int
    col: int
    png: bytes
    render_ms: float
    encode_ms: float
    iterations: int
    rendered_at: float = 0.0
    kernel: str = "double"

    def meta(self, site: str, rank: int, host: str) -> dict:
        """The batch-manifest entry: ``{row, col, site, rank, host, render_ms, encode_ms,
        iterations, rendered_at, kernel}`` (DESIGN.md, "Tiles on the wire"; docs/API.md)."""
        return {"row": self.row, "col": self.col, "site": site, "rank": rank, "host": host,
                "render_ms": self.render_ms, "encode_ms": self.encode_ms,
                "iterations": self.iterations, "rendered_at": self.rendered_at,
                "kernel": self.kernel}


def kernel_for(config: RenderConfig, kernel: str = "auto") -> str:
    """``double`` or ``perturbation``: the kernel that renders ``config`` (``kernel`` forces one;
    ``auto`` decides by the line of :mod:`mpi_render.deep.geometry`).

    Raises:
        ValueError: an unknown kernel name.
    """
    return choose_kernel(config.view, config.image_px, kernel)


def prepare_reference(config: RenderConfig, progress=None):
    """The :class:`~mpi_render.deep.Reference` of ``config``'s view (MPFR orbit + BLA table),
    kept for the next call with the same view, image size and ``max_iter`` (the last
    :data:`KEEP_REFERENCES` of them).

    Args:
        progress: ``progress(done_iterations, max_iter)``, called while the orbit runs.
    """
    if progress is not None:
        return _prepare(config.view, config.image_px, config.max_iter, progress)
    return _kept_reference(config.view, config.image_px, config.max_iter)


def _prepare(view, image_px: int, max_iter: int, progress=None):
    from .deep import prepare  # MPFR is loaded by the processes that render deep views only

    return prepare(view, image_px, max_iter, progress)


@functools.lru_cache(maxsize=KEEP_REFERENCES)
def _kept_reference(view, image_px: int, max_iter: int):
    return _prepare(view, image_px, max_iter)


def tile_escape(config: RenderConfig, row: int, col: int, backend: str = "auto",
                shortcuts: bool = True, kernel: str = "auto",
                reference=None) -> tuple[Escape, str]:
    """The escape data of tile ``(row, col)`` and the name of the kernel that computed it.

    Args:
        backend, shortcuts, kernel: as in :class:`KernelChoice`.
        reference: the view's prepared reference for perturbation (default: prepared here).

    Raises:
        ValueError: the tile is outside the grid, or an unknown or unavailable backend or
            kernel.
    """
    tile_index(config.grid, row, col)
    name = resolve_backend(backend)
    if kernel_for(config, kernel) == "double":
        cx, cy, width = config.view.floats()
        bounds = tile_bounds(config.grid, config.tile_px, (cx, cy), width, row, col)
        return escape_data(bounds.xmin, bounds.ymax, bounds.dx, bounds.dy, config.tile_px,
                           config.tile_px, config.max_iter, backend=name,
                           shortcuts=shortcuts), "double"
    from .deep import tile_escape as deep_tile_escape

    if reference is None:
        reference = prepare_reference(config)
    return deep_tile_escape(reference, config.grid, config.tile_px, row, col,
                            backend=name), "perturbation"


def tile_counts(config: RenderConfig, row: int, col: int, backend: str = "auto",
                kernel: str = "auto", reference=None) -> np.ndarray:
    """The escape counts of tile ``(row, col)`` of ``config``, at any depth: ``(tile_px,
    tile_px)`` uint32, row 0 at the top, chosen the way the site job chooses (DESIGN.md, "Deep
    views": the public entry point; ``kernel`` forces a kernel, ``reference`` saves preparing
    the view again).

    Raises:
        ValueError: as :func:`tile_escape`.
    """
    return tile_escape(config, row, col, backend, True, kernel, reference)[0].counts


def render_tile(config: RenderConfig, row: int, col: int, backend: str = "auto",
                shortcuts: bool = True, kernel: str = "auto", reference=None) -> RenderedTile:
    """Render, colour and encode tile ``(row, col)`` of ``config``.

    ``shortcuts=False`` renders the double kernel by brute force (same counts, for benchmarks;
    see :func:`.kernels.escape_counts`); ``kernel`` and ``reference`` as for
    :func:`tile_escape`.

    Raises:
        ValueError: as :func:`tile_escape`.
    """
    start = time.perf_counter()
    escape, used = tile_escape(config, row, col, backend, shortcuts, kernel, reference)
    rendered = time.perf_counter()
    png = encode_png(smooth_indices(escape, config.max_iter), palette_bytes(config.palette))
    encoded = time.perf_counter()
    return RenderedTile(row=row, col=col, png=png, render_ms=(rendered - start) * 1e3,
                        encode_ms=(encoded - rendered) * 1e3,
                        iterations=int(escape.counts.sum(dtype=np.uint64)),
                        rendered_at=time.time(), kernel=used)


def warm_up(backend: str = "auto") -> str:
    """Compile or load the backend's kernels and the colour mapping once per process, so no
    tile pays for it.

    On numba's JIT (no native library for this code and CPU yet), it then builds the library,
    so that later processes start without numba (:mod:`.kernels.native`,
    :mod:`.kernels.colour_native`, :mod:`.deep.native`).

    Returns:
        The resolved backend name (``auto`` becomes ``numba`` or ``numpy``).

    Raises:
        ValueError: unknown or unavailable backend.
    """
    name = resolve_backend(backend)
    for shortcuts in (False, True):
        escape = escape_data(-2.0, 1.0, 0.25, 0.25, WARM_UP_PX, WARM_UP_PX, 4, backend=name,
                             shortcuts=shortcuts)
    if name == "numba" and native.load() is None:  # running on numba's JIT
        native.ensure_built()
    smooth_indices(escape, 4)  # the colour mapping: compiled wherever numba can run
    if compiled_mapping() is not None and colour_native.load() is None:  # on numba's JIT
        colour_native.ensure_built()
    from .deep import warm_up as warm_up_deep  # the perturbation kernels, and their library

    warm_up_deep(name)
    return name

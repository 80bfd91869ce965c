"""Escape-time kernels: :func:`escape_counts`, :func:`escape_data` and their backends, each tested
against the references.

Two entry points, same arguments (the tile's geometry, ``max_iter``, ``backend``,
``shortcuts``):

* :func:`escape_counts` -> uint32 counts ``(height, width)``: the contract (DESIGN.md).
* :func:`escape_data` -> :class:`mpi_render.escape.Escape`: the same counts, and per escaped
  pixel the smooth-colour data (``extra`` iterations of the tail and ``r2 = |z|^2`` where it
  stopped), which the tile pipeline turns into colours (:mod:`mpi_render.palettes`).

Both are bit-identical across backends and with the shortcuts on or off: counts, ``extra`` and
``r2`` alike.

``dispatch`` checks arguments and picks a backend; ``numpy_backend`` and ``numba_backend`` are the
backends (``lanes_ir`` emits the numba kernel's hot loop, ``trap`` is its exact trap test;
``native`` runs the numba kernel from a prebuilt library without importing numba; ``workspace``
sizes its scratch and output arrays); ``reference`` (plain Python) and ``reference.c`` (plain
scalar C, loaded by ``creference``) are the exact oracles every backend must match bit for bit.
``colour_numba`` is the tile pipeline's colour mapping compiled (the same bytes as the numpy
mapping; :func:`mpi_render.palettes.smooth_indices` runs it where numba can run),
``colour_native`` its prebuilt library.
"""
from .dispatch import (
    available_backends,
    escape_counts,
    escape_data,
    pixel_centres,
    resolve_backend,
)

__all__ = ["available_backends", "escape_counts", "escape_data", "pixel_centres",
           "resolve_backend"]

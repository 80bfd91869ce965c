"""Escape-time kernels: :func:`escape_counts` and its backends, each tested against the references.

``dispatch`` checks arguments and picks a backend; ``numpy_backend`` and ``numba_backend`` are the
backends (``lanes_ir`` emits the numba kernel's hot loop, ``trap`` is its exact trap test;
``native`` runs the numba kernel from a prebuilt library without importing numba; ``workspace``
sizes its scratch arrays); ``reference`` (plain Python) and ``reference.c`` (plain
scalar C, loaded by ``creference``) are the exact oracles every backend must match bit for bit.
"""
from .dispatch import available_backends, escape_counts, pixel_centres, resolve_backend

__all__ = ["available_backends", "escape_counts", "pixel_centres", "resolve_backend"]

"""The plain-Python scalar reference: one pixel at a time, the contract's loop.

It is slow (about 100 ns per iteration) and exists so every fast backend can be checked against
code simple enough to read at a glance: :func:`escape_count` for the counts, :func:`escape` for
the smooth-colour data of :mod:`mpi_render.escape` as well.
"""
from __future__ import annotations

from ..escape import SMOOTH_MAX_EXTRA, SMOOTH_R2


def escape_count(cr: float, ci: float, max_iter: int) -> int:
    """``min(escape iteration, max_iter)`` for the point ``c = cr + i*ci``.

    >>> escape_count(0.0, 0.0, 50), escape_count(1.0, 1.0, 50)
    (50, 2)
    """
    return escape(cr, ci, max_iter)[0]


def escape(cr: float, ci: float, max_iter: int) -> tuple[int, int, float]:
    """``(count, extra, r2)`` of the point ``c = cr + i*ci`` (:mod:`mpi_render.escape`).

    The count is the contract's; after an escape at ``count < max_iter`` the same loop goes on
    until ``|z|^2 > SMOOTH_R2`` or ``SMOOTH_MAX_EXTRA`` more iterations, ``extra`` is how many
    it ran and ``r2 = x*x + y*y`` there. A pixel that reaches ``max_iter`` gives ``(max_iter,
    0, 0.0)``.

    >>> escape(0.0, 0.0, 50)
    (50, 0, 0.0)
    >>> escape(1.0, 1.0, 50)  # |z|^2 of z_2 .. z_5: 10 (the escape), 98, 9410, 88528898
    (2, 3, 88528898.0)
    """
    x = y = 0.0
    n = 0
    while n < max_iter:
        x2 = x * x
        y2 = y * y
        if x2 + y2 > 4.0:
            return n, *_smooth_tail(x, y, cr, ci)
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        n += 1
    return n, 0, 0.0


def _smooth_tail(x: float, y: float, cr: float, ci: float) -> tuple[int, float]:
    """``(extra, r2)`` from the escape state ``z = x + i*y`` (module :mod:`mpi_render.escape`)."""
    extra = 0
    x2 = x * x
    y2 = y * y
    while not x2 + y2 > SMOOTH_R2 and extra < SMOOTH_MAX_EXTRA:
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        x2 = x * x
        y2 = y * y
        extra += 1
    return extra, x2 + y2


def escape_counts(cr: list[float], ci: list[float], max_iter: int) -> list[list[int]]:
    """Counts for the pixel centres ``cr`` (columns) x ``ci`` (rows), as nested lists [row][col]."""
    return [[escape_count(x, y, max_iter) for x in cr] for y in ci]


def escape_data(cr: list[float], ci: list[float], max_iter: int) -> list[list[tuple]]:
    """:func:`escape` of the pixel centres ``cr`` (columns) x ``ci`` (rows), as [row][col]."""
    return [[escape(x, y, max_iter) for x in cr] for y in ci]

"""The plain-Python scalar reference: one pixel at a time, the contract's loop.

It is slow (about 100 ns per iteration) and exists so every fast backend can be checked against
code simple enough to read at a glance.
"""
from __future__ import annotations


def escape_count(cr: float, ci: float, max_iter: int) -> int:
    """``min(escape iteration, max_iter)`` for the point ``c = cr + i*ci``.

    >>> escape_count(0.0, 0.0, 50), escape_count(1.0, 1.0, 50)
    (50, 2)
    """
    x = y = 0.0
    n = 0
    while n < max_iter:
        x2 = x * x
        y2 = y * y
        if x2 + y2 > 4.0:
            break
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        n += 1
    return n


def escape_counts(cr: list[float], ci: list[float], max_iter: int) -> list[list[int]]:
    """Counts for the pixel centres ``cr`` (columns) x ``ci`` (rows), as nested lists [row][col]."""
    return [[escape_count(x, y, max_iter) for x in cr] for y in ci]

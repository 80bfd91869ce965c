"""Derive the polynomial of ``mpi_render/exactlog.py``: a minimax fit of log2 on one octave.

usage: python scripts/log2_coefficients.py [DEGREE]   (default 5, the degree in s^2 the module uses)

``log2(m / c) = (2 / ln 2) atanh(s)`` with ``s = (m - c) / (m + c)``; for ``m`` on the octave
``[c / sqrt 2, c sqrt 2]`` the argument ``s`` stays within ``[-S, S]``, ``S = 3 - 2 sqrt 2``. The
odd polynomial ``s Q(s^2)`` of degree ``DEGREE`` in ``s^2`` that minimises the largest absolute
error on that interval is found by the Remez exchange algorithm in 256-bit MPFR (gmpy2, a
dependency of the package), whose correctly rounded arithmetic makes this script print the same
digits on every machine. Prints the coefficients ``q0 .. qDEGREE`` rounded to doubles (hex, as
the module writes them) and the error of the exact minimax polynomial; tests/unit/test_exactlog.py
checks that the module's constants are this script's output.
"""
from __future__ import annotations

import sys

import gmpy2
from gmpy2 import mpfr

GRID = 1000  # points per Remez step on which the error's extrema are first sought ...
REFINE = 80  # ... then located by golden-section search to ~1e-17 of the interval
STEPS = 10  # exchange steps (converged to far below a double's precision after ~5)


def _solve(matrix: list[list], rhs: list) -> list:
    """Solve a small dense linear system by Gaussian elimination with partial pivoting."""
    rows = [row[:] + [b] for row, b in zip(matrix, rhs)]
    n = len(rows)
    for i in range(n):
        pivot = max(range(i, n), key=lambda r: abs(rows[r][i]))
        rows[i], rows[pivot] = rows[pivot], rows[i]
        for r in range(n):
            if r != i:
                factor = rows[r][i] / rows[i][i]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[i])]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def _misfit(q: list, scale: mpfr):
    """The error ``scale atanh(s) - s Q(s^2)`` of the coefficients ``q``, as a function of s."""
    def misfit(s):
        return scale * gmpy2.atanh(s) - s * sum(qk * s ** (2 * k) for k, qk in enumerate(q))
    return misfit


def _peak(error, low, high):
    """Where ``|error|`` is largest on ``[low, high]`` (unimodal there), by golden section."""
    ratio = (gmpy2.sqrt(mpfr(5)) - 1) / 2
    for _ in range(REFINE):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if abs(error(a)) < abs(error(b)):
            low = a
        else:
            high = b
    return (low + high) / 2


def minimax(degree: int) -> tuple[list, mpfr]:
    """The coefficients ``q0 .. q_degree`` (MPFR) and the equioscillating error of the best
    odd approximation ``s Q(s^2)`` to ``(2 / ln 2) atanh(s)`` on ``[0, S]`` (by symmetry, on
    ``[-S, S]``)."""
    gmpy2.get_context().precision = 256
    edge = 3 - 2 * gmpy2.sqrt(mpfr(2))
    scale = 2 / gmpy2.log(mpfr(2))
    count = degree + 2  # the error vanishes at 0 and alternates at degree + 2 points in (0, S]
    points = [edge * gmpy2.sin(gmpy2.const_pi() / 2 * (i + 1) / count) for i in range(count)]
    grid = [edge * i / GRID for i in range(1, GRID + 1)]
    for _ in range(STEPS):
        rows = [[p ** (2 * k + 1) for k in range(degree + 1)] + [(-1) ** i]
                for i, p in enumerate(points)]
        *q, level = _solve(rows, [scale * gmpy2.atanh(p) for p in points])
        error = _misfit(q, scale)
        values = [error(s) for s in grid]
        peaks = [i for i in range(GRID)
                 if (i == 0 or abs(values[i]) >= abs(values[i - 1]))
                 and (i == GRID - 1 or abs(values[i]) >= abs(values[i + 1]))]
        peaks = sorted(sorted(peaks, key=lambda i: -abs(values[i]))[:count])
        points = [_peak(error, grid[max(i - 1, 0)], grid[min(i + 1, GRID - 1)])
                  for i in peaks]
    return q, abs(level)


def main(argv: list[str]) -> int:
    degree = int(argv[0]) if argv else 5
    q, level = minimax(degree)
    for k, qk in enumerate(q):
        print(f"q{k} = {float(qk).hex()}")
    print(f"minimax error = {float(level):.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The numba escape-time backend: blocked SIMD lanes with refill, bit-identical to ``bench/ref.c``.

"Use numba" alone buys nothing over C scalar (LLVM cannot vectorise a loop with a data-dependent
exit), so the kernel is written in a form the loop vectoriser takes (shared/bench/KERNELS.md):
``LANES`` pixels sit in small arrays and a branch-free inner loop over the lanes runs
``BLOCK_ITERS`` iterations. A lane counts an iteration only while its count equals the step
number, which makes the "still iterating" mask sticky without a branch; escaped lanes keep
computing garbage (inf/nan) that is never counted. After each block, finished lanes write their
count and are refilled from the pixel queue, so no lane idles behind a slow neighbour.

Rules kept on purpose: no ``fastmath`` (it would reassociate and change boundary pixels), and
``cache=True`` only on top-level functions (closures never hit numba's cache). This module
imports numba at import time; :mod:`.kernel` imports it only when the backend is used.
"""
from __future__ import annotations

import numba
import numpy as np

LANES = 64
BLOCK_ITERS = 16
ESCAPE_R2 = 4.0


@numba.njit(cache=True)
def in_main_bulbs(x: float, y: float) -> bool:
    """Main cardioid or period-2 bulb test, in ref.c's exact operation order."""
    xq = x - 0.25
    y2 = y * y
    q = xq * xq + y2
    if q * (q + xq) <= 0.25 * y2:
        return True
    xp = x + 1.0
    return xp * xp + y2 <= 0.0625


@numba.njit(cache=True)
def _next_pixel(cr, ci, max_iter, precheck, out, next_px):
    """Index of the next pixel to iterate (-1 when the queue is empty), and the new queue head.

    With ``precheck``, pixels inside the main bulbs are answered here with ``max_iter``.
    """
    width = cr.size
    n_px = out.size
    while next_px < n_px:
        px = next_px
        next_px += 1
        if precheck and in_main_bulbs(cr[px % width], ci[px // width]):
            out[px] = max_iter
            continue
        return px, next_px
    return -1, next_px


@numba.njit(cache=True)
def _run_block(lx, ly, lcr, lci, steps):
    """``BLOCK_ITERS`` branch-free iterations of every lane; ``steps[l]`` counts lane l's."""
    for l in range(LANES):
        steps[l] = 0
    for it in range(BLOCK_ITERS):
        for l in range(LANES):
            x = lx[l]
            y = ly[l]
            x2 = x * x
            y2 = y * y
            steps[l] += (steps[l] == it) & (x2 + y2 <= ESCAPE_R2)
            t = x * y
            ly[l] = (t + t) + lci[l]
            lx[l] = (x2 - y2) + lcr[l]


@numba.njit(cache=True)
def escape_counts_flat(cr, ci, max_iter, precheck, out):
    """Fill ``out`` (flat uint32, ``ci.size * cr.size``, row-major) with escape counts."""
    width = cr.size
    lx = np.zeros(LANES)
    ly = np.zeros(LANES)
    lcr = np.zeros(LANES)
    lci = np.zeros(LANES)
    steps = np.zeros(LANES, dtype=np.int64)
    done = np.zeros(LANES, dtype=np.int64)
    pixel = np.full(LANES, -1, dtype=np.int64)
    next_px = 0
    busy = 0
    for l in range(LANES):
        px, next_px = _next_pixel(cr, ci, max_iter, precheck, out, next_px)
        if px >= 0:
            pixel[l] = px
            lcr[l] = cr[px % width]
            lci[l] = ci[px // width]
            busy += 1
    while busy > 0:
        _run_block(lx, ly, lcr, lci, steps)
        for l in range(LANES):
            done[l] += steps[l]
            if pixel[l] < 0 or (steps[l] == BLOCK_ITERS and done[l] < max_iter):
                continue
            out[pixel[l]] = min(done[l], max_iter)
            px, next_px = _next_pixel(cr, ci, max_iter, precheck, out, next_px)
            pixel[l] = px
            done[l] = 0
            lx[l] = 0.0
            ly[l] = 0.0
            if px >= 0:
                lcr[l] = cr[px % width]
                lci[l] = ci[px // width]
            else:  # an idle lane iterates c = 0, which stays at 0 and costs nothing extra
                lcr[l] = 0.0
                lci[l] = 0.0
                busy -= 1


def escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                  precheck: bool = False) -> np.ndarray:
    """Escape counts for pixel centres ``cr`` (width,) x ``ci`` (height,) -> uint32 (height, width).

    Same contract as :func:`mpi_render.kernel_numpy.escape_counts`.
    """
    out = np.empty(cr.size * ci.size, dtype=np.uint32)
    escape_counts_flat(np.ascontiguousarray(cr, dtype=np.float64),
                       np.ascontiguousarray(ci, dtype=np.float64), max_iter, precheck, out)
    return out.reshape(ci.size, cr.size)

"""The numpy escape-time backend: always available, bit-identical to the references.

Design (measured in ``docs/PERFORMANCE.md``; numpy's ceiling is about C-scalar speed):

* real and imaginary parts live in separate float64 arrays and every ufunc writes in place
  (``out=``), 7 calls per iteration; complex128 would need fewer calls but numpy's complex
  multiply uses FMA and changes boundary pixels;
* ``BLOCK_ITERS`` iterations run blindly, with one escape test per block; pixels that escaped
  somewhere in the block are replayed from the saved block-start state to find their exact count.
  Orbits that escaped keep growing (to inf, then maybe nan), and ``not (r2 <= 4)`` catches both;
* finished pixels are compacted away, and the working set (``WORKING_PX`` pixels, about L2 size
  per array) is topped up from a pixel queue when it falls below 3/4, so the ufunc calls stay long
  and cache-resident;
* shortcuts (the default; ``docs/PERFORMANCE.md``, "Exact shortcuts"): the margin-kept cardioid /
  period-2 bulb test, and exact cycle detection at block ends: each pixel saves z at block ends
  when its age (in blocks) reaches ``next_save`` (Brent's windows, doubling), and a pixel whose
  z at a block end equals its saved z bit for bit gets ``max_iter``.
"""
from __future__ import annotations

import numpy as np

BLOCK_ITERS = 8
WORKING_PX = 1 << 16
ESCAPE_R2 = 4.0
BULB_MARGIN = 1e-12  # the bulb test accepts only points this far inside (docs/PERFORMANCE.md)


def in_main_bulbs(cr: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """True where ``c`` lies in the main cardioid or the period-2 bulb by more than the margin.

    The C yardstick's test (``q (q + xq) <= y^2 / 4``, ``|c + 1|^2 <= 1/16``, same expressions)
    with ``BULB_MARGIN`` subtracted from the right-hand sides: the rounding error of the
    left-hand sides is below 1e-14 wherever the test can accept, so every accepted point is
    strictly inside (``docs/PERFORMANCE.md``, "Exact shortcuts"). The numba kernel uses the same
    expressions.

    >>> in_main_bulbs(np.array([0.0, -1.0, 0.5, 0.25]), np.zeros(4)).tolist()
    [True, True, False, False]
    """
    xq = cr - 0.25
    y2 = ci * ci
    q = xq * xq + y2
    cardioid = (q * (q + xq) <= 0.25 * y2 - BULB_MARGIN) & (y2 < 1.0)  # no inf <= inf
    xp = cr + 1.0
    return cardioid | (xp * xp + y2 <= 0.0625 - BULB_MARGIN)


class _WorkingSet:
    """The pixels being iterated: queue indices, c, z, the block in which each started, and the
    saved z of cycle detection with the block number at whose end it is saved next."""

    FIELDS = ("idx", "cr", "ci", "x", "y", "start_block", "sx", "sy", "save_at")

    def __init__(self):
        empty = np.empty(0)
        self.idx = np.empty(0, dtype=np.intp)
        self.cr, self.ci, self.x, self.y, self.sx, self.sy = (empty,) * 6
        self.start_block = np.empty(0, dtype=np.int64)
        self.save_at = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return self.idx.size

    def add(self, idx: np.ndarray, cr: np.ndarray, ci: np.ndarray, block: int) -> None:
        zeros = np.zeros(idx.size)
        self.idx = np.concatenate((self.idx, idx))
        self.cr = np.concatenate((self.cr, cr))
        self.ci = np.concatenate((self.ci, ci))
        self.x = np.concatenate((self.x, zeros))
        self.y = np.concatenate((self.y, zeros))
        self.start_block = np.concatenate((self.start_block, np.full(idx.size, block)))
        self.sx = np.concatenate((self.sx, zeros))  # z_0 = 0 is the first saved point
        self.sy = np.concatenate((self.sy, zeros))
        self.save_at = np.concatenate((self.save_at, np.full(idx.size, block + 1)))

    def keep(self, mask: np.ndarray) -> None:
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def cycled(self) -> np.ndarray | None:
        """True where z equals the saved z bit for bit (ordered ==: never for nan), or None
        when no pixel does (the common case costs one comparison per pixel)."""
        same = self.x == self.sx
        if not same.any():
            return None
        return same & (self.y == self.sy)

    def save(self, blocks_done: int) -> None:
        """Save z of the pixels due at the end of block ``blocks_done - 1``; the next save of a
        pixel is twice as old (Brent's doubling windows)."""
        due = np.flatnonzero(self.save_at <= blocks_done)
        if due.size:
            self.sx[due], self.sy[due] = self.x[due], self.y[due]
            self.save_at[due] = 2 * blocks_done - self.start_block[due] + 1


def _iterate(ws: _WorkingSet, x2: np.ndarray, y2: np.ndarray, n_iter: int) -> None:
    """``n_iter`` blind iterations in place; leaves ``x2 + y2`` of the last start state in x2."""
    x, y, cr, ci = ws.x, ws.y, ws.cr, ws.ci
    for _ in range(n_iter):
        np.multiply(x, x, out=x2)
        np.multiply(y, y, out=y2)
        np.multiply(x, y, out=y)       # y now holds t = x*y
        np.add(y, y, out=y)
        np.add(y, ci, out=y)
        np.subtract(x2, y2, out=x)
        np.add(x, cr, out=x)
    np.add(x2, y2, out=x2)


def _replay(x: np.ndarray, y: np.ndarray, cr: np.ndarray, ci: np.ndarray,
            done_iters: np.ndarray, max_iter: int) -> np.ndarray:
    """Exact counts of pixels that finished inside a block, from their block-start state.

    ``done_iters`` is the number of iterations each pixel had completed at block start. A pixel
    that did not escape within the block (it only hit ``max_iter``) gets ``max_iter``.
    """
    first = np.full(x.size, BLOCK_ITERS, dtype=np.int64)
    for step in range(BLOCK_ITERS):
        x2 = x * x
        y2 = y * y
        newly = (x2 + y2 > ESCAPE_R2) & (first == BLOCK_ITERS)
        first[newly] = step
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
    counts = np.where(first < BLOCK_ITERS, done_iters + first, max_iter)
    return np.minimum(counts, max_iter).astype(np.uint32)


def escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                  shortcuts: bool = True) -> tuple[np.ndarray, int]:
    """Escape counts for pixel centres ``cr`` (width,) x ``ci`` (height,), and the work done.

    Args:
        cr: float64 real parts of the pixel columns.
        ci: float64 imaginary parts of the pixel rows (row 0 first).
        max_iter: iteration cap (>= 1).
        shortcuts: the exact interior shortcuts (module docstring); False is the brute force.

    Returns:
        ``(counts, iterations)``: uint32 array (height, width) of ``min(escape iteration,
        max_iter)``, and the pixel iterations run (blind blocks, without the replays).
    """
    # Blind iterations past the escape overflow to inf and nan on purpose (see the module doc).
    with np.errstate(over="ignore", invalid="ignore"):
        return _escape_counts(cr, ci, max_iter, shortcuts)


def _escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                   shortcuts: bool) -> tuple[np.ndarray, int]:
    width, height = cr.size, ci.size
    counts = np.empty(width * height, dtype=np.uint32)
    cr_all = np.tile(cr, height)
    ci_all = np.repeat(ci, width)
    if shortcuts:
        inside = in_main_bulbs(cr_all, ci_all)
        counts[inside] = max_iter
        queue = np.flatnonzero(~inside)
    else:
        queue = np.arange(width * height)
    blocks_to_cap = -(-max_iter // BLOCK_ITERS)
    x2_buf = np.empty(WORKING_PX)
    y2_buf = np.empty(WORKING_PX)
    ws, next_px, block, work = _WorkingSet(), 0, 0, 0
    while True:
        if len(ws) < WORKING_PX * 3 // 4 and next_px < queue.size:
            take = queue[next_px:next_px + WORKING_PX - len(ws)]
            ws.add(take, cr_all[take], ci_all[take], block)
            next_px += take.size
        if not len(ws):
            break
        x0, y0 = ws.x.copy(), ws.y.copy()
        x2, y2 = x2_buf[:len(ws)], y2_buf[:len(ws)]
        _iterate(ws, x2, y2, BLOCK_ITERS)
        work += len(ws) * BLOCK_ITERS
        finished = ~(x2 <= ESCAPE_R2)
        finished |= ws.start_block <= block + 1 - blocks_to_cap
        hit = np.flatnonzero(finished)
        if hit.size:
            done_iters = (block - ws.start_block[hit]) * BLOCK_ITERS
            counts[ws.idx[hit]] = _replay(x0[hit], y0[hit], ws.cr[hit], ws.ci[hit],
                                          done_iters, max_iter)
        cycled = ws.cycled() if shortcuts else None
        if cycled is not None:  # a pixel that finished in this block has its count from the replay
            cycled &= ~finished
            counts[ws.idx[cycled]] = max_iter
            finished |= cycled
        if hit.size or cycled is not None:
            ws.keep(~finished)
        if shortcuts:
            ws.save(block + 1)
        block += 1
    return counts.reshape(height, width), work

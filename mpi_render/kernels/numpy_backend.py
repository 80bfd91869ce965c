"""The numpy escape-time backend: always available, bit-identical to the references.

Design (measured in ``docs/PERFORMANCE.md``; numpy's ceiling is about C-scalar speed):

* real and imaginary parts live in separate float64 arrays and every ufunc writes in place
  (``out=``), 7 calls per iteration; complex128 would need fewer calls but numpy's complex
  multiply uses FMA and changes boundary pixels;
* the entry pass: a pixel's first ``BLOCK_ITERS`` iterations run on a chunk of the pixel queue
  with an escape test at every step, so the many short orbits of a wide view (most exterior
  pixels of the full view escape within 8 iterations) leave with their exact count at once;
  only the survivors join the working set, with their ``z_8``;
* the working set iterates in blocks of ``BLOCK_ITERS`` blind iterations with one escape test
  per block; pixels that escaped somewhere in the block are replayed from the saved block-start
  state to find their exact count. Orbits that escaped keep growing (to inf, then maybe nan),
  and ``not (r2 <= 4)`` catches both;
* finished pixels are only marked dead, and compacted away once they are ``1/DEAD_FRACTION`` of
  the working set or room is needed (a compaction copies every field, and most blocks of a
  deep view finish a few pixels); the working set (``WORKING_PX`` pixels, about L2 size per
  array) is topped up from the queue when its live pixels fall below 3/4, so the ufunc calls
  stay long and cache-resident;
* the working set stays sorted by the block in which each pixel started (pixels join at the
  end, compaction keeps the order), so the pixels reaching ``max_iter`` are a prefix and each
  save of cycle detection is a slice, both found by binary search;
* shortcuts (the default; ``docs/PERFORMANCE.md``, "Exact shortcuts"): the margin-kept cardioid /
  period-2 bulb test, by bands of rows (the column and row terms broadcast, so the temporaries
  stay in cache), and exact cycle detection at block ends: a pixel saves z at the ends of the
  blocks where its age (in blocks) is 1, 3, 7, 15, ... (Brent's windows, doubling), and a pixel
  whose z at a block end equals its saved z bit for bit gets ``max_iter``;
* the smooth-colour data (:func:`escape_data`, :mod:`mpi_render.escape`): the tested
  iterations of the entry pass and of the replays keep the state at which each pixel escapes,
  and the tails of those pixels run at once, on those cache-sized arrays (the pixels still
  inside the smooth radius compacted after each step). Run over the whole image at the end,
  the tails streamed every array from memory and cost 1.4x the counts on the full view;
  freezing escaped pixels in the tested iterations (two masked copies per step) cost more
  than copying out the few that escape at each step.
"""
from __future__ import annotations

import numpy as np

from ..escape import SMOOTH_MAX_EXTRA, SMOOTH_R2, Escape

BLOCK_ITERS = 8
WORKING_PX = 1 << 16
BAND_PX = 1 << 16  # pixels per band of rows in the bulb test
DEAD_FRACTION = 16  # compact once 1/16 of the working set is dead
ESCAPE_R2 = 4.0
# Cycle detection saves z at the ages 2**k - 1 (k >= 2) in blocks; a pixel of age a at the end of
# block b - 1 started in block b - a: the slice of the working set from start b - a to b - a + 1.
SAVE_AGE_EDGES = np.array([(2**k - 1, 2**k - 2) for k in range(2, 40)]).ravel()
BULB_MARGIN = 1e-12  # the bulb test accepts only points this far inside (docs/PERFORMANCE.md)


def in_main_bulbs(cr: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """True where ``c`` lies in the main cardioid or the period-2 bulb by more than the margin.

    The C yardstick's test (``q (q + xq) <= y^2 / 4``, ``|c + 1|^2 <= 1/16``, same expressions)
    with ``BULB_MARGIN`` subtracted from the right-hand sides: the rounding error of the
    left-hand sides is below 1e-14 wherever the test can accept, so every accepted point is
    strictly inside (``docs/PERFORMANCE.md``, "Exact shortcuts"). The numba kernel uses the same
    expressions. ``cr`` and ``ci`` broadcast: a row of columns against a column of rows gives
    the test of a whole grid, each element computed exactly as for a single point.

    >>> in_main_bulbs(np.array([0.0, -1.0, 0.5, 0.25]), np.zeros(4)).tolist()
    [True, True, False, False]
    """
    xq = cr - 0.25
    y2 = ci * ci
    q = xq * xq + y2
    cardioid = (q * (q + xq) <= 0.25 * y2 - BULB_MARGIN) & (y2 < 1.0)  # no inf <= inf
    xp = cr + 1.0
    return cardioid | (xp * xp + y2 <= 0.0625 - BULB_MARGIN)


def _pixel_queue(cr: np.ndarray, ci: np.ndarray, shortcuts: bool) -> np.ndarray:
    """Flat indices (row-major) of the pixels to iterate: all, or those the bulb test leaves."""
    width, height = cr.size, ci.size
    if not shortcuts:
        return np.arange(width * height)
    outside = np.empty((height, width), dtype=bool)
    rows = max(1, BAND_PX // width)
    for top in range(0, height, rows):
        band = in_main_bulbs(cr[np.newaxis, :], ci[top:top + rows, np.newaxis])
        np.logical_not(band, out=outside[top:top + rows])
    return np.flatnonzero(outside)


def _iterate_tested(x: np.ndarray, y: np.ndarray, cr: np.ndarray, ci: np.ndarray, steps: int,
                    alive: np.ndarray, escape_z: tuple | None = None) -> np.ndarray:
    """``steps`` iterations in place, testing the escape of every state before it is iterated.

    Args:
        x, y: the states ``z_s`` to start from, left at ``z_{s+steps}``.
        cr, ci: the pixels' ``c``.
        steps: iterations (0 .. 255).
        alive: bool output, same length: True where none of the ``steps`` states escaped.
        escape_z: ``(x, y)`` float arrays of the same length, or None: where a state escaped,
            the first such state is copied there.

    Returns:
        uint8 array: how many of the states were tested before the first that escaped
        (``steps`` where none did), i.e. the escape iteration minus ``s``.
    """
    size = x.size
    x2, y2, r2 = np.empty(size), np.empty(size), np.empty(size)
    inside, escaping = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    before = np.zeros(size, dtype=np.uint8)
    alive.fill(True)
    alive_u8 = alive.view(np.uint8)
    for _ in range(steps):
        np.multiply(x, x, out=x2)
        np.multiply(y, y, out=y2)
        np.add(x2, y2, out=r2)
        np.less_equal(r2, ESCAPE_R2, out=inside)
        if escape_z is not None and np.greater(alive, inside, out=escaping).any():
            at = np.flatnonzero(escaping)
            escape_z[0][at], escape_z[1][at] = x[at], y[at]
        np.logical_and(alive, inside, out=alive)  # sticky: the first escape counts
        np.add(before, alive_u8, out=before)
        _step(x, y, cr, ci, x2, y2)
    return before


def _step(x: np.ndarray, y: np.ndarray, cr: np.ndarray, ci: np.ndarray, x2: np.ndarray,
          y2: np.ndarray) -> None:
    """One iteration in place, ``x2``, ``y2`` being the squares of the state."""
    np.multiply(x, y, out=y)       # y now holds t = x*y
    np.add(y, y, out=y)
    np.add(y, ci, out=y)
    np.subtract(x2, y2, out=x)
    np.add(x, cr, out=x)


def _iterate_blind(x: np.ndarray, y: np.ndarray, cr: np.ndarray, ci: np.ndarray,
                   x2: np.ndarray, y2: np.ndarray) -> None:
    """``BLOCK_ITERS`` blind iterations in place; leaves ``x2 + y2`` of the last start state in
    x2."""
    for _ in range(BLOCK_ITERS):
        np.multiply(x, x, out=x2)
        np.multiply(y, y, out=y2)
        _step(x, y, cr, ci, x2, y2)
    np.add(x2, y2, out=x2)


class _WorkingSet:
    """The pixels being iterated, in fixed buffers of ``WORKING_PX``: queue indices, c, z, the
    block in which each started (non-decreasing along the set), the saved z of cycle
    detection, and whether each is still live. The first ``size`` entries are in use."""

    FIELDS = ("idx", "cr", "ci", "x", "y", "start", "sx", "sy", "live")
    TYPES = {"idx": np.intp, "start": np.int64, "live": bool}

    def __init__(self):
        self._buffers = [{name: np.empty(WORKING_PX, dtype=self.TYPES.get(name, np.float64))
                          for name in self.FIELDS} for _ in range(2)]
        self.size = self.dead = 0
        self._view()

    @property
    def live_count(self) -> int:
        return self.size - self.dead

    def _view(self) -> None:
        for name, buffer in self._buffers[0].items():
            setattr(self, name, buffer[:self.size])

    def add(self, idx: np.ndarray, cr: np.ndarray, ci: np.ndarray, x: np.ndarray,
            y: np.ndarray, start: int) -> None:
        """Append pixels that started in block ``start`` at state ``z``, saved as their first
        point of cycle detection (the end of their first block)."""
        if self.size + idx.size > WORKING_PX:
            self.compact()
        begin, end = self.size, self.size + idx.size
        buffers = self._buffers[0]
        for name, values in (("idx", idx), ("cr", cr), ("ci", ci), ("x", x), ("y", y),
                             ("sx", x), ("sy", y), ("start", start), ("live", True)):
            buffers[name][begin:end] = values
        self.size = end
        self._view()

    def retire(self, finished: np.ndarray) -> None:
        """Mark the pixels where ``finished`` is True dead; compact when enough are."""
        self.dead += np.count_nonzero(finished)
        np.logical_and(self.live, ~finished, out=self.live)
        if self.dead * DEAD_FRACTION > self.size:
            self.compact()

    def compact(self) -> None:
        """Drop the dead pixels, keeping the order."""
        if not self.dead:
            return
        keep = np.flatnonzero(self.live)
        source, target = self._buffers
        for name in self.FIELDS:
            # mode="wrap": with the default "raise", numpy copies through a buffer (1.6x slower)
            np.take(source[name][:self.size], keep, out=target[name][:keep.size], mode="wrap")
        self._buffers.reverse()
        self.size, self.dead = keep.size, 0
        self._view()

    def save(self, blocks_done: int) -> None:
        """Save z of the pixels whose age is 3, 7, 15, ... blocks at the end of block
        ``blocks_done - 1`` (age 1 is saved when they join): one slice per age."""
        ages = (blocks_done + 2).bit_length() - 2  # how many of 3, 7, 15, ... <= blocks_done + 1
        edges = self.start.searchsorted(blocks_done - SAVE_AGE_EDGES[:2 * ages])
        for first, last in edges.reshape(-1, 2).tolist():
            if last > first:
                self.sx[first:last] = self.x[first:last]
                self.sy[first:last] = self.y[first:last]


def escape_data(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                shortcuts: bool = True) -> tuple[Escape, int]:
    """:func:`escape_counts` with the smooth-colour data: ``(Escape, iterations)``, the tails
    not counted (:mod:`mpi_render.escape`)."""
    size = cr.size * ci.size
    smooth = (np.zeros(size, dtype=np.uint8), np.zeros(size))
    with np.errstate(over="ignore", invalid="ignore"):  # as escape_counts
        counts, work = _escape_counts(cr, ci, max_iter, shortcuts, smooth)
    return Escape(counts, *(a.reshape(counts.shape) for a in smooth)), work


def _smooth_tails(idx: np.ndarray, x: np.ndarray, y: np.ndarray, cr: np.ndarray,
                  ci: np.ndarray, smooth: tuple[np.ndarray, np.ndarray]) -> None:
    """Write ``extra`` and ``r2`` (:mod:`mpi_render.escape`) of the pixels ``idx`` into
    ``smooth = (extra, r2)`` (flat), from their escape states ``z = x + iy``."""
    extra, r2 = smooth
    for step in range(SMOOTH_MAX_EXTRA + 1 if idx.size else 0):
        x2, y2 = x * x, y * y
        r2_now = x2 + y2
        going = r2_now <= SMOOTH_R2 if step < SMOOTH_MAX_EXTRA else np.zeros(x.size, bool)
        if not going.all():  # write the finished, keep the others
            done = ~going
            extra[idx[done]], r2[idx[done]] = step, r2_now[done]
            if not going.any():
                return
            idx, x, y, x2, y2, cr, ci = (a[going] for a in (idx, x, y, x2, y2, cr, ci))
        _step(x, y, cr, ci, x2, y2)


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
        max_iter)``, and the pixel iterations run (the entry pass and the blind blocks, without
        the replays).
    """
    # Blind iterations past the escape overflow to inf and nan on purpose (see the module doc).
    with np.errstate(over="ignore", invalid="ignore"):
        return _escape_counts(cr, ci, max_iter, shortcuts)


def _escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int, shortcuts: bool,
                   smooth: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """``(counts, work)``; with ``smooth = (extra, r2)`` (flat, zero) also the smooth-colour
    data of the escaped pixels."""
    width, height = cr.size, ci.size
    counts = np.full(width * height, max_iter, dtype=np.uint32)  # the bulb test's pixels
    queue = _pixel_queue(cr, ci, shortcuts)
    blocks_to_cap = -(-max_iter // BLOCK_ITERS)
    scratch = {name: np.empty(WORKING_PX) for name in ("x2", "y2", "x0", "y0")}
    ws, next_px, block, work = _WorkingSet(), 0, 0, 0
    while True:
        while ws.live_count < WORKING_PX * 3 // 4 and next_px < queue.size:
            take = queue[next_px:next_px + WORKING_PX - ws.live_count]
            next_px += take.size
            work += _enter(take, cr, ci, max_iter, counts, ws, block, smooth)
        size = ws.size
        if not ws.live_count:
            break
        x0, y0, x2 = scratch["x0"][:size], scratch["y0"][:size], scratch["x2"][:size]
        np.copyto(x0, ws.x)
        np.copyto(y0, ws.y)
        _iterate_blind(ws.x, ws.y, ws.cr, ws.ci, x2, scratch["y2"][:size])
        work += size * BLOCK_ITERS
        finished = np.less_equal(x2, ESCAPE_R2)
        np.logical_not(finished, out=finished)
        finished[:ws.start.searchsorted(block + 1 - blocks_to_cap, side="right")] = True
        np.logical_and(finished, ws.live, out=finished)
        hit = np.flatnonzero(finished)
        if hit.size:
            alive = np.empty(hit.size, dtype=bool)
            escape_z = (np.empty(hit.size), np.empty(hit.size)) if smooth is not None else None
            before = _iterate_tested(x0[hit], y0[hit], ws.cr[hit], ws.ci[hit], BLOCK_ITERS,
                                     alive, escape_z)
            done_iters = (block - ws.start[hit]) * BLOCK_ITERS
            hit_counts = np.where(alive, max_iter, np.minimum(done_iters + before, max_iter))
            counts[ws.idx[hit]] = hit_counts
            if smooth is not None:
                escaped = hit_counts < max_iter
                at = hit[escaped]
                _smooth_tails(ws.idx[at], escape_z[0][escaped], escape_z[1][escaped], ws.cr[at],
                              ws.ci[at], smooth)
        cycled = _cycled(ws, finished) if shortcuts else None
        if cycled is not None:  # a pixel that finished in this block has its count from the replay
            counts[ws.idx[cycled]] = max_iter
            finished |= cycled
        if hit.size or cycled is not None:
            ws.retire(finished)
        block += 1
        if shortcuts:
            ws.save(block)
    return counts.reshape(height, width), work


def _enter(take: np.ndarray, cr: np.ndarray, ci: np.ndarray, max_iter: int,
           counts: np.ndarray, ws: _WorkingSet, block: int,
           smooth: tuple[np.ndarray, np.ndarray] | None) -> int:
    """The entry pass of the queued pixels ``take`` (flat indices) before block ``block``.

    Their first iterations run tested; those that escape (or reach ``max_iter <=
    BLOCK_ITERS``) get their counts (and with ``smooth``, the smooth-colour data), the others
    join ``ws`` at ``z_8`` as pixels that started in block ``block - 1``. Returns the
    iterations run.
    """
    rows, cols = np.divmod(take, cr.size)
    pcr, pci = cr[cols], ci[rows]
    x, y = pcr + 0.0, pci + 0.0  # z_1 = (0 - 0) + c = c, signs of zero included
    steps = min(BLOCK_ITERS, max_iter) - 1  # z_1 .. z_7 (z_0 = 0 never escapes)
    alive = np.empty(take.size, dtype=bool)
    escape_z = (np.empty(take.size), np.empty(take.size)) if smooth is not None else None
    before = _iterate_tested(x, y, pcr, pci, steps, alive, escape_z)
    escaped = ~alive
    if smooth is not None:
        _smooth_tails(take[escaped], escape_z[0][escaped], escape_z[1][escaped], pcr[escaped],
                      pci[escaped], smooth)
    if max_iter <= BLOCK_ITERS:  # every pixel is done: "before" is max_iter - 1 if none escaped
        counts[take] = before + np.uint32(1)
    else:
        counts[take[escaped]] = before[escaped] + np.uint32(1)
        ws.add(take[alive], pcr[alive], pci[alive], x[alive], y[alive], block - 1)
    return take.size * steps


def _cycled(ws: _WorkingSet, finished: np.ndarray) -> np.ndarray | None:
    """True where a live pixel that did not finish is at its saved z bit for bit (ordered ==:
    never for nan), or None when none is (the common case costs one comparison per pixel)."""
    same = ws.x == ws.sx
    np.logical_and(same, ws.live, out=same)
    if not same.any():
        return None
    return same & (ws.y == ws.sy) & ~finished

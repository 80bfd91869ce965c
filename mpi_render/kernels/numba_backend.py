"""The numba escape-time backend: register-resident SIMD lanes, bit-identical to the references.

The hot loop is a numba ``@intrinsic`` whose LLVM IR :mod:`.lanes_ir` emits: one call iterates
a lane set of ``LANES`` pixels (4 AVX2 vectors) for up to ``n_iter`` iterations. This module
declares the intrinsics and drives them, in two stages per image row:

1. **group pass** (like the C yardstick's ``g4``): adjacent pixels of the row fill a lane set
   and iterate together until all escaped, or for ``GROUP_ITERS`` iterations once one of them
   finished (a group in which nobody finished, e.g. all interior, goes on as a group).
   Exterior pixels (most of a full view) finish here with no refill bookkeeping.
2. **refill** (like the C yardstick's ``r8``): the group pass's survivors, with their state,
   queue for a second lane set that iterates in blocks of ``BLOCK_ITERS``; after each block,
   finished lanes write their count and take the next survivor, so a slow pixel does not hold
   up its neighbours. The refill lanes carry over from row to row and are drained at the end.

**Shortcuts** (``shortcuts=True``, the default; why each is exact: ``docs/PERFORMANCE.md``,
"Exact shortcuts"): pixels that the cardioid / period-2 bulb test accepts with ``BULB_MARGIN``
get ``max_iter`` and no lane (the others are packed, so no lane idles for them); and the lanes
run :func:`_iterate_lanes_cycles`, which flags lanes whose orbit came back near a saved point.
From count ``TRAP_FIRST`` on, a flagged lane gets the trap test of :mod:`.trap` (an exact cycle,
or a ball that maps into itself: the pixel can never escape and gets ``max_iter``); after a
failed test the lane's next one waits ``max(TRAP_RETRY, count / 4)`` iterations. A new pixel
starts with fresh saved points, so no lane ever compares with another pixel's orbit. A row
after a row without any pixel at ``max_iter`` runs the check-free loop (every ``PROBE_ROWS``-th
row looks again): where nothing is inside, the checks only cost. ``shortcuts=False`` is the
brute force: the check-free loop everywhere.

**Smooth-colour data** (``smooth``, :func:`escape_data`; :mod:`mpi_render.escape`): the lanes
run the frozen variant of the hot loop (:mod:`.lanes_ir`: an escaped lane keeps z at its
escape instead of a nan), so a lane that finishes with a count below ``max_iter`` holds the
state its smooth tail starts from, and leaves it with the pixel (two stores beside the
count's). Once no refill lane holds a pixel of a row any more, :func:`_smooth_tails` runs the
tails (at most ``SMOOTH_MAX_EXTRA`` iterations, 3 for most pixels) of the row's escaped
pixels at once, while the row is in cache, in a branch-free loop that LLVM vectorises, and
writes ``extra`` and ``r2``. Measured alternatives (``docs/PERFORMANCE.md``, "Smooth colour"):
queueing each escaped pixel through a helper call cost ~25 ns a pixel (the reference counting
of its array arguments); running the tails in lane sets of 16 adjacent pixels with the frozen
intrinsic 2x the vectorised loop (a call for ~4 iterations is mostly entry and exit). Without
``smooth`` (:func:`escape_counts`) the kernel is the counts-only one, unchanged.

Rules kept on purpose: no ``fastmath`` (it would reassociate and change boundary pixels), and
``cache=True`` only on top-level functions (closures never hit numba's cache). numba's cache
stamp is the file of the compiled function, so the intrinsics live here and
``PINNED_SOURCES`` pins the hash of the modules whose code is compiled into these functions
(:mod:`.lanes_ir`, :mod:`.trap`, and :mod:`mpi_render.escape` for its constants): editing them
must change this file (a test checks the pin).
This module imports numba at import time; :mod:`.dispatch` imports it only when the backend
is used.
"""
from __future__ import annotations

import functools

import numba
import numpy as np
from numba import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from ..escape import SMOOTH_MAX_EXTRA, SMOOTH_R2, Escape
from .lanes_ir import ESCAPE_R2, LANES, emit_lanes
from .trap import trap_due
from .workspace import escape_outputs, workspace

# sha256 of lanes_ir.py, trap.py and ../escape.py (numba's cache watches only this file; a test
# checks it)
PINNED_SOURCES = "c14920a7728d0901"
ALL_LANES = (1 << LANES) - 1
GROUP_ITERS = 32
BLOCK_ITERS = 16
BULB_MARGIN = 1e-12  # the bulb test accepts only points this far inside (module docstring)
TRAP_FIRST = 64  # count of a lane's first trap test
PROBE_ROWS = 8  # after rows without interior, every 8th row looks for returns again
TAIL_STEPS = 4  # smooth-tail steps every escaped pixel takes at once (most need 3)
SLOW = 255  # extra of a pixel still inside the smooth radius after TAIL_STEPS (not an extra)


@intrinsic
def _iterate_lanes(typingctx, lx, ly, lcr, lci, lcnt, n_iter, max_iter, escape_r2, smooth):
    """Iterate a lane set in place (brute force); return its finished lanes and the iterations run.

    ``lx, ly, lcr, lci`` (float64) and ``lcnt`` (int64) are C-contiguous arrays of ``LANES``
    elements: the lanes' z, c and iteration counts. Runs at most ``n_iter`` iterations and
    stops early once no lane is inside ``|z|^2 <= escape_r2``. Returns ``finished |
    iterations << 32``: bit l of ``finished`` is set when lane l escaped or its count reached
    ``max_iter``. With ``smooth`` None an escaped lane's y becomes nan; with anything else
    (its type decides, when numba compiles) the lane keeps z at its escape (module docstring,
    "Smooth-colour data").
    """
    sig = types.int64(lx, ly, lcr, lci, lcnt, n_iter, max_iter, escape_r2, smooth)
    return sig, functools.partial(emit_lanes, cycles=False,
                                  freeze=not isinstance(smooth, types.NoneType))


@intrinsic
def _iterate_lanes_cycles(typingctx, lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear,
                          n_iter, max_iter, escape_r2, smooth):
    """:func:`_iterate_lanes` with exact cycle detection (module docstring, "Shortcuts").

    ``lsx, lsy`` (float64) hold each lane's saved z, ``lnext`` (int64) the count at which it is
    saved next; both are updated in place. ``n_iter`` must be a multiple of ``CHECK_EVERY``.
    Bits 16-31 of the result mark the lanes due for a trap test: alive, count >= ``lcert``,
    and z back within ``NEAR_RETURN`` of the saved z at the end of the call.
    """
    sig = types.int64(lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear, n_iter, max_iter,
                      escape_r2, smooth)
    return sig, functools.partial(emit_lanes, cycles=True,
                                  freeze=not isinstance(smooth, types.NoneType))


@numba.njit(cache=True)
def _smooth_tails(cr, ci, max_iter, out, extra, r2, z_y, rows_from, rows_to):
    """Write ``extra`` and ``r2`` of every pixel of rows ``rows_from`` up to ``rows_to``
    (:mod:`mpi_render.escape`), one :func:`_tail_row` each.

    On entry ``r2[p]`` and ``z_y[p]`` hold z at the escape of every escaped pixel p (count
    below ``max_iter``) of those rows, as the lanes left it (x in the output ``r2``,
    overwritten here).
    """
    width = cr.size
    for row in range(rows_from, rows_to):
        row_px = slice(row * width, (row + 1) * width)
        _tail_row(cr, ci[row], max_iter, out[row_px], extra[row_px], r2[row_px], z_y[row_px])


@numba.njit(cache=True)
def _tail_row(cr, ci, max_iter, out, extra, r2, z_y):
    """:func:`_smooth_tails` of one row (arrays of the row's pixels; ``ci`` the row's).

    Every escaped pixel takes ``TAIL_STEPS`` steps of the tail in a branch-free loop that
    LLVM vectorises (a step past ``|z|^2 > SMOOTH_R2`` leaves z as it is, as the frozen lanes
    do); the few pixels still inside then (``SLOW`` in ``extra``, x in ``r2``) go on in a
    scalar loop to the contract's stop. The row's own arrays, indexed from 0, let LLVM prove
    the indices non-negative: indexing the whole tile at ``row * width + col`` kept numba's
    negative-index wraparound in the loop, which LLVM then did not vectorise.
    """
    slow_row = False
    for col in range(cr.size):  # branch-free: LLVM vectorises it
        escaped = out[col] < max_iter
        x = r2[col] if escaped else 0.0  # the interior's scratch is garbage: keep it out
        y = z_y[col] if escaped else 0.0
        n = 0
        for _ in range(TAIL_STEPS):
            x2 = x * x
            y2 = y * y
            step = escaped & (x2 + y2 <= SMOOTH_R2)
            t = x * y
            x = (x2 - y2) + cr[col] if step else x
            y = (t + t) + ci if step else y
            n += step
        x2 = x * x
        y2 = y * y
        slow = escaped & (x2 + y2 <= SMOOTH_R2)
        slow_row |= slow
        r2[col] = x if slow else (x2 + y2 if escaped else 0.0)
        z_y[col] = y
        extra[col] = SLOW if slow else n
    if slow_row:
        for col in range(cr.size):
            if extra[col] == SLOW:
                extra[col], r2[col] = _tail(r2[col], z_y[col], cr[col], ci, TAIL_STEPS)


@numba.njit(cache=True)
def _tail(x, y, cr, ci, n):
    """``(extra, r2)`` of the tail (:mod:`mpi_render.escape`) from z after ``n`` of its steps."""
    x2 = x * x
    y2 = y * y
    while n < SMOOTH_MAX_EXTRA and x2 + y2 <= SMOOTH_R2:
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        x2 = x * x
        y2 = y * y
        n += 1
    return n, x2 + y2


@numba.njit(cache=True)
def _bulb_pixels(cr, ci_row, skip):
    """Mark the row's pixels that the margin-kept cardioid / period-2 bulb test accepts (same
    expressions as :func:`.numpy_backend.in_main_bulbs`); returns how many. Branch-free, so
    LLVM vectorises it."""
    marked = 0
    for col in range(cr.size):
        x = cr[col]
        xq = x - 0.25
        y2 = ci_row * ci_row
        q = xq * xq + y2
        xp = x + 1.0
        inside = (((q * (q + xq) <= 0.25 * y2 - BULB_MARGIN) & (y2 < 1.0))
                  | (xp * xp + y2 <= 0.0625 - BULB_MARGIN))
        skip[col] = inside
        marked += inside
    return marked


@numba.njit(cache=True)
def _group_pass(cr_padded, width, ci_lanes, row_start, max_iter, shortcuts, cycles, out, group,
                skip, live, queue, queued, smooth):
    """Stage 1 for one row: iterate adjacent pixels in groups; queue the survivors.

    ``cr_padded`` is the row's cr padded to whole groups, ``ci_lanes`` the row's ci in every
    lane, ``row_start`` the flat index of the row's first pixel. With ``shortcuts``, pixels
    that the bulb test accepts get ``max_iter`` and the others are packed into ``live``
    (their cr, and their columns), so the groups have no idle lanes; with ``cycles`` the
    lanes look for returns (:func:`_iterate_lanes_cycles`). A survivor's state
    (pixel, x, y, cr, ci, count) goes to ``queue`` at position ``queued``; with ``smooth``
    (see :func:`escape_counts_flat`; None for the counts only) the lanes freeze at the escape
    and a finished pixel leaves its z in ``smooth``'s r2 and z_y (for :func:`_smooth_tails`).
    Returns the new ``queued`` and the lane-set iterations run.
    """
    gx, gy, gcnt, gsx, gsy, gnext, gcert, gnear = group
    qx, qy, qcr, qci, qcnt, qpx = queue
    live_cr, live_col = live
    row_cr, n_live, packed = cr_padded, width, False
    if shortcuts and _bulb_pixels(cr_padded[:width], ci_lanes[0], skip) > 0:
        row_cr, n_live, packed = live_cr, 0, True
        for col in range(width):
            if skip[col]:
                out[row_start + col] = max_iter
            else:
                live_cr[n_live], live_col[n_live] = cr_padded[col], col
                n_live += 1
        for col in range(n_live, -(-n_live // LANES) * LANES):
            live_cr[col] = 0.0
    iterations = 0
    for col0 in range(0, n_live, LANES):
        gx[:] = 0.0
        gy[:] = 0.0
        gcnt[:] = 0
        gnext[:] = 0  # a new pixel's first save is its start
        gcert[:] = TRAP_FIRST
        gnear[:] = 0
        busy = ALL_LANES
        for l in range(n_live - col0, LANES):  # past the row's end: idle lanes
            busy &= ~(1 << l)
            gy[l] = np.nan
        lanes_cr = row_cr[col0:col0 + LANES]
        # A group in which no pixel has finished keeps going as a group: no lane is wasted.
        finished = 0
        while finished & busy == 0:
            if cycles:
                result = _iterate_lanes_cycles(gx, gy, lanes_cr, ci_lanes, gcnt, gsx, gsy, gnext,
                                               gcert, gnear, GROUP_ITERS, max_iter, ESCAPE_R2,
                                               smooth)
                due = (result >> LANES) & busy
                if due:
                    result |= trap_due(gx, gy, lanes_cr, ci_lanes, gcnt, gcert, gnear, max_iter,
                                       due)
            else:
                result = _iterate_lanes(gx, gy, lanes_cr, ci_lanes, gcnt, GROUP_ITERS, max_iter,
                                        ESCAPE_R2, smooth)
            finished = result & ALL_LANES
            iterations += result >> 32
        if finished == ALL_LANES and busy == ALL_LANES and not packed:  # one branch-free copy
            for l in range(LANES):
                out[row_start + col0 + l] = min(gcnt[l], max_iter)
            if smooth is not None:
                for l in range(LANES):
                    smooth[1][row_start + col0 + l] = gx[l]
                    smooth[2][row_start + col0 + l] = gy[l]
            continue
        while busy:
            l = trailing_zeros(busy)
            busy &= busy - 1
            pixel = row_start + (live_col[col0 + l] if packed else col0 + l)
            if finished >> l & 1:
                out[pixel] = min(gcnt[l], max_iter)
                if smooth is not None:
                    smooth[1][pixel], smooth[2][pixel] = gx[l], gy[l]
            else:
                qx[queued], qy[queued], qcr[queued], qci[queued] = (gx[l], gy[l], lanes_cr[l],
                                                                    ci_lanes[l])
                qcnt[queued], qpx[queued] = gcnt[l], pixel
                queued += 1
    return queued, iterations


@numba.njit(cache=True)
def _refill(max_iter, cycles, out, lanes, lpx, queue, queued, drain, smooth):
    """Stage 2: run the refill lanes over ``queue[:queued]`` (looking for returns with
    ``cycles``; ``smooth`` as in :func:`_group_pass`); returns the iterations run.

    Returns when the queue is used up and a lane has nothing to do (so the next row's group
    pass can refill the queue) or, with ``drain``, when every lane is idle.
    """
    lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear = lanes
    qx, qy, qcr, qci, qcnt, qpx = queue
    head = 0
    iterations = 0
    busy = 0  # bit l: lane l holds a pixel
    for l in range(LANES):
        if lpx[l] >= 0:
            busy |= 1 << l
    finished = ~busy & ALL_LANES
    while True:
        while finished:
            l = trailing_zeros(finished)
            finished &= finished - 1
            if lpx[l] >= 0:
                out[lpx[l]] = min(lcnt[l], max_iter)
                if smooth is not None:
                    smooth[1][lpx[l]], smooth[2][lpx[l]] = lx[l], ly[l]
            if head < queued:
                lx[l], ly[l], lcr[l], lci[l] = qx[head], qy[head], qcr[head], qci[head]
                lcnt[l], lpx[l], lnext[l] = qcnt[head], qpx[head], 0
                lcert[l], lnear[l] = max(TRAP_FIRST, 2 * qcnt[head]), 0
                head += 1
                busy |= 1 << l
            else:
                ly[l] = np.nan
                lpx[l] = -1
                busy &= ~(1 << l)
        if busy == 0 or (busy != ALL_LANES and not drain):
            return iterations
        if cycles:
            result = _iterate_lanes_cycles(lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear,
                                           BLOCK_ITERS, max_iter, ESCAPE_R2, smooth)
            due = (result >> LANES) & busy
            if due:
                result |= trap_due(lx, ly, lcr, lci, lcnt, lcert, lnear, max_iter, due)
        else:
            result = _iterate_lanes(lx, ly, lcr, lci, lcnt, BLOCK_ITERS, max_iter, ESCAPE_R2,
                                    smooth)
        finished = result & busy
        iterations += result >> 32


@numba.njit(cache=True)
def _part(array, start, k):
    """The ``k``-th ``LANES``-long slice of ``array`` after ``start`` (a view: no allocation)."""
    return array[start + k * LANES:start + (k + 1) * LANES]


@numba.njit(cache=True, nogil=True)
def escape_counts_flat(cr, ci, max_iter, shortcuts, out, floats, ints, skip, smooth):
    """Fill ``out`` (flat uint32, ``ci.size * cr.size``, row-major) with escape counts.

    With ``smooth = (extra, r2, z_y)`` (uint8, float64 and float64 scratch, laid out as
    ``out``; else None), also the smooth-colour data of every pixel into ``extra`` and
    ``r2``. ``floats``, ``ints`` and ``skip`` come from :func:`.workspace.workspace` for
    ``cr.size`` and ``LANES``. Returns the lane iterations run (``LANES`` per iteration of a
    lane set, idle lanes included; the smooth tails are not counted): the work, for tests
    that the shortcuts are taken.
    Nothing is allocated here, so the compiled code needs no numba runtime (:mod:`.native`
    relies on that). Runs without the GIL: on rank 0 the poster thread (HTTP, spool) and the
    tile sink keep working while a tile renders, instead of waiting for the interpreter.
    """
    width = cr.size
    padded = skip.size
    cr_padded = floats[:padded]
    for col in range(padded):  # a loop: slice assignment would compile numba's shape-error path
        cr_padded[col] = cr[col] if col < width else 0.0
    ci_lanes = floats[padded:padded + LANES]
    group = (_part(floats, padded, 1), _part(floats, padded, 2), _part(ints, 0, 0),
             _part(floats, padded, 3), _part(floats, padded, 4), _part(ints, 0, 1),
             _part(ints, 0, 5), _part(ints, 0, 7))
    lanes = (_part(floats, padded, 5), _part(floats, padded, 6), _part(floats, padded, 7),
             _part(floats, padded, 8), _part(ints, 0, 2), _part(floats, padded, 9),
             _part(floats, padded, 10), _part(ints, 0, 3), _part(ints, 0, 6), _part(ints, 0, 8))
    lpx = _part(ints, 0, 4)
    at = padded + 11 * LANES
    qx, qy = floats[at:at + width], floats[at + width:at + 2 * width]
    qcr, qci = floats[at + 2 * width:at + 3 * width], floats[at + 3 * width:at + 4 * width]
    qcnt, qpx = ints[9 * LANES:9 * LANES + width], ints[9 * LANES + width:9 * LANES + 2 * width]
    at = 9 * LANES + 2 * width
    live = (floats[padded + 11 * LANES + 4 * width:2 * padded + 11 * LANES + 4 * width],
            ints[at:at + padded])
    for l in range(LANES):  # every refill lane idle: y = nan, no pixel
        lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l], lanes[4][l] = 0.0, np.nan, 0.0, 0.0, 0
        lpx[l] = -1
    queue = (qx, qy, qcr, qci, qcnt, qpx)
    iterations = 0
    cycles = shortcuts
    tails_from = 0  # the first row whose smooth tails have not run
    for row in range(ci.size):
        for l in range(LANES):
            ci_lanes[l] = ci[row]
        queued, ran = _group_pass(cr_padded, width, ci_lanes, row * width, max_iter, shortcuts,
                                  cycles, out, group, skip, live, queue, 0, smooth)
        iterations += ran + _refill(max_iter, cycles, out, lanes, lpx, queue, queued,
                                    row == ci.size - 1, smooth)
        # The return checks cost ~14 % where nothing is inside: rows after a row without a
        # pixel at max_iter skip them, except every PROBE_ROWS-th row (exact either way).
        cycles = shortcuts and (row % PROBE_ROWS == PROBE_ROWS - 1
                                or _reaches(out[row * width:(row + 1) * width], max_iter))
        if smooth is not None:  # the rows no refill lane still works on, while in cache
            done = _rows_done(lpx, width, row + 1)
            _smooth_tails(cr, ci, max_iter, out, *smooth, tails_from, done)
            tails_from = done
    return iterations * LANES


@numba.njit(cache=True)
def _rows_done(lpx, width, rows):
    """How many of the first ``rows`` rows have every pixel finished: those before the first
    pixel still in a refill lane (the survivors' queue is empty between rows)."""
    for pixel in lpx:
        if pixel >= 0:
            rows = min(rows, pixel // width)
    return rows


@numba.njit(cache=True)
def _reaches(counts, max_iter):
    """Has any of ``counts`` the value ``max_iter`` (pixels still in the refill lanes hold
    whatever the output held: a wrong guess only costs speed)?"""
    for count in counts:
        if count == max_iter:
            return True
    return False


def escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                  shortcuts: bool = True) -> tuple[np.ndarray, int]:
    """Escape counts for pixel centres ``cr`` (width,) x ``ci`` (height,) -> uint32 (height, width),
    and the lane iterations run.

    Same contract as :func:`mpi_render.kernels.numpy_backend.escape_counts`.
    """
    escape, work = _run(cr, ci, max_iter, shortcuts, smooth=False)
    return escape.counts, work


def escape_data(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                shortcuts: bool = True) -> tuple[Escape, int]:
    """:func:`escape_counts` with the smooth-colour data: ``(Escape, lane iterations)``.

    Same contract as :func:`mpi_render.kernels.numpy_backend.escape_data`.
    """
    return _run(cr, ci, max_iter, shortcuts, smooth=True)


def _run(cr, ci, max_iter: int, shortcuts: bool, smooth: bool) -> tuple[Escape, int]:
    """Run the kernel; without ``smooth`` the Escape's extra and r2 are empty."""
    escape, z_y = escape_outputs(cr.size, ci.size, smooth)
    out, extra, r2 = (a.reshape(-1) for a in (escape.counts, escape.extra, escape.r2))
    work = escape_counts_flat(np.ascontiguousarray(cr, dtype=np.float64),
                              np.ascontiguousarray(ci, dtype=np.float64), max_iter, shortcuts,
                              out, *workspace(cr.size, LANES), (extra, r2, z_y) if smooth else None)
    return escape, int(work)

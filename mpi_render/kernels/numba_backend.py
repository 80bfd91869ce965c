"""The numba escape-time backend: register-resident SIMD lanes, bit-identical to the references.

Why the hot loop is LLVM IR (see ``docs/PERFORMANCE.md``, "Kernel"): written as plain numba
code, a lane loop ``for l in range(LANES)`` vectorises, but LLVM keeps the lane state in memory
and reloads x, y and the counter every iteration; interchanging the loops and unrolling still
left the vectors spilled and the four dependency chains serialised (0.5-0.65x C-AVX2). So
:func:`_iterate_lanes` is a numba ``@intrinsic`` that emits the iteration directly on vectors of
``VECTOR_DOUBLES`` doubles (one AVX2 register), ``VECTORS`` independent ones per lane set, so
the floating-point latency of one chain is hidden behind the others and x and y stay in
registers for the whole call. Four vectors (16 lanes, like the C yardstick's ``g4``) keep enough chains in
flight to run at the FP units' throughput instead of one chain's latency; their x and y take 8
of the 16 AVX2 registers. The iteration counters live in memory (load, subtract, store per
vector and iteration, off the critical path, as gcc compiles the C yardstick): an empty ``asm`` with a
memory clobber at the end of each iteration stops LLVM from promoting them back into
registers, where 4 more loop-carried vectors spilled x and y (measurements in the doc).

Each iteration, per vector, in the reference's exact operation order (no fastmath anywhere)::

    x2 = x*x; y2 = y*y
    inside = x2 + y2 <= 4          # ordered compare: false for nan
    cnt -= inside (as 0 / -1)      # counts the iterations done while inside
    t = x*y
    y = inside ? fma(t, 2, ci) : nan   # fma(t, 2, ci) is exactly (t + t) + ci (2t is exact)
    x = (x2 - y2) + cr

Poisoning an escaped lane's y with nan makes "escaped" sticky without an activity mask (every
later ``inside`` is false), which saves one register per vector; a lane that has no pixel
starts with y = nan and costs nothing. The select sits on y, whose recurrence (mul, fma) is
shorter than x's (mul, sub, add), so it does not lengthen the critical path. Counts stay
exact when a lane runs past its escape. ``llvm.fma`` is exact everywhere; on a CPU without FMA
LLVM calls libm's ``fma`` instead (correct, slower).

The driver, :func:`escape_counts_flat`, works in two stages per image row:

1. **group pass** (like the C yardstick's ``g4``): adjacent pixels of the row fill a lane set and iterate
   together until all escaped, or for ``GROUP_ITERS`` iterations once one of them finished (a
   group in which nobody finished, e.g. all interior, goes on as a group). Exterior pixels
   (most of a full view) finish here with no refill bookkeeping.
2. **refill** (like the C yardstick's ``r8``): the group pass's survivors, with their state, queue for a
   second lane set that iterates in blocks of ``BLOCK_ITERS``; after each block, finished lanes
   write their count and take the next survivor, so a slow pixel does not hold up its
   neighbours. The refill lanes carry over from row to row and are drained at the end.

**Shortcuts** (``shortcuts=True``, the default; why each is exact: ``docs/PERFORMANCE.md``,
"Exact shortcuts"): pixels that the cardioid / period-2 bulb test accepts with ``BULB_MARGIN``
get ``max_iter`` and an idle lane; and :func:`_iterate_lanes_cycles` detects exact cycles.
At call entry a lane whose count reached its ``lnext`` saves z (Brent's saved points, windows
doubling: ``lnext = 2 count + FIRST_WINDOW``); every ``CHECK_EVERY`` iterations z is compared
with the saved z (2 ordered compares, an and, 2 selects per vector), and an equal lane is
finished with ``max_iter``. A new pixel starts with ``lnext = 0``, so no lane ever compares
with another pixel's orbit. ``shortcuts=False`` is the brute force, one check-free loop.

Rules kept on purpose: no ``fastmath`` (it would reassociate and change boundary pixels), and
``cache=True`` only on top-level functions (closures never hit numba's cache). The intrinsic
lives in this file so that editing it invalidates numba's cache (the cache stamp is this
file's content). This module imports numba at import time; :mod:`.kernel` imports it only when
the backend is used.
"""
from __future__ import annotations

import functools

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from .workspace import workspace

VECTOR_DOUBLES = 4  # doubles per AVX2 register; LLVM splits or widens on other targets
VECTORS = 4
LANES = VECTORS * VECTOR_DOUBLES
ALL_LANES = (1 << LANES) - 1
GROUP_ITERS = 32
BLOCK_ITERS = 16
CHECK_EVERY = 4  # iterations between two cycle checks of a lane set
FIRST_WINDOW = 16  # a lane saved at count n is saved again at 2n + FIRST_WINDOW
BULB_MARGIN = 1e-12  # the bulb test accepts only points this far inside (module docstring)
NEAR_RETURN = 1e-4  # |z - saved z| below which a lane is tested for a trapping ball
TRAP_FIRST = 64  # count of a lane's first trap test; after a failed one, twice the count
TRAP_MAX_STEPS = 1024  # longest cycle a trap test follows
SAFE_RADIUS = 1.99  # balls inside |z| <= 1.99 never pass |z|^2 > 4, rounding included
BALL_DELTA = 1e-13  # bounds the rounding of one float step for |z| <= 2, |c| <= 6, twice
ESCAPE_R2 = 4.0

_I64 = ir.IntType(64)
_VD = ir.VectorType(ir.DoubleType(), VECTOR_DOUBLES)
_VI = ir.VectorType(_I64, VECTOR_DOUBLES)


def _splat(vector_type: ir.VectorType, value) -> ir.Constant:
    return ir.Constant(vector_type, [value] * vector_type.count)


def _lane_vectors(context, builder, array_type, array) -> list:
    """Pointers to the ``VECTORS`` consecutive vectors of a ``LANES``-long contiguous array."""
    element = _VD if isinstance(array_type.dtype, types.Float) else _VI
    data = context.make_array(array_type)(context, builder, value=array).data
    return [builder.bitcast(builder.gep(data, [ir.Constant(_I64, v * VECTOR_DOUBLES)]),
                            element.as_pointer()) for v in range(VECTORS)]


def _emit_step(builder, fma, x, y, cr, ci, cnt):
    """One iteration of one vector (module docstring); returns (x, y, cnt, inside as 0/-1)."""
    x2 = builder.fmul(x, x)
    y2 = builder.fmul(y, y)
    inside = builder.fcmp_ordered("<=", builder.fadd(x2, y2), _splat(_VD, ESCAPE_R2))
    inside_mask = builder.sext(inside, _VI)
    t = builder.fmul(x, y)
    y = builder.select(inside, builder.call(fma, [t, _splat(_VD, 2.0), ci]),
                       _splat(_VD, float("nan")))
    x = builder.fadd(builder.fsub(x2, y2), cr)
    return x, y, builder.sub(cnt, inside_mask), inside_mask


def _emit_any_negative(builder, mask):
    """i1: is any lane of an i64 0/-1 mask vector set (a ``movmsk`` on x86)."""
    negative = builder.icmp_signed("<", mask, _splat(_VI, 0))
    zero = ir.Constant(ir.IntType(VECTOR_DOUBLES), 0)
    return builder.icmp_unsigned("!=", builder.bitcast(negative, zero.type), zero)


@intrinsic
def _iterate_lanes(typingctx, lx, ly, lcr, lci, lcnt, n_iter, max_iter):
    """Iterate a lane set in place (brute force); return its finished lanes and the iterations run.

    ``lx, ly, lcr, lci`` (float64) and ``lcnt`` (int64) are C-contiguous arrays of ``LANES``
    elements: the lanes' z, c and iteration counts. Runs at most ``n_iter`` iterations and
    stops early once no lane is inside. Returns ``finished | iterations << 32``: bit l of
    ``finished`` is set when lane l escaped (y is nan) or its count reached ``max_iter``.
    """
    sig = types.int64(lx, ly, lcr, lci, lcnt, n_iter, max_iter)
    return sig, functools.partial(_codegen, cycles=False)


@intrinsic
def _iterate_lanes_cycles(typingctx, lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear,
                          n_iter, max_iter):
    """:func:`_iterate_lanes` with exact cycle detection (module docstring, "Shortcuts").

    ``lsx, lsy`` (float64) hold each lane's saved z, ``lnext`` (int64) the count at which it is
    saved next; both are updated in place. A lane whose z equals its saved z gets ``max_iter``
    and a nan y (finished). ``n_iter`` must be a multiple of ``CHECK_EVERY``. Bits 16-31 of
    the result mark the lanes due for a trap test: alive, count >= ``lcert``, and z back
    within ``NEAR_RETURN`` of the saved z at the end of the call.
    """
    sig = types.int64(lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear, n_iter, max_iter)
    return sig, functools.partial(_codegen, cycles=True)


def _codegen(context, builder, signature, args, cycles):
    """The LLVM IR of both intrinsics (module docstring)."""
    n_arrays = 10 if cycles else 5
    arrays = [_lane_vectors(context, builder, t, a)
              for t, a in zip(signature.args[:n_arrays], args[:n_arrays])]
    px, py, pcr, pci, pcnt = arrays[:5]
    n_iter = context.cast(builder, args[-2], signature.args[-2], types.int64)
    max_iter = context.cast(builder, args[-1], signature.args[-1], types.int64)
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VD, [_VD, _VD, _VD]), f"llvm.fma.v{VECTOR_DOUBLES}f64")
    cr = [builder.load(p, align=8) for p in pcr]
    ci = [builder.load(p, align=8) for p in pci]
    start = [[builder.load(p, align=8) for p in ptrs] for ptrs in (px, py)]
    if cycles:
        _emit_saves(builder, start, pcnt, *arrays[5:8])
    entry = builder.block
    loop = builder.append_basic_block("lanes.loop")
    done = builder.append_basic_block("lanes.done")
    builder.branch(loop)

    builder.position_at_end(loop)
    it = builder.phi(_I64)
    it.add_incoming(ir.Constant(_I64, 0), entry)
    phis = [[builder.phi(v.type) for v in values] for values in start]
    for values, nodes in zip(start, phis):
        for value, node in zip(values, nodes):
            node.add_incoming(value, entry)
    x, y = ([*nodes] for nodes in phis)
    for _ in range(CHECK_EVERY if cycles else 1):
        any_inside = None
        for v in range(VECTORS):
            count = builder.load(pcnt[v], align=8)
            x[v], y[v], count, inside = _emit_step(builder, fma, x[v], y[v], cr[v], ci[v], count)
            builder.store(count, pcnt[v], align=8)
            any_inside = inside if any_inside is None else builder.or_(any_inside, inside)
        # Compiler barrier (no instruction): the counters stay in memory (module docstring).
        builder.asm(ir.FunctionType(ir.VoidType(), []), "", "~{memory}", [], True)
    if cycles:
        for v in range(VECTORS):
            near = builder.sext(_emit_near_return(builder, x[v], y[v], arrays[5][v],
                                                  arrays[6][v]), _VI)
            builder.store(builder.or_(builder.load(arrays[9][v], align=8), near), arrays[9][v],
                          align=8)
    it_next = builder.add(it, ir.Constant(_I64, CHECK_EVERY if cycles else 1))
    it.add_incoming(it_next, builder.block)
    for values, nodes in zip((x, y), phis):
        for value, node in zip(values, nodes):
            node.add_incoming(value, builder.block)
    again = builder.and_(builder.icmp_signed("<", it_next, n_iter),
                         _emit_any_negative(builder, any_inside))
    builder.cbranch(again, loop, done)

    builder.position_at_end(done)
    cap = _emit_broadcast(builder, max_iter)
    finished = ir.Constant(_I64, 0)
    for v in range(VECTORS):
        builder.store(x[v], px[v], align=8)
        builder.store(y[v], py[v], align=8)
        count = builder.load(pcnt[v], align=8)
        lane_done = builder.or_(builder.fcmp_unordered("uno", y[v], y[v]),
                                builder.icmp_signed(">=", count, cap))
        bits = builder.zext(builder.bitcast(lane_done, ir.IntType(VECTOR_DOUBLES)), _I64)
        finished = builder.or_(finished, builder.shl(bits, ir.Constant(_I64, v * VECTOR_DOUBLES)))
        if cycles:
            near = builder.icmp_signed("<", builder.load(arrays[9][v], align=8), _splat(_VI, 0))
            alive = builder.and_(builder.fcmp_ordered("ord", y[v], y[v]),
                                 builder.icmp_signed("<", count, cap))
            due = builder.and_(builder.and_(near, alive),
                               builder.icmp_signed(">=", count, builder.load(arrays[8][v], align=8)))
            bits = builder.zext(builder.bitcast(due, ir.IntType(VECTOR_DOUBLES)), _I64)
            finished = builder.or_(finished,
                                   builder.shl(bits, ir.Constant(_I64, LANES + v * VECTOR_DOUBLES)))
    return builder.or_(finished, builder.shl(it_next, ir.Constant(_I64, 32)))


def _emit_near_return(builder, x, y, psx, psy):
    """i1 vector: is z within ``NEAR_RETURN`` of the saved z (false for nan)."""
    dx = builder.fsub(x, builder.load(psx, align=8))
    dy = builder.fsub(y, builder.load(psy, align=8))
    d2 = builder.fadd(builder.fmul(dx, dx), builder.fmul(dy, dy))
    return builder.fcmp_ordered("<", d2, _splat(_VD, NEAR_RETURN * NEAR_RETURN))


def _emit_broadcast(builder, value):
    """An i64 vector with ``value`` in every lane."""
    vector = builder.insert_element(ir.Constant(_VI, ir.Undefined), value,
                                    ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(vector, vector, ir.Constant(ir.VectorType(ir.IntType(32),
                                                                            VECTOR_DOUBLES), 0))


def _emit_saves(builder, start, pcnt, psx, psy, pnext):
    """Brent's saved points: a lane whose count reached its ``lnext`` saves its z (at call entry)."""
    for v in range(VECTORS):
        count = builder.load(pcnt[v], align=8)
        save = builder.icmp_signed(">=", count, builder.load(pnext[v], align=8))
        builder.store(builder.select(save, start[0][v], builder.load(psx[v], align=8)), psx[v],
                      align=8)
        builder.store(builder.select(save, start[1][v], builder.load(psy[v], align=8)), psy[v],
                      align=8)
        later = builder.add(builder.add(count, count), _splat(_VI, FIRST_WINDOW))
        builder.store(builder.select(save, later, builder.load(pnext[v], align=8)), pnext[v],
                      align=8)


@numba.njit(cache=True)
def _trapped(x0, y0, cr, ci):
    """Is the float orbit from z0 = (x0, y0) proved never to escape (module docstring)?

    Finds the first return of the orbit to within ``NEAR_RETURN`` of z0 (at most
    ``max_steps`` steps: a candidate period p, d the distance), then follows the balls
    B0 = (z0, r0) for r0 = 4d, 64d, 1024d through p steps of ball arithmetic (centre: one
    float step; radius: 2|m| r + r^2 + ``BALL_DELTA``, rounded up). True when, for one r0,
    every ball stays inside ``SAFE_RADIUS`` and the last lies inside B0: then every later
    float state lies in one of the balls, and none passes the escape test.
    """
    x, y = x0, y0
    steps, d2 = 0, 0.0
    for k in range(1, TRAP_MAX_STEPS + 1):
        x2 = x * x
        y2 = y * y
        if not x2 + y2 <= ESCAPE_R2:
            return False
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        d2 = (x - x0) * (x - x0) + (y - y0) * (y - y0)
        if d2 < NEAR_RETURN * NEAR_RETURN:
            steps = k
            break
    if steps == 0:
        return False
    if d2 == 0.0:  # back bit for bit: the orbit is periodic and passed every test of its cycle
        return True
    r0 = max(4.0 * np.sqrt(d2), 1e-12)
    ra, rb, rc = r0, 16.0 * r0, 256.0 * r0
    mx, my = x0, y0
    for _ in range(steps):
        m = np.sqrt(mx * mx + my * my)
        # a ball that leaves the safe disc fails for good (inf stays inf, nan compares false)
        ra = (2.0 * m * ra + ra * ra + BALL_DELTA) * (1.0 + 1e-12) if m + ra <= SAFE_RADIUS \
            else np.inf
        rb = (2.0 * m * rb + rb * rb + BALL_DELTA) * (1.0 + 1e-12) if m + rb <= SAFE_RADIUS \
            else np.inf
        rc = (2.0 * m * rc + rc * rc + BALL_DELTA) * (1.0 + 1e-12) if m + rc <= SAFE_RADIUS \
            else np.inf
        if ra == np.inf and rb == np.inf and rc == np.inf:
            return False
        x2 = mx * mx
        y2 = my * my
        t = mx * my
        my = (t + t) + ci
        mx = (x2 - y2) + cr
    back = np.sqrt((mx - x0) * (mx - x0) + (my - y0) * (my - y0)) * (1.0 + 1e-12)
    shrink = 1.0 - 1e-12
    return back + ra <= r0 * shrink or back + rb <= 16.0 * r0 * shrink \
        or back + rc <= 256.0 * r0 * shrink


@numba.njit(cache=True)
def _trap_due(x, y, cr, ci, cnt, cert, near, max_iter, due):
    """Run the trap test on the lanes of bit mask ``due``; returns the mask of the trapped ones
    (their count becomes ``max_iter``, y nan). A failed lane's next test waits for twice its
    count."""
    trapped = 0
    while due:
        l = trailing_zeros(due)
        due &= due - 1
        near[l] = 0
        if _trapped(x[l], y[l], cr[l], ci[l]):
            cnt[l] = max_iter
            y[l] = np.nan
            trapped |= 1 << l
        else:
            cert[l] = 2 * cnt[l]
    return trapped


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
def _group_pass(cr_padded, width, ci_lanes, row_start, max_iter, shortcuts, out, group, skip,
                live, queue, queued):
    """Stage 1 for one row: iterate adjacent pixels in groups; queue the survivors.

    ``cr_padded`` is the row's cr padded to whole groups, ``ci_lanes`` the row's ci in every
    lane, ``row_start`` the flat index of the row's first pixel. With ``shortcuts``, pixels
    that the bulb test accepts get ``max_iter`` and the others are packed into ``live``
    (their cr, and their columns), so the groups have no idle lanes. A survivor's state
    (pixel, x, y, cr, ci, count) goes to ``queue`` at position ``queued``. Returns the new
    ``queued`` and the lane-set iterations run.
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
            if shortcuts:
                result = _iterate_lanes_cycles(gx, gy, lanes_cr, ci_lanes, gcnt, gsx, gsy, gnext,
                                               gcert, gnear, GROUP_ITERS, max_iter)
                due = (result >> LANES) & busy
                if due:
                    result |= _trap_due(gx, gy, lanes_cr, ci_lanes, gcnt, gcert, gnear, max_iter,
                                        due)
            else:
                result = _iterate_lanes(gx, gy, lanes_cr, ci_lanes, gcnt, GROUP_ITERS, max_iter)
            finished = result & ALL_LANES
            iterations += result >> 32
        if finished == ALL_LANES and busy == ALL_LANES and not packed:  # one branch-free copy
            for l in range(LANES):
                out[row_start + col0 + l] = min(gcnt[l], max_iter)
            continue
        while busy:
            l = trailing_zeros(busy)
            busy &= busy - 1
            pixel = row_start + (live_col[col0 + l] if packed else col0 + l)
            if finished >> l & 1:
                out[pixel] = min(gcnt[l], max_iter)
            else:
                qx[queued], qy[queued], qcr[queued], qci[queued] = (gx[l], gy[l], lanes_cr[l],
                                                                    ci_lanes[l])
                qcnt[queued], qpx[queued] = gcnt[l], pixel
                queued += 1
    return queued, iterations


@numba.njit(cache=True)
def _refill(max_iter, shortcuts, out, lanes, lpx, queue, queued, drain):
    """Stage 2: run the refill lanes over ``queue[:queued]``; returns the iterations run.

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
        if shortcuts:
            result = _iterate_lanes_cycles(lx, ly, lcr, lci, lcnt, lsx, lsy, lnext, lcert, lnear,
                                           BLOCK_ITERS, max_iter)
            due = (result >> LANES) & busy
            if due:
                result |= _trap_due(lx, ly, lcr, lci, lcnt, lcert, lnear, max_iter, due)
        else:
            result = _iterate_lanes(lx, ly, lcr, lci, lcnt, BLOCK_ITERS, max_iter)
        finished = result & busy
        iterations += result >> 32


@numba.njit(cache=True)
def _part(array, start, k):
    """The ``k``-th ``LANES``-long slice of ``array`` after ``start`` (a view: no allocation)."""
    return array[start + k * LANES:start + (k + 1) * LANES]


@numba.njit(cache=True, nogil=True)
def escape_counts_flat(cr, ci, max_iter, shortcuts, out, floats, ints, skip):
    """Fill ``out`` (flat uint32, ``ci.size * cr.size``, row-major) with escape counts.

    ``floats``, ``ints`` and ``skip`` come from :func:`.workspace.workspace` for
    ``cr.size`` and ``LANES``. Returns the lane iterations run (``LANES`` per iteration of a
    lane set, idle lanes included): the work, for tests that the shortcuts are taken.
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
    for row in range(ci.size):
        for l in range(LANES):
            ci_lanes[l] = ci[row]
        queued, ran = _group_pass(cr_padded, width, ci_lanes, row * width, max_iter, shortcuts,
                                  out, group, skip, live, queue, 0)
        iterations += ran + _refill(max_iter, shortcuts, out, lanes, lpx, queue, queued,
                                    row == ci.size - 1)
    return iterations * LANES


def escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                  shortcuts: bool = True) -> tuple[np.ndarray, int]:
    """Escape counts for pixel centres ``cr`` (width,) x ``ci`` (height,) -> uint32 (height, width),
    and the lane iterations run.

    Same contract as :func:`mpi_render.kernels.numpy_backend.escape_counts`.
    """
    out = np.empty(cr.size * ci.size, dtype=np.uint32)
    work = escape_counts_flat(np.ascontiguousarray(cr, dtype=np.float64),
                              np.ascontiguousarray(ci, dtype=np.float64), max_iter, shortcuts,
                              out, *workspace(cr.size, LANES))
    return out.reshape(ci.size, cr.size), int(work)

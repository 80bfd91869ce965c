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
registers, where 4 more loop-carried vectors spilled x and y. Measured (same process, ratio to
C-AVX2 on the benchmark's workloads a/b/c): 3 vectors with register counters 0.75/0.82/0.95,
4 vectors with memory counters 0.84/0.92/1.11, 5 vectors 0.72/0.78/0.97.

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
   (most of a full view) finish here with no refill bookkeeping. With ``precheck``, pixels
   inside the main cardioid / period-2 bulb get ``max_iter`` and an idle lane.
2. **refill** (like the C yardstick's ``r8``): the group pass's survivors, with their state, queue for a
   second lane set that iterates in blocks of ``BLOCK_ITERS``; after each block, finished lanes
   write their count and take the next survivor, so a slow pixel does not hold up its
   neighbours. The refill lanes carry over from row to row and are drained at the end.

Rules kept on purpose: no ``fastmath`` (it would reassociate and change boundary pixels), and
``cache=True`` only on top-level functions (closures never hit numba's cache). The intrinsic
lives in this file so that editing it invalidates numba's cache (the cache stamp is this
file's content). This module imports numba at import time; :mod:`.kernel` imports it only when
the backend is used.
"""
from __future__ import annotations

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
    """Iterate a lane set in place; return the bit mask of its finished lanes.

    ``lx, ly, lcr, lci`` (float64) and ``lcnt`` (int64) are C-contiguous arrays of ``LANES``
    elements: the lanes' z, c and iteration counts. Runs at most ``n_iter`` iterations and
    stops early once no lane is inside. Bit l of the result is set when lane l escaped (y is
    nan) or its count reached ``max_iter``.
    """
    sig = types.int64(lx, ly, lcr, lci, lcnt, n_iter, max_iter)

    def codegen(context, builder, signature, args):
        arrays = [_lane_vectors(context, builder, t, a)
                  for t, a in zip(signature.args[:5], args[:5])]
        px, py, pcr, pci, pcnt = arrays
        n_iter = context.cast(builder, args[5], signature.args[5], types.int64)
        max_iter = context.cast(builder, args[6], signature.args[6], types.int64)
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VD, [_VD, _VD, _VD]),
            f"llvm.fma.v{VECTOR_DOUBLES}f64")
        cr = [builder.load(p, align=8) for p in pcr]
        ci = [builder.load(p, align=8) for p in pci]
        start = [[builder.load(p, align=8) for p in ptrs] for ptrs in (px, py)]
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
        any_inside = None
        for v in range(VECTORS):
            count = builder.load(pcnt[v], align=8)
            x[v], y[v], count, inside = _emit_step(builder, fma, x[v], y[v], cr[v], ci[v],
                                                   count)
            builder.store(count, pcnt[v], align=8)
            any_inside = inside if any_inside is None else builder.or_(any_inside, inside)
        # Compiler barrier (no instruction): the counters stay in memory (module docstring).
        builder.asm(ir.FunctionType(ir.VoidType(), []), "", "~{memory}", [], True)
        it_next = builder.add(it, ir.Constant(_I64, 1))
        it.add_incoming(it_next, loop)
        for values, nodes in zip((x, y), phis):
            for value, node in zip(values, nodes):
                node.add_incoming(value, loop)
        again = builder.and_(builder.icmp_signed("<", it_next, n_iter),
                             _emit_any_negative(builder, any_inside))
        builder.cbranch(again, loop, done)

        builder.position_at_end(done)
        cap = builder.insert_element(ir.Constant(_VI, ir.Undefined), max_iter,
                                     ir.Constant(ir.IntType(32), 0))
        cap = builder.shuffle_vector(cap, cap, ir.Constant(ir.VectorType(ir.IntType(32),
                                                                         VECTOR_DOUBLES), 0))
        finished = ir.Constant(_I64, 0)
        for v in range(VECTORS):
            builder.store(x[v], px[v], align=8)
            builder.store(y[v], py[v], align=8)
            count = builder.load(pcnt[v], align=8)
            lane_done = builder.or_(builder.fcmp_unordered("uno", y[v], y[v]),
                                    builder.icmp_signed(">=", count, cap))
            bits = builder.zext(builder.bitcast(lane_done, ir.IntType(VECTOR_DOUBLES)), _I64)
            finished = builder.or_(finished,
                                   builder.shl(bits, ir.Constant(_I64, v * VECTOR_DOUBLES)))
        return finished

    return sig, codegen


@numba.njit(cache=True)
def _skipped_lanes(cr_padded, width, ci_row, precheck, skip):
    """Mark the lanes of one row that are not iterated: padding past ``width``, and with
    ``precheck`` the pixels inside the main cardioid or period-2 bulb (the yardstick's ``in_main_bulbs``,
    same operation order). Branch-free, so LLVM vectorises it."""
    for col in range(cr_padded.size):
        x = cr_padded[col]
        xq = x - 0.25
        y2 = ci_row * ci_row
        q = xq * xq + y2
        xp = x + 1.0
        inside = (q * (q + xq) <= 0.25 * y2) | (xp * xp + y2 <= 0.0625)
        skip[col] = (col >= width) | (precheck & inside)


@numba.njit(cache=True)
def _group_pass(cr_padded, width, ci_lanes, row_start, max_iter, precheck, out, group, skip,
                queue, queued):
    """Stage 1 for one row: iterate adjacent pixels in groups; queue the survivors.

    ``cr_padded`` is the row's cr padded to whole groups, ``ci_lanes`` the row's ci in every
    lane, ``row_start`` the flat index of the row's first pixel. A survivor's state (pixel,
    x, y, cr, ci, count) goes to ``queue`` at position ``queued``; returns the new ``queued``.
    """
    gx, gy, gcnt = group
    qx, qy, qcr, qci, qcnt, qpx = queue
    _skipped_lanes(cr_padded, width, ci_lanes[0], precheck, skip)
    for col0 in range(0, cr_padded.size, LANES):
        gx[:] = 0.0
        gy[:] = 0.0
        gcnt[:] = 0
        busy = ALL_LANES
        for l in range(LANES):
            if skip[col0 + l]:
                busy &= ~(1 << l)
                gy[l] = np.nan
                if col0 + l < width:
                    out[row_start + col0 + l] = max_iter
        if busy == 0:
            continue
        lanes_cr = cr_padded[col0:col0 + LANES]
        # A group in which no pixel has finished keeps going as a group: no lane is wasted.
        finished = 0
        while finished & busy == 0:
            finished = _iterate_lanes(gx, gy, lanes_cr, ci_lanes, gcnt, GROUP_ITERS, max_iter)
        if finished == ALL_LANES and busy == ALL_LANES:  # the common case: one branch-free copy
            for l in range(LANES):
                out[row_start + col0 + l] = min(gcnt[l], max_iter)
            continue
        while busy:
            l = trailing_zeros(busy)
            busy &= busy - 1
            if finished >> l & 1:
                out[row_start + col0 + l] = min(gcnt[l], max_iter)
            else:
                qx[queued], qy[queued], qcr[queued], qci[queued] = (gx[l], gy[l], lanes_cr[l],
                                                                    ci_lanes[l])
                qcnt[queued], qpx[queued] = gcnt[l], row_start + col0 + l
                queued += 1
    return queued


@numba.njit(cache=True)
def _refill(max_iter, out, lanes, queue, queued, drain):
    """Stage 2: run the refill lanes over ``queue[:queued]``.

    Returns when the queue is used up and a lane has nothing to do (so the next row's group
    pass can refill the queue) or, with ``drain``, when every lane is idle.
    """
    lx, ly, lcr, lci, lcnt, lpx = lanes
    qx, qy, qcr, qci, qcnt, qpx = queue
    head = 0
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
                lcnt[l], lpx[l] = qcnt[head], qpx[head]
                head += 1
                busy |= 1 << l
            else:
                ly[l] = np.nan
                lpx[l] = -1
                busy &= ~(1 << l)
        if busy == 0 or (busy != ALL_LANES and not drain):
            return
        finished = _iterate_lanes(lx, ly, lcr, lci, lcnt, BLOCK_ITERS, max_iter) & busy


@numba.njit(cache=True, nogil=True)
def escape_counts_flat(cr, ci, max_iter, precheck, out, floats, ints, skip):
    """Fill ``out`` (flat uint32, ``ci.size * cr.size``, row-major) with escape counts.

    ``floats``, ``ints`` and ``skip`` come from :func:`.workspace.workspace` for
    ``cr.size`` and ``LANES``. Nothing is allocated here, so the compiled code needs no numba
    runtime (:mod:`.native` relies on that). Runs without the GIL: on rank 0 the poster
    thread (HTTP, spool) and the tile sink keep working while a tile renders, instead of
    waiting up to a whole tile for the interpreter.
    """
    width = cr.size
    padded = skip.size
    cr_padded = floats[:padded]
    for col in range(padded):  # a loop: slice assignment would compile numba's shape-error path
        cr_padded[col] = cr[col] if col < width else 0.0
    at = padded
    ci_lanes = floats[at:at + LANES]
    gx, gy = floats[at + LANES:at + 2 * LANES], floats[at + 2 * LANES:at + 3 * LANES]
    lx, ly = floats[at + 3 * LANES:at + 4 * LANES], floats[at + 4 * LANES:at + 5 * LANES]
    lcr, lci = floats[at + 5 * LANES:at + 6 * LANES], floats[at + 6 * LANES:at + 7 * LANES]
    at += 7 * LANES
    qx, qy = floats[at:at + width], floats[at + width:at + 2 * width]
    qcr, qci = floats[at + 2 * width:at + 3 * width], floats[at + 3 * width:at + 4 * width]
    gcnt, lcnt, lpx = ints[:LANES], ints[LANES:2 * LANES], ints[2 * LANES:3 * LANES]
    qcnt, qpx = ints[3 * LANES:3 * LANES + width], ints[3 * LANES + width:3 * LANES + 2 * width]
    for l in range(LANES):  # every refill lane idle: y = nan, no pixel
        lx[l], ly[l], lcr[l], lci[l], lcnt[l], lpx[l] = 0.0, np.nan, 0.0, 0.0, 0, -1
    group = (gx, gy, gcnt)
    lanes = (lx, ly, lcr, lci, lcnt, lpx)
    queue = (qx, qy, qcr, qci, qcnt, qpx)
    for row in range(ci.size):
        for l in range(LANES):
            ci_lanes[l] = ci[row]
        queued = _group_pass(cr_padded, width, ci_lanes, row * width, max_iter, precheck, out,
                             group, skip, queue, 0)
        _refill(max_iter, out, lanes, queue, queued, row == ci.size - 1)


def escape_counts(cr: np.ndarray, ci: np.ndarray, max_iter: int,
                  precheck: bool = False) -> np.ndarray:
    """Escape counts for pixel centres ``cr`` (width,) x ``ci`` (height,) -> uint32 (height, width).

    Same contract as :func:`mpi_render.kernels.numpy_backend.escape_counts`.
    """
    out = np.empty(cr.size * ci.size, dtype=np.uint32)
    escape_counts_flat(np.ascontiguousarray(cr, dtype=np.float64),
                       np.ascontiguousarray(ci, dtype=np.float64), max_iter, precheck, out,
                       *workspace(cr.size, LANES))
    return out.reshape(ci.size, cr.size)

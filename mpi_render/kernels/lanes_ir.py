"""The LLVM IR of the numba kernel's hot loop: a lane set of ``VECTORS`` AVX2 vectors.

Why the hot loop is LLVM IR (see ``docs/PERFORMANCE.md``, "Kernel"): written as plain numba
code, a lane loop ``for l in range(LANES)`` vectorises, but LLVM keeps the lane state in memory
and reloads x, y and the counter every iteration; interchanging the loops and unrolling still
left the vectors spilled and the four dependency chains serialised (0.5-0.65x C-AVX2). So the
intrinsics of :mod:`.numba_backend` emit the iteration directly on vectors of
``VECTOR_DOUBLES`` doubles (one AVX2 register), ``VECTORS`` independent ones per lane set, so
the floating-point latency of one chain is hidden behind the others and x and y stay in
registers for the whole call (their x and y take 8 of the 16 AVX2 registers). The iteration
counters live in memory (load, subtract, store per vector and iteration, off the critical
path): an empty ``asm`` with a memory clobber at the end of each iteration stops LLVM from
promoting them back into registers, where 4 more loop-carried vectors spilled x and y.

Each iteration, per vector, in the reference's exact operation order (no fastmath anywhere)::

    x2 = x*x; y2 = y*y
    inside = x2 + y2 <= 4          # ordered compare: false for nan
    cnt -= inside (as 0 / -1)      # counts the iterations done while inside
    t = x*y
    y = inside ? fma(t, 2, ci) : nan   # fma(t, 2, ci) is exactly (t + t) + ci (2t is exact)
    x = (x2 - y2) + cr

Poisoning an escaped lane's y with nan makes "escaped" sticky without an activity mask (every
later ``inside`` is false); a lane that has no pixel starts with y = nan and costs nothing.
Counts stay exact when a lane runs past its escape. ``llvm.fma`` is exact everywhere; on a CPU
without FMA LLVM calls libm's ``fma`` instead (correct, slower).

With ``freeze`` (the smooth-colour data, :mod:`mpi_render.escape`) an escaped lane keeps its
state instead: ``x = inside ? x_next : x`` and ``y = inside ? y_next : y`` (one blend more per
vector and iteration; with AVX-512 LLVM folds both into masked operations: +2 % on the full
view, ``docs/PERFORMANCE.md``, "Smooth colour"). The frozen state stays outside,
so "escaped" is just as sticky, and at the end of the call the lane holds ``z`` at its escape,
which the smooth tail starts from. The escape radius is an argument: the same frozen loop with
``escape_r2 = SMOOTH_R2``, ``n_iter = max_iter = SMOOTH_MAX_EXTRA`` and counters from 0 *is*
the smooth tail (it counts ``extra`` and stops where the contract stops).

With ``cycles`` (the shortcuts), a lane whose count reached its ``lnext`` saves z at call entry
(Brent's saved points, windows doubling: ``lnext = 2 count + FIRST_WINDOW``). Every
``CHECK_EVERY``-th iteration (a predictable branch; the escape test stays per iteration) each
vector ORs "z within ``NEAR_RETURN`` of the saved z" into ``lnear`` in memory (two subtracts,
two multiplies, an add and a compare). The call returns which alive lanes came near:
:mod:`.trap` then decides, exactly, whether they can ever escape.

Pure Python (llvmlite only): nothing here is compiled by numba itself. Because numba's cache
only watches the file of a compiled function, ``numba_backend.PINNED_SOURCES`` pins this file's
hash (a test checks it), so an edit here also changes ``numba_backend.py``.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils

VECTOR_DOUBLES = 4  # doubles per AVX2 register; LLVM splits or widens on other targets
VECTORS = 4
LANES = VECTORS * VECTOR_DOUBLES
CHECK_EVERY = 8  # iterations between two near-return checks of a lane set
FIRST_WINDOW = 16  # a lane saved at count n is saved again at 2n + FIRST_WINDOW
NEAR_RETURN = 1e-4  # |z - saved z| below which a lane is handed to the trap test
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


def _emit_step(builder, fma, x, y, cr, ci, cnt, radius2, freeze):
    """One iteration of one vector (module docstring); returns (x, y, cnt, inside as 0/-1)."""
    x2 = builder.fmul(x, x)
    y2 = builder.fmul(y, y)
    inside = builder.fcmp_ordered("<=", builder.fadd(x2, y2), radius2)
    inside_mask = builder.sext(inside, _VI)
    t = builder.fmul(x, y)
    y_next = builder.call(fma, [t, _splat(_VD, 2.0), ci])
    x_next = builder.fadd(builder.fsub(x2, y2), cr)
    if freeze:
        x = builder.select(inside, x_next, x)
        y = builder.select(inside, y_next, y)
    else:
        x = x_next
        y = builder.select(inside, y_next, _splat(_VD, float("nan")))
    return x, y, builder.sub(cnt, inside_mask), inside_mask


def _emit_any_negative(builder, mask):
    """i1: is any lane of an i64 0/-1 mask vector set (a ``movmsk`` on x86)."""
    negative = builder.icmp_signed("<", mask, _splat(_VI, 0))
    zero = ir.Constant(ir.IntType(VECTOR_DOUBLES), 0)
    return builder.icmp_unsigned("!=", builder.bitcast(negative, zero.type), zero)


def emit_lanes(context, builder, signature, args, cycles: bool, freeze: bool):
    """The LLVM IR of the intrinsics of :mod:`.numba_backend` (module docstring); returns the
    i64 result: finished lanes, lanes near a return (bits 16-31), iterations run << 32.

    After the lane arrays come ``n_iter``, ``max_iter``, the escape radius squared and an
    argument whose type chose ``freeze`` (unused here); a lane is finished when it is outside
    that radius (nan included) or its count reached ``max_iter``.
    """
    n_arrays = 10 if cycles else 5
    arrays = [_lane_vectors(context, builder, t, a)
              for t, a in zip(signature.args[:n_arrays], args[:n_arrays])]
    px, py, pcr, pci, pcnt = arrays[:5]
    n_iter = context.cast(builder, args[-4], signature.args[-4], types.int64)
    max_iter = context.cast(builder, args[-3], signature.args[-3], types.int64)
    radius2 = context.cast(builder, args[-2], signature.args[-2], types.float64)
    radius2 = _emit_broadcast(builder, radius2, _VD)
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
    any_inside = None
    for v in range(VECTORS):
        count = builder.load(pcnt[v], align=8)
        x[v], y[v], count, inside = _emit_step(builder, fma, x[v], y[v], cr[v], ci[v], count,
                                               radius2, freeze)
        builder.store(count, pcnt[v], align=8)
        any_inside = inside if any_inside is None else builder.or_(any_inside, inside)
    # Compiler barrier (no instruction): the counters stay in memory (module docstring).
    builder.asm(ir.FunctionType(ir.VoidType(), []), "", "~{memory}", [], True)
    it_next = builder.add(it, ir.Constant(_I64, 1))
    if cycles:  # every CHECK_EVERY-th iteration (a predictable branch): the near-return check
        check = builder.append_basic_block("lanes.check")
        latch = builder.append_basic_block("lanes.latch")
        due = builder.icmp_unsigned("==", builder.and_(it_next, ir.Constant(_I64, CHECK_EVERY - 1)),
                                    ir.Constant(_I64, 0))
        builder.cbranch(due, check, latch)
        builder.position_at_end(check)
        for v in range(VECTORS):
            near = builder.sext(_emit_near_return(builder, x[v], y[v], arrays[5][v],
                                                  arrays[6][v]), _VI)
            builder.store(builder.or_(builder.load(arrays[9][v], align=8), near), arrays[9][v],
                          align=8)
        builder.branch(latch)
        builder.position_at_end(latch)
    it.add_incoming(it_next, builder.block)
    for values, nodes in zip((x, y), phis):
        for value, node in zip(values, nodes):
            node.add_incoming(value, builder.block)
    again = builder.and_(builder.icmp_signed("<", it_next, n_iter),
                         _emit_any_negative(builder, any_inside))
    builder.cbranch(again, loop, done)

    builder.position_at_end(done)
    cap = _emit_broadcast(builder, max_iter, _VI)
    finished = ir.Constant(_I64, 0)
    for v in range(VECTORS):
        builder.store(x[v], px[v], align=8)
        builder.store(y[v], py[v], align=8)
        count = builder.load(pcnt[v], align=8)
        if freeze:  # outside the radius (nan included): escaped, or no pixel
            r2 = builder.fadd(builder.fmul(x[v], x[v]), builder.fmul(y[v], y[v]))
            outside = builder.fcmp_unordered(">", r2, radius2)
        else:  # poisoned: escaped, or no pixel
            outside = builder.fcmp_unordered("uno", y[v], y[v])
        lane_done = builder.or_(outside, builder.icmp_signed(">=", count, cap))
        bits = builder.zext(builder.bitcast(lane_done, ir.IntType(VECTOR_DOUBLES)), _I64)
        finished = builder.or_(finished, builder.shl(bits, ir.Constant(_I64, v * VECTOR_DOUBLES)))
        if cycles:
            near = builder.icmp_signed("<", builder.load(arrays[9][v], align=8), _splat(_VI, 0))
            alive = builder.and_(builder.not_(outside), builder.icmp_signed("<", count, cap))
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


def _emit_broadcast(builder, value, vector_type):
    """A vector of ``vector_type`` (``_VI`` or ``_VD``) with ``value`` in every lane."""
    vector = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value,
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

"""The numba perturbation kernels: :mod:`.loop`'s algorithm as tight scalar loops.

Bit-identical to the plain reference loop (same operations, same order; numba never contracts
to FMA without ``fastmath``, which is never used). ``error_model="numpy"`` (no Python
exception paths) and no allocation, so the compiled code runs without the numba runtime and is
prebuilt into a native library (:mod:`.native`): ranks never import numba. ``nogil``: a rank's
other threads keep working while a tile renders.

Structure: :func:`_plain_run` is the hot loop, the plain-double algorithm of
:func:`.loop.pixel_plain`, run until something it does not handle happens (an escape,
``max_iter``, interior, or in a wide view: a BLA step or ``z`` falling into the wide range).
A plain-view pixel is one run. A wide-view pixel alternates runs with the wide-form steps of
:func:`.loop.pixel_wide`; keeping the wide machinery (``frexp``/``ldexp`` calls) out of the hot
loop keeps its values in registers (one flat loop with both ran 5x slower per plain step).

The wide-number helpers of :mod:`.wide` and the smooth tail of :mod:`.tail` are plain Python;
they are registered here with ``register_jitable`` and compiled into the kernels. numba's cache
only watches this file, so ``PINNED_SOURCES`` pins a hash of the modules compiled into these
kernels (a test checks it).
"""
from __future__ import annotations

import math

import numba
from numba.extending import register_jitable

from . import wide
from .constants import DER_HIGH, DER_LOW, INTERIOR_LOG2, TINY_Z, WIDE_LIMIT, WIDE_LIMIT_EXP
from .tail import smooth_tail

# sha256 of constants.py, wide.py, tail.py and ../escape.py (numba's cache watches only this file)
PINNED_SOURCES = "4ec676aff4f8f4bf"
_JIT = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)

for _helper in (wide.shift, wide.normalise, wide.add, wide.mul, wide.to_float, wide.l1_less,
                smooth_tail):
    register_jitable(_helper)

# what ended a plain run
ESCAPED = 0
AT_MAX = 1
INTERIOR = 2
WIDE_AFTER_REBASE = 3  # z fell below WIDE_LIMIT at a rebase: continue at the BLA stage, wide
WIDE_AFTER_STEP = 4  # ... after a perturbation step: continue at the top, wide
BLA_FOUND = 5  # a wide view's BLA row was found: apply it in wide arithmetic


@numba.njit(**_JIT)
def _write(pixel, event, n, fx, fy, cr, ci, max_iter, counts, extra, r2, counters):
    """A finished pixel's count, extra and r2 (the smooth tail after an escape)."""
    if event == ESCAPED:
        counts[pixel] = n
        extra[pixel], r2[pixel] = smooth_tail(fx, fy, cr, ci)
    else:
        counts[pixel] = max_iter
        extra[pixel] = 0
        r2[pixel] = 0.0
        if event == INTERIOR:
            counters[5] += 1


@numba.njit(**_JIT)
def _der_times(dx, dy, de, ax, ay, ae):
    """:meth:`.loop.Derivative.times`: returns ``(dx, dy, de)``."""
    tx = ax * dx - ay * dy
    ty = ax * dy + ay * dx
    de += ae
    norm = abs(tx) + abs(ty)
    while norm > DER_HIGH:
        tx = tx * DER_LOW
        ty = ty * DER_LOW
        de += 64
        norm = abs(tx) + abs(ty)
    while 0.0 < norm < DER_LOW:
        tx = tx * DER_HIGH
        ty = ty * DER_HIGH
        de -= 64
        norm = abs(tx) + abs(ty)
    return tx, ty, de


@numba.njit(**_JIT)
def _der_at_sample(dx, dy, de, started):
    """:meth:`.loop.Derivative.at_sample`: returns ``(dx, dy, de, started, interior)``."""
    if not started:
        return 1.0, 0.0, 0, True, False
    threshold = math.ldexp(1.0, min(max(INTERIOR_LOG2 - de, -1100), 1000))
    return dx, dy, de, True, abs(dx) + abs(dy) < threshold


@numba.njit(**_JIT)
def _plain_run(zx_ref, zy_ref, length, starts, radius, coeffs, checkpoints, cx, cy, max_iter,
               wide_view, interior, zx, zy, m, n, dx, dy, de, started, at_bla, fx, fy):
    """Run :func:`.loop.pixel_plain`'s loop from ``(z, m, n)`` (and the derivative) until it
    ends (module docstring). ``at_bla``: start at the BLA stage of an iteration whose escape
    test and rebase are done, with full value ``(fx, fy)``. In a wide view (``wide_view``) a
    BLA row ends the run (the caller applies it in wide arithmetic) and so does
    ``|z|_1 < WIDE_LIMIT``.

    Returns:
        ``(event, zx, zy, m, n, fx, fy, row, level, dx, dy, de, started, perturbation steps,
        BLA steps, BLA iterations, rebases)``.
    """
    wide_limit = WIDE_LIMIT if wide_view else 0.0
    perturbation = 0
    bla_steps = 0
    bla_skipped = 0
    rebases = 0
    zn = abs(zx) + abs(zy)
    while True:
        if at_bla:
            at_bla = False
        else:
            fx = zx_ref[m] + zx
            fy = zy_ref[m] + zy
            f2 = fx * fx + fy * fy
            if n >= max_iter:
                return (AT_MAX, zx, zy, m, n, fx, fy, -1, 0, dx, dy, de, started,
                        perturbation, bla_steps, bla_skipped, rebases)
            if f2 > 4.0:
                return (ESCAPED, zx, zy, m, n, fx, fy, -1, 0, dx, dy, de, started,
                        perturbation, bla_steps, bla_skipped, rebases)
            zn = abs(zx) + abs(zy)
            if abs(fx) + abs(fy) < zn or m == length:
                zx = fx
                zy = fy
                m = 0
                zn = abs(zx) + abs(zy)
                rebases += 1
            if interior and checkpoints[m]:
                dx, dy, de, started, inside = _der_at_sample(dx, dy, de, started)
                if inside:
                    return (INTERIOR, zx, zy, m, n, fx, fy, -1, 0, dx, dy, de, started,
                            perturbation, bla_steps, bla_skipped, rebases)
            if m == 0 and zn < wide_limit:
                return (WIDE_AFTER_REBASE, zx, zy, m, n, fx, fy, -1, 0, dx, dy, de,
                        started, perturbation, bla_steps, bla_skipped, rebases)
        if m > 0:
            first = starts[m - 1]
            last = starts[m]
            r = first
            while r < last and zn < radius[r]:
                r += 1
            if r > first:
                r -= 1
                level = r - first + 1
                if wide_view:
                    return (BLA_FOUND, zx, zy, m, n, fx, fy, r, level, dx, dy, de, started,
                            perturbation, bla_steps, bla_skipped, rebases)
                ax = coeffs[r, 0]
                ay = coeffs[r, 1]
                bx = coeffs[r, 2]
                by = coeffs[r, 3]
                step = 1 << level
                nzx = (ax * zx - ay * zy) + (bx * cx - by * cy)
                zy = (ax * zy + ay * zx) + (bx * cy + by * cx)
                zx = nzx
                m += step
                n += step
                bla_steps += 1
                bla_skipped += step
                if n >= max_iter:
                    return (AT_MAX, zx, zy, m, n, fx, fy, -1, 0, dx, dy, de, started,
                            perturbation, bla_steps, bla_skipped, rebases)
                if interior:
                    dx, dy, de = _der_times(dx, dy, de, ax, ay, 0)
                continue
        zrx = zx_ref[m]
        zry = zy_ref[m]
        ax = (zrx + zrx) + zx
        ay = (zry + zry) + zy
        nzx = (ax * zx - ay * zy) + cx
        zy = (ax * zy + ay * zx) + cy
        zx = nzx
        m += 1
        n += 1
        perturbation += 1
        if interior:
            dx, dy, de = _der_times(dx, dy, de, fx + fx, fy + fy, 0)
        if abs(zx) + abs(zy) < wide_limit:
            return (WIDE_AFTER_STEP, zx, zy, m, n, fx, fy, -1, 0, dx, dy, de, started,
                    perturbation, bla_steps, bla_skipped, rebases)


@numba.njit(**_JIT)
def tile_plain(zx_ref, zy_ref, length, starts, radius, coeffs, checkpoints, ref_cr, ref_ci, dcx,
               dcy, max_iter, interior, counts, extra, r2, counters):
    """Fill ``counts, extra, r2`` (flat, ``dcy.size * dcx.size``, row-major) for a plain view
    (:func:`.loop.pixel_plain` per pixel); add the step statistics to ``counters``."""
    width = dcx.size
    for row in range(dcy.size):
        cy = dcy[row]
        for col in range(width):
            cx = dcx[col]
            pixel = row * width + col
            counters[0] += 1  # z_1 = c
            (event, zx, zy, m, n, fx, fy, _, _, _, _, _, _, perturbation, bla_steps,
             bla_skipped, rebases) = _plain_run(zx_ref, zy_ref, length, starts, radius, coeffs,
                                                checkpoints, cx, cy, max_iter, False, interior,
                                                cx, cy, 1, 1,
                                                1.0, 0.0, 0, False, False, 0.0, 0.0)
            counters[0] += perturbation
            counters[1] += bla_steps
            counters[2] += bla_skipped
            counters[3] += rebases
            _write(pixel, event, n, fx, fy, ref_cr + cx, ref_ci + cy, max_iter, counts, extra,
                   r2, counters)


@numba.njit(**_JIT)
def _l1_wide(x, y, e):
    """:func:`.loop._l1_wide`: ``(|x| + |y|) 2**e`` as a normalised wide real."""
    t = wide.normalise(abs(x) + abs(y), 0.0, e)
    return t[0], t[2]


@numba.njit(**_JIT)
def _to_mode(x, y, e):
    """A wide result as the pixel carries it: ``(x, y, e, is_wide)``, a plain double above the
    wide range."""
    if e <= WIDE_LIMIT_EXP:
        return x, y, e, True
    return wide.to_float(x, e), wide.to_float(y, e), e, False


@numba.njit(**_JIT)
def tile_wide(zx_ref, zy_ref, wzx, wzy, wze, length, starts, radius, radius_wide, radius_exp,
              coeffs, coeff_exps, checkpoints, ref_cr, ref_ci, dcx, dcx_exp, dcy, dcy_exp, max_iter,
              interior, counts, extra, r2, counters):
    """:func:`tile_plain` for a wide view (:func:`.loop.pixel_wide` per pixel); the offsets are
    wide reals ``(mantissa, exponent)`` per column / row."""
    width = dcx.size
    for row in range(dcy.size):
        for col in range(width):
            pixel = row * width + col
            ce = max(dcx_exp[col], dcy_exp[row])
            c = wide.normalise(wide.shift(dcx[col], dcx_exp[col] - ce),
                               wide.shift(dcy[row], dcy_exp[row] - ce), ce)
            cxw = c[0]
            cyw = c[1]
            cew = c[2]
            cxd = wide.to_float(cxw, cew)
            cyd = wide.to_float(cyw, cew)
            zx = cxw
            zy = cyw
            ze = cew
            is_wide = True
            at_bla = False
            m = 1
            n = 1
            counters[0] += 1
            dx = 1.0
            dy = 0.0
            de = 0
            started = False
            event = -1
            fx = 0.0
            fy = 0.0
            while True:
                r = -1
                level = 0
                if not is_wide:
                    (event, zx, zy, m, n, fx, fy, r, level, dx, dy, de, started,
                     perturbation, bla_steps, bla_skipped, rebases) = _plain_run(
                        zx_ref, zy_ref, length, starts, radius, coeffs, checkpoints, cxd, cyd,
                        max_iter,
                        True, interior, zx, zy, m, n, dx, dy, de, started, at_bla, fx, fy)
                    at_bla = False
                    counters[0] += perturbation
                    counters[1] += bla_steps
                    counters[2] += bla_skipped
                    counters[3] += rebases
                    if event <= INTERIOR:
                        break
                    if event != BLA_FOUND:
                        zx, zy, ze = wide.normalise(zx, zy, 0)
                        is_wide = True
                        at_bla = event == WIDE_AFTER_REBASE
                        continue
                else:
                    if at_bla:
                        at_bla = False
                    else:
                        zrx = zx_ref[m]
                        zry = zy_ref[m]
                        fx = zrx + wide.to_float(zx, ze)
                        fy = zry + wide.to_float(zy, ze)
                        f2 = fx * fx + fy * fy
                        if n >= max_iter:
                            event = AT_MAX
                            break
                        if f2 > 4.0:
                            event = ESCAPED
                            break
                        if m == length or abs(zrx) + abs(zry) < TINY_Z:
                            f = wide.add(wzx[m], wzy[m], wze[m], zx, zy, ze)
                            zr, zre = _l1_wide(zx, zy, ze)
                            if m == length or wide.l1_less(f[0], f[1], f[2], zr, zre):
                                m = 0
                                counters[3] += 1
                                zx, zy, ze, is_wide = _to_mode(f[0], f[1], f[2])
                        if interior and checkpoints[m]:
                            dx, dy, de, started, inside = _der_at_sample(dx, dy, de, started)
                            if inside:
                                event = INTERIOR
                                break
                        if not is_wide:
                            at_bla = True
                            continue
                    if m > 0:
                        first = starts[m - 1]
                        last = starts[m]
                        r = first
                        zr, zre = _l1_wide(zx, zy, ze)
                        while r < last and wide.l1_less(zr, 0.0, zre, radius_wide[r],
                                                        radius_exp[r]):
                            r += 1
                        level = r - first
                        r -= 1
                    if level == 0:  # a wide perturbation step
                        a = wide.add(wzx[m], wzy[m], wze[m] + 1, zx, zy, ze)
                        p = wide.mul(a[0], a[1], a[2], zx, zy, ze)
                        s = wide.add(p[0], p[1], p[2], cxw, cyw, cew)
                        zx, zy, ze, is_wide = _to_mode(s[0], s[1], s[2])
                        counters[4] += 1
                        m += 1
                        n += 1
                        counters[0] += 1
                        if interior:
                            dx, dy, de = _der_times(dx, dy, de, fx + fx, fy + fy, 0)
                        continue
                # a BLA step, always in wide arithmetic (from a wide or a plain z)
                ax = coeffs[r, 0]
                ay = coeffs[r, 1]
                ae = coeff_exps[r, 0]
                if is_wide:
                    p = wide.mul(ax, ay, ae, zx, zy, ze)
                else:
                    z = wide.normalise(zx, zy, 0)
                    p = wide.mul(ax, ay, ae, z[0], z[1], z[2])
                q = wide.mul(coeffs[r, 2], coeffs[r, 3], coeff_exps[r, 1], cxw, cyw, cew)
                s = wide.add(p[0], p[1], p[2], q[0], q[1], q[2])
                zx, zy, ze, is_wide = _to_mode(s[0], s[1], s[2])
                step = 1 << level
                m += step
                n += step
                counters[1] += 1
                counters[2] += step
                counters[4] += 1
                if n >= max_iter:
                    event = AT_MAX
                    break
                if interior:
                    dx, dy, de = _der_times(dx, dy, de, ax, ay, ae)
            _write(pixel, event, n, fx, fy, ref_cr + cxd, ref_ci + cyd, max_iter, counts, extra,
                   r2, counters)

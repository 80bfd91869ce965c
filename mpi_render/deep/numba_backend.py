"""The numba perturbation kernels: :mod:`.loop`'s algorithm as tight scalar loops.

Bit-identical to the plain reference loop (same operations, same order; numba never contracts
to FMA without ``fastmath``, which is never used). ``error_model="numpy"`` (no Python
exception paths) and no allocation, so the compiled code runs without the numba runtime and is
prebuilt into a native library (:mod:`.native`): ranks never import numba. ``nogil``: a rank's
other threads keep working while a tile renders.

The wide-number helpers of :mod:`.wide` are plain Python; they are registered here with
``register_jitable`` and compiled into the wide kernel. numba's cache only watches this file, so
``PINNED_SOURCES`` pins a hash of the modules compiled into these kernels (a test checks it).
"""
from __future__ import annotations

import math

import numba
from numba.extending import register_jitable

from ..escape import SMOOTH_MAX_EXTRA, SMOOTH_R2
from . import wide
from .constants import DER_HIGH, DER_LOW, INTERIOR_LOG2, TINY_Z, WIDE_LIMIT, WIDE_LIMIT_EXP

# sha256 of constants.py, wide.py and ../escape.py (numba's cache watches only this file)
PINNED_SOURCES = ""
_JIT = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)

for _helper in (wide.shift, wide.normalise, wide.add, wide.mul, wide.to_float, wide.l1_less):
    register_jitable(_helper)


@numba.njit(**_JIT)
def _smooth_tail(x, y, cr, ci):
    """:func:`.loop.smooth_tail`."""
    extra = 0
    r2 = x * x + y * y
    while r2 <= SMOOTH_R2 and extra < SMOOTH_MAX_EXTRA:
        x2 = x * x
        y2 = y * y
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        extra += 1
        r2 = x * x + y * y
    return extra, r2


@numba.njit(**_JIT)
def _der_times(dx, dy, de, threshold, ax, ay, ae):
    """:meth:`.loop.Derivative.times`: returns ``(dx, dy, de, threshold, interior)``."""
    tx = ax * dx - ay * dy
    ty = ax * dy + ay * dx
    de += ae
    norm = abs(tx) + abs(ty)
    if norm > DER_HIGH or norm < DER_LOW or ae != 0:
        if norm == 0.0:
            return tx, ty, de, threshold, True
        k = math.frexp(norm)[1]
        tx = math.ldexp(tx, -k)
        ty = math.ldexp(ty, -k)
        de += k
        threshold = math.ldexp(1.0, min(max(INTERIOR_LOG2 - de, -1100), 1000))
        norm = abs(tx) + abs(ty)
    return tx, ty, de, threshold, norm < threshold


@numba.njit(**_JIT)
def _finish(pixel, count, extra_n, r2_value, counts, extra, r2):
    counts[pixel] = count
    extra[pixel] = extra_n
    r2[pixel] = r2_value


@numba.njit(**_JIT)
def tile_plain(zx_ref, zy_ref, length, starts, radius, coeffs, ref_cr, ref_ci, dcx, dcy,
               max_iter, interior, counts, extra, r2, counters):
    """Fill ``counts, extra, r2`` (flat, ``dcy.size * dcx.size``, row-major) for a plain view
    (:func:`.loop.pixel_plain` per pixel); add the step statistics to ``counters``."""
    perturbation = 0
    bla_steps = 0
    bla_skipped = 0
    rebases = 0
    interior_exits = 0
    width = dcx.size
    threshold0 = math.ldexp(1.0, INTERIOR_LOG2)
    for row in range(dcy.size):
        cy = dcy[row]
        for col in range(width):
            cx = dcx[col]
            pixel = row * width + col
            zx = cx
            zy = cy
            m = 1
            n = 1
            perturbation += 1
            dx = 1.0
            dy = 0.0
            de = 0
            threshold = threshold0
            while True:
                fx = zx_ref[m] + zx
                fy = zy_ref[m] + zy
                f2 = fx * fx + fy * fy
                if n >= max_iter:
                    _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                    break
                if f2 > 4.0:
                    e, rr = _smooth_tail(fx, fy, ref_cr + cx, ref_ci + cy)
                    _finish(pixel, n, e, rr, counts, extra, r2)
                    break
                zn = abs(zx) + abs(zy)
                if abs(fx) + abs(fy) < zn or m == length:
                    zx = fx
                    zy = fy
                    m = 0
                    zn = abs(zx) + abs(zy)
                    rebases += 1
                if m > 0:
                    first = starts[m - 1]
                    last = starts[m]
                    r = first
                    while r < last and zn < radius[r]:
                        r += 1
                    if r > first:
                        r -= 1
                        ax = coeffs[r, 0]
                        ay = coeffs[r, 1]
                        bx = coeffs[r, 2]
                        by = coeffs[r, 3]
                        step = 1 << (r - first + 1)
                        nzx = (ax * zx - ay * zy) + (bx * cx - by * cy)
                        zy = (ax * zy + ay * zx) + (bx * cy + by * cx)
                        zx = nzx
                        m += step
                        n += step
                        bla_steps += 1
                        bla_skipped += step
                        if n >= max_iter:
                            _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                            break
                        if interior:
                            dx, dy, de, threshold, inside = _der_times(dx, dy, de, threshold,
                                                                       ax, ay, 0)
                            if inside:
                                interior_exits += 1
                                _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                                break
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
                    dx, dy, de, threshold, inside = _der_times(dx, dy, de, threshold,
                                                               fx + fx, fy + fy, 0)
                    if inside:
                        interior_exits += 1
                        _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                        break
    counters[0] += perturbation
    counters[1] += bla_steps
    counters[2] += bla_skipped
    counters[3] += rebases
    counters[5] += interior_exits


@numba.njit(**_JIT)
def _l1_wide(x, y, e):
    """:func:`.loop._l1_wide`: ``(|x| + |y|) 2**e`` as a normalised wide real."""
    t = wide.normalise(abs(x) + abs(y), 0.0, e)
    return t[0], t[2]


@numba.njit(**_JIT)
def tile_wide(zx_ref, zy_ref, wzx, wzy, wze, length, starts, radius, radius_wide, radius_exp,
              coeffs, coeff_exps, ref_cr, ref_ci, dcx, dcx_exp, dcy, dcy_exp, max_iter, interior,
              counts, extra, r2, counters):
    """:func:`tile_plain` for a wide view (:func:`.loop.pixel_wide` per pixel); the offsets are
    wide reals ``(mantissa, exponent)`` per column / row."""
    perturbation = 0
    bla_steps = 0
    bla_skipped = 0
    rebases = 0
    wide_steps = 0
    interior_exits = 0
    width = dcx.size
    threshold0 = math.ldexp(1.0, INTERIOR_LOG2)
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
            m = 1
            n = 1
            perturbation += 1
            dx = 1.0
            dy = 0.0
            de = 0
            threshold = threshold0
            while True:
                zrx = zx_ref[m]
                zry = zy_ref[m]
                if is_wide:
                    fx = zrx + wide.to_float(zx, ze)
                    fy = zry + wide.to_float(zy, ze)
                else:
                    fx = zrx + zx
                    fy = zry + zy
                f2 = fx * fx + fy * fy
                if n >= max_iter:
                    _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                    break
                if f2 > 4.0:
                    e, rr = _smooth_tail(fx, fy, ref_cr + cxd, ref_ci + cyd)
                    _finish(pixel, n, e, rr, counts, extra, r2)
                    break
                if is_wide:
                    if m == length or abs(zrx) + abs(zry) < TINY_Z:
                        f = wide.add(wzx[m], wzy[m], wze[m], zx, zy, ze)
                        zr, zre = _l1_wide(zx, zy, ze)
                        if m == length or wide.l1_less(f[0], f[1], f[2], zr, zre):
                            zx = f[0]
                            zy = f[1]
                            ze = f[2]
                            m = 0
                            rebases += 1
                            if ze > WIDE_LIMIT_EXP:
                                zx = wide.to_float(zx, ze)
                                zy = wide.to_float(zy, ze)
                                is_wide = False
                elif abs(fx) + abs(fy) < abs(zx) + abs(zy) or m == length:
                    zx = fx
                    zy = fy
                    m = 0
                    rebases += 1
                    if abs(zx) + abs(zy) < WIDE_LIMIT:
                        t = wide.normalise(zx, zy, 0)
                        zx = t[0]
                        zy = t[1]
                        ze = t[2]
                        is_wide = True
                if m > 0:
                    first = starts[m - 1]
                    last = starts[m]
                    r = first
                    if is_wide:
                        zr, zre = _l1_wide(zx, zy, ze)
                        while r < last and wide.l1_less(zr, 0.0, zre, radius_wide[r],
                                                        radius_exp[r]):
                            r += 1
                    else:
                        zn = abs(zx) + abs(zy)
                        while r < last and zn < radius[r]:
                            r += 1
                    if r > first:
                        r -= 1
                        ax = coeffs[r, 0]
                        ay = coeffs[r, 1]
                        bx = coeffs[r, 2]
                        by = coeffs[r, 3]
                        ae = coeff_exps[r, 0]
                        be = coeff_exps[r, 1]
                        if is_wide:
                            p = wide.mul(ax, ay, ae, zx, zy, ze)
                        else:
                            z = wide.normalise(zx, zy, 0)
                            p = wide.mul(ax, ay, ae, z[0], z[1], z[2])
                        q = wide.mul(bx, by, be, cxw, cyw, cew)
                        s = wide.add(p[0], p[1], p[2], q[0], q[1], q[2])
                        zx = s[0]
                        zy = s[1]
                        ze = s[2]
                        is_wide = ze <= WIDE_LIMIT_EXP
                        if not is_wide:
                            zx = wide.to_float(zx, ze)
                            zy = wide.to_float(zy, ze)
                        step = 1 << (r - first + 1)
                        m += step
                        n += step
                        bla_steps += 1
                        bla_skipped += step
                        wide_steps += 1
                        if n >= max_iter:
                            _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                            break
                        if interior:
                            dx, dy, de, threshold, inside = _der_times(dx, dy, de, threshold,
                                                                       ax, ay, ae)
                            if inside:
                                interior_exits += 1
                                _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                                break
                        continue
                if is_wide:
                    a = wide.add(wzx[m], wzy[m], wze[m] + 1, zx, zy, ze)
                    p = wide.mul(a[0], a[1], a[2], zx, zy, ze)
                    s = wide.add(p[0], p[1], p[2], cxw, cyw, cew)
                    zx = s[0]
                    zy = s[1]
                    ze = s[2]
                    wide_steps += 1
                    if ze > WIDE_LIMIT_EXP:
                        zx = wide.to_float(zx, ze)
                        zy = wide.to_float(zy, ze)
                        is_wide = False
                else:
                    zrx = zx_ref[m]
                    zry = zy_ref[m]
                    ax = (zrx + zrx) + zx
                    ay = (zry + zry) + zy
                    nzx = (ax * zx - ay * zy) + cxd
                    zy = (ax * zy + ay * zx) + cyd
                    zx = nzx
                    if abs(zx) + abs(zy) < WIDE_LIMIT:
                        t = wide.normalise(zx, zy, 0)
                        zx = t[0]
                        zy = t[1]
                        ze = t[2]
                        is_wide = True
                m += 1
                n += 1
                perturbation += 1
                if interior:
                    dx, dy, de, threshold, inside = _der_times(dx, dy, de, threshold,
                                                               fx + fx, fy + fy, 0)
                    if inside:
                        interior_exits += 1
                        _finish(pixel, max_iter, 0, 0.0, counts, extra, r2)
                        break
    counters[0] += perturbation
    counters[1] += bla_steps
    counters[2] += bla_skipped
    counters[3] += rebases
    counters[4] += wide_steps
    counters[5] += interior_exits

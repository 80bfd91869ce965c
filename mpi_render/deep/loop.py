"""The plain reference perturbation loop: the oracle every backend matches bit for bit.

One pixel at a time, in plain Python floats, readable rather than fast (~1 us a step). The
numba and numpy backends implement exactly this algorithm with the same floating-point
operations in the same order; tests compare their counts, extra and r2 to this loop's.

**A plain-view pixel** (``dc = (cx, cy)`` doubles; ``Z`` the reference doubles, ``M`` its last
index; ``n`` the pixel's iteration, ``m`` the reference index)::

    z = dc, m = 1, n = 1                       # z_1 = c exactly (z_0 = 0 never escapes)
    loop:
        f = Z_m + z ; f2 = fx*fx + fy*fy       # the full value and the contract's test
        n >= max_iter           -> count max_iter
        f2 > 4                  -> count n, then the smooth tail (mpi_render.escape)
        |f|_1 < |z|_1 or m == M -> rebase: z = f, m = 0
        BLA (m >= 1): the highest level k >= 1 with (m-1) % 2**k == 0 and |z|_1 < R,
            trying levels upwards -> z = A z + B dc, m += 2**k, n += 2**k
            (n >= max_iter after it -> max_iter: a BLA step never skips an escape)
        else perturbation: a = 2 Z_m + z ; z = a z + dc ; m += 1, n += 1

``|v|_1 = |vx| + |vy|``: no squares, so nothing underflows at any depth, and it bounds the
Euclidean norm BLA's radii are built with. The rebase test is Zhuoran's ``|Z + z| < |z|`` in
that norm. Operation order (no FMA anywhere)::

    a_x = (Zx + Zx) + zx ;  a_y = (Zy + Zy) + zy
    zx' = (a_x*zx - a_y*zy) + cx ;  zy' = (a_x*zy + a_y*zx) + cy
    BLA: zx' = (Ax*zx - Ay*zy) + (Bx*cx - By*cy) ;  zy' = (Ax*zy + Ay*zx) + (Bx*cy + By*cx)

**A wide-view pixel** (:func:`pixel_wide`) carries ``z`` as a plain double while
``|z|_1 >= 2**-400`` and as a normalised wide complex (:mod:`.wide`) below, switching as it
crosses; ``dc`` is a wide complex (its double, mostly 0, serves the plain mode and the smooth
tail). Wide perturbation steps are ``z = (2 Z_m + z) z + dc`` in wide arithmetic with the wide
form of ``Z_m``; BLA steps are always wide (``A z + B dc``). In wide mode a rebase is only
possible where ``|Z_m|_1 < 2**-397`` (else ``|Z + z|_1 > |z|_1`` since ``|z|_1 < 2**-399``),
and only there is the wide test made. A plain-mode step never loses anything to underflow:
``|z| >= 2**-400`` keeps ``z^2`` normal, and ``dc`` (below ``2**-980``) is negligible beside it.

**Interior detection** (views whose reference settles on an attracting cycle, the centre inside
a minibrot, with ``max_iter`` over 200 periods: :func:`.prepare.interior_detection`): the pixel
also carries the derivative ``d`` of its orbit along itself, as mantissas ``(dx, dy)`` and an
exponent ``de``: ``d <- 2 f d`` on a perturbation step, ``d <- A d`` on a BLA step (BLA's ``A``
is that derivative, to its epsilon), rescaled by ``2**64`` whenever ``|d|_1`` leaves
``[2**-64, 2**64]``. It is *sampled only at close approaches to 0*, after the rebase test of an
iteration, where ``checkpoints[m]`` is set: right after a rebase (``m = 0``) and at the
multiples of the reference's period (where a reference inside a minibrot passes closest to 0).
Inside a minibrot the orbit passes such points once a period, at the same phase of its
attracting cycle, where the product of ``2 f`` over the period is the cycle's multiplier
(``|lambda| < 1`` inside, ``> 1`` outside). The first sample resets ``d`` to 1; at every later
one ``|d|_1 < 2**-24`` (the product of the multipliers since) means interior: count
``max_iter``. Between samples ``d`` says nothing: a close approach to 0 makes it tiny for a
moment, and the rest of the period makes it up. Checked against the MPFR brute force in tests.
"""
from __future__ import annotations

import math
from functools import partial

from . import stats as st
from . import wide
from .constants import DER_HIGH, DER_LOW, INTERIOR_LOG2, TINY_Z, WIDE_LIMIT, WIDE_LIMIT_EXP
from .tail import smooth_tail


def interior_threshold(de: int) -> float:
    """``2**(INTERIOR_LOG2 - de)``: a derivative whose mantissa L1 norm is below it is below
    ``2**INTERIOR_LOG2`` (the exponent clamped to a double's range, which decides the same way
    for mantissas in ``[DER_LOW, DER_HIGH]``)."""
    return math.ldexp(1.0, min(max(INTERIOR_LOG2 - de, -1100), 1000))


class Derivative:
    """The interior-detection derivative of one pixel (module docstring)."""

    def __init__(self):
        self.dx, self.dy, self.de = 1.0, 0.0, 0
        self.started = False

    def times(self, ax: float, ay: float, ae: int) -> None:
        """``d <- (ax + i ay) 2**ae d``, brought back into ``[DER_LOW, DER_HIGH]`` by exact
        multiplications by ``2**-64`` / ``2**64`` (no frexp/ldexp: no library call in the hot
        loop). The factors are bounded (``|2f| <= 4``, ``|A| < 2**900``), so nothing overflows."""
        tx = ax * self.dx - ay * self.dy
        ty = ax * self.dy + ay * self.dx
        de = self.de + ae
        norm = abs(tx) + abs(ty)
        while norm > DER_HIGH:
            tx, ty, de = tx * DER_LOW, ty * DER_LOW, de + 64
            norm = abs(tx) + abs(ty)
        while 0.0 < norm < DER_LOW:
            tx, ty, de = tx * DER_HIGH, ty * DER_HIGH, de - 64
            norm = abs(tx) + abs(ty)
        self.dx, self.dy, self.de = tx, ty, de

    def at_sample(self) -> bool:
        """True when the pixel is interior; the first sample starts the product at 1."""
        if not self.started:
            self.dx, self.dy, self.de, self.started = 1.0, 0.0, 0, True
            return False
        return abs(self.dx) + abs(self.dy) < interior_threshold(self.de)


def bla_row(starts, radius_less, j: int) -> tuple[int, int]:
    """``(row, level)`` of the highest usable BLA level from ``m = j + 1``, or ``(-1, 0)``:
    the start's rows (levels 1, 2, ...) are tried upwards until ``radius_less(row)`` fails."""
    row, level = -1, 0
    for candidate in range(starts[j], starts[j + 1]):
        if not radius_less(candidate):
            break
        row, level = candidate, candidate - starts[j] + 1
    return row, level


def _below(radius, zn: float, row: int) -> bool:
    return zn < radius[row]


def _below_wide(radius, radius_exp, zr: float, zre: int, row: int) -> bool:
    return wide.l1_less(zr, 0.0, zre, radius[row], radius_exp[row])


def pixel_plain(ref, cx: float, cy: float, counters: list) -> tuple[int, int, float]:
    """``(count, extra, r2)`` of one pixel of a plain view (module docstring).

    Args:
        ref: a :class:`LoopReference` (lists of the reference's arrays).
        cx, cy: the pixel's offset from the reference point (doubles).
        counters: the :mod:`.stats` counters (a list), updated in place.
    """
    zx_ref, zy_ref, length, max_iter = ref.zx, ref.zy, ref.length, ref.max_iter
    starts, radius, coeffs = ref.starts, ref.radius, ref.coeffs
    der = Derivative() if ref.interior else None
    zx, zy = cx, cy
    m = 1
    n = 1
    counters[st.PERTURBATION_STEPS] += 1
    while True:
        fx = zx_ref[m] + zx
        fy = zy_ref[m] + zy
        f2 = fx * fx + fy * fy
        if n >= max_iter:
            return max_iter, 0, 0.0
        if f2 > 4.0:
            return (n, *smooth_tail(fx, fy, ref.cr + cx, ref.ci + cy))
        zn = abs(zx) + abs(zy)
        if abs(fx) + abs(fy) < zn or m == length:
            zx, zy, m = fx, fy, 0
            zn = abs(zx) + abs(zy)
            counters[st.REBASES] += 1
        if der is not None and ref.checkpoints[m] and der.at_sample():
            counters[st.INTERIOR_EXITS] += 1
            return max_iter, 0, 0.0
        row, level = bla_row(starts, partial(_below, radius, zn), m - 1) if m else (-1, 0)
        if row >= 0:
            ax, ay, bx, by = coeffs[row]
            zx, zy = ((ax * zx - ay * zy) + (bx * cx - by * cy),
                      (ax * zy + ay * zx) + (bx * cy + by * cx))
            step = 1 << level
            m += step
            n += step
            counters[st.BLA_STEPS] += 1
            counters[st.BLA_SKIPPED] += step
            if n >= max_iter:
                return max_iter, 0, 0.0
            if der is not None:
                der.times(ax, ay, 0)
            continue
        zrx = zx_ref[m]
        zry = zy_ref[m]
        ax = (zrx + zrx) + zx
        ay = (zry + zry) + zy
        zx, zy = (ax * zx - ay * zy) + cx, (ax * zy + ay * zx) + cy
        m += 1
        n += 1
        counters[st.PERTURBATION_STEPS] += 1
        if der is not None:
            der.times(fx + fx, fy + fy, 0)


def _l1_wide(x: float, y: float, e: int) -> tuple[float, int]:
    """``|x| + |y|`` times ``2**e`` as a normalised wide real."""
    r, _, k = wide.normalise(abs(x) + abs(y), 0.0, e)
    return r, k


def pixel_wide(ref, c: tuple[float, float, int], counters: list) -> tuple[int, int, float]:
    """``(count, extra, r2)`` of one pixel of a wide view (module docstring).

    Args:
        ref: a :class:`LoopReference` of a wide view.
        c: the pixel's offset as a normalised wide complex ``(x, y, e)``.
        counters: the :mod:`.stats` counters (a list), updated in place.
    """
    zx_ref, zy_ref, length, max_iter = ref.zx, ref.zy, ref.length, ref.max_iter
    wzx, wzy, wze = ref.wzx, ref.wzy, ref.wze
    starts, radius, radius_wide, radius_exp = ref.starts, ref.radius, ref.radius_wide, ref.radius_exp
    coeffs, coeff_exps = ref.coeffs, ref.coeff_exps
    cxw, cyw, cew = c
    cxd, cyd = wide.to_float(cxw, cew), wide.to_float(cyw, cew)
    der = Derivative() if ref.interior else None
    zx, zy, ze = cxw, cyw, cew  # z_1 = c, wide (|dc| < 2**-980 in wide views)
    is_wide = True
    m = 1
    n = 1
    counters[st.PERTURBATION_STEPS] += 1
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
            return max_iter, 0, 0.0
        if f2 > 4.0:
            return (n, *smooth_tail(fx, fy, ref.cr + cxd, ref.ci + cyd))
        # rebase
        if is_wide:
            if m == length or abs(zrx) + abs(zry) < TINY_Z:
                f = wide.add(wzx[m], wzy[m], wze[m], zx, zy, ze)
                if m == length or wide.l1_less(*f, *_l1_wide(zx, zy, ze)):
                    zx, zy, ze = f
                    m = 0
                    counters[st.REBASES] += 1
                    if ze > WIDE_LIMIT_EXP:
                        zx, zy, is_wide = wide.to_float(zx, ze), wide.to_float(zy, ze), False
        elif abs(fx) + abs(fy) < abs(zx) + abs(zy) or m == length:
            zx, zy, m = fx, fy, 0
            counters[st.REBASES] += 1
            if abs(zx) + abs(zy) < WIDE_LIMIT:
                zx, zy, ze = wide.normalise(zx, zy, 0)
                is_wide = True
        if der is not None and ref.checkpoints[m] and der.at_sample():
            counters[st.INTERIOR_EXITS] += 1
            return max_iter, 0, 0.0
        # BLA: wide lanes compare wide radii; plain lanes (|z|_1 >= 2**-400) the double radii,
        # which are exact wherever they could decide
        if not m:
            row, level = -1, 0
        elif is_wide:
            zr, zre = _l1_wide(zx, zy, ze)
            row, level = bla_row(starts, partial(_below_wide, radius_wide, radius_exp, zr, zre),
                                 m - 1)
        else:
            row, level = bla_row(starts, partial(_below, radius, abs(zx) + abs(zy)), m - 1)
        if row >= 0:
            ax, ay, bx, by = coeffs[row]
            ae, be = coeff_exps[row]
            z = (zx, zy, ze) if is_wide else wide.normalise(zx, zy, 0)
            zx, zy, ze = wide.add(*wide.mul(ax, ay, ae, *z), *wide.mul(bx, by, be, cxw, cyw, cew))
            is_wide = ze <= WIDE_LIMIT_EXP
            if not is_wide:
                zx, zy = wide.to_float(zx, ze), wide.to_float(zy, ze)
            step = 1 << level
            m += step
            n += step
            counters[st.BLA_STEPS] += 1
            counters[st.BLA_SKIPPED] += step
            counters[st.WIDE_STEPS] += 1
            if n >= max_iter:
                return max_iter, 0, 0.0
            if der is not None:
                der.times(ax, ay, ae)
            continue
        # perturbation step
        if is_wide:
            a = wide.add(wzx[m], wzy[m], wze[m] + 1, zx, zy, ze)  # 2 Z_m + z
            zx, zy, ze = wide.add(*wide.mul(*a, zx, zy, ze), cxw, cyw, cew)
            counters[st.WIDE_STEPS] += 1
            if ze > WIDE_LIMIT_EXP:
                zx, zy, is_wide = wide.to_float(zx, ze), wide.to_float(zy, ze), False
        else:
            zrx = zx_ref[m]  # m may have been rebased since the escape test
            zry = zy_ref[m]
            ax = (zrx + zrx) + zx
            ay = (zry + zry) + zy
            zx, zy = (ax * zx - ay * zy) + cxd, (ax * zy + ay * zx) + cyd
            if abs(zx) + abs(zy) < WIDE_LIMIT:
                zx, zy, ze = wide.normalise(zx, zy, 0)
                is_wide = True
        m += 1
        n += 1
        counters[st.PERTURBATION_STEPS] += 1
        if der is not None:
            der.times(fx + fx, fy + fy, 0)


class LoopReference:
    """A :class:`.prepare.Reference`'s arrays as Python lists, for the loop."""

    def __init__(self, reference):
        orbit, table = reference.orbit, reference.table
        self.zx, self.zy = orbit.zx.tolist(), orbit.zy.tolist()
        self.length, self.max_iter = orbit.length, reference.max_iter
        self.cr, self.ci = float(orbit.point[0]), float(orbit.point[1])
        self.starts, self.radius = table.starts.tolist(), table.radius.tolist()
        self.coeffs = [tuple(row) for row in table.coeffs.tolist()]
        if table.radius_wide is not None:
            self.radius_wide, self.radius_exp = table.radius_wide.tolist(), table.radius_exp.tolist()
            self.coeff_exps = [tuple(row) for row in table.coeff_exps.tolist()]
        self.interior = reference.interior
        self.checkpoints = reference.checkpoints.tolist()
        if orbit.wide is not None:
            self.wzx, self.wzy, self.wze = (a.tolist() for a in orbit.wide)


def tile(reference, dcx: list, dcy: list, counters: list):
    """Counts, extra and r2 (lists of rows) of a tile from its offsets: doubles per column /
    row in plain views, ``(mantissa, exponent)`` pairs in wide views."""
    ref = LoopReference(reference)
    rows = []
    for cy in dcy:
        row = []
        for cx in dcx:
            if reference.wide:
                e = max(cx[1], cy[1])
                c = wide.normalise(wide.shift(cx[0], cx[1] - e), wide.shift(cy[0], cy[1] - e), e)
                row.append(pixel_wide(ref, c, counters))
            else:
                row.append(pixel_plain(ref, cx, cy, counters))
        rows.append(row)
    return rows

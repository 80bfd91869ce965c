"""The numpy perturbation backend: :mod:`.loop`'s algorithm vectorised over a tile's pixels.

What a site without numba runs. Every pixel of the tile is a lane of a set of state arrays;
each *round* advances every live pixel by exactly one step of the reference loop (escape test,
rebase, one BLA step or one perturbation step, interior check), with the same floating-point
operations in the same order, so each pixel goes through the very states it goes through in
:func:`.loop.pixel_plain` / :func:`.loop.pixel_wide` and ends with the same bits. Pixels that
finish are written out and, once a quarter of the set has finished, compacted away.
Both outcomes of a branch are computed for every lane and selected with ``np.where`` (the
lanes take different branches; masks cost less than gathers here).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from . import stats as st
from . import wide
from .constants import DER_HIGH, DER_LOW, INTERIOR_LOG2, TINY_Z, WIDE_LIMIT, WIDE_LIMIT_EXP
from .tail import smooth_tail_array


class _Derivative:
    """Elementwise :class:`.loop.Derivative` for the live pixels."""

    def __init__(self, size: int):
        self.dx = np.ones(size)
        self.dy = np.zeros(size)
        self.de = np.zeros(size, dtype=np.int64)
        self.started = np.zeros(size, dtype=bool)

    def keep(self, index) -> None:
        for name in ("dx", "dy", "de", "started"):
            setattr(self, name, getattr(self, name)[index])

    def times(self, ax, ay, ae, active) -> None:
        """Multiply the ``active`` lanes by ``(ax + i ay) 2**ae`` (rescaled as the loop does)."""
        tx = ax * self.dx - ay * self.dy
        ty = ax * self.dy + ay * self.dx
        de = self.de + ae
        norm = np.abs(tx) + np.abs(ty)
        for scale, shift, out_of_range in ((DER_LOW, 64, lambda v: v > DER_HIGH),
                                           (DER_HIGH, -64, lambda v: (v > 0.0) & (v < DER_LOW))):
            move = out_of_range(norm)
            while move.any():
                tx = np.where(move, tx * scale, tx)
                ty = np.where(move, ty * scale, ty)
                de = np.where(move, de + shift, de)
                norm = np.where(move, np.abs(tx) + np.abs(ty), norm)
                move &= out_of_range(norm)
        self.dx = np.where(active, tx, self.dx)
        self.dy = np.where(active, ty, self.dy)
        self.de = np.where(active, de, self.de)

    def at_sample(self, rebased) -> np.ndarray:
        """Where the sampled lanes are now known interior; first samples start at 1."""
        first = rebased & ~self.started
        threshold = np.ldexp(1.0, np.clip(INTERIOR_LOG2 - self.de, -1100, 1000))
        inside = rebased & self.started & (np.abs(self.dx) + np.abs(self.dy) < threshold)
        self.dx = np.where(first, 1.0, self.dx)
        self.dy = np.where(first, 0.0, self.dy)
        self.de = np.where(first, 0, self.de)
        self.started |= rebased
        return inside


def _bla_rows(starts, radius, m, live_bla, less):
    """Per lane: the last usable row of its start (levels tried upwards), and the level;
    ``level == 0`` where none. ``less(rows, lanes)`` says where ``|z|_1 < R`` of ``rows`` for
    the lanes ``lanes``. Only the lanes still climbing are looked at (most stop at once)."""
    j = np.maximum(m - 1, 0)
    first = starts[j]
    last = starts[np.minimum(j + 1, starts.size - 1)]
    level = np.zeros(m.size, dtype=np.int64)
    lanes = np.flatnonzero(live_bla & (m > 0) & (first < last))
    top = max(radius.size - 1, 0)
    while lanes.size:
        rows = first[lanes] + level[lanes]
        up = rows < last[lanes]
        up &= less(np.minimum(rows, top), lanes)
        lanes = lanes[up]
        level[lanes] += 1
    return first + level - 1, level


def _perturbed(zxr, zyr, m, zx, zy, cx, cy):
    """Every lane's plain perturbation step ``z <- (2 Z_m + z) z + dc`` in the loop's order
    (:func:`.loop.pixel_plain`): ``(zx, zy)`` after it."""
    zrx = zxr[m]
    zry = zyr[m]
    px = (zrx + zrx) + zx
    py = (zry + zry) + zy
    return (px * zx - py * zy) + cx, (px * zy + py * zx) + cy


def _below(zn, radius, rows, lanes):
    return zn[lanes] < radius[rows]


def _below_either(is_wide, zn, zr, zre, radius, radius_wide, radius_exp, rows, lanes):
    """Wide lanes compare wide radii, plain lanes the double radii (as :mod:`.loop`)."""
    return np.where(is_wide[lanes], wide.l1_less_array(zr[lanes], 0.0, zre[lanes],
                                                       radius_wide[rows], radius_exp[rows]),
                    zn[lanes] < radius[rows])


class _Out:
    """The tile's output arrays and counters, and what finishing a pixel needs (``max_iter``,
    the reference point as doubles for the smooth tail)."""

    def __init__(self, counts, extra, r2, counters, reference):
        self.counts, self.extra, self.r2 = counts, extra, r2
        self.counters, self.max_iter = counters, reference.max_iter
        self.ref_cr, self.ref_ci = float(reference.orbit.point[0]), float(reference.orbit.point[1])

    def at_max(self, pixels) -> None:
        self.counts[pixels] = self.max_iter
        self.extra[pixels] = 0
        self.r2[pixels] = 0.0

    def escape_test(self, alive, pixel, n, fx, fy, cx, cy) -> np.ndarray:
        """A round's escape test of the ``alive`` lanes, full values ``(fx, fy)`` and offsets
        ``(cx, cy)`` as doubles: finish the lanes at ``max_iter`` and the escaped ones
        (``|f|^2 > 4``: the smooth tail from ``f``, ``c`` = reference point + offset). Returns
        the lanes that go on."""
        f2 = fx * fx + fy * fy
        at_max = alive & (n >= self.max_iter)
        escaped = alive & ~at_max & (f2 > 4.0)
        self.at_max(pixel[at_max])
        done = pixel[escaped]
        self.counts[done] = n[escaped]
        self.extra[done], self.r2[done] = smooth_tail_array(
            fx[escaped], fy[escaped], self.ref_cr + cx[escaped], self.ref_ci + cy[escaped])
        return alive & ~(at_max | escaped)


def _advance(bla, perturb, level, m, n, counters):
    """``(m, n)`` after this round's BLA (``2**level``) or perturbation (1) steps; counts them."""
    step = np.where(bla, np.left_shift(1, level), perturb.astype(np.int64))
    counters[st.PERTURBATION_STEPS] += int(perturb.sum())
    counters[st.BLA_STEPS] += int(bla.sum())
    counters[st.BLA_SKIPPED] += int(step[bla].sum())
    return m + step, n + step


def _after_step(out, der, pixel, live, bla, n, factor) -> np.ndarray:
    """A BLA step that reached ``max_iter`` finishes its lane; the derivative takes the step's
    factor (``(ax, ay, ae)``: A on BLA lanes, 2f on the others). Returns the live lanes."""
    reached = bla & (n >= out.max_iter)
    out.at_max(pixel[reached])
    live &= ~reached
    if der is not None:
        der.times(*factor, live)
    return live


def _compacted(alive, der, lanes: tuple):
    """Once a quarter of the lanes finished: ``(alive, lanes)`` without them."""
    if alive.sum() >= 0.75 * alive.size:
        return alive, lanes
    keep = np.flatnonzero(alive)
    if der is not None:
        der.keep(keep)
    return alive[keep], tuple(a[keep] for a in lanes)


def _interior_exits(der: _Derivative, sampled, pixel, out: _Out) -> np.ndarray:
    """Sample the derivative of the ``sampled`` lanes; finish those it shows interior and
    return their mask."""
    inside = der.at_sample(sampled)
    out.at_max(pixel[inside])
    out.counters[st.INTERIOR_EXITS] += int(inside.sum())
    return inside


BLOCK_PX = 65536  # lanes per block: a 2048-pixel tile is done in 64 blocks, not one 4M set


def tile(reference, dcx, dcy, counts, extra, r2, counters) -> None:
    """Fill ``counts, extra, r2`` (flat, row-major) of a tile from its rounded offsets
    (:func:`.tiles.tile_offsets`); add the step statistics to ``counters``. Rows are done in
    blocks of about ``BLOCK_PX`` pixels (lanes are independent: the same bits either way),
    which bounds the state arrays (~20 of them) to a few MB."""
    width = (dcx[0] if reference.wide else dcx).size
    height = (dcy[0] if reference.wide else dcy).size
    rows = max(1, BLOCK_PX // width)
    with np.errstate(all="ignore"):
        for top in range(0, height, rows):
            part = slice(top * width, min(height, top + rows) * width)
            out = _Out(counts[part], extra[part], r2[part], counters, reference)
            if reference.wide:
                _tile_wide(reference, dcx, tuple(a[top:top + rows] for a in dcy), out)
            else:
                _tile_plain(reference, dcx, dcy[top:top + rows], out)


def _tile_plain(reference, dcx, dcy, out: _Out) -> None:
    orbit, table = reference.orbit, reference.table
    zxr, zyr, length = orbit.zx, orbit.zy, orbit.length
    starts, radius, coeffs = table.starts, table.radius, table.coeffs
    checkpoints = reference.checkpoints
    cx = np.tile(dcx, dcy.size)
    cy = np.repeat(dcy, dcx.size)
    pixel = np.arange(cx.size)
    zx, zy = cx.copy(), cy.copy()
    m = np.ones(cx.size, dtype=np.int64)
    n = np.ones(cx.size, dtype=np.int64)
    counters = out.counters
    counters[st.PERTURBATION_STEPS] += cx.size
    der = _Derivative(cx.size) if reference.interior else None
    alive = np.ones(cx.size, dtype=bool)
    while pixel.size:
        fx = zxr[m] + zx
        fy = zyr[m] + zy
        live = out.escape_test(alive, pixel, n, fx, fy, cx, cy)
        zn = np.abs(zx) + np.abs(zy)
        rebase = live & ((np.abs(fx) + np.abs(fy) < zn) | (m == length))
        zx = np.where(rebase, fx, zx)
        zy = np.where(rebase, fy, zy)
        m = np.where(rebase, 0, m)
        zn = np.where(rebase, np.abs(zx) + np.abs(zy), zn)
        counters[st.REBASES] += int(rebase.sum())
        if der is not None:
            live &= ~_interior_exits(der, live & (checkpoints[m] != 0), pixel, out)
        row, level = _bla_rows(starts, radius, m, live, partial(_below, zn, radius))
        bla = level > 0
        rows = np.maximum(row, 0)
        if coeffs.size:
            ax, ay, bx, by = (coeffs[rows, i] for i in range(4))
        else:
            ax = ay = bx = by = np.zeros(m.size)
        bzx = (ax * zx - ay * zy) + (bx * cx - by * cy)
        bzy = (ax * zy + ay * zx) + (bx * cy + by * cx)
        pzx, pzy = _perturbed(zxr, zyr, m, zx, zy, cx, cy)
        perturb = live & ~bla
        zx = np.where(bla, bzx, np.where(perturb, pzx, zx))
        zy = np.where(bla, bzy, np.where(perturb, pzy, zy))
        m, n = _advance(bla, perturb, level, m, n, counters)
        alive = _after_step(out, der, pixel, live, bla, n,
                            (np.where(bla, ax, fx + fx), np.where(bla, ay, fy + fy), 0))
        alive, (pixel, zx, zy, m, n, cx, cy) = _compacted(alive, der,
                                                         (pixel, zx, zy, m, n, cx, cy))


def _tile_wide(reference, dcx, dcy, out: _Out) -> None:
    orbit, table = reference.orbit, reference.table
    zxr, zyr, length = orbit.zx, orbit.zy, orbit.length
    wzx, wzy, wze = orbit.wide
    starts, radius, radius_wide, radius_exp = (table.starts, table.radius, table.radius_wide,
                                               table.radius_exp)
    coeffs, coeff_exps = table.coeffs, table.coeff_exps
    checkpoints = reference.checkpoints
    (mx, ex), (my, ey) = dcx, dcy
    mx, ex = np.tile(mx, my.size), np.tile(ex, my.size)
    my, ey = np.repeat(my, dcx[0].size), np.repeat(ey, dcx[0].size)
    ce = np.maximum(ex, ey)
    cxw, cyw, cew = wide.normalise_array(wide.shift_array(mx, ex - ce),
                                         wide.shift_array(my, ey - ce), ce)
    cxd, cyd = wide.to_float_array(cxw, cew), wide.to_float_array(cyw, cew)
    pixel = np.arange(cxw.size)
    zx, zy, ze = cxw.copy(), cyw.copy(), cew.copy()
    is_wide = np.ones(cxw.size, dtype=bool)
    m = np.ones(cxw.size, dtype=np.int64)
    n = np.ones(cxw.size, dtype=np.int64)
    counters = out.counters
    counters[st.PERTURBATION_STEPS] += cxw.size
    der = _Derivative(cxw.size) if reference.interior else None
    alive = np.ones(cxw.size, dtype=bool)
    zero = np.zeros(cxw.size, dtype=np.int64)
    while pixel.size:
        zrx = zxr[m]
        zry = zyr[m]
        fx = zrx + np.where(is_wide, wide.to_float_array(zx, ze), zx)
        fy = zry + np.where(is_wide, wide.to_float_array(zy, ze), zy)
        live = out.escape_test(alive, pixel, n, fx, fy, cxd, cyd)
        # rebase, wide lanes: only where the reference is tiny (or at its end)
        end = m == length
        maybe = live & is_wide & (end | (np.abs(zrx) + np.abs(zry) < TINY_Z))
        fwx, fwy, fwe = wide.add_array(wzx[m], wzy[m], wze[m], zx, zy, ze)
        zr, _, zre = wide.normalise_array(np.abs(zx) + np.abs(zy), np.zeros(zx.size),
                                          np.where(is_wide, ze, 0))
        wide_rebase = maybe & (end | wide.l1_less_array(fwx, fwy, fwe, zr, zre))
        to_plain = wide_rebase & (fwe > WIDE_LIMIT_EXP)
        zx = np.where(wide_rebase, np.where(to_plain, wide.to_float_array(fwx, fwe), fwx), zx)
        zy = np.where(wide_rebase, np.where(to_plain, wide.to_float_array(fwy, fwe), fwy), zy)
        ze = np.where(wide_rebase, fwe, ze)
        # rebase, plain lanes
        plain_rebase = live & ~is_wide & ~wide_rebase & (
            (np.abs(fx) + np.abs(fy) < np.abs(zx) + np.abs(zy)) | end)
        small = np.abs(fx) + np.abs(fy) < WIDE_LIMIT
        sx, sy, se = wide.normalise_array(fx, fy, zero)
        to_wide = plain_rebase & small
        zx = np.where(plain_rebase, np.where(small, sx, fx), zx)
        zy = np.where(plain_rebase, np.where(small, sy, fy), zy)
        ze = np.where(to_wide, se, ze)
        is_wide = (is_wide & ~to_plain) | to_wide
        rebase = wide_rebase | plain_rebase
        m = np.where(rebase, 0, m)
        counters[st.REBASES] += int(rebase.sum())
        if der is not None:
            live &= ~_interior_exits(der, live & (checkpoints[m] != 0), pixel, out)
        # BLA: wide lanes compare wide radii, plain lanes the double radii (as the loop)
        zn = np.abs(zx) + np.abs(zy)
        zr, _, zre = wide.normalise_array(zn, np.zeros(zx.size), ze)
        row, level = _bla_rows(starts, radius, m, live, partial(
            _below_either, is_wide, zn, zr, zre, radius, radius_wide, radius_exp))
        bla = level > 0
        rows = np.maximum(row, 0)
        if coeffs.size:
            ax, ay, bx, by = (coeffs[rows, i] for i in range(4))
            ae, be = coeff_exps[rows, 0], coeff_exps[rows, 1]
        else:
            ax = ay = bx = by = np.zeros(m.size)
            ae = be = zero
        nx, ny, ne = wide.normalise_array(zx, zy, zero)
        wx, wy, we = (np.where(is_wide, zx, nx), np.where(is_wide, zy, ny),
                      np.where(is_wide, ze, ne))
        bzx, bzy, bze = wide.add_array(*wide.mul_array(ax, ay, ae, wx, wy, we),
                                       *wide.mul_array(bx, by, be, cxw, cyw, cew))
        bla_wide = bze <= WIDE_LIMIT_EXP
        bzx = np.where(bla_wide, bzx, wide.to_float_array(bzx, bze))
        bzy = np.where(bla_wide, bzy, wide.to_float_array(bzy, bze))
        # perturbation, wide lanes
        a = wide.add_array(wzx[m], wzy[m], wze[m] + 1, zx, zy, ze)
        wzx_, wzy_, wze_ = wide.add_array(*wide.mul_array(*a, zx, zy, ze), cxw, cyw, cew)
        w_stays = wze_ <= WIDE_LIMIT_EXP
        wzx_ = np.where(w_stays, wzx_, wide.to_float_array(wzx_, wze_))
        wzy_ = np.where(w_stays, wzy_, wide.to_float_array(wzy_, wze_))
        # perturbation, plain lanes
        pzx, pzy = _perturbed(zxr, zyr, m, zx, zy, cxd, cyd)
        p_small = np.abs(pzx) + np.abs(pzy) < WIDE_LIMIT
        qx, qy, qe = wide.normalise_array(pzx, pzy, zero)
        pzx, pzy = np.where(p_small, qx, pzx), np.where(p_small, qy, pzy)
        perturb = live & ~bla
        new_x = np.where(is_wide, wzx_, pzx)
        new_y = np.where(is_wide, wzy_, pzy)
        new_e = np.where(is_wide, wze_, qe)
        new_wide = np.where(is_wide, w_stays, p_small)
        zx = np.where(bla, bzx, np.where(perturb, new_x, zx))
        zy = np.where(bla, bzy, np.where(perturb, new_y, zy))
        ze = np.where(bla, bze, np.where(perturb, new_e, ze))
        counters[st.WIDE_STEPS] += int(bla.sum()) + int((perturb & is_wide).sum())
        is_wide = np.where(bla, bla_wide, np.where(perturb, new_wide, is_wide))
        m, n = _advance(bla, perturb, level, m, n, counters)
        alive = _after_step(out, der, pixel, live, bla, n,
                            (np.where(bla, ax, fx + fx), np.where(bla, ay, fy + fy),
                             np.where(bla, ae, 0)))
        alive, lanes = _compacted(alive, der, (pixel, zx, zy, ze, is_wide, m, n, cxw, cyw, cew,
                                               cxd, cyd, zero))
        pixel, zx, zy, ze, is_wide, m, n, cxw, cyw, cew, cxd, cyd, zero = lanes

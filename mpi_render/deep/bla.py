"""Bilinear approximation (BLA): a table of steps ``z_{m+l} = A z_m + B dc``, valid while ``|z_m| < R``.

One perturbation step from reference index m is ``z' = 2 Z_m z + z^2 + dc``. Where ``|z|`` is
small beside ``|Z_m|``, the ``z^2`` term is below the rounding of the rest and the step is
linear in ``(z, dc)``: ``A = 2 Z_m``, ``B = 1``. Linear steps compose (x then y):
``A = A_y A_x``, ``B = A_y B_x + B_y``, so a pixel can skip ``l = 2**k`` iterations with four
complex multiplications. Radii (Euclidean norms, ``c`` = the largest ``|dc|`` of the image,
:func:`.geometry.max_offset`):

* single step, **linearity**: the neglected ``|z|^2`` is at most ``EPSILON * |A z|`` when
  ``|z| <= EPSILON * |A|``;
* single step, **no escape**: the step must land strictly inside radius 2, so that a BLA step
  never skips over, or lands on, the escape iteration:
  ``|Z_{m+1}| + (1 + EPSILON) |A| |z| + c <= 2`` (with a 2**-40 relative safety margin on
  ``2 - |Z_{m+1}|`` for the rounding of these doubles). The Flake's reference sits near
  ``|Z| ~ 2`` for thousands of iterations with margins ~1e-5, and tiny deltas still fit;
* merged: ``R = min(R_x, (R_y - |B_x| c) / |A_x|)``, so every constituent step's condition
  holds at its own start (the linear model bounds ``|z|`` there).

``R = max(0, min(linearity, no escape))``. **EPSILON = 2**-48**: the neglected term of a
skipped step is at most 32 units in the last place of the step's own size, so a BLA step is
within a few dozen roundings of the plain perturbation step it replaces. Why not larger: what
BLA's error does to a count is what moving the pixel by ``~ steps * EPSILON * |dc|`` does, and
in chaotic views some pixels' counts change when they move by 1e-9 of a pitch. On the hardest
view measured (the seahorse valley's famous point at 1e-20, 20,000 iterations, 1,200 pixels
against the MPFR brute force) 2**-40 missed 9, 2**-44 3, 2**-48 2, plain perturbation without
BLA 1: at 2**-48 BLA adds nothing measurable to the floor that double deltas set. Why not
smaller: on the Flake each halving of EPSILON costs about 4 % more steps (2**-53: 625 steps a
pixel, 2**-48: 521, 2**-40: 376), and no pixel of the Flake changes between 2**-53 and 2**-40
(docs/PERFORMANCE.md, "Deep views").

The table has levels ``k = 1 .. L`` (level 0, a single step, costs the same as a perturbation
step and is not stored): level k holds ``(length - 1) >> k`` entries, entry i starting at
``m = 1 + i * 2**k`` (``m = 0``, just after a rebase, has ``A = 0``: no BLA). A pixel at ``m``
may use level k when ``(m - 1)`` is a multiple of ``2**k``; radii shrink with k, so the kernels
try levels upwards and stop at the first that fails. Rows are stored by start (:class:`Table`).

It is built once per view (it depends on ``c``, so it is the same for every tile of a run), by
this one implementation, in numpy, vectorised per level, entirely in the wide form of
:mod:`.wide` (so products like ``|A|`` of thousands of steps neither overflow nor underflow),
and then rounded to doubles for plain views. Entries with ``R = 0`` get ``A = B = 0`` (never
used; it keeps infinities out of later merges). Deterministic: only IEEE operations and
``sqrt``, elementwise, no reductions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import wide

EPSILON_LOG2 = -48
SAFETY = 1.0 - 2.0**-40  # relative margin on 2 - |Z_{m+1}| (rounding of the doubles)


@dataclass(frozen=True)
class Table:
    """A BLA table in **start-major** order: the rows of one start ``m`` are contiguous, level 1
    first, so a pixel's upward search reads one or two cache lines of radii.

    Attributes:
        starts: int64 ``(length,)``: the rows of start ``m = j + 1`` are
            ``starts[j] .. starts[j + 1] - 1`` (levels 1, 2, ...), ``j = 0 .. length - 2``
            (``m = length`` always rebases first).
        radius: float64 ``(rows,)``: R rounded to a double (0 where it underflows). Exact for
            every R a plain double ``|z|_1`` can be below, so plain-mode lanes of wide views
            compare with it too.
        coeffs: float64 ``(rows, 4)``: ``Ax, Ay, Bx, By`` (doubles in plain views, normalised
            wide mantissas in wide views).
        radius_wide: float64 ``(rows,)`` wide mantissas of R (wide views), else None.
        radius_exp: int64 ``(rows,)`` their exponents (wide views), else None.
        coeff_exps: int64 ``(rows, 2)`` exponents of A and B (wide views), else None.
    """

    starts: np.ndarray
    radius: np.ndarray
    coeffs: np.ndarray
    radius_wide: np.ndarray | None = None
    radius_exp: np.ndarray | None = None
    coeff_exps: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return int(self.radius.size)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name (for sharing between ranks)."""
        named = {"bla_starts": self.starts, "bla_radius": self.radius, "bla_coeffs": self.coeffs}
        if self.radius_wide is not None:
            named.update(bla_radius_wide=self.radius_wide, bla_radius_exp=self.radius_exp,
                         bla_coeff_exps=self.coeff_exps)
        return named

    @classmethod
    def from_arrays(cls, named: dict[str, np.ndarray]) -> Table:
        """The inverse of :meth:`arrays`."""
        return cls(named["bla_starts"], named["bla_radius"], named["bla_coeffs"],
                   named.get("bla_radius_wide"), named.get("bla_radius_exp"),
                   named.get("bla_coeff_exps"))


def _real_normalise(r, e):
    k = np.frexp(r)[1].astype(np.int64)
    return np.ldexp(r, -k), np.where(r == 0.0, np.int64(wide.ZERO_EXP), e + k)


def _abs(x, y, e):
    """``|x + iy| 2**e`` as a normalised wide real (the mantissa's norm lies in [0.5, sqrt 2))."""
    return _real_normalise(np.sqrt(x * x + y * y), e)


def _real_min(ar, ae, br, be):
    """The smaller of two non-negative normalised wide reals."""
    a_less = (ae < be) | ((ae == be) & (ar < br))
    return np.where(a_less, ar, br), np.where(a_less, ae, be)


def _real_sub_div(yr, ye, sr, se, dr, de):
    """``max(0, (y - s) / d)`` of normalised wide reals (``y, s >= 0``, ``d > 0``)."""
    top = np.maximum(ye, se)
    diff = wide.shift_array(yr, ye - top) - wide.shift_array(sr, se - top)
    diff = np.maximum(diff, 0.0)
    safe_d = np.where(dr > 0.0, dr, 1.0)
    return _real_normalise(np.where(dr > 0.0, diff / safe_d, 0.0), top - de)


def _single_steps(wz, zx, zy, cmax):
    """Level 0 for ``m = 1 .. length - 1``: ``(ax, ay, ae, bx, by, be, r, re)`` arrays."""
    wzx, wzy, wze = (a[1:-1] for a in wz)
    n = wzx.size
    ae = np.where(wze == wide.ZERO_EXP, wze, wze + 1)  # A = 2 Z_m
    bx, by, be = np.full(n, 0.5), np.zeros(n), np.ones(n, dtype=np.int64)  # B = 1
    norm_r, norm_e = _abs(wzx, wzy, ae)
    lin_r, lin_e = norm_r, np.where(norm_r == 0.0, norm_e, norm_e + EPSILON_LOG2)
    # no escape: |z| <= (SAFETY (2 - |Z_{m+1}|) - c) / ((1 + eps) |A|)
    next_abs = np.sqrt(zx[2:] * zx[2:] + zy[2:] * zy[2:])
    margin = (2.0 - next_abs) * SAFETY
    m_r, m_e = _real_normalise(np.maximum(margin, 0.0), np.zeros(n, dtype=np.int64))
    c_r, c_e = np.full(n, cmax[0]), np.full(n, cmax[1], dtype=np.int64)
    grow_r = norm_r * (1.0 + 2.0**EPSILON_LOG2)
    esc_r, esc_e = _real_sub_div(m_r, m_e, c_r, c_e, grow_r, norm_e)
    r, re = _real_min(lin_r, lin_e, esc_r, esc_e)
    return wzx, wzy, ae, bx, by, be, r, re


def _merge(level, cmax):
    """The next level: entry j merges entries 2j (x, first) and 2j + 1 (y, second)."""
    n = level[0].size // 2
    x = [a[0:2 * n:2] for a in level]
    y = [a[1:2 * n:2] for a in level]
    ax, ay, ae = wide.mul_array(y[0], y[1], y[2], x[0], x[1], x[2])
    px, py, pe = wide.mul_array(y[0], y[1], y[2], x[3], x[4], x[5])
    bx, by, be = wide.add_array(px, py, pe, y[3], y[4], y[5])
    bnorm_r, bnorm_e = _abs(x[3], x[4], x[5])
    s_r, s_e = _real_normalise(bnorm_r * cmax[0], bnorm_e + cmax[1])
    anorm_r, anorm_e = _abs(x[0], x[1], x[2])
    q_r, q_e = _real_sub_div(y[6], y[7], s_r, s_e, anorm_r, anorm_e)
    r, re = _real_min(x[6], x[7], q_r, q_e)
    return _clear_invalid(ax, ay, ae, bx, by, be, r, re)


def _clear_invalid(ax, ay, ae, bx, by, be, r, re):
    """Entries with ``R = 0`` get ``A = B = 0`` (module docstring)."""
    dead = r == 0.0
    zero = np.int64(wide.ZERO_EXP)
    return (np.where(dead, 0.0, ax), np.where(dead, 0.0, ay), np.where(dead, zero, ae),
            np.where(dead, 0.0, bx), np.where(dead, 0.0, by), np.where(dead, zero, be),
            r, np.where(dead, zero, re))


def build_table(zx: np.ndarray, zy: np.ndarray, wz, cmax: tuple[float, int],
                wide_view: bool) -> Table:
    """The BLA table of an orbit (module docstring).

    Args:
        zx, zy: the orbit's doubles ``Z_0 .. Z_length``.
        wz: its normalised wide form ``(wzx, wzy, wze)``, or None to derive it from the
            doubles (``frexp``, exact).
        cmax: the largest ``|dc|`` of the image as a normalised wide real ``(mantissa, exp)``.
        wide_view: keep the wide form (else the coefficients are rounded to doubles).

    Returns:
        The :class:`Table` (levels 1 and up; empty when the orbit is shorter than 4).
    """
    with np.errstate(all="ignore"):
        if wz is None:
            wz = wide.normalise_array(zx, zy, np.zeros(zx.size, dtype=np.int64))
        current = _clear_invalid(*_single_steps(wz, zx, zy, cmax)) if zx.size > 2 else None
        levels = []
        while current is not None and current[0].size >= 2:
            current = _merge(current, cmax)
            levels.append(current)
        return _start_major(levels, max(zx.size - 2, 0), wide_view)


def _start_major(levels, n_starts: int, wide_view: bool) -> Table:
    """Reorder level-major rows (level k, index i: start ``j = i << k``) by start, then level."""
    n_levels = len(levels)
    per_start = np.zeros(n_starts, dtype=np.int64)
    for k, level in enumerate(levels, start=1):
        per_start[np.arange(level[0].size) << k] += 1
    starts = np.zeros(n_starts + 1, dtype=np.int64)
    np.cumsum(per_start, out=starts[1:])
    position = [starts[np.arange(level[0].size) << k] + (k - 1)
                for k, level in enumerate(levels, start=1)]
    rows = int(per_start.sum())
    cols = []
    for c in range(8):
        out = np.zeros(rows, dtype=np.int64 if c in (2, 5, 7) else np.float64)
        for k in range(n_levels):
            out[position[k]] = levels[k][c]
        cols.append(out)
    ax, ay, ae, bx, by, be, r, re = cols
    radius = wide.to_float_array(r, re)
    if wide_view:
        return Table(starts, radius, np.ascontiguousarray(np.stack([ax, ay, bx, by], axis=1)),
                     r, re, np.ascontiguousarray(np.stack([ae, be], axis=1)))
    coeffs = np.stack([wide.to_float_array(ax, ae), wide.to_float_array(ay, ae),
                       wide.to_float_array(bx, be), wide.to_float_array(by, be)], axis=1)
    # Coefficients at or beyond 2**900 never belong to a step a plain-view pixel can take
    # (|z| would have to lie below ~2**-939); dropping them keeps every product of a
    # coefficient with a derivative or a delta finite.
    huge = (np.abs(coeffs) >= 2.0**900).any(axis=1)
    radius[huge] = 0.0
    coeffs[huge] = 0.0
    return Table(starts, radius, np.ascontiguousarray(coeffs))

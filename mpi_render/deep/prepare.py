"""``prepare()``: everything a deep view needs once per run (reference orbit + BLA table).

A :class:`Reference` is computed once per site job (rank 0) and shared with the ranks: it is a
few numpy arrays plus a small JSON-able dict (:meth:`Reference.to_arrays`,
:meth:`Reference.from_arrays`). It is deterministic: the same view, image size and ``max_iter``
give the same arrays bit for bit on any machine (MPFR rounds correctly; the table is built by
one numpy implementation of IEEE operations and ``sqrt``), so a tile is the same bytes whichever
site renders it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..view import View
from . import bla, geometry
from .orbit import Orbit, Progress, reference_orbit

WIDE_ARRAYS = ("wzx", "wzy", "wze")


@dataclass(frozen=True, eq=False)
class Reference:
    """The per-view data of perturbation.

    Attributes:
        view, image_px, max_iter: what it was prepared for.
        prec: MPFR precision of the orbit (bits).
        orbit: the reference orbit (:class:`.orbit.Orbit`).
        table: the BLA table (:class:`.bla.Table`).
        wide: whether the view needs the wide-exponent form (:func:`.geometry.is_wide`).
        interior: whether the kernels run interior detection (:func:`interior_detection`).
        checkpoints: uint8 ``(length + 1,)``: where interior detection samples its derivative
            (:func:`checkpoints`); ``[1]`` when interior detection is off.
        seconds: ``{"orbit": s, "bla": s}`` wall time of the two phases on the machine that
            prepared it.
    """

    view: View
    image_px: int
    max_iter: int
    prec: int
    orbit: Orbit
    table: bla.Table
    wide: bool
    interior: bool
    checkpoints: np.ndarray
    seconds: dict = field(default_factory=dict)
    offsets_cache: dict = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        """Bytes of every array (what a rank holds, and what is sent to it)."""
        return sum(a.nbytes for a in self.to_arrays()[1].values())

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(meta, arrays)``: a JSON-able dict and named contiguous numpy arrays, for
        ``comm.bcast(meta)`` + ``comm.Bcast(array)`` (or shared memory)."""
        orbit = self.orbit
        meta = {"view": self.view.json(), "image_px": self.image_px, "max_iter": self.max_iter,
                "prec": self.prec, "length": orbit.length, "escaped": orbit.escaped,
                "point": [[str(v.numerator), str(v.denominator)] for v in orbit.point],
                "wide": self.wide, "interior": self.interior, "seconds": dict(self.seconds)}
        arrays = {"zx": orbit.zx, "zy": orbit.zy, "checkpoints": self.checkpoints,
                  **self.table.arrays()}
        if orbit.wide is not None:
            arrays.update(zip(WIDE_ARRAYS, orbit.wide))
        meta["arrays"] = {name: [str(a.dtype), list(a.shape)] for name, a in arrays.items()}
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray]) -> Reference:
        """The inverse of :meth:`to_arrays` (the arrays are used as given, not copied).

        Raises:
            ValueError: an array is missing or has the wrong dtype or shape.
        """
        for name, (dtype, shape) in meta["arrays"].items():
            array = arrays.get(name)
            if array is None or str(array.dtype) != dtype or list(array.shape) != shape:
                raise ValueError(f"reference array {name!r} must be {dtype} {shape}")
        view = View(**meta["view"])
        point = tuple(Fraction(int(n), int(d)) for n, d in meta["point"])
        wide_form = tuple(arrays[name] for name in WIDE_ARRAYS) if meta["wide"] else None
        orbit = Orbit(point=point, zx=arrays["zx"], zy=arrays["zy"], length=meta["length"],
                      escaped=meta["escaped"], wide=wide_form)
        return cls(view=view, image_px=meta["image_px"], max_iter=meta["max_iter"],
                   prec=meta["prec"], orbit=orbit, table=bla.Table.from_arrays(arrays),
                   wide=meta["wide"], interior=meta["interior"],
                   checkpoints=arrays["checkpoints"], seconds=dict(meta["seconds"]))


INTERIOR_MIN_PERIODS = 200  # interior detection pays from ~200 periods of max_iter on


def interior_detection(orbit: Orbit, max_iter: int, period: int) -> bool:
    """Whether a view gets interior detection (docs/PERFORMANCE.md, "Deep views"): when its
    reference does not escape but settles on an *attracting* cycle (the centre lies inside a
    minibrot), and ``max_iter`` spans at least ``INTERIOR_MIN_PERIODS`` periods of it.
    ``period``: the orbit's :func:`reference_period` (not looked at when the orbit escaped).

    Measured on the period-199 minibrot: the derivative costs ~1.5x per step, and BLA already
    makes an inside pixel cheap (a few steps a period), so detection lost at 100 periods
    (0.84x), won 1.6x at 250 and 3.3x at 1,000. A reference that stays bounded on a repelling
    cycle (a Misiurewicz point, on the boundary: no interior around it) gets none.
    """
    if orbit.escaped:
        return False
    if period == 0 or max_iter < INTERIOR_MIN_PERIODS * period:
        return False
    return cycle_attracts(orbit.zx, orbit.zy, period)


def cycle_attracts(zx: np.ndarray, zy: np.ndarray, period: int) -> bool:
    """Whether ``|prod 2 Z_k| < 1`` over the last ``period`` values of the orbit (the cycle's
    multiplier), rescaled with frexp so it neither overflows nor underflows (IEEE operations
    and a correctly rounded sqrt: the same answer on every machine).

    >>> cycle_attracts(np.array([0.0, -1.0, 0.0, -1.0]), np.zeros(4), 2)  # 0 -> -1 -> 0
    True
    """
    product, exponent = 1.0, 0
    for k in range(zx.size - period, zx.size):
        x, y = float(zx[k]), float(zy[k])
        product *= 2.0 * math.sqrt(x * x + y * y)
        if product == 0.0:
            return True
        mantissa, shift = math.frexp(product)
        product, exponent = mantissa, exponent + shift
    return exponent <= 0


PERIOD_TOLERANCE = 2.0**-30  # relative: the end of the orbit repeats to 30 bits
PERIOD_BLOCK = 1024  # candidates are checked backwards in blocks of this many iterations


def reference_period(zx: np.ndarray, zy: np.ndarray) -> int:
    """The period of the cycle a non-escaping reference orbit has settled on, or 0.

    The smallest ``p <= length / 2`` with ``|Z_k - Z_{k-p}|_1 <= 2**-30 (|Z_k|_1 + 2**-1000)``
    for every k of the second half of the orbit. The whole half, not just the last few
    iterations: an orbit can linger for hundreds of iterations near a repelling fixed point of
    its cycle (then ``p = 1`` matches locally); checking backwards in blocks rejects such
    candidates within a block or two.

    >>> reference_period(np.array([0.0, 1.0] + [0.5, -0.5] * 11), np.zeros(24))
    2
    """
    size = zx.size
    half = size // 2
    if half < 2:
        return 0
    norm = np.abs(zx) + np.abs(zy)
    bound = PERIOD_TOLERANCE * (norm + 2.0**-1000)
    last = size - 1
    lags = np.arange(1, half + 1)
    close = np.abs(zx[last] - zx[last - lags]) + np.abs(zy[last] - zy[last - lags]) <= bound[last]
    for period in lags[close]:
        k = np.arange(last, max(half, period) - 1, -1)
        if all((np.abs(zx[block] - zx[block - period]) + np.abs(zy[block] - zy[block - period])
                <= bound[block]).all() for block in np.array_split(k, max(1, k.size // PERIOD_BLOCK))):
            return int(period)
    return 0


def checkpoints(size: int, period: int) -> np.ndarray:
    """uint8 flags of the ``size`` reference indices where interior detection samples
    (:mod:`.loop`): 0 (every rebase restarts there) and the multiples of ``period``, the
    orbit's :func:`reference_period` (where a reference in a minibrot passes closest to 0, once
    a period); 0 alone when ``period`` is 0.

    >>> checkpoints(24, 2)[:7].tolist()
    [1, 0, 1, 0, 1, 0, 1]
    """
    flags = np.zeros(size, dtype=np.uint8)
    flags[:: period if period else size] = 1
    return flags


def prepare(view: View, image_px: int, max_iter: int, progress: Progress | None = None,
            interior: bool | None = None) -> Reference:
    """The reference orbit at the view centre and its BLA table.

    Args:
        view: the view (exact decimals).
        image_px: pixels per side of the whole image (``grid * tile_px``).
        max_iter: iteration cap (1 .. 100,000,000).
        progress: ``progress(done_iterations, max_iter)`` while the orbit runs, at most every
            0.25 s (long orbits only).
        interior: force interior detection on or off (default: :func:`interior_detection`).

    Returns:
        The :class:`Reference`.

    Raises:
        ValueError: ``image_px`` or ``max_iter`` out of range.
    """
    for name, value, top in (("image_px", image_px, 1 << 17), ("max_iter", max_iter, 100_000_000)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise ValueError(f"{name} must be an integer in 1..{top}, got {value!r}")
    wide_view = geometry.is_wide(view)
    prec = geometry.precision_bits(view, image_px)
    start = time.perf_counter()
    orbit = reference_orbit(view.exact[:2], prec, max_iter, with_wide=wide_view,
                            progress=progress)
    built = time.perf_counter()
    cmax = geometry.round_wide(geometry.max_offset(view, orbit.point))
    table = bla.build_table(orbit.zx, orbit.zy, orbit.wide, cmax, wide_view)
    done = time.perf_counter()
    # the period decides interior detection and places its checkpoints: found once, and only
    # where one of them needs it
    needs_period = interior or (interior is None and not orbit.escaped)
    period = reference_period(orbit.zx, orbit.zy) if needs_period else 0
    if interior is None:
        interior = interior_detection(orbit, max_iter, period)
    flags = checkpoints(orbit.zx.size, period) if interior else np.ones(1, dtype=np.uint8)
    return Reference(view=view, image_px=image_px, max_iter=max_iter, prec=prec, orbit=orbit,
                     table=table, wide=wide_view, interior=bool(interior), checkpoints=flags,
                     seconds={"orbit": built - start, "bla": done - built})

"""Exact pixel geometry of a deep view, the precision it needs and the kernel line.

Pixel ``(i, j)`` (column, row) of tile ``(row, col)`` of an ``N x N`` grid of ``P``-pixel tiles
sits at (DESIGN.md, "Deep views")::

    cr = cx - w/2 + (col*P + i + 0.5) * w/(N*P),   ci = cy + w/2 - (row*P + j + 0.5) * w/(N*P)

exactly (:class:`~fractions.Fraction`). Perturbation iterates each pixel's offset
``dc = c - C_ref`` from the reference point ``C_ref`` (the view centre rounded to the reference
orbit's precision, an exact binary fraction). The offsets are separable: ``dc_re`` depends on the
column only, ``dc_im`` on the row only, so a tile needs ``2 * P`` exact offsets, each rounded once,
here, to the delta type the kernels use, and every backend starts from the same bits:

* **plain** views (width >= :data:`WIDE_BELOW`): a double, correctly rounded;
* **wide** views: a double mantissa in ``[0.5, 1)`` and an integer exponent
  (``value = mantissa * 2**exponent``), the mantissa correctly rounded.

**The line** between the double kernel and perturbation (:func:`needs_perturbation`): the double
kernel is used while the pixel pitch is at least ``2**-LINE_BITS`` of the largest coordinate
magnitude of the image, ``max(|cx| + w/2, |cy| + w/2, 1)``, with ``LINE_BITS = 24``: one pixel
step then spans at least ``2**29`` units in the last place of every coordinate. The brief
suggested 40 bits (4096 ulps a pixel step), where the double pixel grid is still exact enough,
but the double *orbit* is not: rounding errors of ``|c|``'s size grow chaotically over long
orbits, and against the MPFR brute force (400 sampled pixels, 20,000 iterations, seahorse valley)
the double kernel agrees on 99.25 % at width 1e-4, 98.5 % at 3e-6, 91-97 % at 1e-7..1e-9 (the
2**-40 line is at ~1e-9 for 1024 pixels), while perturbation (deltas relative to the reference,
so errors scale with the offset, not with ``|c|``) agrees on 99.75-100 % at every one of these
widths (docs/PERFORMANCE.md, "Deep views"). At 2**-24 the double kernel met the 99 % contract in
every view measured. The floor of 1 in the magnitude keeps views around 0 on the same absolute
scale. :func:`choose_kernel` applies the rule or a forced choice.
"""
from __future__ import annotations

from fractions import Fraction

from ..view import View

LINE_BITS = 24  # the double kernel while pitch >= 2**-24 * coordinate magnitude
# Below this width the deltas (and BLA coefficients) leave the double's exponent range: the
# smallest offset of a 2**17-pixel image is then below 2**-997, near the smallest normal double
# (2**-1022), and BLA's B coefficients (up to ~1/|dc|) near the largest.
WIDE_BELOW = Fraction(1, 2**980)  # about 9.8e-296
GUARD_BITS = 64  # reference precision beyond the pixel pitch (see precision_bits)


def magnitude(view: View) -> Fraction:
    """``max(|cx| + w/2, |cy| + w/2, 1)``: the largest coordinate magnitude of the image."""
    cx, cy, width = view.exact
    return max(abs(cx) + width / 2, abs(cy) + width / 2, Fraction(1))


def needs_perturbation(view: View, image_px: int) -> bool:
    """True when the view is below the line (module docstring): perturbation, not double.

    >>> needs_perturbation(View(-0.75, 0.0, 3.0), 1024)
    False
    >>> needs_perturbation(View("-0.75", "0.1", "1e-5"), 1024)
    True
    """
    return view.pitch(image_px) * 2**LINE_BITS < magnitude(view)


KERNELS = ("auto", "double", "perturbation")


def check_kernel(kernel: str) -> None:
    """Raises ValueError unless ``kernel`` is one of :data:`KERNELS`."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")


def choose_kernel(view: View, image_px: int, kernel: str = "auto") -> str:
    """``"double"`` or ``"perturbation"``: by the line (``kernel="auto"``) or as forced.

    >>> choose_kernel(View(-0.75, 0.0, 3.0), 1024), choose_kernel(View(-0.75, 0.0, 3.0), 1024, "perturbation")
    ('double', 'perturbation')

    Raises:
        ValueError: ``kernel`` is not one of auto, double, perturbation.
    """
    check_kernel(kernel)
    if kernel != "auto":
        return kernel
    return "perturbation" if needs_perturbation(view, image_px) else "double"


def is_wide(view: View) -> bool:
    """True when deltas need the wide-exponent form (width below :data:`WIDE_BELOW`)."""
    return view.exact[2] < WIDE_BELOW


def floor_log2(value: Fraction) -> int:
    """``floor(log2(|value|))`` of a non-zero fraction, exactly.

    >>> floor_log2(Fraction(3, 8)), floor_log2(Fraction(1, 4)), floor_log2(Fraction(5))
    (-2, -2, 2)
    """
    return _floor_log2_ratio(abs(value.numerator), value.denominator)


def precision_bits(view: View, image_px: int) -> int:
    """MPFR precision (bits) of the reference orbit of ``view`` at ``image_px`` pixels per side.

    ``log2(magnitude / pitch)`` bits place the pixel grid exactly; :data:`GUARD_BITS` = 64 more
    keep the reference's own rounding far below a pixel: the reference point is the centre
    rounded to this precision (an error of ``2**-64`` pitch), and a rounding error made at
    iteration k of the orbit acts, at every later iteration, like a shift of C of about
    ``2**-prec |Z_k| / |dZ_k/dC|``, which summed over up to 10**8 (< 2**27) iterations stays
    below ``2**-30`` of a pitch. At least 64 bits.
    """
    bits = floor_log2(magnitude(view) / view.pitch(image_px)) + 1
    return max(64, bits + GUARD_BITS)


def round_wide(value: Fraction) -> tuple[float, int]:
    """:func:`round_ratio_wide` of a fraction (see there).

    >>> round_wide(Fraction(3, 8)), round_wide(Fraction(-1, 2**2000))
    ((0.75, -1), (-0.5, -1999))
    """
    return round_ratio_wide(value.numerator, value.denominator)


def round_ratio_wide(num: int, den: int) -> tuple[float, int]:
    """``(mantissa, exponent)`` with ``num / den ~ mantissa * 2**exponent`` (``den > 0``),
    ``0.5 <= |mantissa| < 1`` correctly rounded (``(0.0, 0)`` for 0; a mantissa that rounds
    up to 1 is renormalised). Integer arithmetic only: CPython's int / int is correctly rounded.

    >>> round_ratio_wide(3, 8), round_ratio_wide(-5, 3)
    ((0.75, -1), (-0.8333333333333334, 1))
    """
    if num == 0:
        return 0.0, 0
    exponent = _floor_log2_ratio(abs(num), den) + 1
    mantissa = num / (den << exponent) if exponent >= 0 else (num << -exponent) / den
    if abs(mantissa) == 1.0:
        mantissa, exponent = mantissa / 2, exponent + 1
    return mantissa, exponent


def _floor_log2_ratio(num: int, den: int) -> int:
    """``floor(log2(num / den))`` for positive integers, exactly."""
    guess = num.bit_length() - den.bit_length()
    if (num << max(0, -guess)) < (den << max(0, guess)):
        guess -= 1
    return guess


def tile_offsets(view: View, grid: int, tile_px: int, row: int, col: int,
                 reference_point: tuple[Fraction, Fraction]) -> tuple[list[Fraction], list[Fraction]]:
    """Exact offsets ``(dc_re per column, dc_im per row)`` of tile ``(row, col)`` from
    ``reference_point`` (module docstring's geometry; row 0 at the top)."""
    cx, cy, width = view.exact
    step = width / (grid * tile_px)
    left = cx - width / 2 - reference_point[0]
    top = cy + width / 2 - reference_point[1]
    dc_re = [left + (col * tile_px + i + Fraction(1, 2)) * step for i in range(tile_px)]
    dc_im = [top - (row * tile_px + j + Fraction(1, 2)) * step for j in range(tile_px)]
    return dc_re, dc_im


def rounded_offsets(view: View, grid: int, tile_px: int, row: int, col: int,
                    reference_point: tuple[Fraction, Fraction], wide_view: bool):
    """:func:`tile_offsets` rounded once to the delta type, without building fractions: every
    offset is ``(base + (2k + 1) * half_step) / den`` over one common denominator, an integer
    multiply-add and one correctly rounded int / int (or :func:`round_ratio_wide`).

    Returns:
        ``(dc_re, dc_im)``: lists of doubles, or of ``(mantissa, exponent)`` pairs when
        ``wide_view``.
    """
    cx, cy, width = view.exact
    half_step = width / (2 * grid * tile_px)
    left = cx - width / 2 - reference_point[0]
    top = cy + width / 2 - reference_point[1]

    def series(origin: Fraction, first: int, sign: int):
        den = origin.denominator * half_step.denominator
        base = origin.numerator * half_step.denominator
        delta = sign * half_step.numerator * origin.denominator
        nums = (base + (2 * k + 1) * delta for k in range(first, first + tile_px))
        if wide_view:
            return [round_ratio_wide(num, den) for num in nums]
        return [num / den for num in nums]

    return series(left, col * tile_px, 1), series(top, row * tile_px, -1)


def pixel_point(view: View, grid: int, tile_px: int, row: int, col: int, i: int,
                j: int) -> tuple[Fraction, Fraction]:
    """The exact centre ``(cr, ci)`` of pixel ``(i, j)`` of tile ``(row, col)``."""
    cx, cy, width = view.exact
    step = width / (grid * tile_px)
    return (cx - width / 2 + (col * tile_px + i + Fraction(1, 2)) * step,
            cy + width / 2 - (row * tile_px + j + Fraction(1, 2)) * step)


def max_offset(view: View, reference_point: tuple[Fraction, Fraction]) -> Fraction:
    """An upper bound of ``|dc|`` over every pixel of the image (exact): the L1 norm
    ``(w/2 + |cx - Cr|) + (w/2 + |cy - Ci|)`` of the farthest corner's offset, which bounds its
    Euclidean norm (BLA's radii are built with it, :mod:`.bla`)."""
    cx, cy, width = view.exact
    return width + abs(cx - reference_point[0]) + abs(cy - reference_point[1])

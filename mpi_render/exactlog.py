"""log2 of float64 arrays from IEEE basic operations only: the same bits on every machine.

numpy's ``log2``/``log1p`` may differ in the last bit between machines and numpy builds (numpy
picks a SIMD implementation by CPU feature, AVX-512, AVX2 or baseline, and otherwise calls the
platform's libm). A tile's colours come from logarithms (:mod:`.palettes`) and must be the same
bytes on every site (DESIGN.md, "Deep views"), so :func:`log2_into` uses nothing but operations
that IEEE 754 defines exactly and numpy performs exactly as written: ``frexp``, add, subtract,
multiply and divide, each a separate ufunc call (numpy never fuses two calls into an FMA),
correctly rounded, in a fixed order, in float64. Its result is a fixed function of the input's
bits (in the default rounding mode; for inputs above 2^-1022 no intermediate is subnormal, so
flush-to-zero settings do not matter), which a plain-Python loop of the same operations
reproduces (Python floats are IEEE doubles; tests/colour_oracle.py, tests/unit/test_exactlog.py
and tests/unit/test_palettes.py).

The method, for finite ``x > 0``:

* ``x = m 2^e`` with ``m`` in ``[1/2, 1)`` (``np.frexp``, exact);
* ``log2 x = e - 1/2 + log2(m / c)`` with ``c`` = sqrt(1/2) rounded to a double (``log2 c`` is
  -1/2 to within 2e-16), and ``log2(m / c) = (2 / ln 2) atanh(s)``, ``s = (m - c) / (m + c)``,
  ``|s| <= 3 - 2 sqrt 2 = 0.1716`` (``m - c`` is exact: Sterbenz);
* ``(2 / ln 2) atanh(s) ~ s Q(s^2)``, ``Q`` of degree 5, the minimax polynomial for the absolute
  error on that interval (``scripts/log2_coefficients.py``, Remez in MPFR): 6.7e-15, evaluated by
  Horner's rule with every multiply and add rounded on its own.

Accuracy, for every positive normal double:
``|log2_into(x) - log2 x| <= 7e-15 + 1.2e-16 |log2 x|`` (the polynomial's 6.7e-15 plus the
rounding of the result; the tests assert it against MPFR, and ``7.5e-15 + 2.3e-16 |log2 x|``
against ``math.log2``, which rounds too, over the whole range). ``x = inf`` or nan gives nan,
``x = 0`` a finite number of no meaning; callers mask those. Cost: 18 passes over the array,
about 0.24 ms for 65,536 values (15x numpy's float32 ``log2``, 3.8x its float64 one;
``docs/PERFORMANCE.md``, "Smooth colour"), in scratch kept per thread. Where numba runs, the
tile pipeline evaluates the same operations value by value inside its compiled colour mapping
(:mod:`mpi_render.kernels.colour_numba`, ``frexp`` from the double's bits: about 6x faster);
this module is the reference it is held to, bit for bit.
"""
from __future__ import annotations

import numpy as np

from .kernels.workspace import held

CENTRE = float.fromhex("0x1.6a09e667f3bcdp-1")  # sqrt(1/2), the centre of m's octave
# q0 .. q5 of Q, printed by scripts/log2_coefficients.py (hex: the exact doubles)
COEFFICIENTS = tuple(float.fromhex(q) for q in (
    "0x1.71547652b7e8fp+1", "0x1.ec709dc7ba226p-1", "0x1.2776c0b9956b5p-1",
    "0x1.a61b4dfe3cedfp-2", "0x1.476f3d7ecf59cp-2", "0x1.23875a3c77cd5p-2"))


def log2_into(x: np.ndarray, out: np.ndarray, minus: float = 0.0) -> np.ndarray:
    """Write ``log2(x) - minus`` into ``out`` by the module's fixed operations and return it.

    Args:
        x: float64 array (any layout), the values, positive and finite where the result counts.
        out: float64 array of ``x``'s shape; may be ``x`` itself (``x`` is read first).
        minus: subtracted exactly where ``e - 1/2 - minus`` is (integers and halves: exact),
            which saves a pass for callers that want ``log2 x - 2``.

    Returns:
        ``out``. The operations, in order (each rounded to float64): ``m, e = frexp(x)``;
        ``d = m + CENTRE``; ``s = (m - CENTRE) / d``; ``z = s * s``;
        ``p = z * q5 + q4``, then ``p = p * z + qk`` for k = 3, 2, 1, 0; ``p = p * s``;
        ``out = p + (e - (0.5 + minus))``.
    """
    mantissa = held("log2 mantissa", x.size).reshape(x.shape)
    exponent = held("log2 exponent", x.size, np.int32).reshape(x.shape)
    scratch = held("log2 scratch", x.size).reshape(x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.frexp(x, out=(mantissa, exponent))
        np.add(mantissa, CENTRE, out=scratch)
        np.subtract(mantissa, CENTRE, out=mantissa)
        np.divide(mantissa, scratch, out=mantissa)  # s
        np.multiply(mantissa, mantissa, out=scratch)  # z = s^2
        np.multiply(scratch, COEFFICIENTS[-1], out=out)
        np.add(out, COEFFICIENTS[-2], out=out)
        for q in COEFFICIENTS[-3::-1]:
            np.multiply(out, scratch, out=out)
            np.add(out, q, out=out)
        np.multiply(out, mantissa, out=out)
        np.subtract(exponent, 0.5 + minus, out=scratch)  # e as float64 (exact), minus a half
        np.add(out, scratch, out=out)
    return out

"""Palettes: smooth escape values -> 8-bit palette indices, and the four named 256-colour palettes.

Tiles are 8-bit palette ('P') PNGs (DESIGN.md), so colouring is two cheap steps: the kernel's
:class:`~mpi_render.escape.Escape` becomes indices with :func:`smooth_indices`, and the PNG
carries the 768-byte table of :func:`palette_bytes`.

The colour of an escaped pixel is a continuous function of its smooth escape value
(:func:`smooth_values`), ``nu = m + 1 - log2(log2 |z_m|)`` with ``m = count + extra``: where the
count steps by one, ``|z_m|`` steps from about ``R^2`` to ``R`` (``R = 256``, the smooth radius of
:mod:`mpi_render.escape`), so ``nu`` has no jump. Only the pixel's own data and ``max_iter``
enter, never the tile's range: adjacent tiles agree at their edges. The arithmetic is float64
IEEE basic operations in a fixed order, logarithms included (:mod:`.exactlog`; the cycle
position is within 3e-13 of the exact formula's), so a tile is the same bytes whichever backend
computed its Escape and whichever machine, CPU or numpy build colours it
(``docs/PERFORMANCE.md``, "Smooth colour"). :func:`numpy_indices` is the mapping in numpy, the
reference; where numba can run, :func:`smooth_indices` runs its compiled twin (the same
operations in the same order, one pass per pixel: :mod:`mpi_render.kernels.colour_numba`, from
a prebuilt library when there is one, so ranks need not import numba), ~6x faster and the same
bytes (tests/kernels/test_colour.py).

The value is placed on the palette's colour cycle at ``nu / COLOUR_PERIOD`` cycles near the
outside of the set; deeper in, a cycle grows by ``COLOUR_STRETCH`` of the value itself
(``cycles = ln(1 + COLOUR_STRETCH nu / COLOUR_PERIOD) / COLOUR_STRETCH``). So the outside of the
full view (values 0..20) sweeps about one cycle, the seahorse valley (values 50..4,000) shows a
band every 25-100 iterations, and a deep view whose values sit in a narrow band far from 0 still
shows about 10-15 cycles across it (the Flake, 35,000-50,000: 14 cycles of 900-1,300 iterations),
whatever its depth: a fixed period would be noise at 10^6 and a pure logarithm flat near 0.

Escaped pixels use the 255 indices 0..254, one colour cycle, whose colours run through the
palette's stops on a closed smooth curve (periodic cubic Hermite), so no edge shows where the
cycle wraps; interior pixels (``count >= max_iter``) get index 255, black in every palette.
"""
from __future__ import annotations

import functools

import numpy as np

from .escape import Escape
from .exactlog import log2_into
from .kernels.workspace import held

PALETTE_NAMES = ("electric", "fire", "ocean", "cosmic")
INTERIOR_INDEX = 255
CYCLE = 255  # escaped pixels use indices 0..254: one colour cycle
COLOUR_PERIOD = 24.0  # iterations per colour cycle near the outside of the set
COLOUR_STRETCH = 0.025  # deeper in, a cycle lengthens by this fraction of the smooth value
LN2 = float.fromhex("0x1.62e42fefa39efp-1")  # ln 2 rounded to a double: no libm call
# Pixels coloured at a time: a 512 px tile goes in four bands of 128 rows, whose scratch (five
# arrays) stays in the caches better than the whole tile's: 12 % faster, and 2.3 MB a thread.
BLOCK_PX = 65536

# Colour stops of one cycle (position in 0..1, RGB); the cycle closes from the last stop back to
# the first, so the colours run on a closed curve.
_STOPS = {
    "electric": ((0.0, (0, 7, 100)), (0.16, (32, 107, 203)), (0.42, (237, 255, 255)),
                 (0.64, (255, 170, 0)), (0.86, (90, 12, 120))),
    "fire": ((0.0, (40, 0, 0)), (0.2, (180, 20, 0)), (0.42, (255, 140, 0)),
             (0.62, (255, 240, 150)), (0.82, (200, 60, 10))),
    "ocean": ((0.0, (0, 20, 50)), (0.2, (0, 80, 140)), (0.42, (0, 170, 190)),
              (0.62, (170, 245, 230)), (0.82, (20, 110, 150))),
    "cosmic": ((0.0, (20, 0, 40)), (0.18, (90, 20, 150)), (0.38, (220, 60, 180)),
               (0.58, (255, 190, 225)), (0.8, (80, 200, 255))),
}


def check_palette_name(name: str) -> str:
    """Return the canonical (lower-case) palette name.

    Raises:
        ValueError: unknown name; the message lists the valid ones.
    """
    canonical = str(name).strip().lower()
    if canonical not in PALETTE_NAMES:
        raise ValueError(f"unknown palette {name!r}; valid palettes: {', '.join(PALETTE_NAMES)}")
    return canonical


def _closed_curve(stops, at: np.ndarray) -> np.ndarray:
    """The periodic cubic Hermite curve through ``stops`` (period 1) at positions ``at``,
    (len(at), 3) floats; each stop's tangent is the slope between its two neighbours."""
    positions = np.array([pos for pos, _ in stops])
    colours = np.array([rgb for _, rgb in stops], dtype=np.float64)
    n = len(stops)
    after = np.append(positions[1:], positions[0] + 1.0)  # position of the next stop
    before = np.insert(positions[:-1], 0, positions[-1] - 1.0)
    tangents = (np.roll(colours, -1, axis=0) - np.roll(colours, 1, axis=0)) \
        / (after - before)[:, None]
    k = np.searchsorted(positions, at, side="right") - 1  # the segment k .. k+1 of each point
    span = after[k] - positions[k]
    t = ((at - positions[k]) / span)[:, None]
    h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
    h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
    following = (k + 1) % n
    return (h00 * colours[k] + h10 * span[:, None] * tangents[k]
            + h01 * colours[following] + h11 * span[:, None] * tangents[following])


@functools.cache
def _table(name: str) -> np.ndarray:
    table = np.zeros((256, 3), dtype=np.uint8)  # row 255 stays black: the interior
    curve = _closed_curve(_STOPS[name], np.arange(CYCLE) / CYCLE)
    table[:CYCLE] = np.clip(np.rint(curve), 0, 255)
    table.setflags(write=False)
    return table


def palette_table(name: str) -> np.ndarray:
    """The palette as a read-only (256, 3) uint8 RGB array; entry 255 is black.

    Raises:
        ValueError: unknown palette name.
    """
    return _table(check_palette_name(name))


def palette_bytes(name: str) -> bytes:
    """The palette as 768 bytes ``R0 G0 B0 R1 ...`` (the PNG PLTE chunk).

    Raises:
        ValueError: unknown palette name.
    """
    return palette_table(name).tobytes()


def smooth_values(escape: Escape, max_iter: int) -> np.ndarray:
    """The smooth escape value ``nu = count + extra + 2 - log2(log2 r2)`` of every pixel
    (float64, the escape's shape); 0 where it would be negative or is undefined (|z| overflowed
    at the escape: ``r2 = inf``, |c| ~ 1e154 and beyond) and nan for the interior
    (``count >= max_iter``).

    ``log2(log2 r2) - 1 = log2(log2 |z_m|)``, so this is ``m + 1 - log2(log2 |z_m|)``. The
    logarithms are :func:`.exactlog.log2_into` (IEEE basic operations only): the same bits on
    every machine; the operations in order are those of :func:`numpy_indices`.

    >>> escape = Escape(np.array([[2, 9]], np.uint32), np.array([[3, 0]], np.uint8),
    ...                 np.array([[2.0**32, 0.0]]))
    >>> smooth_values(escape, 9).round(12).tolist()  # m = 5, log2(log2 2**32) = 5 (to 7e-15)
    [[2.0, nan]]
    """
    values = _values_into(escape, np.empty(escape.r2.shape))
    values[escape.counts >= max_iter] = np.nan
    return values


def _values_into(escape: Escape, out: np.ndarray) -> np.ndarray:
    """The smooth values, clamped at 0, into ``out`` reshaped to the escape's shape and returned
    (finite numbers of no meaning in the interior: its ``r2`` of 0 has a finite log2_into)."""
    values = out.reshape(escape.r2.shape)
    levels = held("colour levels", escape.r2.size).reshape(escape.r2.shape)
    log2_into(escape.r2, levels)  # log2 r2: nan where r2 = inf
    log2_into(levels, levels, minus=2.0)  # log2(log2 r2) - 2
    np.add(escape.counts, escape.extra, out=values, dtype=np.float64)  # m, exact
    np.subtract(values, levels, out=values)
    np.fmax(values, 0.0, out=values)  # negative or nan (overflowed |z|) to 0
    return values


def smooth_indices(escape: Escape, max_iter: int) -> np.ndarray:
    """Palette indices of a tile: 0..254 on the colour cycle by the smooth value, 255 (black)
    where ``count >= max_iter`` (uint8, the escape's shape; module docstring).

    The same bytes on every IEEE-754 machine, numpy build and path: :func:`numpy_indices`
    defines them (float64 IEEE basic operations in a fixed order); where numba can run, its
    compiled twin computes them (:func:`compiled_mapping`: the same operations in the same
    order, one pass per pixel, ~6x faster), and where it cannot, :func:`numpy_indices` does.

    >>> escape = Escape(np.array([[1, 24, 99]], np.uint32), np.array([[3, 3, 0]], np.uint8),
    ...                 np.array([[2.0**32, 2.0**32, 0.0]]))
    >>> smooth_indices(escape, 99).tolist()  # values 1 and 24: 1/24 and 0.988 of a cycle
    [[10, 251, 255]]
    """
    mapping = compiled_mapping()
    if mapping is None or (escape.counts.dtype, escape.extra.dtype, escape.r2.dtype) \
            != (np.uint32, np.uint8, np.float64):  # the Escape's types, as kernels give them
        return numpy_indices(escape, max_iter)
    indices = np.empty(escape.counts.shape, np.uint8)
    mapping(*(np.ascontiguousarray(a).reshape(-1) for a in (escape.counts, escape.extra,
                                                             escape.r2)),
            int(max_iter), indices.reshape(-1))
    return indices


@functools.cache
def compiled_mapping():
    """The compiled colour mapping, ``mapping(counts, extra, r2, max_iter, out)`` on flat
    C-contiguous arrays (:func:`mpi_render.kernels.colour_numba.indices_flat`): from its
    prebuilt library when there is one for this code and CPU (no numba import,
    :mod:`mpi_render.kernels.colour_native`), else numba's JIT; None where numba is not
    installed."""
    from .kernels import colour_native

    mapping = colour_native.load()
    if mapping is not None:
        return mapping
    try:
        from .kernels.colour_numba import indices_flat
    except ImportError:
        return None
    return indices_flat


def numpy_indices(escape: Escape, max_iter: int) -> np.ndarray:
    """:func:`smooth_indices` in numpy: the reference that defines the bytes.

    The same bytes on every IEEE-754 machine and numpy build: the arithmetic is float64 basic
    operations (add, subtract, multiply, divide, ``frexp``, ``floor``, ``fmax``, each a
    separate numpy call, so correctly rounded and never fused), in this order, with the
    logarithms of :func:`.exactlog.log2_into` (tests/colour_oracle.py is the same in plain
    Python, and the tests hold the two equal bit for bit):

    1. ``L = log2_into(r2)``; ``t = log2_into(L) - 2``; ``nu = fmax((count + extra) - t, 0)``;
    2. ``u = nu * (COLOUR_STRETCH / COLOUR_PERIOD) + 1``; ``cycles = log2_into(u) *
       (LN2 / COLOUR_STRETCH)`` (that is ``ln(1 + COLOUR_STRETCH nu / COLOUR_PERIOD) /
       COLOUR_STRETCH``; the two constants are divided once, in Python: IEEE too);
    3. ``index = int((cycles - floor(cycles)) * 255)``; 255 where ``count >= max_iter``.

    ``cycles`` is within 3e-13 of the exact formula (the last logarithm's error times
    ``LN2 / COLOUR_STRETCH``), so an index differs from the exact one only where the exact
    position lies that close to the border of two colours. In bands of ``BLOCK_PX`` pixels, in
    scratch arrays kept per thread (:func:`.kernels.workspace.held`): about 1 ms for a 256 px
    tile, 3.4-3.9x the float32 mapping with numpy's logarithms that it replaced
    (``docs/PERFORMANCE.md``, "Smooth colour").
    """
    indices = np.empty(escape.counts.shape, np.uint8)
    rows = max(1, BLOCK_PX // max(1, escape.counts[:1].size))  # whole rows (first axis)
    for top in range(0, len(indices), rows):
        band = slice(top, top + rows)
        _indices_into(Escape(escape.counts[band], escape.extra[band], escape.r2[band]),
                      indices[band])
    indices[escape.counts >= max_iter] = INTERIOR_INDEX
    return indices


def _indices_into(escape: Escape, out: np.ndarray) -> None:
    """The cycle positions of :func:`numpy_indices` as indices into ``out`` (uint8, the
    escape's shape; the interior's are of no meaning)."""
    values = _values_into(escape, held("colour values", escape.r2.size))
    cycles = held("colour levels", escape.r2.size).reshape(escape.r2.shape)
    np.multiply(values, COLOUR_STRETCH / COLOUR_PERIOD, out=cycles)
    np.add(cycles, 1.0, out=cycles)
    log2_into(cycles, cycles)
    np.multiply(cycles, LN2 / COLOUR_STRETCH, out=cycles)
    np.subtract(cycles, np.floor(cycles, out=values), out=cycles)  # the position on the cycle
    np.multiply(cycles, float(CYCLE), out=cycles)  # < 255: the position is at most 1 - 2^-53
    np.copyto(out, cycles, casting="unsafe")  # truncation: the exact floor of a number >= 0

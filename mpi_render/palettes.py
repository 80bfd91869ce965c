"""Palettes: smooth escape values -> 8-bit palette indices, and the four named 256-colour palettes.

Tiles are 8-bit palette ('P') PNGs (DESIGN.md), so colouring is two cheap steps: the kernel's
:class:`~mpi_render.escape.Escape` becomes indices with :func:`smooth_indices`, and the PNG
carries the 768-byte table of :func:`palette_bytes`.

The colour of an escaped pixel is a continuous function of its smooth escape value
(:func:`smooth_values`), ``nu = m + 1 - log2(log2 |z_m|)`` with ``m = count + extra``: where the
count steps by one, ``|z_m|`` steps from about ``R^2`` to ``R`` (``R = 256``, the smooth radius of
:mod:`mpi_render.escape`), so ``nu`` has no jump. Only the pixel's own data and ``max_iter``
enter, never the tile's range: adjacent tiles agree at their edges, and a tile is the same bytes
whichever backend computed its Escape (and on any machine whose numpy gives the same bits for
float32 ``log2`` and ``log1p``; ``docs/PERFORMANCE.md``, "Smooth colour").

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
from .kernels.workspace import held

PALETTE_NAMES = ("electric", "fire", "ocean", "cosmic")
INTERIOR_INDEX = 255
CYCLE = 255  # escaped pixels use indices 0..254: one colour cycle
COLOUR_PERIOD = 24.0  # iterations per colour cycle near the outside of the set
COLOUR_STRETCH = 0.025  # deeper in, a cycle lengthens by this fraction of the smooth value

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
    (float64, the escape's shape); 0 where it would be negative (|z| overflowed at the escape,
    |c| ~ 1e154 and beyond) and nan for the interior (``count >= max_iter``).

    ``log2(log2 r2) - 1 = log2(log2 |z_m|)``, so this is ``m + 1 - log2(log2 |z_m|)``.

    >>> escape = Escape(np.array([[2, 9]], np.uint32), np.array([[3, 0]], np.uint8),
    ...                 np.array([[2.0**32, 0.0]]))
    >>> smooth_values(escape, 9).tolist()  # m = 5, log2(log2 2**32) = 5
    [[2.0, nan]]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        values = escape.counts + (escape.extra + 2.0) - np.log2(np.log2(escape.r2))
    values = np.fmax(values, 0.0)  # -inf (r2 = inf) to 0; nan stays nan ...
    values[escape.counts >= max_iter] = np.nan  # ... and the interior is nan
    return values


def smooth_indices(escape: Escape, max_iter: int) -> np.ndarray:
    """Palette indices of a tile: 0..254 on the colour cycle by the smooth value, 255 (black)
    where ``count >= max_iter`` (uint8, the escape's shape; module docstring).

    The arithmetic is :func:`smooth_values` followed by the cycle position, in float32 (its
    precision, 1e-7 of the cycle count, is far below one of the 255 colours of a cycle), in
    place, in two arrays kept per thread (:func:`.kernels.workspace.held`): about 0.3 ms for a
    256 px tile.

    >>> escape = Escape(np.array([[1, 24, 99]], np.uint32), np.array([[3, 3, 0]], np.uint8),
    ...                 np.array([[2.0**32, 2.0**32, 0.0]]))
    >>> smooth_indices(escape, 99).tolist()  # values 1 and 24: 1/24 and 0.988 of a cycle
    [[10, 251, 255]]
    """
    interior = escape.counts >= max_iter
    r2 = held("colour r2", escape.r2.size, np.float32).reshape(escape.r2.shape)
    cycles = held("colour cycles", escape.r2.size, np.float32).reshape(escape.r2.shape)
    np.copyto(r2, escape.r2, casting="same_kind")
    np.copyto(r2, np.float32(2.0**32), where=interior)  # no log of 0 in the interior
    np.add(escape.counts, escape.extra, out=cycles, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log2(r2, out=r2)
        np.log2(r2, out=r2)
        r2 -= np.float32(2.0)
        cycles -= r2  # the smooth value
        np.fmax(cycles, np.float32(0.0), out=cycles)  # -inf where |z| overflowed
        cycles *= np.float32(COLOUR_STRETCH / COLOUR_PERIOD)
        np.log1p(cycles, out=cycles)
        cycles *= np.float32(1.0 / COLOUR_STRETCH)
    cycles -= np.floor(cycles, out=r2)  # the position on the cycle (np.fmod is 10x slower)
    cycles *= np.float32(CYCLE)
    indices = cycles.astype(np.uint8)
    indices[interior] = INTERIOR_INDEX
    return indices

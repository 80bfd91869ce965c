"""Palettes: escape counts -> 8-bit palette indices, and the four named 256-colour palettes.

Tiles are 8-bit palette ('P') PNGs (DESIGN.md), so colouring is two cheap steps: counts become
indices with :func:`palette_indices`, and the PNG carries the 768-byte table of
:func:`palette_bytes`. Escaped pixels are banded (``count % 255`` -> index 0..254); interior
pixels (``count == max_iter``) get index 255, which is black in every palette.
"""
from __future__ import annotations

import functools

import numpy as np

PALETTE_NAMES = ("electric", "fire", "ocean", "cosmic")
INTERIOR_INDEX = 255
BANDS = 255  # escaped pixels use indices 0..254

# Colour stops (position in 0..1 along the 255 bands, RGB). Most pixels of a wide view escape
# within a few iterations, so the first stops sit close together to keep the outer bands
# distinct; the last stop returns near the first so the colours cycle without a hard edge.
_STOPS = {
    "electric": ((0.0, (0, 7, 100)), (0.03, (32, 107, 203)), (0.08, (237, 255, 255)),
                 (0.16, (255, 170, 0)), (0.4, (120, 20, 160)), (1.0, (0, 7, 100))),
    "fire": ((0.0, (40, 0, 0)), (0.03, (180, 20, 0)), (0.08, (255, 140, 0)),
             (0.16, (255, 240, 120)), (0.4, (255, 255, 255)), (1.0, (40, 0, 0))),
    "ocean": ((0.0, (0, 20, 50)), (0.03, (0, 80, 140)), (0.08, (0, 170, 190)),
              (0.16, (140, 240, 220)), (0.4, (240, 255, 255)), (1.0, (0, 20, 50))),
    "cosmic": ((0.0, (20, 0, 40)), (0.03, (90, 20, 150)), (0.08, (220, 60, 180)),
               (0.16, (255, 180, 220)), (0.4, (80, 200, 255)), (1.0, (20, 0, 40))),
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


@functools.cache
def _table(name: str) -> np.ndarray:
    stops = _STOPS[name]
    positions = np.array([pos for pos, _ in stops])
    colours = np.array([rgb for _, rgb in stops], dtype=np.float64)
    at = np.linspace(0.0, 1.0, BANDS)
    table = np.zeros((256, 3), dtype=np.uint8)  # row 255 stays black: the interior
    for channel in range(3):
        table[:BANDS, channel] = np.rint(np.interp(at, positions, colours[:, channel]))
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


def palette_indices(counts: np.ndarray, max_iter: int) -> np.ndarray:
    """Map escape counts to palette indices: ``count % 255``, or 255 where ``count >= max_iter``.

    >>> palette_indices(np.array([[1, 254, 255, 300]], dtype=np.uint32), 300).tolist()
    [[1, 254, 0, 255]]
    """
    # mode="clip" sends any count above max_iter to the last entry, the interior
    return _index_table(int(max_iter)).take(counts, mode="clip")


@functools.lru_cache(maxsize=8)
def _index_table(max_iter: int) -> np.ndarray:
    """``count -> palette index`` for every count 0..max_iter (one ``take`` beats a remainder)."""
    table = (np.arange(max_iter + 1, dtype=np.uint32) % BANDS).astype(np.uint8)
    table[max_iter] = INTERIOR_INDEX
    return table

"""Tile geometry and the work split: which site and which rank renders which tile.

Pure functions, no MPI, no I/O. Every part of the project (the site job, the dashboard's
ownership check, the demo, the tests) calls these, so there is exactly one split.

Tile ``(row, col)`` of an ``N x N`` grid has index ``t = row * N + col``; row 0 is the top.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SPLITS = ("contiguous", "interleaved", "dynamic")
STATIC_SPLITS = ("contiguous", "interleaved")  # a site owns its tiles in advance


@dataclass(frozen=True)
class TileBounds:
    """Where a tile sits in the complex plane.

    ``xmin`` is the real part of the tile's left edge, ``ymax`` the imaginary part of its top
    edge, ``dx``/``dy`` the pixel pitch (complex-plane units per pixel). Pixel ``(i, j)``
    (column, row) has its centre at ``xmin + (i + 0.5) * dx``, ``ymax - (j + 0.5) * dy``.
    """

    xmin: float
    ymax: float
    dx: float
    dy: float


def tile_bounds(grid: int, tile_px: int, center: tuple[float, float], width: float,
                row: int, col: int) -> TileBounds:
    """Bounds of tile ``(row, col)`` for a square view of ``width`` centred on ``center``.

    >>> tile_bounds(2, 2, (0.0, 0.0), 4.0, 0, 1)
    TileBounds(xmin=0.0, ymax=2.0, dx=1.0, dy=1.0)
    """
    cx, cy = center
    step = width / (grid * tile_px)
    xmin = cx - width / 2
    ymax = cy + width / 2
    return TileBounds(xmin + col * tile_px * step, ymax - row * tile_px * step, step, step)


def normalize_weights(weights: Sequence[float] | None, n_sites: int) -> tuple[float, ...]:
    """Validate contiguous-split weights; ``None`` means equal shares.

    Raises:
        ValueError: wrong count, a negative weight, or a sum that is not 1 (within 1e-6).
    """
    if weights is None:
        return tuple(1.0 / n_sites for _ in range(n_sites))
    weights = tuple(float(w) for w in weights)
    if len(weights) != n_sites:
        raise ValueError(f"weights must have one value per site ({n_sites}), got {len(weights)}")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError("weights must be finite and non-negative")
    if abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"weights must sum to 1, got {sum(weights):g}")
    return weights


def assign_tiles(grid: int, sites: Sequence[str], split: str = "contiguous",
                 weights: Sequence[float] | None = None) -> dict[str, list[int]]:
    """Split the ``grid * grid`` tile indices among ``sites``; every index goes to one site.

    ``contiguous``: with cumulative weights ``W_0 = 0 .. W_K = 1``, site ``s`` owns indices
    ``floor(T*W_s + 0.5)`` up to (not including) ``floor(T*W_{s+1} + 0.5)``.
    ``interleaved``: site ``s`` owns the indices ``t`` with ``t % K == s`` (weights ignored).
    ``dynamic``: no site owns a tile in advance (sites claim tiles from the dashboard while they
    render), so every list is empty.

    >>> assign_tiles(2, ["cloud", "onprem"])
    {'cloud': [0, 1], 'onprem': [2, 3]}
    >>> assign_tiles(2, ["a", "b", "c"], "interleaved")
    {'a': [0, 3], 'b': [1], 'c': [2]}
    >>> assign_tiles(2, ["a", "b"], "dynamic")
    {'a': [], 'b': []}

    Raises:
        ValueError: unknown split, no sites, repeated site names, or bad weights.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not sites:
        raise ValueError("sites must name at least one site")
    if len(set(sites)) != len(sites):
        raise ValueError(f"site names must be unique, got {','.join(sites)}")
    total = grid * grid
    if split == "dynamic":
        return {site: [] for site in sites}
    if split == "interleaved":
        return {site: list(range(s, total, len(sites))) for s, site in enumerate(sites)}
    shares = normalize_weights(weights, len(sites))
    bounds, cumulative = [0], 0.0
    for share in shares[:-1]:
        cumulative += share
        bounds.append(min(total, math.floor(total * cumulative + 0.5)))
    bounds.append(total)
    return {site: list(range(bounds[s], bounds[s + 1])) for s, site in enumerate(sites)}


def site_tiles(grid: int, sites: Sequence[str], site: str, split: str = "contiguous",
               weights: Sequence[float] | None = None) -> list[int]:
    """The tile indices owned by ``site`` (see :func:`assign_tiles`).

    Raises:
        ValueError: ``site`` is not one of ``sites`` (or any error of :func:`assign_tiles`).
    """
    if site not in sites:
        raise ValueError(f"site {site!r} is not in sites ({','.join(sites)})")
    return assign_tiles(grid, sites, split, weights)[site]


def rank_tiles(tiles: Sequence[int], rank: int, size: int) -> list[int]:
    """Rank stride inside a site: rank ``r`` of ``size`` renders ``tiles[r::size]``.

    >>> rank_tiles([4, 5, 6, 7, 8], 1, 2)
    [5, 7]
    """
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"rank must be in 0..size-1, got rank={rank} size={size}")
    return list(tiles[rank::size])


def tile_index(grid: int, row: int, col: int) -> int:
    """``row * grid + col``; raises ValueError outside the grid."""
    if not (0 <= row < grid and 0 <= col < grid):
        raise ValueError(f"tile ({row}, {col}) is outside the {grid}x{grid} grid")
    return row * grid + col


def tile_position(grid: int, index: int) -> tuple[int, int]:
    """``(row, col)`` of tile ``index``."""
    return divmod(index, grid)

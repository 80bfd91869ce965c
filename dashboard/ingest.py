"""One tile batch from request body to checked tiles. Pure (no Tornado); runs on a worker thread.

Split from storing on purpose: parsing and PNG checks (zlib releases the GIL) run on the worker
pool, in parallel for two posting sites, while the single writer thread only dedupes and inserts.
"""
from __future__ import annotations

from functools import lru_cache

from mpi_render.config import RenderConfig
from mpi_render.protocol import BatchError, parse_batch

from .validate import check_batch, check_meta

MAX_TILES_PER_BATCH = 4096


@lru_cache(maxsize=64)
def owner_map(config: RenderConfig) -> dict[int, str]:
    """Tile index -> owning site under the config's split (cached: configs are frozen)."""
    return {t: site for site, tiles in config.owned().items() for t in tiles}


def read_batch(config: RenderConfig, content_type: str, body: bytes) -> list[tuple[dict, bytes]]:
    """Parse and check a whole batch; nothing is stored here.

    Returns:
        ``(meta, png)`` pairs in manifest order, every one fit to store.

    Raises:
        BatchError: malformed multipart or manifest, too many tiles (answer 400).
        TileRejected: a tile outside the grid, of another site, or not a good PNG (answer 422).
    """
    tiles = parse_batch(content_type, body)
    if len(tiles) > MAX_TILES_PER_BATCH:
        raise BatchError(f"a batch may hold at most {MAX_TILES_PER_BATCH} tiles, got {len(tiles)}")
    for meta, _ in tiles:
        try:
            check_meta(meta)
        except ValueError as exc:
            raise BatchError(str(exc)) from None
    check_batch(config, owner_map(config), tiles)
    return tiles

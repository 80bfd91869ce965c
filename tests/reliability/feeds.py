"""Test-side tile sources and a minimal poster, for load and fault tests that need no renderer.

Tiles are synthetic 8-bit palette PNGs (exactly ``tile_px`` square, as the dashboard demands),
distinct per tile, with a tunable share of random rows so a test can choose the bytes per tile
(random rows do not compress: about ``tile_px`` bytes each).
"""
from __future__ import annotations

import functools

import numpy as np
from support import http_json

from mpi_render.config import RenderConfig
from mpi_render.encode import encode_png
from mpi_render.protocol import encode_batch

GREY_PALETTE = bytes(value for value in range(256) for _ in range(3))


def synthetic_png(tile_px: int, index: int, noise_rows: int = 0) -> bytes:
    """A ``tile_px`` square palette PNG, unique to ``index``; ``noise_rows`` random rows."""
    pixels = _gradient(tile_px).copy()
    pixels[0, :4] = np.frombuffer(index.to_bytes(4, "big"), np.uint8)  # makes every tile distinct
    if noise_rows:
        pool = _noise_pool(tile_px)
        start = (index * 7) % (len(pool) - noise_rows)
        pixels[-noise_rows:] = pool[start:start + noise_rows]
    return encode_png(pixels, GREY_PALETTE)


@functools.cache
def _gradient(tile_px: int) -> np.ndarray:
    """Bands of equal indices, 32 pixels wide and 16 tall, like a tile's escape-time bands (a
    one-pixel diagonal gradient compresses only by matching the previous row, which a
    run-length strategy cannot: 66 KB instead of ~3 KB at 256 px)."""
    return np.add.outer(np.arange(tile_px) // 16, np.arange(tile_px) // 32).astype(np.uint8)


@functools.cache
def _noise_pool(tile_px: int) -> np.ndarray:
    """Random rows shared by every tile (drawn once: generating 10,000 tiles must stay cheap)."""
    return np.random.default_rng(7).integers(0, 256, (4 * tile_px, tile_px), dtype=np.uint8)


def site_tiles(config: RenderConfig, site: str, noise_rows: int = 0) -> list[tuple[dict, bytes]]:
    """Every tile ``site`` owns under ``config``, as ``(manifest_entry, png)`` pairs."""
    tiles = []
    for index in config.owned()[site]:
        row, col = divmod(index, config.grid)
        meta = {"row": row, "col": col, "site": site, "rank": 0, "host": "test-poster",
                "render_ms": 1.0, "encode_ms": 0.1, "iterations": index}
        tiles.append((meta, synthetic_png(config.tile_px, index, noise_rows)))
    return tiles


def post_tiles(base_url: str, token: str, run_id: str, tiles: list, batch_size: int = 64,
               timeout_s: float = 30) -> list[tuple[int, dict]]:
    """POST ``tiles`` in batches of ``batch_size``; returns ``(status, answer)`` per batch."""
    answers = []
    for start in range(0, len(tiles), batch_size):
        content_type, body = encode_batch(tiles[start:start + batch_size])
        answers.append(http_json("POST", f"{base_url}api/runs/{run_id}/tiles", body, token,
                                 headers={"Content-Type": content_type}, timeout=timeout_s))
    return answers


def create_run(base_url: str, token: str, run_id: str, config: RenderConfig) -> dict:
    """``PUT api/runs/{run_id}``; fails the test unless it answers 200 or 201."""
    status, doc = http_json("PUT", f"{base_url}api/runs/{run_id}", config.run_json(), token)
    assert status in (200, 201), (status, doc)
    return doc

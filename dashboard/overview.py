"""Downscaled overview mosaics of runs, kept up to date incrementally in a small memory cache.

``GET api/runs/{id}/overview.png?px=N`` serves what the page's overview canvas shows: every tile
in a ``cell_px`` square cell, ``cell_px = clamp(N // grid, 1, tile_px)`` (the page's own rule,
``cellPx`` in static/js/mosaic.js), so a late joiner draws one image instead of decoding every
full-size tile. Cells of tiles not stored yet have the page's background colour.

Each cached overview remembers the last ``seq`` pasted into it; a later request pastes only the
tiles stored since (read from SQLite in chunks) and re-encodes once, and a request with nothing
new gets the encoded bytes as they are. The cache holds at most ``max_entries`` overviews (least
recently used dropped first), each ``side_px^2 * 3`` bytes of RGB plus its PNG (<= ~16 MB at
2048 px). No Tornado: :meth:`OverviewCache.get` blocks and runs on the app's overview thread.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from PIL import Image

from mpi_render.config import RenderConfig

from .store import TileStore

MAX_OVERVIEW_PX = 2048
BACKGROUND_RGB = (0x0B, 0x0E, 0x14)  # the page's empty overview canvas (static/js/mosaic.js)
PASTE_CHUNK_TILES = 64  # tiles read from SQLite at once while catching up (bounds memory)


def cell_px(config: RenderConfig, px: int) -> int:
    """Side of one tile's cell in an overview requested ``px`` wide (>= 1, <= tile_px)."""
    return max(1, min(config.tile_px, px // config.grid))


def check_px(raw: str) -> int:
    """The ``px`` query argument as an int.

    Raises:
        ValueError: not an integer in [1, MAX_OVERVIEW_PX] (answer 400).
    """
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_OVERVIEW_PX:
        raise ValueError(f"px must be an integer in [1, {MAX_OVERVIEW_PX}], got {raw[:40]!r}")
    return int(raw)


@dataclass
class _Overview:
    """One run's overview at one cell size: the RGB canvas, the seq it holds, its PNG."""

    cell_px: int
    canvas: Image.Image
    seq: int = -1  # nothing encoded yet
    png: bytes = b""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paste(self, row: int, col: int, png: bytes) -> None:
        with Image.open(io.BytesIO(png)) as tile:
            # Nearest on the palette indices: a cheap subsample of a preview, and exact for
            # the flat areas that dominate a view; the full tile is one click away on the page.
            small = tile.resize((self.cell_px, self.cell_px), Image.Resampling.NEAREST)
        self.canvas.paste(small.convert("RGB"), (col * self.cell_px, row * self.cell_px))

    def encode(self) -> bytes:
        out = io.BytesIO()
        self.canvas.save(out, format="PNG", compress_level=1)  # served often: speed over size
        return out.getvalue()


class OverviewCache:
    """Overviews by ``(run, cell_px)``; thread-safe, at most ``max_entries`` kept."""

    def __init__(self, store: TileStore, max_entries: int = 4):
        self.store = store
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int], _Overview] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: str, config: RenderConfig, px: int) -> tuple[bytes, int, int]:
        """The overview PNG of every tile with ``seq <= S``, S the run's committed seq now.

        Returns:
            ``(png, S, cell_px)``.
        """
        cell = cell_px(config, px)
        upto = self.store.last_seq(run_id)
        entry = self._entry(run_id, config, cell)
        with entry.lock:
            if entry.seq < upto:
                self._catch_up(run_id, entry, upto)
            return entry.png, entry.seq, cell

    def _entry(self, run_id: str, config: RenderConfig, cell: int) -> _Overview:
        key = (run_id, cell)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                side_px = cell * config.grid
                entry = _Overview(cell, Image.new("RGB", (side_px, side_px), BACKGROUND_RGB))
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(key)
            return entry

    def _catch_up(self, run_id: str, entry: _Overview, upto: int) -> None:
        cursor = max(entry.seq, 0)
        while cursor < upto:
            tiles = self.store.tiles_since(run_id, cursor, upto, PASTE_CHUNK_TILES)
            if not tiles:
                break
            for tile in tiles:
                entry.paste(tile.row, tile.col, tile.png)
            cursor = tiles[-1].seq
        entry.seq = upto
        entry.png = entry.encode()

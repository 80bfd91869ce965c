"""The mosaic PNG of a run, encoded band by band (one tile row per band). No Tornado.

Memory is bounded by one band (``side_px * tile_out_px * 3`` bytes), not by the image: the PNG is
written by hand (IHDR, one zlib stream split over IDAT chunks, IEND) so each band can be streamed
to the client as soon as it is compressed. Pillow only decodes and resizes the tiles.
"""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image

from mpi_render.config import RenderConfig
from mpi_render.encode import PNG_SIGNATURE, png_chunk

MAX_SIDE_PX = 16384
MISSING_RGB = (48, 48, 48)  # dark grey


class ScaleError(ValueError):
    """A scale that cannot be served; ``status`` is 400 (out of range) or 422 (too large)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MosaicPlan:
    grid: int
    tile_out_px: int

    @property
    def side_px(self) -> int:
        return self.grid * self.tile_out_px


def plan(config: RenderConfig, scale: float) -> MosaicPlan:
    """Output geometry for ``scale`` (each tile becomes ``round(tile_px * scale)`` px, >= 1).

    Raises:
        ScaleError: scale not in (0, 1] (400), or a side over MAX_SIDE_PX (422).
    """
    if not 0 < scale <= 1:
        raise ScaleError(f"scale must be a number in (0, 1], got {scale!r}", 400)
    tile_out_px = max(1, round(config.tile_px * scale))
    result = MosaicPlan(config.grid, tile_out_px)
    if result.side_px > MAX_SIDE_PX:
        best = MAX_SIDE_PX / (config.grid * config.tile_px)
        raise ScaleError(f"the mosaic would be {result.side_px} px wide; the limit is "
                         f"{MAX_SIDE_PX} px, use scale <= {best:.4f}", 422)
    return result


class MosaicEncoder:
    """Writes an 8-bit RGB PNG of ``plan.side_px`` square, one tile row at a time."""

    def __init__(self, mosaic_plan: MosaicPlan):
        self.plan = mosaic_plan
        self._zlib = zlib.compressobj(1)  # speed over size: this is a download of a preview

    def start(self) -> bytes:
        side = self.plan.side_px
        return PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))

    def band(self, tiles: Iterable[tuple[int, bytes]]) -> bytes:
        """Compress one tile row; ``tiles`` yields ``(col, png)`` of the stored tiles of it."""
        size = self.plan.tile_out_px
        strip = Image.new("RGB", (self.plan.side_px, size), MISSING_RGB)
        for col, png in tiles:
            with Image.open(io.BytesIO(png)) as tile:
                image = tile.convert("RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            strip.paste(image, (col * size, 0))
        stride = self.plan.side_px * 3
        pixels = strip.tobytes()
        # filter type 0 (None) on every scanline: cheapest to produce, zlib does the work
        raw = b"".join(b"\0" + pixels[y * stride:(y + 1) * stride] for y in range(size))
        data = self._zlib.compress(raw)  # may be empty: zlib buffers small inputs
        return png_chunk(b"IDAT", data) if data else b""

    def finish(self) -> bytes:
        return png_chunk(b"IDAT", self._zlib.flush()) + png_chunk(b"IEND", b"")

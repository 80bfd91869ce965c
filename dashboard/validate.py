"""Checks a batch of tiles against its run before anything is stored. Pure, no Tornado.

The PNG check is structural and cheap (about 0.1 ms for a 256 px palette tile): signature,
chunk CRCs, IHDR size == ``tile_px`` square read BEFORE any inflating (a 100000x100000 bomb costs
nothing), then the IDAT stream is inflated with a bound of exactly the expected raw size and every
row filter byte is checked. That proves the PNG decodes to the right number of pixels without
building an image (Pillow would cost several times more at 3000 tiles/s).
"""
from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

from mpi_render.config import RenderConfig
from mpi_render.encode import PNG_SIGNATURE

MAX_HOST_CHARS = 255
# bits per pixel = channels * bit depth; allowed depths per PNG colour type (PNG spec 11.2.2)
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# The optional manifest fields and their types: what check_meta checks and the store keeps.
OPTIONAL_META = {"rank": (int,), "host": (str,), "render_ms": (int, float),
                 "encode_ms": (int, float), "iterations": (int,), "rendered_at": (int, float),
                 "kernel": (str,)}
KERNEL_NAMES = ("double", "perturbation")  # which kernel rendered the tile (DESIGN.md)


class TileRejected(ValueError):
    """A tile that may not be stored (answer 422); the message names the tile and the reason."""


def check_meta(meta: dict) -> None:
    """Type-check the optional manifest fields (numbers must be finite: JSON has no NaN).

    Raises:
        ValueError: a mistyped optional field (a malformed manifest: answer 400).
    """
    for key, types in OPTIONAL_META.items():
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(f"manifest field {key} must be {types[-1].__name__}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"manifest field {key} must be a finite number, got {value!r}")
        if key == "host" and len(value) > MAX_HOST_CHARS:
            raise ValueError(f"manifest field host must be at most {MAX_HOST_CHARS} characters")
        if key == "kernel" and value not in KERNEL_NAMES:
            raise ValueError(f"manifest field kernel must be one of {', '.join(KERNEL_NAMES)}, "
                             f"got {value[:32]!r}")


def check_tile(config: RenderConfig, owner: dict[int, str], meta: dict, png: bytes) -> None:
    """Check one tile: inside the grid, from a site of the run that may post it (in a static
    split its owner, in a dynamic run any site), a real ``tile_px`` square PNG.

    Args:
        config: the run's config.
        owner: tile index -> owning site (from ``config.owned()``; empty for a dynamic run).
        meta: manifest entry with ``row``, ``col``, ``site``.
        png: the tile's bytes.

    Raises:
        TileRejected: with a message naming the tile.
    """
    row, col, site = meta["row"], meta["col"], meta["site"]
    name = f"r{row}c{col}"
    if not (0 <= row < config.grid and 0 <= col < config.grid):
        raise TileRejected(f"tile {name} is outside the {config.grid}x{config.grid} grid")
    if site not in config.sites:
        raise TileRejected(f"tile {name}: site {site!r} is not a site of this run")
    expected = None if config.dynamic else owner[row * config.grid + col]
    if expected is not None and site != expected:
        raise TileRejected(f"tile {name} belongs to site {expected!r}, not {site!r}")
    try:
        check_png(png, config.tile_px)
    except ValueError as exc:
        raise TileRejected(f"tile {name}: {exc}") from None


def check_batch(config: RenderConfig, owner: dict[int, str],
                tiles: Sequence[tuple[dict, bytes]]) -> None:
    """:func:`check_tile` for every tile (the first bad one raises)."""
    for meta, png in tiles:
        check_tile(config, owner, meta, png)


def check_png(data: bytes, size_px: int) -> None:
    """Check that ``data`` is a non-interlaced PNG of ``size_px`` x ``size_px`` that decodes.

    Raises:
        ValueError: what is wrong (not a PNG, wrong size, bad CRC, truncated, corrupt data).
    """
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    chunks = _chunks(data)
    kind, ihdr = next(chunks, (None, b""))
    if kind != b"IHDR" or len(ihdr) != 13:
        raise ValueError("PNG does not start with a valid IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if (width, height) != (size_px, size_px):
        raise ValueError(f"PNG is {width}x{height}, must be {size_px}x{size_px}")
    if depth not in _DEPTHS.get(colour, ()):
        raise ValueError(f"PNG has an invalid colour type {colour} / bit depth {depth}")
    if interlace != 0:
        raise ValueError("interlaced PNGs are not accepted")
    row_bytes = 1 + (width * _CHANNELS[colour] * depth + 7) // 8  # filter byte + pixels
    _check_image_data(chunks, row_bytes, height, needs_palette=colour == 3)


def _check_image_data(chunks, row_bytes: int, height: int, needs_palette: bool) -> None:
    expected = row_bytes * height
    inflater = zlib.decompressobj()
    raw, total, seen_palette, ended = [], 0, False, False
    for kind, payload in chunks:
        if kind == b"PLTE":
            seen_palette = True
        elif kind == b"IDAT":
            try:  # never inflate more than one byte past the expected size
                part = inflater.decompress(payload, expected + 1 - total)
            except zlib.error as exc:
                raise ValueError(f"PNG image data is corrupt ({exc})") from None
            raw.append(part)
            total += len(part)
            if total > expected or inflater.unconsumed_tail:
                raise ValueError("PNG image data inflates to more than its size")
        elif kind == b"IEND":
            ended = True
            break
    if not ended:
        raise ValueError("PNG is truncated (no IEND chunk)")
    if needs_palette and not seen_palette:
        raise ValueError("palette PNG has no PLTE chunk")
    pixels = b"".join(raw)
    if total != expected or not inflater.eof:
        raise ValueError("PNG image data is truncated")
    if max(pixels[::row_bytes]) > 4:
        raise ValueError("PNG image data has an invalid row filter")


def _chunks(data: bytes):
    """Yield ``(type, payload)`` of each chunk after the signature, checking lengths and CRCs."""
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("PNG is truncated (partial chunk header)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            raise ValueError("PNG is truncated (chunk runs past the end)")
        (crc,) = struct.unpack(">I", data[end:end + 4])
        if zlib.crc32(data[pos + 4:end]) != crc:
            raise ValueError(f"PNG chunk {kind!r} has a bad CRC")
        yield kind, data[pos + 8:end]
        pos = end + 4

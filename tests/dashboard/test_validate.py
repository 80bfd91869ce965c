"""PNG structure checks and tile ownership (dashboard.validate), on hand-made inputs."""
import struct
import zlib

import pytest

from dashboard.ingest import owner_map
from dashboard.testing import bomb_png, small_config, tile_meta, tile_png
from dashboard.validate import TileRejected, check_meta, check_png, check_tile
from mpi_render.encode import PNG_SIGNATURE, png_chunk


def grey_png(width, height, rows, depth=8, colour=0, interlace=0, compress=zlib.compress):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", compress(rows))
            + png_chunk(b"IEND", b""))


def test_a_palette_tile_from_pillow_passes():
    check_png(tile_png(32), 32)


def test_a_hand_made_2x2_grey_png_passes():
    check_png(grey_png(2, 2, b"\0\1\2\0\3\4"), 2)


@pytest.mark.parametrize("data, message", [
    (b"GIF89a" + b"\0" * 100, "not a PNG"),
    (grey_png(2, 2, b"\0\1\2\0\3"), "truncated"),            # one pixel short
    (grey_png(2, 2, b"\0\1\2\0\3\4\5"), "more than its size"),  # one byte too many
    (grey_png(2, 2, b"\7\1\2\0\3\4"), "row filter"),
    (grey_png(2, 2, b"\0\1\2\0\3\4", interlace=1), "interlaced"),
    (grey_png(2, 2, b"\0\1\2\0\3\4", depth=3), "bit depth"),
    (grey_png(2, 2, b"\0\1\2\0\3\4", colour=3), "PLTE"),
    (grey_png(2, 2, b"\0\1\2\0\3\4", compress=lambda raw: b"\x78\x9c garbage"), "corrupt"),
    (grey_png(2, 2, b"\0\1\2\0\3\4").replace(b"IEND", b"IENX"), "CRC"),
    (grey_png(3, 3, b"\0\1\2\3" * 3), "is 3x3, must be 2x2"),
], ids=["gif", "short", "long", "filter", "interlaced", "depth", "no-plte", "zlib", "crc",
        "size"])
def test_bad_pngs_are_refused_with_the_reason(data, message):
    with pytest.raises(ValueError, match=message):
        check_png(data, 2)


@pytest.mark.parametrize("cut", [-30, 40, 60])
def test_a_truncated_tile_is_refused(cut):
    with pytest.raises(ValueError, match="truncated"):
        check_png(tile_png(32)[:cut], 32)


def test_a_decompression_bomb_is_refused_by_its_header_alone():
    data = bomb_png(100_000)
    assert len(data) < 20_000
    with pytest.raises(ValueError, match="100000x100000, must be 32x32"):
        check_png(data, 32)


def test_a_bomb_with_the_right_size_but_too_much_data_stops_at_the_bound():
    rows = b"\0" * (1 << 24)  # 16 MiB of zero rows for a 32x32 image: inflating all would hurt
    with pytest.raises(ValueError, match="more than its size"):
        check_png(grey_png(32, 32, rows, compress=lambda r: zlib.compress(r, 9)), 32)


def test_ownership_and_grid_checks_name_the_tile():
    config = small_config()  # 4x4, cloud owns indices 0..7, onprem 8..15
    owner = owner_map(config)
    png = tile_png(32)
    check_tile(config, owner, tile_meta(0, 0, "cloud"), png)
    with pytest.raises(TileRejected, match="r2c0 belongs to site 'onprem', not 'cloud'"):
        check_tile(config, owner, tile_meta(2, 0, "cloud"), png)
    with pytest.raises(TileRejected, match="r4c0 is outside the 4x4 grid"):
        check_tile(config, owner, tile_meta(4, 0, "cloud"), png)
    with pytest.raises(TileRejected, match="r0c-1 is outside"):
        check_tile(config, owner, tile_meta(0, -1, "cloud"), png)
    with pytest.raises(TileRejected, match="'mars' is not a site"):
        check_tile(config, owner, tile_meta(0, 0, "mars"), png)
    with pytest.raises(TileRejected, match="r0c0: PNG is 16x16"):
        check_tile(config, owner, tile_meta(0, 0, "cloud"), tile_png(16))


def test_interleaved_split_ownership():
    config = small_config(split="interleaved")
    owner = owner_map(config)
    check_tile(config, owner, tile_meta(0, 1, "onprem"), tile_png(32))
    with pytest.raises(TileRejected, match="belongs to site 'onprem'"):
        check_tile(config, owner, tile_meta(0, 1, "cloud"), tile_png(32))


@pytest.mark.parametrize("field, value", [
    ("rank", "0"), ("rank", True), ("render_ms", "fast"), ("iterations", 1.5),
    ("host", 7), ("host", "x" * 300)])
def test_mistyped_optional_metadata_is_refused(field, value):
    with pytest.raises(ValueError, match=f"field {field}"):
        check_meta({"row": 0, "col": 0, "site": "cloud", field: value})

"""PNG encoding: an 8-bit palette PNG that decodes back to the same indices and palette."""
import io
import zlib

import numpy as np
import pytest
from PIL import Image

from mpi_render.encode import encode_png
from mpi_render.palettes import palette_bytes


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def png_chunks(png: bytes) -> dict:
    """{chunk type: concatenated data} of a PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8].decode()
        chunks[kind] = chunks.get(kind, b"") + png[pos + 8:pos + 8 + length]
        pos += 12 + length
    return chunks


@pytest.mark.parametrize("shape", [(1, 1), (16, 16), (23, 37)])
def test_round_trip_gives_the_same_indices_and_palette(shape):
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 256, size=shape, dtype=np.uint8)
    image = decode(encode_png(indices, palette_bytes("ocean")))
    assert image.mode == "P"
    assert image.size == (shape[1], shape[0])
    np.testing.assert_array_equal(np.asarray(image), indices)
    assert bytes(image.getpalette("RGB")) == palette_bytes("ocean")


def test_png_is_8_bit_palette_type_with_a_full_palette():
    chunks = png_chunks(encode_png(np.zeros((4, 4), dtype=np.uint8), palette_bytes("fire")))
    bit_depth, colour_type = chunks["IHDR"][8], chunks["IHDR"][9]
    assert (bit_depth, colour_type) == (8, 3)
    assert chunks["PLTE"] == palette_bytes("fire")


def test_zlib_stream_uses_the_fastest_level():
    """The zlib header's FLEVEL bits say 'fastest' (level 1), not the default level 6."""
    indices = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8)
    idat = png_chunks(encode_png(indices, palette_bytes("electric")))["IDAT"]
    assert idat[1] >> 6 == 0
    assert len(zlib.decompress(idat)) == 64 * (64 + 1)  # one filter byte per row


def test_non_contiguous_input_is_encoded_as_shown():
    indices = np.arange(100, dtype=np.uint8).reshape(10, 10)[:, ::2]
    np.testing.assert_array_equal(np.asarray(decode(encode_png(indices, bytes(768)))), indices)


@pytest.mark.parametrize("indices", [np.zeros((4, 4), dtype=np.uint16), np.zeros(4, np.uint8),
                                     [[0, 1], [2, 3]]])
def test_bad_indices_are_refused(indices):
    with pytest.raises(ValueError, match="indices must be a 2-D uint8 numpy array"):
        encode_png(indices, palette_bytes("fire"))


def test_short_palette_is_refused():
    with pytest.raises(ValueError, match="palette must be 768 bytes"):
        encode_png(np.zeros((2, 2), dtype=np.uint8), bytes(765))


def test_an_empty_tile_is_refused():
    with pytest.raises(ValueError, match="must not be empty"):
        encode_png(np.zeros((0, 4), dtype=np.uint8), palette_bytes("fire"))

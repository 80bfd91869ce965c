"""Wire formats: the multipart batch and the binary WebSocket tile frame."""
import pytest

from mpi_render.protocol import BatchError, decode_frame, encode_batch, encode_frame, parse_batch

TILES = [({"row": 0, "col": 1, "site": "cloud", "render_ms": 1.5}, b"\x89PNG first"),
         ({"row": 2, "col": 0, "site": "cloud"}, b"second\r\n--not-a-boundary")]


def test_batch_round_trip_keeps_order_metadata_and_bytes():
    content_type, body = encode_batch(TILES)
    assert parse_batch(content_type, body) == TILES


def test_batch_parts_are_named_after_their_tile():
    _, body = encode_batch(TILES)
    assert b'name="r0c1"; filename="r0c1.png"' in body
    assert b'name="r2c0"; filename="r2c0.png"' in body


@pytest.mark.parametrize("mangle, message", [
    (lambda ct, body: ("application/json", body), "multipart/form-data"),
    (lambda ct, body: (ct, body[: len(body) // 2]), "truncated"),
    (lambda ct, body: (ct, body.replace(b'name="manifest"', b'name="other"')), "no 'manifest'"),
    (lambda ct, body: (ct, body.replace(b'"row":0', b'"row":"0"')), "must be integers"),
    (lambda ct, body: (ct, body.replace(b'[{"row"', b'[{"rxw"')), "missing row"),
    (lambda ct, body: (ct, body.replace(b'name="r2c0"', b'name="r3c0"')), "has no part 'r2c0'"),
])
def test_malformed_batches_raise_batch_error(mangle, message):
    content_type, body = mangle(*encode_batch(TILES))
    with pytest.raises(BatchError, match=message):
        parse_batch(content_type, body)


def test_manifest_that_is_not_json_is_refused():
    content_type, body = encode_batch(TILES)
    body = body.replace(b'[{"row":0', b'[{row:0')
    with pytest.raises(BatchError, match="manifest is not JSON"):
        parse_batch(content_type, body)


def test_frame_round_trip():
    header = {"seq": 7, "row": 1, "col": 2, "site": "onprem"}
    frame = encode_frame(header, b"PNGDATA")
    assert frame[:4] == b"MRT1"
    assert decode_frame(frame) == (header, b"PNGDATA")


def test_frame_with_a_lying_header_length_is_refused():
    frame = encode_frame({"seq": 1}, b"")
    with pytest.raises(ValueError, match="past the end"):
        decode_frame(frame[:4] + b"\x00\x00\x10\x00" + frame[8:])

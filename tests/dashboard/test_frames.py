"""ws_binary_frame: the three RFC 6455 length encodings, read back by hand."""
import struct

import pytest

from dashboard.wsframe import ws_binary_frame


def read_frame(wire: bytes) -> tuple[int, bytes]:
    first, second = wire[0], wire[1]
    assert second & 0x80 == 0, "server frames are never masked"
    size, offset = second & 0x7F, 2
    if size == 126:
        (size,), offset = struct.unpack(">H", wire[2:4]), 4
    elif size == 127:
        (size,), offset = struct.unpack(">Q", wire[2:10]), 10
    assert len(wire) == offset + size
    return first, wire[offset:]


@pytest.mark.parametrize("size, head_bytes", [(0, 2), (125, 2), (126, 4), (65535, 4),
                                              (65536, 10), (300_000, 10)])
def test_lengths_round_trip(size, head_bytes):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    wire = ws_binary_frame(payload)
    assert len(wire) == head_bytes + size
    assert read_frame(wire) == (0x82, payload)  # FIN + binary opcode

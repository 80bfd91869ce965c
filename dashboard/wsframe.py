"""Server-side WebSocket framing of tile frames: built once, written to every client as is.

The tile frame itself (the payload) is :mod:`mpi_render.protocol`'s.
"""
from __future__ import annotations

import struct

from mpi_render.protocol import frame_parts


def ws_tile_frame(header: dict, png: bytes) -> bytes:
    """``ws_binary_frame(encode_frame(header, png))``, assembled with one copy of the PNG."""
    parts = frame_parts(header, png)
    return b"".join((_ws_frame_head(sum(len(part) for part in parts)), *parts))


def ws_binary_frame(payload: bytes) -> bytes:
    """``payload`` as one complete, unmasked WebSocket binary frame (RFC 6455 section 5.2).

    The dashboard builds each tile's frame once and writes the same bytes to every client
    (server frames are never masked), instead of re-framing per client.
    """
    return _ws_frame_head(len(payload)) + payload


def _ws_frame_head(size: int) -> bytes:
    """The header of an unmasked, final binary frame of ``size`` payload bytes."""
    if size < 126:
        return struct.pack(">BB", 0x82, size)  # FIN + opcode 2 (binary), 7-bit length
    if size < 1 << 16:
        return struct.pack(">BBH", 0x82, 126, size)
    return struct.pack(">BBQ", 0x82, 127, size)

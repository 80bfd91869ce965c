"""WebSocket clients for load tests: many readers in one asyncio loop, and one that never reads.

A reader collects every tile frame of a run (``mpi_render.protocol.decode_frame``) until it has
``total`` tiles. The stalled client speaks just enough of RFC 6455 by hand on a blocking socket
with a tiny receive buffer, so the server's bytes pile up on the server side, as with a browser
tab whose machine froze.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections import Counter
from dataclasses import dataclass, field

import tornado.websocket
from support import close_websocket

from mpi_render.protocol import decode_frame

STALLED_RCVBUF_BYTES = 4096


@dataclass
class Reception:
    """What one reader got: tile keys counted, seqs in arrival order, when it had them all."""

    keys: Counter = field(default_factory=Counter)
    seqs: list = field(default_factory=list)
    hello: dict | None = None
    done_at: float | None = None
    close_code: int | None = None


async def read_run(ws_url: str, total: int, timeout_s: float) -> Reception:
    """Connect to ``ws_url`` and read until ``total`` tiles arrived (fail after ``timeout_s``)."""
    got = Reception()
    conn = await tornado.websocket.websocket_connect(ws_url, max_message_size=64 << 20)
    try:
        await asyncio.wait_for(_collect(conn, total, got), timeout_s)
    finally:
        await close_websocket(conn)
    return got


async def _collect(conn, total: int, got: Reception) -> None:
    while len(got.seqs) < total:
        message = await conn.read_message()
        if message is None:
            got.close_code = conn.close_code
            return
        if isinstance(message, bytes):
            header, _png = decode_frame(message)
            got.keys[(header["row"], header["col"])] += 1
            got.seqs.append(header["seq"])
        elif got.hello is None:
            got.hello = json.loads(message)
    got.done_at = time.monotonic()


class StalledClient:
    """A WebSocket client that completes the handshake and then never reads."""

    def __init__(self, host: str, port: int, path: str):
        self.sock = socket.socket()
        # Set before connect so the window is small from the start (no autotuning).
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF_BYTES)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(1)  # byte by byte: leave the frames in the kernel buffer
            if not chunk:
                raise ConnectionError("closed during the WebSocket handshake")
            self.buffer += chunk
        status_line = self.buffer.split(b"\r\n", 1)[0]
        if b" 101 " not in status_line:
            raise ConnectionError(f"handshake refused: {status_line!r}")
        self.buffer = bytearray()

    def drain(self, timeout_s: float, until_tiles: int | None = None) -> tuple[int, int | None,
                                                                           bool]:
        """Read until the server closes the connection, ``until_tiles`` tile frames arrived,
        or ``timeout_s`` passed.

        Returns:
            ``(tile_frames, close_code, closed)``: binary frames received, the close frame's
            code if one arrived (a server that aborts a full connection sends none), and
            whether the server closed the connection.
        """
        deadline = time.monotonic() + timeout_s
        self.sock.settimeout(1)
        closed = False
        tiles, close_code, pos = 0, None, 0  # pos: just after the last complete frame parsed
        while not closed and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            closed = not chunk
            self.buffer += chunk
            new_tiles, new_close, pos = _count_frames(self.buffer, pos)
            tiles += new_tiles
            close_code = close_code if new_close is None else new_close
            if until_tiles is not None and tiles >= until_tiles:
                break
        self.sock.close()
        return tiles, close_code, closed


_EXTENDED_LENGTH_BYTES = {126: 2, 127: 8}


def _count_frames(data: bytes | bytearray, pos: int = 0) -> tuple[int, int | None, int]:
    """Parse unmasked server frames from ``pos``: count complete binary frames, return the
    close code if any, and the position just after the last complete frame (where to resume
    once more data arrived).

    A frame cut short (the connection was aborted, or more is still to come) is not counted.
    """
    tiles, close_code, end = 0, None, len(data)
    while pos + 2 <= end:
        opcode, length = data[pos] & 0x0F, data[pos + 1] & 0x7F
        extra = _EXTENDED_LENGTH_BYTES.get(length, 0)
        if pos + 2 + extra > end:
            break
        if extra:
            length = int.from_bytes(data[pos + 2:pos + 2 + extra], "big")
        start = pos + 2 + extra
        if start + length > end:
            break
        if opcode == 0x2:
            tiles += 1
        elif opcode == 0x8 and length >= 2:
            close_code = struct.unpack(">H", data[start:start + 2])[0]
        pos = start + length
    return tiles, close_code, pos

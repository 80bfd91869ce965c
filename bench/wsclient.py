"""A lean WebSocket reader for the fan-out benchmark: many sockets, one asyncio process.

Why not Tornado's client: 50 sockets at 500 tiles/s are 25,000 frames/s, and Tornado's client
costs about 90 us of CPU per frame here, so the readers alone would need more than the two
cores the dashboard also runs on, and the "latency" would measure the readers' backlog. This
reader does only what the benchmark needs (RFC 6455 client handshake, unmasked server frames,
no fragmentation, which the dashboard never sends) at a few microseconds per frame.

Each socket stamps ``time.time()`` once per ``data_received`` chunk, before parsing, and records
``stamp - header["stored_at"]`` for every tile frame in the chunk.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time

OP_TEXT, OP_BINARY, OP_CLOSE = 0x1, 0x2, 0x8


class TileReader(asyncio.Protocol):
    """One WebSocket that counts tile frames and records their delivery latency.

    Args:
        host, port, path: where to connect (``path`` with the query, e.g. ``/api/runs/R/ws``).
        n_tiles: tile frames to read before :attr:`done` resolves.
    """

    def __init__(self, host: str, port: int, path: str, n_tiles: int):
        loop = asyncio.get_running_loop()
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: "
                        f"{base64.b64encode(os.urandom(16)).decode()}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.n_tiles = n_tiles
        self.latencies_s: list[float] = []
        self.hello = loop.create_future()
        self.done = loop.create_future()
        self.buffer = bytearray()
        self.upgraded = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes):
        now = time.time()
        self.buffer += data
        if not self.upgraded:
            head, sep, _ = bytes(self.buffer).partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(f"WebSocket upgrade refused: {head[:200]!r}")
                return
            del self.buffer[:len(head) + 4]
            self.upgraded = True
        self._parse(now)

    def _parse(self, now: float) -> None:
        buf, pos = self.buffer, 0
        while len(buf) - pos >= 2:
            opcode, length, start = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, pos + 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                (length,), start = struct.unpack_from(">H", buf, pos + 2), pos + 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                (length,), start = struct.unpack_from(">Q", buf, pos + 2), pos + 10
            if len(buf) < start + length:
                break
            self._message(opcode, buf, start, length, now)
            pos = start + length
        del buf[:pos]  # one compaction per chunk, not per frame

    def _message(self, opcode: int, buf: bytearray, start: int, length: int, now: float) -> None:
        if opcode == OP_BINARY:
            (head_len,) = struct.unpack_from(">I", buf, start + 4)
            header = json.loads(bytes(buf[start + 8:start + 8 + head_len]))
            self.latencies_s.append(now - header["stored_at"])
            if len(self.latencies_s) == self.n_tiles and not self.done.done():
                self.done.set_result(self.latencies_s)
        elif opcode == OP_TEXT:
            message = json.loads(bytes(buf[start:start + length]))
            if message.get("type") == "hello" and not self.hello.done():
                self.hello.set_result(message)
        elif opcode == OP_CLOSE:
            self._fail(f"server closed the socket after {len(self.latencies_s)} tiles")

    def _fail(self, why: str) -> None:
        for future in (self.hello, self.done):
            if not future.done():
                future.set_exception(RuntimeError(why))
        self.transport.close()

    def connection_lost(self, exc):
        if not self.done.done():
            self._fail(f"connection lost after {len(self.latencies_s)} tiles ({exc})")


async def read_tiles(host: str, port: int, path: str, n_clients: int, n_tiles: int,
                     on_ready, timeout_s: float) -> list[float]:
    """Open ``n_clients`` readers, call ``on_ready()`` once every hello arrived, then wait
    until each has ``n_tiles`` tile frames; returns every latency in seconds."""
    loop = asyncio.get_running_loop()
    readers = []
    for _ in range(n_clients):
        _, reader = await loop.create_connection(
            lambda: TileReader(host, port, path, n_tiles), host, port)
        readers.append(reader)
    await asyncio.wait_for(asyncio.gather(*(r.hello for r in readers)), timeout_s)
    on_ready()
    per_reader = await asyncio.wait_for(asyncio.gather(*(r.done for r in readers)), timeout_s)
    for reader in readers:
        reader.transport.close()
    return [latency for latencies in per_reader for latency in latencies]

"""WebSocket handlers: the per-run tile stream (hello, replay, live) and the runs feed.

Ordering without gaps or duplicates: :meth:`TilesSocket.open` registers the client with the hub
FIRST and then reads the run's committed ``seq`` (``upto``). Tiles are published only after
their commit, so every tile with ``seq <= upto`` is in SQLite (replayed from there) and every tile
with ``seq > upto`` reaches the client through the hub; live frames that arrive while replaying
are buffered and sent after the replay, keeping only ``seq > upto``.

Header-only replay: ``images_after=SEQ`` sends the replayed tiles with ``seq <= SEQ`` as frames
with an empty PNG (their PNGs are not even read from SQLite): a page that drew the overview
mosaic of those tiles (``overview.png``, ``X-Mosaic-Seq``) still gets every tile's metadata.
Live tiles always carry their PNG (a SEQ above the run's seq at connect counts as that seq).

Back-pressure: each client counts the bytes it has queued but the kernel has not taken yet (write
futures not done) plus the live frames it buffers during replay. When a new batch arrives while
more than ``client_buffer_bytes`` are still pending, the client is closed with 4000 "too slow";
it reconnects with its last seq. Publishing never awaits a client.
"""
from __future__ import annotations

import asyncio
import json
import logging

import tornado.iostream
import tornado.websocket

from mpi_render.config import check_run_id

from .auth import origin_allowed
from .hub import FrameBatch, tile_frame

log = logging.getLogger(__name__)
CLOSE_TOO_SLOW = 4000
HEADER_ONLY_CHUNK_TILES = 512  # a header-only frame is ~200 bytes: bigger replay steps
MAX_CLIENT_MESSAGE_BYTES = 64 * 1024


class _Socket(tornado.websocket.WebSocketHandler):
    """Shared parts: checks before the upgrade (JSON errors), send accounting, dropping."""

    def initialize(self, services):
        self.services = services
        self.pending_bytes = 0
        self.closed = False

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")

    def refuse(self, status: int, message: str) -> None:
        """Answer a plain-HTTP JSON error instead of upgrading."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    def check_origin(self, origin: str) -> bool:
        headers = self.request.headers
        return origin_allowed(origin, headers.get("Host"), headers.get("X-Forwarded-Host"),
                              self.services.allowed_origins)

    def origin_refused(self) -> bool:
        """Refuse a plain HTTP request (400 JSON) or a browser origin that is not allowed (403
        JSON); True when refused."""
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            self.refuse(400, "this is a WebSocket endpoint (send Upgrade: websocket)")
            return True
        origin = self.request.headers.get("Origin")
        if origin is not None and not self.check_origin(origin):
            self.refuse(403, f"origin {origin[:200]} not allowed; start the dashboard with "
                             "--allow-origin to allow it")
            return True
        return False

    def send_control(self, message: dict) -> None:
        """Queue a JSON text frame (Tornado frames it)."""
        payload = json.dumps(message, separators=(",", ":"))
        if not self.closed:
            try:
                self._track(self.write_message(payload), len(payload))
            except tornado.websocket.WebSocketClosedError:
                self.on_close()
        self.check_backlog()

    def send_wire(self, wire: bytes):
        """Queue complete, pre-built binary frames (see :mod:`dashboard.hub`).

        They go straight to the connection's stream, after anything queued before (Tornado's
        own frames use the same stream, so the order of messages is kept). Returns the write
        future, or None when the socket is gone.
        """
        connection = self.ws_connection
        if self.closed or connection is None or not wire:
            return None
        try:
            future = connection.stream.write(wire)
        except tornado.iostream.StreamClosedError:
            self.on_close()
            return None
        self._track(future, len(wire))
        return future

    def _track(self, future, size: int) -> None:
        self.pending_bytes += size
        future.add_done_callback(lambda f: self._sent(f, size))

    def check_backlog(self) -> None:
        """Drop the client when it is more than ``client_buffer_bytes`` behind."""
        if self.pending_bytes > self.services.client_buffer_bytes:
            self.drop()

    def _sent(self, future, size: int) -> None:
        self.pending_bytes -= size
        if not future.cancelled():
            future.exception()  # retrieved: a closed socket is handled by on_close

    def drop(self) -> None:
        """Close a client that fell too far behind (it reconnects with its last seq)."""
        if not self.closed:
            log.warning("closing slow WebSocket client %s (%d bytes pending)",
                        self.request.remote_ip, self.pending_bytes)
            self.on_close()
            self.close(CLOSE_TOO_SLOW, "too slow")

    def on_message(self, message):
        pass  # clients have nothing to say; messages are ignored (documented)

    def get_compression_options(self):
        return None  # tiles are PNG already: deflate would only burn CPU


class TilesSocket(_Socket):
    """``WS api/runs/{id}/ws?since=SEQ&images_after=SEQ``: hello, replay of ``seq > since``
    (header-only up to ``images_after``), replayed, live."""

    async def get(self, run_id: str):
        try:
            check_run_id(run_id)
        except ValueError as exc:
            return self.refuse(400, str(exc))
        if self.services.store.run_config(run_id) is None:
            return self.refuse(404, f"unknown run {run_id}")
        seqs = {}
        for name in ("since", "images_after"):
            raw = self.get_query_argument(name, "0")
            if not raw.isdigit() or len(raw) > 18:
                return self.refuse(400, f"{name} must be a non-negative integer, got {raw[:40]!r}")
            seqs[name] = int(raw)
        if self.origin_refused():
            return None
        self.since, self.images_after = seqs["since"], seqs["images_after"]
        return await super().get(run_id)

    def open(self, run_id: str):
        self.run_id = run_id
        self.replaying = True
        self.buffered: list[tuple[int, bytes]] = []
        self.services.hub.subscribe(run_id, self)  # before reading upto: see module docstring
        doc = self.services.store.run_doc(run_id)
        self.upto = doc["seq"]
        self.floor = max(self.since, self.upto)  # live frames must be above this
        doc.pop("missing")
        self.send_control({"type": "hello", "run": doc.pop("id"), **doc,
                           "phases": self.services.phases.of(run_id)})
        self.replay_task = asyncio.ensure_future(self._replay())

    async def _replay(self) -> None:
        try:
            await self._send_replay()
        except Exception:  # one client's failure must not go unnoticed or spread to others
            log.exception("replay of run %s failed; closing the client", self.run_id)
            self.on_close()
            self.close(1011, "replay failed")
            return
        self.send_control({"type": "replayed", "seq": self.upto})
        self.replaying = False
        buffered, self.buffered = self.buffered, []
        wire = b"".join(frame for _, frame in buffered)
        self.pending_bytes -= len(wire)
        self.send_wire(wire)

    async def _send_replay(self) -> None:
        """Send the stored tiles ``since < seq <= upto``: header-only up to ``images_after``."""
        headers_upto = min(self.images_after, self.upto)
        cursor = await self._send_range(self.since, headers_upto, False, HEADER_ONLY_CHUNK_TILES)
        await self._send_range(cursor, self.upto, True, self.services.replay_chunk_tiles)

    async def _send_range(self, cursor: int, upto: int, with_png: bool, chunk_tiles: int) -> int:
        """Send the tiles ``cursor < seq <= upto`` chunk by chunk, at the client's pace; returns
        the seq sent last (``cursor`` when none)."""
        services = self.services
        loop = asyncio.get_running_loop()
        while cursor < upto and not self.closed:
            tiles = await loop.run_in_executor(
                services.pool, services.store.tiles_since, self.run_id, cursor, upto,
                chunk_tiles, with_png)
            if not tiles:
                break
            sent = self.send_wire(b"".join(tile_frame(tile) for tile in tiles))
            cursor = tiles[-1].seq
            if sent is not None:
                await asyncio.wait([sent])  # one chunk in memory at most
        return cursor

    def deliver(self, batch: FrameBatch) -> None:
        # Judge the backlog BEFORE adding this batch: a fast client has a whole batch pending
        # right after each delivery; a slow one still has the previous ones. Memory per client
        # stays below client_buffer_bytes plus one batch (itself bounded by --max-body).
        self.check_backlog()
        if self.closed:
            return
        # Filtering happens only after a reconnect with a since ahead of the store, or a replay
        # overlap; otherwise the batch goes out as the wire bytes built once for every client.
        whole = batch.first_seq > self.floor
        fresh = batch.frames if whole else [(s, f) for s, f in batch.frames if s > self.floor]
        if self.replaying:
            self.buffered.extend(fresh)
            self.pending_bytes += sum(len(frame) for _, frame in fresh)
        else:
            self.send_wire(batch.wire if whole else b"".join(frame for _, frame in fresh))

    def on_close(self):
        if not self.closed:
            self.closed = True
            self.buffered = []
            self.services.hub.unsubscribe(self.run_id, self)


class RunsSocket(_Socket):
    """``WS api/ws``: the run list on connect, then a ``run`` message per new run."""

    async def get(self):
        if self.origin_refused():
            return None
        return await super().get()

    def open(self):
        self.services.hub.subscribe_feed(self)
        self.send_control({"type": "runs", "runs": self.services.store.list_runs()})

    def deliver(self, frames) -> None:
        pass  # the feed carries no tiles

    def on_close(self):
        if not self.closed:
            self.closed = True
            self.services.hub.unsubscribe_feed(self)


def socket_settings() -> dict:
    """Application settings for WebSockets (ACTIVATE's proxy resets streams idle for ~60 s)."""
    return {"websocket_ping_interval": 20, "websocket_ping_timeout": 20,
            "websocket_max_message_size": MAX_CLIENT_MESSAGE_BYTES}

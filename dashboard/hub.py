"""Fan-out registry: which WebSocket clients listen to which run. No Tornado import.

A client is any object with ``deliver(frames)`` (live tile frames, ``[(seq, frame_bytes)]`` in seq
order) and ``send_control(message)`` (a JSON-able dict). Both must return at once: a client queues
or drops, it never makes the publisher wait, so a slow browser cannot slow ingest or the others.
Each frame is built once per tile and the same bytes object goes to every client.
"""
from __future__ import annotations

import logging
from typing import Iterable

from .protocol import encode_frame
from .store import StoredTile

log = logging.getLogger(__name__)


class Hub:
    """Subscribers per run, plus run-feed subscribers (``api/ws``)."""

    def __init__(self):
        self._by_run: dict[str, set] = {}
        self._feeds: set = set()

    def subscribe(self, run_id: str, client) -> None:
        self._by_run.setdefault(run_id, set()).add(client)

    def unsubscribe(self, run_id: str, client) -> None:
        clients = self._by_run.get(run_id)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._by_run[run_id]

    def subscribe_feed(self, client) -> None:
        self._feeds.add(client)

    def unsubscribe_feed(self, client) -> None:
        self._feeds.discard(client)

    def count(self, run_id: str) -> int:
        """Number of tile clients of ``run_id``."""
        return len(self._by_run.get(run_id, ()))

    def clients(self) -> list:
        """Every connected client (tile sockets and feeds)."""
        return [c for clients in self._by_run.values() for c in clients] + list(self._feeds)

    def publish_tiles(self, run_id: str, tiles: Iterable[StoredTile]) -> None:
        """Send newly stored tiles (seq order) to the run's clients."""
        clients = self._by_run.get(run_id)
        if not clients:
            return
        frames = [(tile.seq, encode_frame(tile.header(), tile.png)) for tile in tiles]
        for client in list(clients):  # a client may unsubscribe itself while we deliver
            client.deliver(frames)

    def publish_control(self, message: dict) -> None:
        """Send a control message (e.g. ``{"type": "run", ...}``) to every client."""
        for client in self.clients():
            client.send_control(message)

"""``make_app``: the routes table and the services every handler shares (no module globals).

Threads: one *writer* thread does every SQLite write (so a batch's duplicate check and insert are
atomic with respect to other batches); a small *pool* parses and checks batches (zlib releases the
GIL), reads replay chunks and tiles, and builds mosaic bands; one *overview* thread keeps the
overview mosaics up to date, so neither ingest's parsing nor its writes ever wait for one (a cold
overview of 1024 large tiles takes seconds). The event loop only routes bytes.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import tornado.web

from . import claims, handlers, phases, socket
from .hub import Hub
from .leases import Leases
from .overview import OverviewCache
from .store import TileStore

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_CLIENT_BUFFER_BYTES = 8 * 1024 * 1024
DEFAULT_REPLAY_CHUNK_TILES = 16
DEFAULT_LEASE_S = 30.0
POOL_THREADS = 2
STATIC = Path(__file__).resolve().parent / "static"
CLOSE_GOING_AWAY = 1001


@dataclass
class Services:
    """What the handlers share; one per application."""

    store: TileStore
    token: str
    allowed_origins: frozenset[str]
    max_body_bytes: int
    client_buffer_bytes: int
    replay_chunk_tiles: int
    leases: Leases
    control_token: str | None = None
    hub: Hub = field(default_factory=Hub)
    phases: phases.Phases = field(default_factory=phases.Phases)
    work: claims.WorkSignal = field(default_factory=claims.WorkSignal)
    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="dashboard-writer"))
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="dashboard-pool"))
    overview_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="dashboard-overview"))
    overviews: OverviewCache = field(init=False)

    def __post_init__(self):
        self.overviews = OverviewCache(self.store)

    def shutdown_executors(self, cancel_futures: bool = False) -> None:
        """Stop the worker threads; the SQLite writer always finishes its current batch."""
        self.pool.shutdown(wait=True, cancel_futures=cancel_futures)
        self.overview_thread.shutdown(wait=True, cancel_futures=cancel_futures)
        self.writer.shutdown(wait=True)  # the batch being written is committed, not cut


def parse_origins(values: Iterable[str]) -> frozenset[str]:
    """``--allow-origin`` values (comma-separated, repeatable) -> normalised origins."""
    return frozenset(o.strip().lower().rstrip("/") for v in values for o in v.split(",")
                     if o.strip())


def make_app(store: TileStore, *, token: str, control_token: str | None = None,
             allowed_origins: Iterable[str] = (), max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
             client_buffer_bytes: int = DEFAULT_CLIENT_BUFFER_BYTES,
             replay_chunk_tiles: int = DEFAULT_REPLAY_CHUNK_TILES,
             lease_s: float = DEFAULT_LEASE_S) -> tornado.web.Application:
    """Build the dashboard application.

    Args:
        store: open storage (the caller closes it, after :func:`shutdown`).
        token: the ingest token: runs, tiles, claims, the work list.
        control_token: the control token, which may only create and cancel runs (None: none).
        allowed_origins: extra WebSocket origins (``scheme://host[:port]``; ``*`` = any).
        max_body_bytes: largest accepted request body (bigger -> 413).
        client_buffer_bytes: bytes a WebSocket client may fall behind before it is dropped.
        replay_chunk_tiles: tiles read from SQLite per replay step.
        lease_s: how long a claimed tile stays leased to its site, seconds.

    The services are reachable as ``app.settings["services"]``.

    Raises:
        ValueError: an empty token, a control token equal to the ingest token, a bad lease_s.
    """
    if not token:
        raise ValueError("token must be a non-empty string")
    if control_token is not None and (not control_token or control_token == token):
        raise ValueError("control_token must be a non-empty string other than the ingest token")
    services = Services(store, token, parse_origins(allowed_origins), max_body_bytes,
                        client_buffer_bytes, replay_chunk_tiles, Leases(lease_s), control_token)
    deps = {"services": services}
    run = r"api/runs/([^/]+)"
    routes = [
        (r"/", handlers.IndexHandler, deps),
        (r"/healthz", handlers.HealthHandler, deps),
        (r"/static/(.*)", handlers.StaticHandler, {"path": str(STATIC)}),
        (r"/api/ws", socket.RunsSocket, deps),
        (r"/api/runs", handlers.RunsHandler, deps),
        (r"/api/locations", handlers.LocationsHandler, deps),
        (r"/api/work", claims.WorkHandler, deps),
        (rf"/{run}", handlers.RunHandler, deps),
        (rf"/{run}/tiles", handlers.TilesHandler, deps),
        (rf"/{run}/claims", claims.ClaimsHandler, deps),
        (rf"/{run}/cancel", claims.CancelHandler, deps),
        (rf"/{run}/phase", phases.PhaseHandler, deps),
        (rf"/{run}/tiles/(\d{{1,4}})/(\d{{1,4}})\.png", handlers.TileHandler, deps),
        (rf"/{run}/image\.png", handlers.MosaicHandler, deps),
        (rf"/{run}/overview\.png", handlers.OverviewHandler, deps),
        (rf"/{run}/ws", socket.TilesSocket, deps),
    ]
    return tornado.web.Application(
        routes, services=services, default_handler_class=handlers.NotFoundHandler,
        default_handler_args=deps, **socket.socket_settings())


async def shutdown(app: tornado.web.Application, timeout_s: float = 3.0) -> None:
    """Close every WebSocket with 1001, wait (bounded) for them, finish pending storage work.

    The store itself is closed by the caller.
    """
    services: Services = app.settings["services"]
    clients = services.hub.clients()
    streams = [c.ws_connection.stream for c in clients if c.ws_connection is not None]
    for client in clients:
        client.on_close()
        client.close(CLOSE_GOING_AWAY, "server shutting down")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    # clients answer the close frame; waiting lets 1001 reach them before the process exits
    while any(not stream.closed() for stream in streams) and loop.time() < deadline:
        await asyncio.sleep(0.02)
    services.shutdown_executors(cancel_futures=True)

"""Elastic runs over HTTP: tile claims with leases, cancelling a run, and the serving sites' work list.

``POST api/runs/{id}/claims`` leases unstored tiles to a site (:mod:`dashboard.leases`),
``POST api/runs/{id}/cancel`` stops a run for good, and ``GET api/work`` long-polls for the runs a
serving site could claim tiles of. The wire contract is docs/API.md ("Elastic runs").

The long-poll never spins: a waiting request sleeps on a :class:`WorkSignal` until something that
can add work happens (a run is created, a claim adds a lease whose expiry it must wait for) or the
earliest live lease expires, re-checks, and sleeps again. Everything here runs on the event loop;
the lists it reads are in-memory (:class:`dashboard.store.TileStore`).
"""
from __future__ import annotations

import asyncio
import math

from mpi_render.config import SITE_NAME_RE

from .handlers import STORE_ERRORS, ApiError, BaseHandler, json_object
from .records import StorageFull, StorageUnavailable

MAX_CLAIM_TILES = 1024
MAX_WAIT_S = 25.0
EXPIRY_SLACK_S = 0.01  # wake just after the lease's end, so it is expired when re-checked


class WorkSignal:
    """Wakes the ``GET api/work`` waiters when the work list may have grown. One per app.

    Use it from the event loop only (so a notify cannot fall between a waiter's check and its
    wait: there is no ``await`` between them).
    """

    def __init__(self):
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter; later waiters wait for the next notify."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """Sleep until the next :meth:`notify` or ``timeout_s``; True when notified."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


def parse_claim(body: bytes, sites: tuple[str, ...]) -> tuple[str, int]:
    """The ``(site, max_tiles)`` of a claim body.

    Raises:
        ApiError: 413 too big; 400 not JSON, not an object, a missing or mistyped field;
            422 a site not in ``sites`` or ``max_tiles`` outside 1..1024.
    """
    doc = json_object(body, "claim", '{"site": S, "max_tiles": K}')
    site, max_tiles = doc.get("site"), doc.get("max_tiles")
    if not isinstance(site, str):
        raise ApiError(400, "claim field site must be a string")
    if isinstance(max_tiles, bool) or not isinstance(max_tiles, int):
        raise ApiError(400, "claim field max_tiles must be an integer")
    if site not in sites:
        raise ApiError(422, f"site {site[:64]!r} is not a site of this run ({', '.join(sites)})")
    if not 1 <= max_tiles <= MAX_CLAIM_TILES:
        raise ApiError(422, f"max_tiles must be in 1..{MAX_CLAIM_TILES}, got {max_tiles}")
    return site, max_tiles


class ClaimsHandler(BaseHandler):
    """``POST api/runs/{id}/claims``: lease up to K claimable tiles to a site."""

    def post(self, run_id: str):
        self.require_token()
        config = self.run_config(run_id)
        self.refuse_cancelled(run_id)
        site, max_tiles = parse_claim(self.request.body, config.sites)
        services = self.services
        candidates = services.store.unstored_tiles(run_id, site)
        granted = [] if candidates is None else services.leases.claim(
            run_id, site, candidates, max_tiles)
        if granted:
            services.work.notify()  # waiters must now also wake when these leases expire
        backups = [] if granted or candidates is None or not config.dynamic else \
            services.leases.claim_backups(run_id, site, candidates, max_tiles,
                                          services.store.mean_tile_s(run_id))
        tiles = [{"row": t // config.grid, "col": t % config.grid} for t in granted]
        tiles += [{"row": t // config.grid, "col": t % config.grid, "backup": True}
                  for t in backups]
        self.write_json({"tiles": tiles,
                         "lease_s": services.leases.lease_s,
                         "complete": services.store.run_summary(run_id)["complete"]})


class CancelHandler(BaseHandler):
    """``POST api/runs/{id}/cancel``: idempotent; persisted; tells the run's WebSocket clients."""

    async def post(self, run_id: str):
        self.require_token(control_ok=True)
        self.run_config(run_id)
        try:
            cancelled_now = await self.in_writer(self.services.store.cancel_run, run_id)
        except (StorageFull, StorageUnavailable) as exc:
            raise ApiError(STORE_ERRORS[type(exc)], str(exc)) from None
        self.services.leases.drop_run(run_id)
        self.services.phases.drop_run(run_id)
        if cancelled_now:
            self.services.hub.publish_run_control(run_id, {"type": "cancelled", "run": run_id})
        self.write_json({"id": run_id, "cancelled": True})


class WorkHandler(BaseHandler):
    """``GET api/work?site=S&wait_s=W``: the runs S could claim tiles of now, newest first;
    when there are none, wait up to W seconds for some."""

    def on_connection_close(self):
        self.services.work.notify()  # lets this waiter (and the others, harmlessly) re-check

    async def get(self):
        self.require_token()
        site = self.get_query_argument("site", "")
        if not SITE_NAME_RE.match(site):
            raise ApiError(400, f"site must match [A-Za-z0-9_.-]{{1,32}}, got {site[:40]!r}")
        wait_s = parse_wait_s(self.get_query_argument("wait_s", "0"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        runs = self.claimable_runs(site)
        while not runs and not self.request.connection.stream.closed():
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                break
            expiry_s = self.services.leases.next_expiry_s()
            if expiry_s is not None:
                remaining_s = min(remaining_s, expiry_s + EXPIRY_SLACK_S)
            await self.services.work.wait(remaining_s)
            runs = self.claimable_runs(site)
        if not self.request.connection.stream.closed():
            self.write_json({"runs": runs, "lease_s": self.services.leases.lease_s})

    def claimable_runs(self, site: str) -> list[dict]:
        """Runs with a tile ``site`` could claim right now (unstored and unleased, or a backup
        in a dynamic run's end game), newest first."""
        leases, store = self.services.leases, self.services.store
        return [{"id": run_id, "config": config, "created_at": created_at}
                for run_id, config, created_at, unstored in store.open_runs(site)
                if leases.first_free(run_id, unstored) is not None
                or (config["split"] == "dynamic"
                    and leases.has_backup(run_id, site, unstored, store.mean_tile_s(run_id)))]


def parse_wait_s(raw: str) -> float:
    """The ``wait_s`` query argument: a number of seconds in 0..25.

    Raises:
        ApiError: 400 otherwise.
    """
    try:
        wait_s = float(raw)
    except ValueError:
        wait_s = math.nan
    if not 0 <= wait_s <= MAX_WAIT_S:
        raise ApiError(400, f"wait_s must be a number of seconds in 0..{MAX_WAIT_S:g}, "
                            f"got {raw[:40]!r}")
    return wait_s

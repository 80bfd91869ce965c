"""Rank 0 of a claiming job: claims tiles, keeps every rank busy, forwards tiles to the posters.

One :class:`Coordinator` serves the one-shot ``--split dynamic`` job (one run) and ``--serve``
(many runs, newest first). Each :meth:`Coordinator.step` receives what the workers sent
(``improbe``, never a blocking receive), tops every rank's queue up to its
:class:`~mpi_render.site.claims.ClaimSizer` target with one claim per run, dealt out by rank
stride, then renders one of rank 0's own tiles, or sleeps briefly when it has none. Each run
has its own :class:`~mpi_render.site.poster.Poster` (spool, retries, deadline). A claim that
fails (dashboard down, 5xx) is retried with backoff; tiles already claimed go on rendering and
are spooled meanwhile.
"""
from __future__ import annotations

import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field

from ..config import RenderConfig
from ..tiling import tile_position
from .claims import ClaimRetry, ClaimSizer, RunCancelled, RunUnknown, claim
from .client import TRANSPORT_ERRORS, DashboardClient, TLSRefused
from .courier import Backoff, Permanent
from .phases import PhaseReporter
from .poster import Poster
from .progress import Progress
from .ranks import IDLE_POLL_S, POLL_S, Crew
from .rendering import TileRenderer

log = logging.getLogger(__name__)
CLAIM_RETRY_S = 0.25   # a run whose claim came back empty is asked again after this long
CLAIM_TIMEOUT_S = 5.0  # one claim request; rank 0's own rendering waits for it


@dataclass
class RunWork:
    """One run a claiming job works on (rank 0's state).

    Attributes:
        run_id, config: the run.
        poster: where this run's tiles go (opened by the caller).
        progress: optional progress display of this run.
        claim_at: ``time.monotonic()`` before which the run is not claimed from again.
        drained: the last claim came back empty (the rest is stored or leased to others).
        complete: a claim answered that every tile of the run is stored.
        cancelled: the dashboard answered 410.
        failed: why the dashboard refused claims for good, or None.
        rendered: tiles of this run the site rendered.
        created_at: when the run was created (epoch seconds; newest runs are claimed first).
    """

    run_id: str
    config: RenderConfig
    poster: Poster
    progress: Progress | None = None
    claim_at: float = 0.0
    drained: bool = False
    complete: bool = False
    cancelled: bool = False
    failed: str | None = None
    rendered: int = 0
    created_at: float = 0.0
    _attempt: int = field(default=0, repr=False)

    @property
    def claimable(self) -> bool:
        return not (self.complete or self.cancelled or self.failed)


class Coordinator:
    """Rank 0's side of a claiming job.

    Args:
        comm: the site's communicator (this is rank 0).
        site: this site's name.
        renderer: rank 0's tile renderer (it also prepares the deep views' references, which
            the crew sends to the workers).
        host: rank 0's host name.
        client: a :class:`DashboardClient` used by rank 0's main thread only (claims, PUT).
    """

    def __init__(self, comm, site: str, renderer: TileRenderer, host: str,
                 client: DashboardClient):
        self.site, self.renderer, self.host, self.client = site, renderer, host, client
        self.crew = Crew(comm, self._tile_done, lambda run_id, index: None, renderer)
        self.sizer = ClaimSizer(comm.Get_size())
        self.runs: dict[str, RunWork] = {}
        self.order: list[str] = []  # newest first
        self.own: deque[tuple[str, int]] = deque()
        self.root_error: str | None = None
        self._backoff, self._rng = Backoff(), random.Random()

    # -- runs -----------------------------------------------------------------------------------

    def add(self, work: RunWork) -> None:
        """Work on ``work`` too; runs are claimed from newest (``created_at``) first."""
        self.runs[work.run_id] = work
        self.order.append(work.run_id)
        self.order.sort(key=lambda run_id: -self.runs[run_id].created_at)

    def remove(self, run_id: str) -> RunWork:
        """Stop tracking a run (its tiles held by ranks must be none: see :meth:`held_for`)."""
        self.order.remove(run_id)
        return self.runs.pop(run_id)

    def held_for(self, run_id: str) -> int:
        """Tiles of ``run_id`` that some rank has been given and not yet finished."""
        return self.crew.held_for(run_id) + sum(1 for key in self.own if key[0] == run_id)

    def busy(self) -> bool:
        """Whether any rank holds a tile."""
        return bool(self.own) or any(self.crew.held.values())

    def can_render(self) -> bool:
        """Whether any rank still renders (rank 0 or a worker without a render error)."""
        return self.root_error is None or bool(self.crew.live())

    def errors(self) -> list[str]:
        found = [f"rank {rank}: {error}" for rank, error in sorted(self.crew.errors.items())]
        return ([f"rank 0: {self.root_error}"] if self.root_error else []) + found

    def cancel(self, work: RunWork) -> None:
        """The run was cancelled: every rank forgets its queued tiles of it."""
        if not work.cancelled:
            log.warning("run %s was cancelled on the dashboard; dropping its remaining tiles",
                        work.run_id)
        work.cancelled = True
        self.crew.drop(work.run_id)
        kept = [key for key in self.own if key[0] != work.run_id]
        self.own.clear()
        self.own.extend(kept)

    # -- one step -------------------------------------------------------------------------------

    def step(self) -> None:
        """Receive, top every rank up, then render one own tile or sleep briefly."""
        self.crew.drain()
        self._top_up()
        if self.own and self.root_error is None:
            self._render_own(*self.own.popleft())
            self.crew.drain()
        else:
            time.sleep(POLL_S if self.busy() else IDLE_POLL_S)

    def stop(self) -> None:
        """Stop every worker (queued tiles are dropped) and receive what they finished."""
        self.own.clear()
        self.crew.stop()
        while not self.crew.all_done():
            if not self.crew.drain():
                time.sleep(POLL_S)

    def _render_own(self, run_id: str, index: int) -> None:
        work = self.runs.get(run_id)
        if work is None or work.cancelled:
            return
        try:
            done = self.renderer.render(work.config, *tile_position(work.config.grid, index))
        except Exception as exc:  # keep coordinating the workers; the job fails at the end
            log.exception("rank 0 failed to render")
            self.root_error = repr(exc)
            self.own.clear()
            return
        self._tile_done(run_id, done.meta(self.site, 0, self.host), done.png, 0)

    def _tile_done(self, run_id: str, meta: dict, png: bytes, rank: int) -> None:
        self.sizer.tile_done()
        work = self.runs.get(run_id)
        if work is None or work.cancelled:
            return  # finished after its run was cancelled: nobody wants it
        work.poster.put(meta, png)
        work.rendered += 1
        if work.progress is not None:
            work.progress.tile_done(rank)

    # -- claiming -------------------------------------------------------------------------------

    def _needs(self) -> dict[int, int]:
        ranks = ([0] if self.root_error is None else []) + self.crew.live()
        needs = {}
        for rank in ranks:
            wanted = self.sizer.wanted(rank, len(self.own) if rank == 0 else
                                       self.crew.holding(rank))
            if wanted > 0:
                needs[rank] = wanted
        return needs

    def _top_up(self) -> None:
        needs = self._needs()
        now = time.monotonic()
        for run_id in list(self.order):
            work = self.runs[run_id]
            if not needs:
                return
            if work.claimable and not work.drained and work.claim_at <= now \
                    and self._reference_ready(work):
                self._deal(work, self._claim(work, sum(needs.values())), needs)

    def _reference_ready(self, work: RunWork) -> bool:
        """A deep run's reference is prepared before its first claim (so no lease runs out
        while the orbit is computed); False when preparing it failed (the run fails)."""
        if not self.renderer.deep(work.config) or self.renderer.has_reference(work.config):
            return True
        reporter = PhaseReporter(work.run_id, self.site, self.client.clone())
        try:
            self.renderer.prepare(work.config, work.run_id, reporter)
        except Exception as exc:  # this run cannot be rendered; the others go on
            log.exception("run %s: preparing the reference failed", work.run_id)
            work.failed = f"the reference orbit failed: {exc!r}"
            return False
        finally:
            reporter.close()
        return True

    def _claim(self, work: RunWork, max_tiles: int) -> list[int]:
        try:
            claimed = claim(self.client, work.run_id, self.site, work.config.grid, max_tiles,
                            CLAIM_TIMEOUT_S)
        except RunCancelled:
            self.cancel(work)
            return []
        except RunUnknown as exc:
            log.warning("%s; creating it", exc)
            self._retry_later(work, lambda: self.client.put_run(work.run_id,
                                                                work.config.run_json()))
            return []
        except (ClaimRetry, *TRANSPORT_ERRORS) as exc:
            self._retry_later(work, None, f"claim failed ({exc})")
            return []
        except (Permanent, TLSRefused) as exc:
            log.error("%s", exc)
            work.failed = str(exc)
            return []
        work._attempt = 0
        self.sizer.lease_s = claimed.lease_s
        work.complete = claimed.complete
        if not claimed.tiles:
            work.drained, work.claim_at = True, time.monotonic() + CLAIM_RETRY_S
            work.poster.hurry()  # the end game: the last tiles must not wait for a batch
        return claimed.tiles

    def _retry_later(self, work: RunWork, action, reason: str | None = None) -> None:
        if action is not None:
            try:
                action()
            except TRANSPORT_ERRORS as exc:
                reason = f"dashboard unreachable ({exc})"
        delay_s = self._backoff.delay_s(work._attempt, self._rng)
        work._attempt += 1
        work.claim_at = time.monotonic() + delay_s
        if reason:
            log.warning("run %s: %s; next claim in %.2f s", work.run_id, reason, delay_s)

    def _deal(self, work: RunWork, tiles: list[int], needs: dict[int, int]) -> None:
        """Hand ``tiles`` to the ranks that need them, by rank stride; ``needs`` shrinks."""
        order = sorted(needs)
        given: dict[int, list[int]] = {rank: [] for rank in order}
        turn = 0
        for index in tiles:
            while needs[order[turn % len(order)]] <= 0 and any(needs[r] > 0 for r in order):
                turn += 1
            rank = order[turn % len(order)]
            given[rank].append(index)
            needs[rank] -= 1
            turn += 1
        for rank, indices in given.items():
            if rank == 0:
                self.own.extend((work.run_id, index) for index in indices)
            elif indices:
                self.crew.assign(rank, work.run_id, work.config, indices)
            if needs[rank] <= 0:
                del needs[rank]

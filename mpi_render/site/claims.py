"""Claiming tiles from the dashboard: how many to claim ahead, and one claim request.

A claiming site (``--split dynamic``, ``--serve``) leases tiles from ``POST
api/runs/{id}/claims`` while it renders. Rank 0 keeps every rank's queue topped up, so no rank
waits for work while tiles are claimable, and claims no further ahead than needed, so that no
lease expires in normal work and the last tiles of a run are not held by a slow site while a
fast one idles.

Sizing (:class:`ClaimSizer`): the site's rate is measured over its last finished tiles
(tiles/s, divided by the number of ranks). A worker is kept ``1 + ceil(rate * cover_s)`` tiles
(the one it renders plus ``cover_s`` seconds of queue, at least one): rank 0 tops it up only
between two of its own tiles, so the queue must last at least that long. ``cover_s`` is
:data:`WORKER_COVER_S`, clamped to a third of the lease so a claimed tile is always rendered
well before its lease ends. Rank 0 renders its own tiles right after claiming them, so its
queue only covers :data:`ROOT_COVER_S` (it saves claim round trips when tiles are fast). Before
any tile is measured every worker gets two and rank 0 one: a slow site's second tile would wait
a whole first tile in its queue, which at the end of a short run is the run's last tile.

Refills (:meth:`ClaimSizer.wanted`): a rank is topped up to its target only once its queue
(beyond the tile it renders) has fallen to half of the target's, not after every finished
tile. Rank 0 waits for each claim's round trip between two of its own tiles, so claiming one
tile per tile cost a fast one-rank site a round trip per tile (61 claims for 61 tiles of 16 ms,
~10 % of its time with the dashboard busy on the other core); refilling by halves claims about
a seventh as often at that rate and changes nothing for slow sites, whose targets are 1-3.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from ..tiling import tile_index
from .client import Answer, DashboardClient, is_cancelled
from .courier import Permanent, retryable

MAX_CLAIM = 1024          # the dashboard's bound on max_tiles
WORKER_COVER_S = 2.0      # seconds of queued work a worker keeps
ROOT_COVER_S = 0.2        # seconds of queued work rank 0 keeps for itself
RATE_WINDOW_TILES = 32    # finished tiles the rate is measured over
START_TILES_PER_WORKER = 2  # before the first measurement (rank 0: one)


class ClaimSizer:
    """How many tiles each rank should hold (assigned and not yet finished).

    Args:
        ranks: ranks of the site (rank 0 renders too).
        lease_s: the dashboard's lease, in seconds (from the last claim answer).
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, ranks: int, lease_s: float = 30.0, clock=time.monotonic):
        self.ranks, self.lease_s, self._clock = ranks, lease_s, clock
        self._finished: deque[float] = deque(maxlen=RATE_WINDOW_TILES)
        self._started_at = clock()

    def tile_done(self) -> None:
        """Count one finished tile (of any rank) now."""
        self._finished.append(self._clock())

    def rate_per_rank(self) -> float | None:
        """Tiles per second per rank over the last finished tiles, or None before two."""
        if len(self._finished) < 2:
            return None
        span_s = max(self._finished[-1] - self._finished[0], 1e-6)
        return (len(self._finished) - 1) / span_s / self.ranks

    def target(self, rank: int) -> int:
        """Tiles ``rank`` should hold, counting the one it is rendering (rank 0: its queue)."""
        rate = self.rate_per_rank()
        if rate is None:
            return 1 if rank == 0 else START_TILES_PER_WORKER
        if rank == 0:
            return max(1, math.ceil(rate * ROOT_COVER_S))
        cover_s = min(WORKER_COVER_S, self.lease_s / 3)
        return 1 + max(1, math.ceil(rate * cover_s))

    def wanted(self, rank: int, held: int) -> int:
        """Tiles to claim now for ``rank``, which holds ``held`` (counting the one it renders;
        rank 0: its queue): up to its :meth:`target` once its queue has fallen to half of the
        target's, else none (module docstring: refills)."""
        target = self.target(rank)
        in_render = 0 if rank == 0 else 1
        low_water = in_render + (target - in_render) // 2
        return target - held if held <= low_water else 0


@dataclass(frozen=True)
class Claimed:
    """A claim's answer: ``tiles`` (indices), the ``lease_s`` and whether the run is complete."""

    tiles: list[int]
    lease_s: float
    complete: bool


class RunCancelled(Exception):
    """The dashboard answered 410: the run was cancelled."""


class RunUnknown(Exception):
    """The dashboard answered 404: it does not know the run (yet, or any more)."""


class ClaimRetry(Exception):
    """A retryable answer (5xx, 429) or a malformed 200; the message says which."""


def claim(client: DashboardClient, run_id: str, site: str, grid: int, max_tiles: int,
          timeout_s: float) -> Claimed:
    """Lease up to ``max_tiles`` tiles of run ``run_id`` to ``site``.

    Raises:
        RunCancelled: 410. RunUnknown: 404. ClaimRetry: 5xx, 429 or a malformed answer.
        Permanent: any other refusal (422: the site is not in the run, a wrong token, ...).
        OSError, http.client.HTTPException: the dashboard is unreachable.
    """
    answer = client.claim(run_id, site, max(1, min(MAX_CLAIM, max_tiles)), timeout_s=timeout_s)
    if answer.status == 200:
        return _claimed(answer, grid)
    if is_cancelled(answer):
        raise RunCancelled(f"run {run_id} was cancelled on {client.url}")
    if answer.status == 404:
        raise RunUnknown(f"dashboard {client.url} does not know run {run_id}")
    if retryable(answer):
        raise ClaimRetry(f"claim answered HTTP {answer.status} ({answer.error})")
    raise Permanent(f"dashboard refused to hand out tiles of run {run_id} to site {site} "
                    f"(HTTP {answer.status}: {answer.error})")


def _claimed(answer: Answer, grid: int) -> Claimed:
    body = answer.body
    try:
        tiles = [tile_index(grid, int(t["row"]), int(t["col"])) for t in body["tiles"]]
        return Claimed(tiles, float(body["lease_s"]), bool(body["complete"]))
    except (TypeError, KeyError, ValueError) as exc:
        raise ClaimRetry(f"claim answer is malformed ({exc!r})") from None

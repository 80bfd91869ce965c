"""Tile leases: which site may render which unstored tile, until when. Memory only, no Tornado.

A claim hands a site tiles that are neither stored nor under a live lease and leases each of them
to that site for ``lease_s`` seconds. A lease ends when its tile is stored (:meth:`Leases.release`)
or when it expires; then the tile can be handed out again. Nothing is persisted on purpose: after
a dashboard restart every unstored tile is claimable again, which costs at most one re-render of
the tiles that were in flight.

Thread-safe (one lock); the clock is injectable so tests need not sleep.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Lease:
    """One tile lent to ``site`` until ``expires_at`` (on the leases' clock, seconds)."""

    site: str
    expires_at: float


class Leases:
    """Live leases per run.

    Args:
        lease_s: how long a claimed tile stays leased, seconds (> 0).
        clock: monotonic time in seconds (``time.monotonic``; tests pass a fake).

    Raises:
        ValueError: ``lease_s`` is not a positive finite number.
    """

    def __init__(self, lease_s: float, clock: Callable[[], float] = time.monotonic):
        if isinstance(lease_s, bool) or not isinstance(lease_s, (int, float)) \
                or not 0 < lease_s < float("inf"):
            raise ValueError(f"lease_s must be a positive number of seconds, got {lease_s!r}")
        self.lease_s = float(lease_s)
        self.clock = clock
        self._lock = threading.Lock()
        self._by_run: dict[str, dict[int, Lease]] = {}

    def claim(self, run_id: str, site: str, candidates: Iterable[int], max_tiles: int) -> list[int]:
        """Lease to ``site`` the first ``max_tiles`` of ``candidates`` that are not leased now.

        Args:
            run_id: the run.
            site: who renders them.
            candidates: unstored tile indices in hand-out order (the caller filters stored ones).
            max_tiles: at most this many are leased (>= 1).

        Returns:
            The leased tile indices, in ``candidates`` order.
        """
        now = self.clock()
        lease = Lease(site, now + self.lease_s)
        granted: list[int] = []
        with self._lock:
            leases = self._by_run.setdefault(run_id, {})
            for index in candidates:
                if len(granted) == max_tiles:
                    break
                held = leases.get(index)
                if held is None or held.expires_at <= now:
                    leases[index] = lease
                    granted.append(index)
            if not leases:
                del self._by_run[run_id]
        return granted

    def first_free(self, run_id: str, candidates: Iterable[int]) -> int | None:
        """The first of ``candidates`` not under a live lease (None when all are leased)."""
        now = self.clock()
        with self._lock:
            leases = self._by_run.get(run_id, {})
            for index in candidates:
                held = leases.get(index)
                if held is None or held.expires_at <= now:
                    return index
        return None

    def release(self, run_id: str, indices: Iterable[int]) -> None:
        """End the leases of ``indices`` (their tiles were stored)."""
        with self._lock:
            leases = self._by_run.get(run_id)
            if leases is None:
                return
            for index in indices:
                leases.pop(index, None)
            if not leases:
                del self._by_run[run_id]

    def drop_run(self, run_id: str) -> None:
        """Forget every lease of ``run_id`` (it was cancelled)."""
        with self._lock:
            self._by_run.pop(run_id, None)

    def live(self, run_id: str) -> dict[int, Lease]:
        """The live leases of ``run_id`` by tile index (a copy)."""
        now = self.clock()
        with self._lock:
            return {index: lease for index, lease in self._by_run.get(run_id, {}).items()
                    if lease.expires_at > now}

    def next_expiry_s(self) -> float | None:
        """Seconds until the earliest live lease expires (None when no lease is live).

        Expired leases are pruned here, so a waiter that sleeps until this moment never spins on
        a lease that has already ended.
        """
        now = self.clock()
        earliest = None
        with self._lock:
            for run_id in list(self._by_run):
                leases = self._by_run[run_id]
                for index in [i for i, lease in leases.items() if lease.expires_at <= now]:
                    del leases[index]
                if not leases:
                    del self._by_run[run_id]
                    continue
                soonest = min(lease.expires_at for lease in leases.values())
                earliest = soonest if earliest is None else min(earliest, soonest)
        return None if earliest is None else earliest - now

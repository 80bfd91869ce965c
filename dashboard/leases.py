"""Tile leases: which site may render which unstored tile, until when. Memory only, no Tornado.

A claim hands a site tiles that are neither stored nor under a live lease and leases each of them
to that site for ``lease_s`` seconds. A lease ends when its tile is stored (:meth:`Leases.release`)
or when it expires; then the tile can be handed out again. Nothing is persisted on purpose: after
a dashboard restart every unstored tile is claimable again, which costs at most one re-render of
the tiles that were in flight.

In a dynamic run's end game, when nothing is left to lease, a tile leased to one site may also be
lent to ONE other site as a *backup* (:meth:`Leases.claim_backups`), oldest lease first: the
first stored copy wins and the other is a duplicate, so a slow site's last tiles no longer hold up
a run that a fast site could finish (the "backup tasks" of batch schedulers). A backup never
makes a tile claimable: it ends with the tile's lease. Whether a backup is worthwhile depends
only on claims and stores (the sites' means), never on time passing alone, so a waiter for work
needs waking on those events only (:meth:`Leases.claim_backups`).

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
        self._backups: dict[str, dict[int, str]] = {}  # run -> tile -> the backup's site

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

    def claim_backups(self, run_id: str, site: str, candidates: Iterable[int], max_tiles: int,
                      tile_s: dict[str, float]) -> list[int]:
        """Lend ``site`` up to ``max_tiles`` of ``candidates`` leased to other sites, as backups.

        A tile qualifies when another site holds a live lease on it, it has no backup yet, and
        ``site`` is expected to finish it first: ``tile_s[site] < max(tile_s[holder] - elapsed,
        tile_s[holder] / 2)``, ``elapsed`` the time since the lease began (``tile_s``: each
        site's mean seconds per tile in this run). Why: tile costs vary tenfold in a view, so
        the holder's mean says little about a tile it has rendered for longer than half of it.
        Until then the holder is expected to need ``holder - elapsed`` more; after that the tile
        is taken to be a heavy one, of twice the elapsed time in all (the doubling estimate of
        a job's remaining life), which makes it ``2 * elapsed * site / holder`` for ``site`` and
        leaves ``elapsed`` for the holder: ``site`` wins when it is more than twice as fast. So
        a much faster site backs up every tile of a slow one in the end game, while sites of
        similar speed back up only the tiles they would clearly finish first. A site without a
        mean gets no backup (its speed is unknown); a holder without one has stored nothing in
        this run while the run ran out of free tiles, so it is taken to be slower than any site
        that has. Oldest lease first. A backup adds no lease: the tile stays leased to its
        holder, both copies race, the first stored wins.

        Returns:
            The lent tile indices, oldest lease first.
        """
        with self._lock:
            granted = self._backup_candidates(run_id, site, candidates, tile_s)[:max_tiles]
            if granted:
                self._backups.setdefault(run_id, {}).update(dict.fromkeys(granted, site))
        return granted

    def has_backup(self, run_id: str, site: str, candidates: Iterable[int],
                   tile_s: dict[str, float]) -> bool:
        """Whether :meth:`claim_backups` would lend ``site`` a tile now."""
        with self._lock:
            return bool(self._backup_candidates(run_id, site, candidates, tile_s))

    def _backup_candidates(self, run_id, site, candidates, tile_s) -> list[int]:
        """The tiles :meth:`claim_backups` may lend, oldest lease first (hold the lock)."""
        mine_s = tile_s.get(site)
        if mine_s is None:
            return []
        now = self.clock()
        leases, backups = self._by_run.get(run_id, {}), self._backups.get(run_id, {})
        held = sorted((lease.expires_at, index) for index in candidates
                      if (lease := leases.get(index)) is not None and lease.expires_at > now
                      and lease.site != site and index not in backups
                      and mine_s < self._holder_needs_s(lease, tile_s, now))
        return [index for _, index in held]

    def _holder_needs_s(self, lease: Lease, tile_s: dict[str, float], now: float) -> float:
        """How long a backup site may take and still be expected to finish first (above)."""
        holder_s = tile_s.get(lease.site, float("inf"))
        elapsed_s = now - (lease.expires_at - self.lease_s)
        return max(holder_s - elapsed_s, holder_s / 2)

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
            for table in (self._by_run, self._backups):
                held = table.get(run_id)
                if held is None:
                    continue
                for index in indices:
                    held.pop(index, None)
                if not held:
                    del table[run_id]

    def drop_run(self, run_id: str) -> None:
        """Forget every lease of ``run_id`` (it was cancelled)."""
        with self._lock:
            self._by_run.pop(run_id, None)
            self._backups.pop(run_id, None)

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
                    self._backups.get(run_id, {}).pop(index, None)  # its backup ends with it
                if not leases:
                    del self._by_run[run_id]
                    continue
                soonest = min(lease.expires_at for lease in leases.values())
                earliest = soonest if earliest is None else min(earliest, soonest)
        return None if earliest is None else earliest - now

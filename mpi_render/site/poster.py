"""The poster: rank 0's thread that delivers tiles to the dashboard in batches, losing none.

Contract (see also ``docs/CLI.md``):

* Tiles are grouped into batches flushed by count, bytes or age (default 32 tiles / 4 MB /
  250 ms after the batch's first tile) and encoded with :func:`mpi_render.protocol.encode_batch`.
* Every batch is written to the :class:`~mpi_render.site.spool.Spool` *before* it is sent and leaves
  it only after a 200, whose ``accepted + duplicates`` must cover the whole batch. Batches left in
  the spool by an earlier job of the same run and site are sent first.
* Before the first POST the run is created or confirmed (``PUT api/runs/{id}``); 409 means the
  run exists with another config and ends the job (exit 2).
* Connection errors, 5xx and 429 are retried with exponential backoff and jitter (``Retry-After``
  is honoured); 404 on a POST means the dashboard lost the run, which is created again; any other
  4xx is permanent: sending stops and the reason is reported (the batches stay spooled).
* Backoff is a "not before" time, not a sleep, so tiles keep being batched and spooled while
  the dashboard is down. The deadline (monotonic seconds) bounds retrying: a send that fails
  after it stops all sending, and :meth:`Poster.close` reports how many tiles are spooled and the
  command that resends them (exit 3).
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import RenderConfig
from ..protocol import encode_batch
from ..tiling import tile_index, tile_position
from .client import TRANSPORT_ERRORS, Answer, DashboardClient
from .sinks import EXIT_FAILED, EXIT_OK, EXIT_SPOOLED, EXIT_USAGE, Delivery, SetupError
from .spool import Spool, SpooledBatch

log = logging.getLogger(__name__)
_END = object()
SETUP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is flushed: ``tiles`` reached, ``bytes`` of PNG reached, or ``age_s`` old."""

    tiles: int = 32
    bytes: int = 4 << 20
    age_s: float = 0.25


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt ``n`` waits in ``[d/2, d]``,
    ``d = min(cap_s, base_s * 2**n)``, so many sites retrying at once spread out."""

    base_s: float = 0.2
    cap_s: float = 10.0

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 30))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class _Permanent(Exception):
    """The dashboard refused for good; the message names the reason."""


def _retryable(answer: Answer) -> bool:
    return answer.status >= 500 or answer.status == 429


class Poster:
    """Rank 0's batching, spooling, retrying sink (a :class:`~mpi_render.site.sinks.Sink`).

    Args:
        client: the dashboard client (used by the poster thread only, after :meth:`open`).
        run_id, config, site: what the tiles belong to.
        spool: where batches wait until the dashboard confirms them.
        deadline_at: ``time.monotonic()`` value after which failed sends are not retried.
        only_missing: :meth:`open` keeps only the tiles the dashboard reports missing.
        resend_hint: the command line printed for resending spooled tiles.
    """

    def __init__(self, client: DashboardClient, run_id: str, config: RenderConfig, site: str,
                 spool: Spool, deadline_at: float, *, limits: BatchLimits = BatchLimits(),
                 backoff: Backoff = Backoff(), only_missing: bool = False, resend_hint: str = "",
                 rng: random.Random | None = None):
        self.client, self.run_id, self.config, self.site = client, run_id, config, site
        self.spool, self.deadline_at = spool, deadline_at
        self.limits, self.backoff = limits, backoff
        self.only_missing, self.resend_hint = only_missing, resend_hint
        self._rng = rng or random.Random()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="poster", daemon=True)
        self._pending: list[SpooledBatch] = []
        self._expected: set[tuple[int, int]] = set()
        self._confirmed: set[tuple[int, int]] = set()
        self._run_confirmed = False
        self._run_written = False
        self._refusal = "dashboard answered with a retryable error"  # why the last send failed
        self._attempt = 0
        self._next_try_at = 0.0
        self._stopped: str | None = None  # why sending stopped (deadline or a permanent error)
        self._permanent = False
        self.stored = 0

    # -- the caller's side (rank 0's main thread) ---------------------------------------------

    def open(self, tiles: Sequence[int]) -> list[int]:
        """Confirm the run (and ask for missing tiles); start the thread; return tiles to render.

        Raises:
            SetupError: the dashboard refused the run or the token (exit 2), or the missing
                tiles could not be fetched before the deadline (exit 1).
        """
        self._pending = self.spool.pending()
        if self._pending:
            log.info("resending %d spooled batches from %s", len(self._pending),
                     self.spool.directory)
        try:
            if self.only_missing:
                tiles = self._missing(tiles)
            else:
                self._confirm_run_once()
        except SetupError:
            self.client.close()  # close() will not be called: the job ends here
            raise
        self._expected = {tile_position(self.config.grid, t) for t in tiles}
        self._thread.start()
        return list(tiles)

    def put(self, meta: dict, png: bytes) -> None:
        """Queue one finished tile (never blocks on the network)."""
        self._queue.put((meta, png))

    def close(self) -> Delivery:
        """Flush, deliver or spool everything, stop the thread and report."""
        self._queue.put(_END)
        self._thread.join()
        self.client.close()
        spooled = sum(len(b.keys) for b in self._pending)
        where = f"{self.client.url} run {self.run_id} site {self.site}"
        self.spool.discard_if_empty()
        if self._stopped is None and self._expected <= self._confirmed:
            return Delivery(self.stored, len(self._expected), EXIT_OK,
                            f"{self.stored} tiles stored on {where}")
        kept = (f"{spooled} tiles ({len(self._pending)} batches) are spooled in "
                f"{self.spool.directory}")
        hint = f"; resend them with: {self.resend_hint}" if self.resend_hint and spooled else ""
        if self._permanent:
            code, reason = EXIT_FAILED, self._stopped
        elif spooled:
            code, reason = EXIT_SPOOLED, self._stopped or "not every tile was delivered"
        else:
            code, reason = EXIT_FAILED, "tiles never reached the poster"
        return Delivery(self.stored, len(self._expected), code,
                        f"{reason}: {self.stored} of {len(self._expected)} tiles stored on "
                        f"{where}; {kept}{hint}")

    # -- setup ---------------------------------------------------------------------------------

    def _confirm_run_once(self) -> None:
        try:
            self._put_run(SETUP_TIMEOUT_S)
        except TRANSPORT_ERRORS as exc:
            log.warning("dashboard %s unreachable (%s); rendering anyway, tiles are spooled "
                        "until it answers", self.client.url, exc)
        except _Permanent as exc:
            raise SetupError(str(exc), EXIT_USAGE) from None

    def _put_run(self, timeout_s: float) -> bool:
        """PUT the run once; True when confirmed, False on a retryable answer."""
        answer = self.client.put_run(self.run_id, self.config.run_json(), timeout_s=timeout_s)
        if answer.status in (200, 201):
            self._run_confirmed = True
            return True
        if _retryable(answer):
            self._refusal = f"PUT run {self.run_id} answered HTTP {answer.status} ({answer.error})"
            return False
        if answer.status == 409:
            raise _Permanent(f"run {self.run_id} already exists on {self.client.url} with a "
                             f"different config ({answer.error}); choose another --run")
        raise _Permanent(f"dashboard refused run {self.run_id} (HTTP {answer.status}: "
                         f"{answer.error})")

    def _missing(self, tiles: Sequence[int]) -> list[int]:
        """The subset of ``tiles`` the dashboard reports missing (retried until the deadline)."""
        attempt = 0
        while True:
            try:
                if self._run_confirmed or self._put_run(SETUP_TIMEOUT_S):
                    answer = self.client.get_run(self.run_id, timeout_s=SETUP_TIMEOUT_S)
                    if answer.status == 200 and isinstance(answer.body, dict):
                        return _site_missing(answer.body, self.site, self.config.grid, tiles)
                    if not _retryable(answer):
                        raise SetupError(f"GET run {self.run_id} answered {answer.status} "
                                         f"({answer.error})", EXIT_FAILED)
            except TRANSPORT_ERRORS as exc:
                log.warning("--only-missing: dashboard unreachable (%s)", exc)
            except _Permanent as exc:
                raise SetupError(str(exc), EXIT_USAGE) from None
            if time.monotonic() >= self.deadline_at:
                raise SetupError(f"--only-missing: no answer from {self.client.url} before the "
                                 f"deadline", EXIT_FAILED)
            time.sleep(min(self.backoff.delay_s(attempt, self._rng),
                           max(0.0, self.deadline_at - time.monotonic())))
            attempt += 1

    # -- the poster thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug or a full disk must end the job loudly, not hang it
            log.exception("poster thread failed")
            self._stopped, self._permanent = f"poster failed: {exc!r}", True

    def _loop(self) -> None:
        batch: list[tuple[dict, bytes]] = []
        batch_bytes, first_at, ended = 0, 0.0, False
        while not (ended and not batch and (not self._pending or self._stopped)):
            try:
                item = self._queue.get(timeout=self._wait_s(batch, first_at, ended))
            except queue.Empty:
                item = None
            if item is _END:
                ended = True
            elif item is not None:
                if not batch:
                    first_at = time.monotonic()
                batch.append(item)
                batch_bytes += len(item[1])
            if batch and (ended or len(batch) >= self.limits.tiles
                          or batch_bytes >= self.limits.bytes
                          or time.monotonic() - first_at >= self.limits.age_s):
                self._spool(batch)
                batch, batch_bytes = [], 0
            self._send_ready()

    def _wait_s(self, batch: list, first_at: float, ended: bool) -> float | None:
        """How long the thread may block on its queue before it has something to do."""
        waits = []
        if batch:
            waits.append(first_at + self.limits.age_s - time.monotonic())
        if self._pending and not self._stopped:
            waits.append(self._next_try_at - time.monotonic())
        if not waits:
            return None if not ended else 0.0
        return max(0.0, min(waits))

    def _spool(self, batch: list[tuple[dict, bytes]]) -> None:
        if not self._run_written:  # tells --resend which run and site the batches belong to
            self.spool.write_run(self.run_id, self.site, self.config.run_json())
            self._run_written = True
        content_type, body = encode_batch(batch)
        self._pending.append(self.spool.add(content_type, body))

    def _send_ready(self) -> None:
        while self._pending and not self._stopped and time.monotonic() >= self._next_try_at:
            try:
                if self._send(self._pending[0]):
                    self._pending.pop(0)
                    self._attempt = 0
                    continue
                reason = self._refusal
            except TRANSPORT_ERRORS as exc:
                reason = f"dashboard unreachable ({exc})"
            except _Permanent as exc:
                log.error("%s; no more batches are sent", exc)
                self._stopped, self._permanent = str(exc), True
                return
            self._schedule_retry(reason)

    def _schedule_retry(self, reason: str) -> None:
        now = time.monotonic()
        if now >= self.deadline_at:
            self._stopped = f"deadline passed ({reason})"
            log.error("%s; sending stops", self._stopped)
            return
        delay_s = self.backoff.delay_s(self._attempt, self._rng)
        self._attempt += 1
        self._next_try_at = min(now + delay_s, self.deadline_at)
        log.warning("%s; retry %d in %.2f s", reason, self._attempt, delay_s)

    def _send(self, batch: SpooledBatch, recreated: bool = False) -> bool:
        """POST one batch; True when the dashboard confirmed all of it (then it is unspooled)."""
        timeout_s = max(2.0, min(self.client.timeout_s, self.deadline_at - time.monotonic()))
        if not self._run_confirmed and not self._put_run(timeout_s):
            return False
        content_type, body = batch.read()
        answer = self.client.post_batch(self.run_id, content_type, body, timeout_s=timeout_s)
        if answer.status == 200:
            self._confirm(batch, answer)
            return True
        if answer.status == 404 and not recreated:
            log.warning("dashboard does not know run %s any more; creating it again", self.run_id)
            self._run_confirmed = False
            return self._send(batch, recreated=True)
        if _retryable(answer):
            self._refusal = (f"dashboard answered HTTP {answer.status} ({answer.error}) to a "
                             f"batch of {len(batch.keys)} tiles")
            if answer.retry_after_s is not None:
                self._next_try_at = time.monotonic() + min(answer.retry_after_s, 60.0)
            return False
        raise _Permanent(f"dashboard refused a batch of {len(batch.keys)} tiles "
                         f"(HTTP {answer.status}: {answer.error}); it is kept in {batch.path}")

    def _confirm(self, batch: SpooledBatch, answer: Answer) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        counted = int(body.get("accepted", 0)) + int(body.get("duplicates", 0))
        if counted != len(batch.keys):
            raise _Permanent(f"dashboard answered 200 but confirmed {counted} of "
                             f"{len(batch.keys)} tiles; the batch is kept in {batch.path}")
        self.spool.remove(batch)
        for key in batch.keys:
            if key in self._expected and key not in self._confirmed:
                self.stored += 1
            self._confirmed.add(key)


def _site_missing(run_doc: dict, site: str, grid: int, tiles: Sequence[int]) -> list[int]:
    wanted = set(tiles)
    missing = {tile_index(grid, m["row"], m["col"]) for m in run_doc.get("missing", [])
               if m.get("site") == site}
    return sorted(wanted & missing)


def resend(spool: Spool, client: DashboardClient, deadline_at: float,
           run_id: str | None = None) -> Delivery:
    """Send every batch left in ``spool`` (``mpi-render --resend``; no MPI, no rendering).

    Raises:
        ValueError: the spool has no readable ``run.json`` or a corrupt batch.
        SetupError: the dashboard refused the run (see :meth:`Poster.open`).
    """
    doc = spool.read_run()
    config = RenderConfig.from_run_json(doc["config"])
    keys = {key for batch in spool.pending() for key in batch.keys}
    poster = Poster(client, run_id or doc["run"], config, doc["site"], spool, deadline_at)
    poster.open(sorted(tile_index(config.grid, row, col) for row, col in keys))
    return poster.close()

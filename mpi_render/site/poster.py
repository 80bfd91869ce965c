"""The poster: rank 0's thread that batches finished tiles and hands them to the courier.

Contract (see also ``docs/CLI.md``):

* Tiles are grouped into batches flushed by count, bytes or age (default 32 tiles / 4 MB /
  250 ms after the batch's first tile) and encoded with :func:`mpi_render.protocol.encode_batch`.
  After :meth:`Poster.hurry` (a claiming job's end game) every tile is sent as it comes.
* Every batch is written to the :class:`~mpi_render.site.spool.Spool` *before* it is sent; the
  :class:`~mpi_render.site.courier.Courier` sends it and unspools it once confirmed. Batches
  left in the spool by an earlier job of the same run and site are sent first.
* Before rendering, the run is created or confirmed (a 409 or a TLS connection that cannot work,
  :class:`~mpi_render.site.client.TLSRefused`, ends the job with exit 2, nothing rendered or
  sent); an unreachable dashboard only delays that to the first send.
* :meth:`Poster.close` reports how many tiles are stored, or spooled with the command that
  resends them (exit 3), or why the dashboard refused them (exit 1). A run cancelled on the
  dashboard (410) drops its spooled batches (exit 1).
* The tiles expected are those given to :meth:`Poster.open` plus every tile :meth:`Poster.put`
  (a claiming job opens with none and learns its tiles as it renders them).
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
from .client import TRANSPORT_ERRORS, DashboardClient, TLSRefused
from .courier import Backoff, Courier, Permanent, retryable
from .sinks import EXIT_FAILED, EXIT_OK, EXIT_SPOOLED, EXIT_USAGE, Delivery, SetupError
from .spool import Spool

log = logging.getLogger(__name__)
_END = object()
_HURRY = object()
SETUP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is flushed: ``tiles`` reached, ``bytes`` of PNG reached, or ``age_s`` old."""

    tiles: int = 32
    bytes: int = 4 << 20
    age_s: float = 0.25


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
        self.spool, self.deadline_at, self.limits = spool, deadline_at, limits
        self.only_missing, self.resend_hint = only_missing, resend_hint
        self._rng = rng or random.Random()
        self._courier = Courier(client, run_id, config, spool, deadline_at, backoff, self._rng)
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="poster", daemon=True)
        self._expected: set[tuple[int, int]] = set()
        self._run_written = False
        self._hurried = False  # the caller's side: hurry() was called
        self._age_s = limits.age_s  # the thread's side: the batch age limit in force

    @property
    def stored(self) -> int:
        """How many of the tiles to render the dashboard has confirmed so far."""
        return len(self._expected & self._courier.confirmed)

    @property
    def settled(self) -> bool:
        """Every tile put so far is confirmed, or sending stopped for good: close() is quick."""
        return self._courier.stopped is not None or self._expected <= self._courier.confirmed

    # -- the caller's side (rank 0's main thread) ---------------------------------------------

    def open(self, tiles: Sequence[int]) -> list[int]:
        """Confirm the run (and ask for missing tiles); start the thread; return tiles to render.

        Raises:
            SetupError: the dashboard refused the run or the token (exit 2), or the missing
                tiles could not be fetched before the deadline (exit 1).
        """
        self._courier.pending = self.spool.pending()
        if self._courier.pending:
            log.info("resending %d spooled batches from %s", len(self._courier.pending),
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
        """Queue one finished tile (never blocks on the network); it is now expected."""
        self._expected.add((meta["row"], meta["col"]))
        self._queue.put((meta, png))

    def hurry(self) -> None:
        """Send every tile at once from now on, and the batch being filled now: the run's end
        game (nothing left to claim), where a tile that waits for its batch to age holds up the
        run's completion. Idempotent."""
        if not self._hurried:
            self._hurried = True
            self._queue.put(_HURRY)

    def close(self) -> Delivery:
        """Flush, deliver or spool everything, stop the thread and report."""
        self._queue.put(_END)
        self._thread.join()
        self.client.close()
        courier, stored, expected = self._courier, self.stored, len(self._expected)
        spooled = sum(len(b.keys) for b in courier.pending)
        where = f"{self.client.url} run {self.run_id} site {self.site}"
        if courier.cancelled:
            dropped = self.spool.drop()
            return Delivery(stored, expected, EXIT_FAILED,
                            f"run {self.run_id} was cancelled on {self.client.url}: {stored} of "
                            f"{expected} tiles stored, {dropped} spooled batches dropped")
        self.spool.discard_if_empty()
        if courier.stopped is None and self._expected <= courier.confirmed:
            return Delivery(stored, expected, EXIT_OK, f"{stored} tiles stored on {where}")
        kept = (f"{spooled} tiles ({len(courier.pending)} batches) are spooled in "
                f"{self.spool.directory}")
        hint = f"; resend them with: {self.resend_hint}" if self.resend_hint and spooled else ""
        if courier.permanent:
            code = EXIT_USAGE if courier.tls_refused else EXIT_FAILED
            reason = courier.stopped
        elif spooled:
            code, reason = EXIT_SPOOLED, courier.stopped or "not every tile was delivered"
        else:
            code, reason = EXIT_FAILED, "tiles never reached the poster"
        return Delivery(stored, expected, code, f"{reason}: {stored} of {expected} tiles stored "
                                                f"on {where}; {kept}{hint}")

    # -- setup ---------------------------------------------------------------------------------

    def _confirm_run_once(self) -> None:
        try:
            self._courier.put_run(SETUP_TIMEOUT_S)
        except TRANSPORT_ERRORS as exc:
            log.warning("dashboard %s unreachable (%s); rendering anyway, tiles are spooled "
                        "until it answers", self.client.url, exc)
        except (Permanent, TLSRefused) as exc:
            raise SetupError(str(exc), EXIT_USAGE) from None

    def _missing(self, tiles: Sequence[int]) -> list[int]:
        """The subset of ``tiles`` the dashboard reports missing (retried until the deadline)."""
        attempt = 0
        while True:
            try:
                if self._courier.run_confirmed or self._courier.put_run(SETUP_TIMEOUT_S):
                    answer = self.client.get_run(self.run_id, timeout_s=SETUP_TIMEOUT_S)
                    if answer.status == 200 and isinstance(answer.body, dict):
                        return _site_missing(answer.body, self.site, self.config.grid, tiles)
                    if not retryable(answer):
                        raise SetupError(f"GET run {self.run_id} answered {answer.status} "
                                         f"({answer.error})", EXIT_FAILED)
            except TRANSPORT_ERRORS as exc:
                log.warning("--only-missing: dashboard unreachable (%s)", exc)
            except (Permanent, TLSRefused) as exc:
                raise SetupError(str(exc), EXIT_USAGE) from None
            if time.monotonic() >= self.deadline_at:
                raise SetupError(f"--only-missing: no answer from {self.client.url} before the "
                                 f"deadline", EXIT_FAILED)
            time.sleep(min(self._courier.backoff.delay_s(attempt, self._rng),
                           max(0.0, self.deadline_at - time.monotonic())))
            attempt += 1

    # -- the poster thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug or a full disk must end the job loudly, not hang it
            log.exception("poster thread failed")
            self._courier.stopped, self._courier.permanent = f"poster failed: {exc!r}", True

    def _loop(self) -> None:
        courier = self._courier
        batch: list[tuple[dict, bytes]] = []
        batch_bytes, first_at, ended = 0, 0.0, False
        while not (ended and not batch and (not courier.pending or courier.stopped)):
            try:
                item = self._queue.get(timeout=self._wait_s(batch, first_at, ended))
            except queue.Empty:
                item = None
            if item is _END:
                ended = True
            elif item is _HURRY:
                self._age_s = 0.0
            elif item is not None:
                if not batch:
                    first_at = time.monotonic()
                batch.append(item)
                batch_bytes += len(item[1])
            if batch and (ended or len(batch) >= self.limits.tiles
                          or batch_bytes >= self.limits.bytes
                          or time.monotonic() - first_at >= self._age_s):
                self._spool(batch)
                batch, batch_bytes = [], 0
            courier.send_ready()

    def _wait_s(self, batch: list, first_at: float, ended: bool) -> float | None:
        """How long the thread may block on its queue before it has something to do."""
        waits = [first_at + self._age_s - time.monotonic()] if batch else []
        send_in_s = self._courier.wait_s()
        if send_in_s is not None:
            waits.append(send_in_s)
        if not waits:
            return None if not ended else 0.0
        return max(0.0, min(waits))

    def _spool(self, batch: list[tuple[dict, bytes]]) -> None:
        if not self._run_written:  # tells --resend which run and site the batches belong to
            self.spool.write_run(self.run_id, self.site, self.config.run_json())
            self._run_written = True
        content_type, body = encode_batch(batch)
        self._courier.pending.append(self.spool.add(content_type, body))


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

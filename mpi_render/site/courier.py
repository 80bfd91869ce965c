"""The courier: delivers spooled batches to the dashboard, retrying with backoff until a deadline.

Contract (the sending half of the poster, ``docs/CLI.md``):

* Batches are sent oldest first and leave the spool only after a 200 whose
  ``accepted + duplicates`` covers the whole batch.
* Before the first POST the run is created or confirmed (``PUT api/runs/{id}``); 409 means the
  run exists with another config and stops sending for good.
* 410 means the run was cancelled on the dashboard: sending stops for good (:class:`Cancelled`)
  and the poster drops the spooled batches.
* Connection errors, 5xx and 429 are retried with exponential backoff and jitter (``Retry-After``
  is honoured); 404 on a POST means the dashboard lost the run, which is created again; any other
  4xx is permanent: sending stops and the reason is kept (the batches stay spooled). So is a
  TLS connection that cannot work (``tls_refused``: a certificate that fails verification, an
  ``https://`` URL for a plain HTTP server, the relay's word that its TLS to the dashboard
  failed so): never retried.
* Backoff is a "not before" time, not a sleep, so the caller keeps batching and spooling while
  the dashboard is down. A send that fails after the deadline (monotonic seconds) stops all
  sending.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from ..config import RenderConfig
from .client import TRANSPORT_ERRORS, Answer, DashboardClient, TLSRefused, is_cancelled
from .spool import Spool, SpooledBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt ``n`` waits in ``[d/2, d]``,
    ``d = min(cap_s, base_s * 2**n)``, so many sites retrying at once spread out."""

    base_s: float = 0.2
    cap_s: float = 10.0

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 30))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Permanent(Exception):
    """The dashboard refused for good; the message names the reason."""


class Cancelled(Permanent):
    """The run was cancelled on the dashboard (410): its tiles are no longer wanted."""


def retryable(answer: Answer) -> bool:
    """Whether an HTTP answer is worth retrying (5xx and 429)."""
    return answer.status >= 500 or answer.status == 429


class Courier:
    """Sends the batches of one run and site; used by one thread at a time.

    Args:
        client: the dashboard client.
        run_id, config: the run the batches belong to (``config`` for ``PUT api/runs/{id}``).
        spool: where the batches are kept until confirmed.
        deadline_at: ``time.monotonic()`` value after which failed sends are not retried.

    Attributes:
        pending: spooled batches not yet confirmed, oldest first.
        confirmed: every tile key ``(row, col)`` the dashboard confirmed.
        stopped: why sending stopped (deadline or a permanent refusal), or None.
        permanent: whether ``stopped`` is a permanent refusal.
        cancelled: whether ``stopped`` is the dashboard's 410 (the run was cancelled).
        tls_refused: whether that refusal is a TLS verdict (:class:`~.client.TLSRefused`).
    """

    def __init__(self, client: DashboardClient, run_id: str, config: RenderConfig, spool: Spool,
                 deadline_at: float, backoff: Backoff, rng: random.Random):
        self.client, self.run_id, self.config = client, run_id, config
        self.spool, self.deadline_at, self.backoff, self._rng = spool, deadline_at, backoff, rng
        self.pending: list[SpooledBatch] = []
        self.confirmed: set[tuple[int, int]] = set()
        self.run_confirmed = False
        self.stopped: str | None = None
        self.permanent = False
        self.cancelled = False
        self.tls_refused = False
        self._refusal = "dashboard answered with a retryable error"  # why the last send failed
        self._attempt = 0
        self._next_try_at = 0.0

    def put_run(self, timeout_s: float) -> bool:
        """PUT the run once; True when confirmed, False on a retryable answer.

        Raises:
            Permanent: 409 (another config under this id) or another 4xx.
            TRANSPORT_ERRORS: the dashboard is unreachable.
        """
        answer = self.client.put_run(self.run_id, self.config.run_json(), timeout_s=timeout_s)
        if answer.status in (200, 201):
            self.run_confirmed = True
            return True
        if retryable(answer):
            self._refusal = f"PUT run {self.run_id} answered HTTP {answer.status} ({answer.error})"
            return False
        if is_cancelled(answer):
            raise Cancelled(f"run {self.run_id} was cancelled on {self.client.url}")
        if answer.status == 409:
            raise Permanent(f"run {self.run_id} already exists on {self.client.url} with a "
                            f"different config ({answer.error}); choose another --run")
        raise Permanent(f"dashboard refused run {self.run_id} (HTTP {answer.status}: "
                        f"{answer.error})")

    def wait_s(self) -> float | None:
        """Seconds until the next send is due, or None when there is nothing to send."""
        if not self.pending or self.stopped:
            return None
        return self._next_try_at - time.monotonic()

    def send_ready(self) -> None:
        """Send pending batches, oldest first, until one fails or the next try is not due."""
        while self.pending and not self.stopped and time.monotonic() >= self._next_try_at:
            try:
                if self._send(self.pending[0]):
                    self.pending.pop(0)
                    self._attempt = 0
                    continue
                reason = self._refusal
            except TRANSPORT_ERRORS as exc:
                reason = f"dashboard unreachable ({exc})"
            except (Permanent, TLSRefused) as exc:
                log.error("%s; no more batches are sent", exc)
                self.stopped, self.permanent = str(exc), True
                self.cancelled = isinstance(exc, Cancelled)
                self.tls_refused = isinstance(exc, TLSRefused)
                return
            self._schedule_retry(reason)

    def _schedule_retry(self, reason: str) -> None:
        now = time.monotonic()
        if now >= self.deadline_at:
            self.stopped = f"deadline passed ({reason})"
            log.error("%s; sending stops", self.stopped)
            return
        delay_s = self.backoff.delay_s(self._attempt, self._rng)
        self._attempt += 1
        self._next_try_at = min(now + delay_s, self.deadline_at)
        log.warning("%s; retry %d in %.2f s", reason, self._attempt, delay_s)

    def _send(self, batch: SpooledBatch, recreated: bool = False) -> bool:
        """POST one batch; True when the dashboard confirmed all of it (then it is unspooled)."""
        timeout_s = max(2.0, min(self.client.timeout_s, self.deadline_at - time.monotonic()))
        if not self.run_confirmed and not self.put_run(timeout_s):
            return False
        content_type, body = batch.read()
        answer = self.client.post_batch(self.run_id, content_type, body, timeout_s=timeout_s)
        if answer.status == 200:
            self._confirm(batch, answer)
            return True
        if answer.status == 404 and not recreated:
            log.warning("dashboard does not know run %s any more; creating it again", self.run_id)
            self.run_confirmed = False
            return self._send(batch, recreated=True)
        if is_cancelled(answer):
            raise Cancelled(f"run {self.run_id} was cancelled on {self.client.url}")
        if retryable(answer):
            self._refusal = (f"dashboard answered HTTP {answer.status} ({answer.error}) to a "
                             f"batch of {len(batch.keys)} tiles")
            if answer.retry_after_s is not None:
                self._next_try_at = time.monotonic() + min(answer.retry_after_s, 60.0)
            return False
        raise Permanent(f"dashboard refused a batch of {len(batch.keys)} tiles "
                        f"(HTTP {answer.status}: {answer.error}); it is kept in {batch.path}")

    def _confirm(self, batch: SpooledBatch, answer: Answer) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        counted = int(body.get("accepted", 0)) + int(body.get("duplicates", 0))
        if counted != len(batch.keys):
            raise Permanent(f"dashboard answered 200 but confirmed {counted} of "
                            f"{len(batch.keys)} tiles; the batch is kept in {batch.path}")
        self.spool.remove(batch)
        self.confirmed.update(batch.keys)

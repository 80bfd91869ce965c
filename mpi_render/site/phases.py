"""Rank 0 says what it is doing while no tile can exist yet: the log and ``POST .../phase``.

A deep view's reference orbit (MPFR, :mod:`mpi_render.deep`) can take seconds to minutes before
the first tile. A phase that lasts more than :data:`QUIET_S` is announced: a log line with a
percentage every :data:`LOG_EVERY_S`, and the latest progress posted to the dashboard (docs/API.md,
"POST api/runs/{id}/phase") every :data:`POST_EVERY_S`, so the page can show it. A fast phase
says nothing (no noise for shallow views).

Posting is best effort and never slows the phase down: a daemon thread with its own
:class:`~mpi_render.site.client.DashboardClient` sends only the newest report (older ones are
dropped), so a slow or unreachable dashboard costs the orbit nothing; a failed post is logged once
and the tiles' own delivery (poster, spool, retries) is unaffected.
"""
from __future__ import annotations

import logging
import threading
import time

from .client import TRANSPORT_ERRORS, DashboardClient, TLSRefused

log = logging.getLogger(__name__)
QUIET_S = 1.0        # a phase shorter than this is not announced
LOG_EVERY_S = 1.0    # seconds between two progress log lines
POST_EVERY_S = 0.5   # seconds between two posts to the dashboard
CLOSE_WAIT_S = 2.0   # how long close() waits for the last post
POST_TIMEOUT_S = 5.0


class PhaseReporter:
    """Progress of one slow phase of one run, to the log and (optionally) the dashboard.

    Args:
        run_id, site: whose phase it is.
        client: a dashboard client used by this reporter's thread only, or None (log only).
        phase: the phase name of docs/API.md (``reference``).
        clock: ``time.monotonic`` (tests may pass another).
    """

    def __init__(self, run_id: str, site: str, client: DashboardClient | None,
                 phase: str = "reference", clock=time.monotonic):
        self.run_id, self.site, self.phase, self.client = run_id, site, phase, client
        self._clock = clock
        self._started = clock()
        self._logged_at = self._posted_at = float("-inf")
        self._pending: dict | None = None
        self._closing = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.posts = 0  # reports the dashboard accepted (for tests and the summary)

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._started

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` units so far; announces it if the phase has become slow."""
        now, elapsed = self._clock(), self.elapsed_s
        if elapsed < QUIET_S:
            return
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.info("run %s: %s %d %% (%d of %d) after %.1f s", self.run_id, self._label(),
                     100 * done // max(total, 1), done, total, elapsed)
        if self.client is not None and now - self._posted_at >= POST_EVERY_S:
            self._posted_at = now
            self._post(done, total, elapsed)

    def finish(self, done: int, total: int) -> None:
        """The phase ended at ``done`` of ``total``: a last report if it was announced."""
        if self.elapsed_s >= QUIET_S and self.client is not None:
            self._post(total, total, self.elapsed_s)  # the phase is over: report it whole

    def close(self) -> None:
        """Send what is pending (waiting at most :data:`CLOSE_WAIT_S`), stop the thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT_S)
        if self.client is not None:
            self.client.close()

    def _label(self) -> str:
        return "reference orbit" if self.phase == "reference" else self.phase

    def _post(self, done: int, total: int, elapsed_s: float) -> None:
        report = {"site": self.site, "phase": self.phase, "done": done, "total": total,
                  "elapsed_s": round(elapsed_s, 3)}
        with self._wake:
            self._pending = report
            self._wake.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._send_loop, daemon=True,
                                            name=f"phase-{self.run_id}")
            self._thread.start()

    def _send_loop(self) -> None:
        failed = False
        while True:
            with self._wake:
                while self._pending is None and not self._closing:
                    self._wake.wait()
                report, self._pending = self._pending, None
                if report is None:
                    return
            try:
                answer = self.client.request("POST", f"api/runs/{self.run_id}/phase", report,
                                             timeout_s=POST_TIMEOUT_S)
            except (*TRANSPORT_ERRORS, TLSRefused) as exc:
                answer, problem = None, str(exc)
            else:
                problem = None if answer.status == 200 else f"HTTP {answer.status} {answer.error}"
            if problem is None:
                self.posts += 1
            elif not failed:
                failed = True
                log.warning("run %s: the dashboard did not take a phase report (%s); the render "
                            "goes on, only the page's progress display misses it", self.run_id,
                            problem)

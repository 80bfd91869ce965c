"""``mpi-render --serve``: a long-lived site job that renders every run offered to its site.

Rank 0 long-polls ``GET api/work?site=S&wait_s=...`` while it has nothing to do (the dashboard
answers as soon as a run becomes claimable, so a new run starts within a second and an idle job
costs no CPU), and asks with ``wait_s=0`` every :data:`BUSY_POLL_S` while it renders, so a newer
run is claimed from first. Every run gets its own poster (spool directory, retries, deadline),
opened by the caller's ``open_run``. A run leaves the job once this site has nothing left to do
for it (complete, cancelled, or drained and no longer listed) and its poster has delivered
everything; a run listed again later (a lease expired) is picked up again.

The job ends with exit 0 on SIGTERM (every rank: queued tiles are given back, rendered ones are
delivered) or after ``idle_exit_s`` with nothing to do. Exit 3 if tiles are still spooled at a
run's deadline, 1 if a rank failed or the dashboard refused tiles, 2 if the dashboard refuses
the site or the token. A cancelled run is not a failure: its work is dropped.
"""
from __future__ import annotations

import logging
import signal
import time
from typing import Callable

from ..config import RenderConfig
from ..tile import KernelChoice
from .client import TRANSPORT_ERRORS, DashboardClient, TLSRefused
from .coordinator import Coordinator, RunWork
from .dynamic import claiming_job
from .poster import Poster
from .sinks import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SetupError

log = logging.getLogger(__name__)
# Longest long-poll. A signal does not cut a blocking socket read short (Python retries it), so
# SIGTERM while idle is noticed when the poll returns: 1 s keeps a stop prompt, and an idle site
# costs one small request a second (a new run still wakes the poll at once).
WORK_WAIT_S = 1.0
BUSY_POLL_S = 0.5     # while rendering: how often to look for newer runs
OUTAGE_SLEEP_S = 1.0  # after a failed api/work request


class StopFlag:
    """Set by SIGTERM (and SIGINT); callable: ``flag()`` is True once a signal arrived."""

    def __init__(self):
        self.signalled = False

    def install(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signalled = True

    def __call__(self) -> bool:
        return self.signalled


def serve(site: str, client: DashboardClient, open_run: Callable[[str, RenderConfig], Poster], *,
          kernels: KernelChoice = KernelChoice(), comm=None, idle_exit_s: float | None = None,
          stop_requested: Callable[[], bool] = lambda: False) -> int:
    """Serve ``site`` until ``stop_requested()`` or ``idle_exit_s`` idle seconds; exit code.

    Args:
        site: this site's name.
        client: rank 0's dashboard client (api/work, claims; not a poster's).
        open_run: rank 0's factory of an opened poster for ``(run_id, config)``; it may raise
            :class:`SetupError` (the run is then skipped).
        kernels, comm: as for :func:`mpi_render.site.driver.run`.
        idle_exit_s: end after this long with nothing to do (None: never).
        stop_requested: True once this rank got SIGTERM.
    """
    def root(coordinator: Coordinator) -> int:
        server = _Server(coordinator, site, client, open_run, idle_exit_s, stop_requested)
        try:
            server.loop()
        finally:
            coordinator.stop()
        return server.finish()

    return claiming_job(comm, site, kernels, client, lambda: None, root, stop_requested)


class _Server:
    """Rank 0's serving loop (see the module docstring)."""

    def __init__(self, coordinator: Coordinator, site: str, client: DashboardClient, open_run,
                 idle_exit_s: float | None, stop_requested):
        self.coordinator, self.site, self.client, self.open_run = coordinator, site, client, open_run
        self.idle_exit_s, self.stop_requested = idle_exit_s, stop_requested
        self.listed: set[str] = set()
        self.skipped: set[str] = set()
        self.code = EXIT_OK
        self.refused: str | None = None
        self._polled_at = float("-inf")
        self._outage = False

    def loop(self) -> None:
        log.info("serving site %s: every rank is warm; asking %s for runs", self.site,
                 self.client.url)
        idle_since = time.monotonic()
        while not (self.stop_requested() or self.refused):
            now = time.monotonic()
            if self._has_work():
                if now - self._polled_at >= BUSY_POLL_S:
                    self._poll(0.0)
                self.coordinator.step()
                idle_since = time.monotonic()
            else:
                self._retire()
                idle_s = now - idle_since
                if self.idle_exit_s is not None and idle_s >= self.idle_exit_s:
                    log.info("nothing to do for %.1f s (--idle-exit); stopping", idle_s)
                    return
                limit_s = WORK_WAIT_S if self.idle_exit_s is None else self.idle_exit_s - idle_s
                self._poll(max(0.0, min(WORK_WAIT_S, limit_s)))
            self._retire()
        if self.stop_requested():
            log.info("stop requested: no more claims; delivering what is rendered")

    def finish(self) -> int:
        """Close every run's poster (delivering what is left); the job's exit code."""
        for run_id in list(self.coordinator.order):
            self._close(self.coordinator.remove(run_id))
        for error in self.coordinator.errors():
            log.error("render failed on %s", error)
            self.code = max(self.code, EXIT_FAILED)
        if self.refused:
            log.error("%s", self.refused)
            self.code = max(self.code, EXIT_USAGE)
        return self.code

    def _has_work(self) -> bool:
        return self.coordinator.busy() or any(
            work.claimable and not work.drained for work in self.coordinator.runs.values())

    def _poll(self, wait_s: float) -> None:
        """Ask api/work (holding up to ``wait_s``); add and wake up the runs it lists."""
        try:
            answer = self.client.work(self.site, wait_s)
        except TRANSPORT_ERRORS as exc:
            self._unreachable(f"dashboard unreachable ({exc})")
            return
        except TLSRefused as exc:  # a verdict, not an outage: the job ends (exit 2)
            self.refused = str(exc)
            return
        if answer.status >= 500 or answer.status == 429:
            self._unreachable(f"api/work answered HTTP {answer.status} ({answer.error})")
            return
        if answer.status != 200 or not isinstance(answer.body, dict):
            self.refused = (f"dashboard {self.client.url} refused api/work for site {self.site} "
                            f"(HTTP {answer.status}: {answer.error})")
            return
        if self._outage:
            log.info("dashboard %s answers again", self.client.url)
        self._outage, self._polled_at = False, time.monotonic()
        runs = [entry for entry in answer.body.get("runs", []) if isinstance(entry, dict)]
        self.listed = {str(entry.get("id")) for entry in runs}
        for entry in runs:
            self._offer(entry)

    def _unreachable(self, reason: str) -> None:
        if not self._outage:
            log.warning("%s; asking again every %.0f s", reason, OUTAGE_SLEEP_S)
        self._outage, self._polled_at = True, time.monotonic()
        deadline = time.monotonic() + OUTAGE_SLEEP_S
        while time.monotonic() < deadline and not self.stop_requested():
            if self.coordinator.busy():
                return  # keep the ranks going; the coordinator sleeps between steps
            time.sleep(0.05)

    def _offer(self, entry: dict) -> None:
        run_id = str(entry.get("id"))
        known = self.coordinator.runs.get(run_id)
        if known is not None:
            known.drained = False  # claimable again (a lease expired, or more tiles)
            return
        if run_id in self.skipped:
            return
        try:
            config = RenderConfig.from_run_json(entry.get("config"))
            poster = self.open_run(run_id, config)
        except (ValueError, SetupError) as exc:
            log.error("skipping run %s: %s", run_id, exc)
            self.skipped.add(run_id)
            return
        created_at = entry.get("created_at")
        log.info("run %s (%s split, %d tiles; %s): rendering", run_id, config.split,
                 config.total_tiles, self.coordinator.renderer.describe(config))
        self.coordinator.add(RunWork(run_id, config, poster, created_at=float(
            created_at if isinstance(created_at, (int, float)) else time.time())))

    def _retire(self) -> None:
        """Close the posters of runs this site is done with (only when they are settled)."""
        for run_id in list(self.coordinator.order):
            work = self.coordinator.runs[run_id]
            done = not work.claimable or (work.drained and run_id not in self.listed)
            if done and not self.coordinator.held_for(run_id) and work.poster.settled:
                self._close(self.coordinator.remove(run_id))

    def _close(self, work: RunWork) -> None:
        delivery = work.poster.close()
        if work.cancelled:
            log.info("run %s was cancelled: %d tiles rendered, the rest dropped (%s)",
                     work.run_id, work.rendered, delivery.message)
            return
        (log.info if delivery.exit_code == EXIT_OK else log.error)(
            "run %s: %d tiles rendered; %s", work.run_id, work.rendered, delivery.message)
        self.code = max(self.code, delivery.exit_code, EXIT_FAILED if work.failed else EXIT_OK)

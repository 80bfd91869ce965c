"""The roles of a claiming site job, and the one-shot ``mpi-render --split dynamic`` job.

A claiming job does not know its tiles in advance: rank 0 claims them from the dashboard while
the ranks render (:mod:`.coordinator`), the workers render what rank 0 hands them
(:func:`~mpi_render.site.ranks.claim_worker`). :func:`claiming_job` decides the roles once and
ends with an allgather of exit codes, so every rank returns the same code; :func:`run_dynamic`
(one run, until it is complete) and :func:`mpi_render.site.serve.serve` (every run, until
stopped) are the two rank-0 roles.

The one-shot job exits 0 once a claim answered that the run is complete and every tile this
site rendered is confirmed stored; 1 when the run was cancelled (410), a rank failed, or the
run is still incomplete at the deadline; 3 when its tiles are still spooled at the deadline.
"""
from __future__ import annotations

import logging
import socket
import time
from typing import Callable, TextIO

from ..config import RenderConfig
from ..tile import KernelChoice
from .client import DashboardClient
from .coordinator import Coordinator, RunWork
from .poster import Poster
from .progress import Progress
from .ranks import claim_worker, idle_barrier
from .rendering import TileRenderer
from .sinks import EXIT_FAILED, EXIT_OK, SetupError

log = logging.getLogger(__name__)


def claiming_job(comm, site: str, kernels: KernelChoice, client: DashboardClient,
                 setup: Callable[[], int | None], root: Callable[[Coordinator], int],
                 stop_requested: Callable[[], bool] = lambda: False) -> int:
    """Run a claiming job on every rank of ``comm``; return the same exit code on every rank.

    Args:
        comm: an mpi4py communicator (``None``: ``MPI.COMM_WORLD``).
        site: this site's name.
        kernels: how every rank renders (warmed up once per rank, before any work).
        client: rank 0's dashboard client for claims (ignored on other ranks).
        setup: rank 0's preparation; returns an exit code to end the job with, or None.
        root: rank 0's role; returns its exit code. It must :meth:`Coordinator.stop` the
            workers before returning.
        stop_requested: True once this rank got SIGTERM (workers give back queued tiles).
    """
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    failed = comm.bcast(setup() if rank == 0 else None, root=0)
    if failed is not None:
        return failed
    renderer, host = TileRenderer(kernels), socket.gethostname()
    if rank == 0:
        coordinator = Coordinator(comm, site, renderer, host, client)
        try:
            code = root(coordinator)
        finally:
            client.close()
    else:
        error = claim_worker(comm, site, renderer, host, stop_requested)
        code = EXIT_FAILED if error else EXIT_OK
    idle_barrier(comm)
    return max(comm.allgather(code))


def run_dynamic(config: RenderConfig, site: str, poster: Poster, client: DashboardClient, *,
                kernels: KernelChoice = KernelChoice(), comm=None,
                progress_stream: TextIO | None = None) -> int:
    """Render run ``poster.run_id`` (``split: dynamic``) with the other sites until complete.

    Args:
        config: the run (validated, ``config.dynamic``).
        site: one of ``config.sites``.
        poster: rank 0's poster for the run (not opened yet; ignored on other ranks).
        client: rank 0's dashboard client for claims (not the poster's).
        kernels, comm, progress_stream: as for :func:`mpi_render.site.driver.run`.

    Returns:
        The exit code (module docstring), the same on every rank.
    """
    def setup() -> int | None:
        try:
            poster.open([])  # creates or confirms the run; its tiles come from claims
        except SetupError as exc:
            log.error("%s", exc)
            return exc.code
        return None

    def root(coordinator: Coordinator) -> int:
        log.info("run %s: view %s", poster.run_id, coordinator.renderer.describe(config))
        work = RunWork(poster.run_id, config, poster,
                       Progress(config.total_tiles, lambda: poster.stored, progress_stream))
        coordinator.add(work)
        try:
            _until_complete(coordinator, work)
        finally:
            coordinator.stop()
        return _outcome(work, coordinator.errors())

    return claiming_job(comm, site, kernels, client, setup, root)


def _until_complete(coordinator: Coordinator, work: RunWork) -> None:
    work.progress.restart()  # tiles/s measures rendering, not the JIT or cache load
    while work.claimable and coordinator.can_render():
        if work.complete and work.poster.settled:
            return
        now = time.monotonic()
        if now >= work.poster.deadline_at:
            return
        if work.drained and work.claim_at <= now:
            work.drained = False  # the rest was leased to others: ask again
        coordinator.step()


def _outcome(work: RunWork, errors: list[str]) -> int:
    delivery = work.poster.close()
    log.info("%s", work.progress.summary())
    code = delivery.exit_code
    if work.cancelled:
        log.error("run %s was cancelled on the dashboard: rendering stopped after %d tiles (%s)",
                  work.run_id, work.rendered, delivery.message)
        return max(code, EXIT_FAILED)
    (log.info if code == EXIT_OK else log.error)("%s", delivery.message)
    if work.failed:
        code = max(code, EXIT_FAILED)
    elif not work.complete:
        reason = "no rank can render" if errors else "the deadline passed"
        log.error("run %s is not complete (%s); re-run the same command to finish it",
                  work.run_id, reason)
        code = max(code, EXIT_FAILED)
    for error in errors:
        log.error("render failed on %s", error)
    return max(code, EXIT_FAILED if errors else EXIT_OK)

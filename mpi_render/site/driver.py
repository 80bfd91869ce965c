"""The MPI site job: every rank renders its stride of the site's tiles; rank 0 also collects.

Roles are decided once in :func:`run`: rank 0 opens the sink, renders its own stride and
forwards every finished tile (its own and the workers') to the sink; ranks ``1..R-1`` render
theirs and send each tile to rank 0 as one ``(meta, png)`` message.

How rank 0 receives without blocking its own work: **non-blocking matched probes between its
tiles** (``comm.improbe``), not a receiver thread. Why: it needs only ``MPI_THREAD_SINGLE``
semantics for MPI (the poster thread never calls MPI), so it behaves the same with every MPI
library and launcher; a thread blocked in ``MPI_Recv`` busy-polls a core in MPICH and Open MPI,
which on a small node steals the CPU from the renderers and the poster. The cost is latency of
at most one of rank 0's own tiles, which the poster's 250 ms batching hides anyway. Workers send
with ``isend`` and keep up to 64 MB of tiles in flight (:class:`.ranks.SendWindow`), so they
do not wait for rank 0 either: a tile PNG is above MPI's eager limit, so its send only completes once rank 0
posts the receive, between two of its own tiles. With a window of 4 tiles, a worker rendering
fast exterior tiles stalled while rank 0 rendered one slow interior tile; 2 ranks reached 83 %
efficiency instead of 98 % (docs/PERFORMANCE.md, "MPI scaling").

Every wait (rank 0 waiting for workers, workers waiting for rank 0 to finish delivering) polls
with short sleeps instead of a blocking MPI call, for the same reason. The job ends with an
allgather of exit codes, so every rank returns the same code.

This module is the static split (every rank knows its tiles in advance). Claiming jobs
(``--split dynamic``, ``--serve``) are in :mod:`.dynamic` and :mod:`.serve`.
"""
from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field
from typing import TextIO

from ..config import RenderConfig
from ..tile import KernelChoice
from ..tiling import rank_tiles, site_tiles, tile_position
from .phases import PhaseReporter
from .progress import Progress
from .ranks import POLL_S, SendWindow, idle_barrier
from .rendering import ReferenceFailed, TileRenderer, share
from .sinks import EXIT_FAILED, EXIT_OK, MemorySink, SetupError, Sink

log = logging.getLogger(__name__)
TILE_TAG = 71
DONE_TAG = 72


@dataclass
class _Collected:
    """What rank 0 has heard from the workers so far."""

    workers_done: int = 0
    errors: list[str] = field(default_factory=list)


def run(config: RenderConfig, site: str, *, kernels: KernelChoice = KernelChoice(), comm=None,
        sink: Sink | None = None, progress_stream: TextIO | None = None,
        reporter: PhaseReporter | None = None) -> int:
    """Render ``site``'s tiles of ``config`` on every rank of ``comm``; return the exit code.

    Args:
        config: the run (validated).
        site: one of ``config.sites``.
        kernels: how every rank renders (backend, shortcuts; ``mpi-render --backend``,
            ``--no-shortcuts``).
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``, imported lazily).
        sink: rank 0's sink (ignored on other ranks); default a :class:`MemorySink`.
        progress_stream: where rank 0's progress goes (default stderr).
        reporter: rank 0's announcer of a slow reference orbit (a deep view), or None (the
            orbit's time is logged either way).

    Returns:
        The same code on every rank: 0 when every tile of the site is in the sink (stored on
        the dashboard / written), else the highest code any rank or the sink reported.
    """
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    tiles = site_tiles(config.grid, config.sites, site, config.split, config.weights)
    if rank == 0:
        sink = sink if sink is not None else MemorySink()
        plan = _open(sink, tiles)
    plan = comm.bcast(plan if rank == 0 else None, root=0)
    if plan[0] == "error":
        return plan[1]
    mine = rank_tiles(plan[1], rank, size)
    host = socket.gethostname()
    renderer = TileRenderer(kernels)  # a failure aborts the job (python -m mpi4py): no hang
    if rank == 0:
        log.info("view: %s", renderer.describe(config))
    failed = _share_reference(comm, renderer, config, reporter) if plan[1] else None
    if failed:
        mine = []  # no rank can render: rank 0 reports why, every rank ends failed
    if rank == 0:
        progress = Progress(len(plan[1]), lambda: sink.stored, progress_stream)
        code = _root(config, site, mine, comm, sink, progress, renderer, host,
                     [failed] if failed else [])
    else:
        code = _worker(config, site, mine, comm, renderer, host)
    idle_barrier(comm)
    return max(comm.allgather(code))


def _share_reference(comm, renderer: TileRenderer, config: RenderConfig,
                     reporter: PhaseReporter | None) -> str | None:
    """Collective: a deep view's reference, prepared by rank 0, on every rank. Returns None,
    or on every rank the error that kept rank 0 from preparing it."""
    if not renderer.deep(config):
        return None
    label = reporter.run_id if reporter is not None else "this run"
    try:
        share(comm, renderer, config, label, reporter)
    except ReferenceFailed as exc:
        return f"rank 0: the reference orbit failed: {exc}"
    finally:
        if reporter is not None and comm.Get_rank() == 0:
            reporter.close()
    return None


def _open(sink: Sink, tiles: list[int]) -> tuple:
    """Rank 0: open the sink; the plan that is broadcast to every rank."""
    try:
        chosen = sink.open(tiles)
    except SetupError as exc:
        log.error("%s", exc)
        return ("error", exc.code)
    log.info("%d of the site's %d tiles to render", len(chosen), len(tiles))
    return ("ok", chosen)


def _render(config: RenderConfig, site: str, mine: list[int], renderer: TileRenderer,
            rank: int, host: str):
    """Yield ``(meta, png)`` for each of this rank's tiles."""
    for index in mine:
        done = renderer.render(config, *tile_position(config.grid, index))
        yield done.meta(site, rank, host), done.png


def _root(config, site, mine, comm, sink: Sink, progress: Progress, renderer: TileRenderer,
          host, errors: list[str]) -> int:
    collected = _Collected()
    try:
        progress.restart()  # tiles/s measures rendering, not the warm-up or the reference
        for meta, png in _render(config, site, mine, renderer, 0, host):
            sink.put(meta, png)
            progress.tile_done(0)
            _drain(comm, sink, progress, collected)
    except Exception as exc:  # keep serving the workers so no rank hangs; fail at the end
        log.exception("rank 0 failed to render")
        errors.append(f"rank 0: {exc!r}")
    while collected.workers_done < comm.Get_size() - 1:
        if not _drain(comm, sink, progress, collected):
            time.sleep(POLL_S)
    delivery = sink.close()
    log.info("%s", progress.summary())
    errors += collected.errors
    for error in errors:
        log.error("render failed on %s", error)
    (log.info if delivery.exit_code == EXIT_OK else log.error)("%s", delivery.message)
    return max(delivery.exit_code, EXIT_FAILED if errors else EXIT_OK)


def _drain(comm, sink: Sink, progress: Progress, collected: _Collected) -> bool:
    """Receive every message that has already arrived; True if there was at least one."""
    from mpi4py import MPI  # already initialised by the caller; only the constants are needed
    status, got = MPI.Status(), False
    while True:
        message = comm.improbe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status)
        if message is None:
            return got
        got, payload = True, message.recv()
        if status.Get_tag() == TILE_TAG:
            sink.put(*payload)
            progress.tile_done(status.Get_source())
        else:
            collected.workers_done += 1
            if payload["error"]:
                collected.errors.append(f"rank {status.Get_source()}: {payload['error']}")


def _worker(config, site, mine, comm, renderer: TileRenderer, host) -> int:
    rank, window, error = comm.Get_rank(), SendWindow(comm), None
    try:
        for meta, png in _render(config, site, mine, renderer, rank, host):
            window.send((meta, png), len(png), TILE_TAG)
    except Exception as exc:  # tell rank 0 instead of dying alone and leaving it waiting
        log.exception("rank %d failed to render", rank)
        error = repr(exc)
    window.flush()
    # Sent after every tile: MPI keeps messages from one sender in order, so rank 0 sees it last.
    comm.send({"error": error}, dest=0, tag=DONE_TAG)
    return EXIT_FAILED if error else EXIT_OK

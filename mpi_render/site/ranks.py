"""Point-to-point plumbing between rank 0 and the workers, without busy-waiting MPI calls.

Two pieces serve both kinds of site job:

* :class:`SendWindow`: a worker's unfinished ``isend`` s of tiles to rank 0, bounded in bytes
  (a tile PNG is above MPI's eager limit, so its send completes only when rank 0 receives it,
  between two of its own tiles; the window lets the worker go on rendering meanwhile).
* :func:`wait_request`: waits for a request with short sleeps. A blocking ``MPI_Wait`` /
  ``MPI_Recv`` busy-polls a core in MPICH and Open MPI, which on a small node steals the CPU
  from the renderers and the poster.

And the protocol of a **claiming** job (``--split dynamic``, ``--serve``), where rank 0 hands
out tiles as it claims them instead of every rank knowing its stride in advance:

* rank 0 -> worker, tag :data:`ORDER_TAG`: ``("work", run_id, config, [tile indices])`` (append
  to the queue), ``("reference", config, meta, arrays)`` (keep a deep view's reference: sent
  once per worker and view, before the first ``work`` that needs it; MPI keeps one sender's
  messages in order), ``("drop", run_id)`` (forget queued tiles of that run: it was
  cancelled), ``("stop",)`` (drop the queue, finish, report :data:`DONE_TAG`);
* worker -> rank 0: :data:`TILE_TAG` ``(run_id, index, meta, png)`` per finished tile;
  :data:`RETURN_TAG` ``{"tiles": [(run_id, index), ...], "error": str | None}`` for tiles it
  will not render (dropped, SIGTERM, or a render error, after which it takes no more work);
  :data:`DONE_TAG` ``{"error": ...}`` last of all (MPI keeps one sender's messages in order).

The worker side is :func:`claim_worker`; rank 0's bookkeeping is :class:`Crew`.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ..tiling import tile_position
from .rendering import TileRenderer, adopt_message, keep_newest, reference_key, reference_message

log = logging.getLogger(__name__)
MAX_BYTES_IN_FLIGHT = 64 << 20  # PNG bytes a worker may have in unfinished sends
POLL_S = 0.002                  # sleep between polls while a tile is due soon
IDLE_POLL_S = 0.02              # sleep between polls of an idle worker (between runs)
ORDER_TAG, TILE_TAG, RETURN_TAG, DONE_TAG = 81, 82, 83, 84


def wait_request(request) -> None:
    """Wait for an MPI request to complete, sleeping :data:`POLL_S` between tests."""
    while not request.Test():
        time.sleep(POLL_S)


def idle_barrier(comm) -> None:
    """A barrier that sleeps instead of spinning while rank 0 finishes delivering."""
    wait_request(comm.Ibarrier())


class SendWindow:
    """A worker's sends to rank 0 that have not completed, at most ``max_bytes`` of payload."""

    def __init__(self, comm, max_bytes: int = MAX_BYTES_IN_FLIGHT):
        self.comm, self.max_bytes = comm, max_bytes
        self._in_flight: deque = deque()
        self._bytes = 0

    def send(self, payload, size_bytes: int, tag: int) -> None:
        """``isend`` ``payload`` to rank 0; wait (sleeping) only while the window is full."""
        self._in_flight.append((self.comm.isend(payload, dest=0, tag=tag), size_bytes))
        self._bytes += size_bytes
        while self._in_flight and (self._bytes > self.max_bytes or self._in_flight[0][0].Test()):
            request, size = self._in_flight.popleft()
            wait_request(request)
            self._bytes -= size

    def flush(self) -> None:
        """Wait for every send of the window."""
        while self._in_flight:
            wait_request(self._in_flight.popleft()[0])
        self._bytes = 0


def claim_worker(comm, site: str, renderer: TileRenderer, host: str,
                 stop_requested: Callable[[], bool] = lambda: False) -> str | None:
    """A worker of a claiming job: render what rank 0 orders until it says stop.

    Args:
        comm: the site's communicator (this rank is not 0).
        site: the site name for the tiles' metadata.
        renderer: this rank's tile renderer (it keeps the references rank 0 sends).
        host: this rank's host name for the metadata.
        stop_requested: True once this rank got SIGTERM: queued tiles are returned unrendered.

    Returns:
        None, or the first render error (after it the worker renders nothing more).
    """
    rank, queue, window = comm.Get_rank(), deque(), SendWindow(comm)
    error, stopping = None, False
    while True:
        stopping = _take_orders(comm, queue, renderer) or stopping
        if queue and (stopping or error or stop_requested()):
            returned = [(run_id, index) for run_id, _, index in queue]
            queue.clear()
            comm.send({"tiles": returned, "error": error}, dest=0, tag=RETURN_TAG)
        if queue:
            run_id, config, index = queue.popleft()
            try:
                done = renderer.render(config, *tile_position(config.grid, index))
            except Exception as exc:  # tell rank 0 instead of dying alone and leaving it waiting
                log.exception("rank %d failed to render", rank)
                error = repr(exc)
                queue.appendleft((run_id, config, index))
                continue
            window.send((run_id, index, done.meta(site, rank, host), done.png), len(done.png),
                        TILE_TAG)
        elif stopping:
            break
        else:
            time.sleep(IDLE_POLL_S)
    window.flush()
    comm.send({"error": error}, dest=0, tag=DONE_TAG)
    return error


def _take_orders(comm, queue: deque, renderer: TileRenderer) -> bool:
    """Apply every order that has arrived; True if one of them was ``stop``."""
    stop = False
    while (message := comm.improbe(source=0, tag=ORDER_TAG)) is not None:
        order = message.recv()
        if order[0] == "work":
            _, run_id, config, indices = order
            queue.extend((run_id, config, index) for index in indices)
        elif order[0] == "reference":
            adopt_message(renderer, *order[1:])
        elif order[0] == "drop":
            kept = [item for item in queue if item[0] != order[1]]
            queue.clear()
            queue.extend(kept)
        else:
            stop = True
    return stop


class Crew:
    """Rank 0's view of the workers of a claiming job: what each holds, who failed.

    Args:
        comm: the site's communicator (rank 0's side).
        on_tile: called as ``on_tile(run_id, meta, png, rank)`` for each finished tile.
        on_return: called as ``on_return(run_id, index)`` for each tile a worker gave back.
        renderer: rank 0's renderer, whose references the workers get.
    """

    def __init__(self, comm, on_tile, on_return, renderer: TileRenderer):
        self.comm, self.on_tile, self.on_return = comm, on_tile, on_return
        self.renderer = renderer
        self.workers = list(range(1, comm.Get_size()))
        self.held: dict[int, set[tuple[str, int]]] = {r: set() for r in self.workers}
        # the reference keys each worker keeps, oldest first (it forgets as keep_newest does)
        self.references: dict[int, OrderedDict] = {r: OrderedDict() for r in self.workers}
        self._sending: list = []  # isends of references not known to be complete
        self.errors: dict[int, str] = {}
        self.done: set[int] = set()

    def live(self) -> list[int]:
        """Workers that still take work."""
        return [r for r in self.workers if r not in self.errors and r not in self.done]

    def holding(self, rank: int) -> int:
        return len(self.held[rank])

    def held_for(self, run_id: str) -> int:
        """Tiles of ``run_id`` that workers hold (queued or being rendered)."""
        return sum(1 for keys in self.held.values() for key in keys if key[0] == run_id)

    def assign(self, rank: int, run_id: str, config, indices: list[int]) -> None:
        if self.renderer.deep(config) and reference_key(config) not in self.references[rank]:
            self._send_reference(rank, config)
        self.held[rank].update((run_id, index) for index in indices)
        self.comm.send(("work", run_id, config, indices), dest=rank, tag=ORDER_TAG)

    def _send_reference(self, rank: int, config) -> None:
        """``isend`` the view's reference (megabytes: a blocking send would wait until the
        worker finishes its current tile); MPI delivers it before the ``work`` sent after it."""
        meta, arrays = reference_message(self.renderer.reference(config))
        self._sending.append(self.comm.isend(("reference", config, meta, arrays), dest=rank,
                                             tag=ORDER_TAG))
        keep_newest(self.references[rank], reference_key(config), None)

    def drop(self, run_id: str) -> None:
        """Tell every worker to forget its queued tiles of ``run_id``."""
        for rank in self.live():
            self.comm.send(("drop", run_id), dest=rank, tag=ORDER_TAG)

    def stop(self) -> None:
        """Tell every worker to finish; :meth:`drain` until :meth:`all_done`."""
        for rank in self.workers:
            if rank not in self.done:
                self.comm.send(("stop",), dest=rank, tag=ORDER_TAG)

    def all_done(self) -> bool:
        return len(self.done) == len(self.workers)

    def drain(self) -> bool:
        """Receive every message that has already arrived; True if there was one."""
        from mpi4py import MPI  # already initialised by the caller; only the constants
        self._sending = [request for request in self._sending if not request.Test()]
        status, got = MPI.Status(), False
        while (message := self.comm.improbe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG,
                                            status=status)) is not None:
            got, payload, rank, tag = True, message.recv(), status.Get_source(), status.Get_tag()
            if tag == TILE_TAG:
                run_id, index, meta, png = payload
                self.held[rank].discard((run_id, index))
                self.on_tile(run_id, meta, png, rank)
            elif tag == RETURN_TAG:
                for run_id, index in payload["tiles"]:
                    self.held[rank].discard((run_id, index))
                    self.on_return(run_id, index)
                if payload["error"]:
                    self.errors.setdefault(rank, payload["error"])
            elif tag == DONE_TAG:
                self.done.add(rank)
                if payload["error"]:
                    self.errors.setdefault(rank, payload["error"])
        return got


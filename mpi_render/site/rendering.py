"""One rank's tile renderer, and how a site job's ranks share a deep view's reference.

A :class:`TileRenderer` holds what a rank needs to render any tile of any run: its
:class:`~mpi_render.tile.KernelChoice`, warmed up once, and the references (MPFR orbit + BLA
table, :class:`mpi_render.deep.Reference`) of the deep views it renders, a few kept at a time.

**One reference per site job.** Rank 0 prepares a deep view's reference (:meth:`prepare`: the
orbit's progress announced by a :class:`~.phases.PhaseReporter`, its time and size logged) and
sends it to the ranks: a static job broadcasts it to every rank at once (:func:`share`, one
``bcast`` of the small metadata and one ``Bcast`` per array); a claiming job sends it to each
worker with the first tiles of the run it hands that worker (:mod:`.ranks`). Why a broadcast and
not one copy per node in MPI-3 shared memory: measured in docs/PERFORMANCE.md ("Deep views:
sharing the reference"), the broadcast costs milliseconds next to the orbit's seconds, and the
memory it saves only matters for orbits of millions of iterations on nodes with many ranks.

The reference is deterministic (MPFR rounds correctly; the table is one implementation of IEEE
operations), so a rank that somehow lacks it computes the very same arrays itself
(:meth:`reference`): slower, never different. Every site computes the same reference too, so a
tile is the same bytes whichever site of a dynamic run renders it.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict

import numpy as np

from .. import tile as tile_mod
from ..config import RenderConfig
from ..tile import KernelChoice, RenderedTile
from .phases import PhaseReporter

log = logging.getLogger(__name__)
KEEP_REFERENCES = 4  # references a rank keeps (a serving site moves from run to run)


def keep_newest(kept: OrderedDict, key, value) -> None:
    """Put ``key: value`` last in ``kept`` and forget the oldest beyond :data:`KEEP_REFERENCES`:
    how a rank keeps references, and how rank 0 keeps track of what each worker keeps
    (:class:`~mpi_render.site.ranks.Crew`), so both forget the same ones."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > KEEP_REFERENCES:
        kept.popitem(last=False)


class ReferenceFailed(RuntimeError):
    """Rank 0 could not prepare a reference; :func:`share` raises it on every rank."""


def reference_key(config: RenderConfig) -> tuple:
    """What a reference depends on: the exact view, the image size and ``max_iter``."""
    return (config.view, config.image_px, config.max_iter)


class TileRenderer:
    """Renders tiles for one rank.

    Args:
        kernels: the kernel choice; warmed up here (logged).

    Raises:
        ValueError: an unknown or unavailable backend.
    """

    def __init__(self, kernels: KernelChoice):
        started = time.perf_counter()
        self.kernels = kernels.warmed_up()
        log.info("kernel backend %s ready in %.2f s%s", self.kernels.backend,
                 time.perf_counter() - started,
                 "" if kernels.shortcuts else " (brute force: --no-shortcuts)")
        self._references: OrderedDict[tuple, object] = OrderedDict()

    def deep(self, config: RenderConfig) -> bool:
        """Whether ``config`` is rendered by perturbation (it needs a reference)."""
        return tile_mod.kernel_for(config, self.kernels.kernel) == "perturbation"

    def describe(self, config: RenderConfig) -> str:
        """``centre CX, CY, width W, max_iter M, the K kernel``: the view as given (for logs)."""
        kernel = tile_mod.kernel_for(config, self.kernels.kernel)
        return f"{config.view.describe()}, max_iter {config.max_iter}, the {kernel} kernel"

    def has_reference(self, config: RenderConfig) -> bool:
        return reference_key(config) in self._references

    def adopt(self, config: RenderConfig, reference) -> None:
        """Keep ``reference`` for ``config`` (the oldest beyond :data:`KEEP_REFERENCES` goes)."""
        keep_newest(self._references, reference_key(config), reference)

    def prepare(self, config: RenderConfig, run_id: str, reporter: PhaseReporter | None = None):
        """Prepare (and keep) ``config``'s reference; rank 0's job. Returns it.

        ``reporter`` announces a slow orbit (log and dashboard); the time and the bytes are
        logged either way.
        """
        started = time.perf_counter()
        reference = tile_mod.prepare_reference(
            config, progress=None if reporter is None else reporter.update)
        if reporter is not None:
            reporter.finish(reference.orbit.length, config.max_iter)
        seconds = reference.seconds
        log.info("run %s: reference orbit of %d iterations at %d bits in %.2f s, BLA table in "
                 "%.2f s (%.1f MB per rank, %s; %.2f s in all)", run_id,
                 reference.orbit.length, reference.prec, seconds["orbit"], seconds["bla"],
                 reference.nbytes / 1e6,
                 "the reference escaped" if reference.orbit.escaped else "it stays inside",
                 time.perf_counter() - started)
        self.adopt(config, reference)
        return reference

    def reference(self, config: RenderConfig):
        """``config``'s reference: the shared one, or (slow, never different) one computed here."""
        found = self._references.get(reference_key(config))
        if found is None:
            log.warning("no shared reference for this view on this rank: computing it here "
                        "(same result, slower)")
            found = self.prepare(config, "?")
        return found

    def render(self, config: RenderConfig, row: int, col: int) -> RenderedTile:
        """Render tile ``(row, col)`` of ``config`` (:func:`mpi_render.tile.render_tile`)."""
        reference = self.reference(config) if self.deep(config) else None
        return tile_mod.render_tile(config, row, col, self.kernels.backend,
                                    self.kernels.shortcuts, self.kernels.kernel, reference)


def reference_message(reference) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a reference, to send to a rank (:func:`adopt_message`)."""
    return reference.to_arrays()


def adopt_message(renderer: TileRenderer, config: RenderConfig, meta: dict,
                  arrays: dict[str, np.ndarray]) -> None:
    """A worker keeps a reference that rank 0 sent (:func:`reference_message`)."""
    from ..deep import Reference

    renderer.adopt(config, Reference.from_arrays(meta, arrays))


def share(comm, renderer: TileRenderer, config: RenderConfig, run_id: str,
          reporter: PhaseReporter | None = None) -> None:
    """Collective: rank 0 prepares ``config``'s reference and every rank gets it
    (:func:`broadcast`).

    Raises:
        ReferenceFailed: on every rank, when rank 0 could not prepare it (the message says why).
    """
    message = None
    if comm.Get_rank() == 0:
        try:
            message = reference_message(renderer.prepare(config, run_id, reporter))
        except Exception as exc:  # tell every rank instead of leaving them in the broadcast
            log.exception("run %s: preparing the reference failed", run_id)
            message = ({"error": repr(exc)}, {})
    broadcast(comm, renderer, config, message, run_id)


def broadcast(comm, renderer: TileRenderer, config: RenderConfig,
              message: tuple[dict, dict[str, np.ndarray]] | None, run_id: str) -> None:
    """Collective: rank 0's ``message`` (:func:`reference_message`, or ``({"error": why}, {})``)
    kept by every other rank's ``renderer``. One ``bcast`` of the metadata (array names, dtypes,
    shapes), then one ``Bcast`` per array straight into each rank's own buffer (no pickling).

    Raises:
        ReferenceFailed: on every rank, when rank 0 sent an error.
    """
    meta, arrays = message if comm.Get_rank() == 0 else (None, None)
    started = time.perf_counter()
    meta = comm.bcast(meta, root=0)
    if "error" in meta:
        raise ReferenceFailed(meta["error"])
    if comm.Get_rank() != 0:
        arrays = {name: np.empty(shape, dtype=dtype)
                  for name, (dtype, shape) in meta["arrays"].items()}
    for name in sorted(arrays):
        comm.Bcast(arrays[name], root=0)
    if comm.Get_rank() != 0:
        adopt_message(renderer, config, meta, arrays)
    elif comm.Get_size() > 1:
        log.info("run %s: reference broadcast to %d ranks (%.1f MB each) in %.3f s", run_id,
                 comm.Get_size() - 1, sum(a.nbytes for a in arrays.values()) / 1e6,
                 time.perf_counter() - started)

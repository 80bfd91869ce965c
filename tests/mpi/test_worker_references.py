"""A claiming job's workers keep the newest few references; rank 0 must know which (pytest-mpi).

A serving site moves from view to view: each worker keeps ``KEEP_REFERENCES`` references and
forgets the oldest. Rank 0's :class:`Crew` sends a reference only to a worker it believes lacks
it, so it must forget the same ones; otherwise a worker given a view it has forgotten computes
the orbit itself (the same result, but minutes at depth). Size-agnostic: with one rank there is
no worker and nothing to check (CI runs it at -n 2 and -n 4).
"""
import logging
import time

import pytest

from mpi_render.config import RenderConfig
from mpi_render.site.ranks import Crew, claim_worker
from mpi_render.site.rendering import KEEP_REFERENCES, TileRenderer
from mpi_render.tile import KernelChoice

pytestmark = [pytest.mark.mpi, pytest.mark.timeout(240)]
# more deep views than a worker keeps, then the first one again
VIEWS = [RenderConfig(grid=1, tile_px=16, max_iter=300, center=("-0.75", "0.1"),
                      width=f"{n + 1}e-20", sites=("a",)) for n in range(KEEP_REFERENCES + 2)]


def test_a_worker_never_computes_a_reference_rank_0_forgot_it_had(caplog):
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    caplog.set_level(logging.WARNING, logger="mpi_render.site.rendering")
    renderer = TileRenderer(KernelChoice(backend="numpy"))
    if world.Get_rank() == 0:
        tiles = []
        crew = Crew(world, lambda run_id, meta, png, rank: tiles.append(run_id),
                    lambda run_id, index: None, renderer)
        for n, config in enumerate([*VIEWS, VIEWS[0]]):
            assert renderer.deep(config)
            renderer.prepare(config, f"v{n}")
            for rank in crew.workers:
                crew.assign(rank, f"v{n}", config, [0])
            while any(crew.held.values()):
                if not crew.drain():
                    time.sleep(0.002)
        crew.stop()
        while not crew.all_done():
            if not crew.drain():
                time.sleep(0.002)
        assert crew.errors == {}
        assert len(tiles) == len(crew.workers) * (len(VIEWS) + 1)
    else:
        assert claim_worker(world, "a", renderer, "host") is None
    computed_here = [r.getMessage() for r in caplog.records if "no shared reference" in
                     r.getMessage()]
    assert world.allgather(computed_here) == [[]] * world.Get_size()

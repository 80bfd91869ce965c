"""A deep view's reference under MPI (pytest-mpi): prepared once on rank 0, the same bits on every
rank, and a failure on rank 0 reaches every rank instead of leaving them in the broadcast.

Size-agnostic: run at any ``mpiexec -n`` (see tests/mpi/test_driver.py).
"""
import hashlib
import logging

import pytest

from mpi_render import tile as tile_mod
from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS
from mpi_render.site.rendering import ReferenceFailed, TileRenderer, share
from mpi_render.tile import KernelChoice

pytestmark = [pytest.mark.mpi, pytest.mark.timeout(240)]
FLAKE = LOCATIONS["flake"]
CONFIG = RenderConfig(grid=2, tile_px=16, max_iter=FLAKE.max_iter, center=(FLAKE.cx, FLAKE.cy),
                      width=FLAKE.width, sites=("a",))


@pytest.fixture
def world():
    from mpi4py import MPI
    return MPI.COMM_WORLD


def digest(reference) -> str:
    meta, arrays = reference.to_arrays()
    hashed = hashlib.sha256(repr(sorted((k, v) for k, v in meta.items() if k != "seconds"))
                            .encode())
    for name in sorted(arrays):
        hashed.update(name.encode() + arrays[name].tobytes())
    return hashed.hexdigest()


def test_every_rank_gets_rank_0s_reference_bit_for_bit(world, caplog):
    caplog.set_level(logging.INFO, logger="mpi_render.site.rendering")
    renderer = TileRenderer(KernelChoice(backend="numpy"))
    assert renderer.deep(CONFIG) and not renderer.has_reference(CONFIG)
    share(world, renderer, CONFIG, "t")
    assert renderer.has_reference(CONFIG)
    shared = digest(renderer.reference(CONFIG))
    assert len(set(world.allgather(shared))) == 1
    # deterministic: what rank 0 sent is what any rank would have computed itself
    assert shared == digest(tile_mod.prepare_reference(CONFIG))
    prepared_here = sum("reference orbit of" in r.getMessage() for r in caplog.records)
    assert prepared_here == (1 if world.Get_rank() == 0 else 0)


def test_a_failure_on_rank_0_is_raised_on_every_rank(world, monkeypatch):
    renderer = TileRenderer(KernelChoice(backend="numpy"))
    if world.Get_rank() == 0:
        def broken(config, progress=None):
            raise MemoryError("no room for the orbit")
        monkeypatch.setattr(tile_mod, "prepare_reference", broken)
    with pytest.raises(ReferenceFailed, match="no room for the orbit"):
        share(world, renderer, CONFIG, "t")
    assert not renderer.has_reference(CONFIG)

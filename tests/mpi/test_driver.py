"""The site job under MPI (pytest-mpi). Run at any size, e.g.

    mpiexec -n 2 python -m mpi4py -m pytest --with-mpi -m mpi tests/mpi
    mpiexec -n 4 python -m mpi4py -m pytest --with-mpi -m mpi tests/mpi

Asserts are size-agnostic: two sites of one run are rendered by communicators of different
sizes, and their union must be the whole grid, byte-identical to a single-process render.
"""
import pytest

from mpi_render import tile as tile_mod
from mpi_render.config import RenderConfig
from mpi_render.site import driver
from mpi_render.site.sinks import EXIT_FAILED, MemorySink, SetupError
from mpi_render.tile import KernelChoice
from mpi_render.tiling import tile_position

NUMPY = KernelChoice(backend="numpy")

pytestmark = [pytest.mark.mpi, pytest.mark.timeout(240)]


@pytest.fixture
def world():
    """COMM_WORLD, imported here so that collecting this file (``-m "not mpi"``) starts no MPI."""
    from mpi4py import MPI
    return MPI.COMM_WORLD


def serial_pngs(config: RenderConfig) -> dict:
    keys = [tile_position(config.grid, t) for t in range(config.total_tiles)]
    return {key: tile_mod.render_tile(config, *key, "numpy").png for key in keys}


def smaller_comm(world):
    """A communicator with one rank fewer than ``world`` (at least 1); ``None`` outside it."""
    from mpi4py import MPI
    keep = max(1, world.Get_size() - 1)
    comm = world.Split(0 if world.Get_rank() < keep else MPI.UNDEFINED, world.Get_rank())
    return None if comm == MPI.COMM_NULL else comm


@pytest.mark.parametrize("grid, split, weights", [
    (5, "contiguous", None),
    (3, "contiguous", (0.3, 0.7)),
    (4, "interleaved", None),
])
def test_two_sites_with_different_rank_counts_render_the_whole_grid(world, grid, split, weights):
    config = RenderConfig(grid=grid, tile_px=16, palette="fire", max_iter=64,
                          sites=("cloud", "onprem"), split=split, weights=weights)
    sinks = {"cloud": MemorySink(), "onprem": MemorySink()}
    codes = {"cloud": driver.run(config, "cloud", kernels=NUMPY, comm=world,
                                 sink=sinks["cloud"])}
    small = smaller_comm(world)
    if small is not None:
        codes["onprem"] = driver.run(config, "onprem", kernels=NUMPY, comm=small,
                                     sink=sinks["onprem"])
        small.Free()
    assert set(codes.values()) == {0}
    if world.Get_rank() == 0:
        cloud, onprem = sinks["cloud"].tiles, sinks["onprem"].tiles
        assert not set(cloud) & set(onprem)
        union = {key: png for key, (_, png) in {**cloud, **onprem}.items()}
        assert union == serial_pngs(config)
        ranks = {meta["rank"] for meta, _ in cloud.values()}
        assert ranks == set(range(min(world.Get_size(), len(cloud))))
        meta = next(iter(onprem.values()))[0]
        assert set(meta) == {"row", "col", "site", "rank", "host", "render_ms", "encode_ms",
                             "iterations", "rendered_at"} and meta["site"] == "onprem"
    else:
        assert not sinks["cloud"].tiles  # only rank 0's sink is used
    world.Barrier()


def test_a_failing_worker_fails_every_rank_without_hanging(world, monkeypatch):
    config = RenderConfig(grid=3, tile_px=16, max_iter=16, sites=("a",))
    failing_rank = world.Get_size() - 1
    if world.Get_rank() == failing_rank:
        def broken(*args, **kwargs):
            raise RuntimeError("kernel exploded")
        monkeypatch.setattr(tile_mod, "render_tile", broken)
    code = driver.run(config, "a", kernels=NUMPY, comm=world, sink=MemorySink())
    assert code == EXIT_FAILED


def test_a_sink_that_cannot_open_ends_every_rank_with_its_code(world):
    class Refusing(MemorySink):
        def open(self, tiles):
            raise SetupError("run exists with another config", 2)

    config = RenderConfig(grid=2, tile_px=16, max_iter=8, sites=("a",))
    assert driver.run(config, "a", kernels=NUMPY, comm=world, sink=Refusing()) == 2


def test_only_the_tiles_the_sink_asks_for_are_rendered(world):
    class OnlySome(MemorySink):
        def open(self, tiles):
            return super().open(tiles[::3])

    config = RenderConfig(grid=4, tile_px=16, max_iter=8, sites=("a", "b"))
    sink = OnlySome()
    assert driver.run(config, "a", kernels=NUMPY, comm=world, sink=sink) == 0
    if world.Get_rank() == 0:
        assert sorted(sink.tiles) == [tile_position(4, t) for t in (0, 3, 6)]


def test_workers_keep_rendering_while_rank_0_renders_a_slow_tile(world, monkeypatch):
    """A tile's PNG is above MPI's eager limit, so its send completes only when rank 0 posts the
    receive, between two of its own tiles. Workers must not stall meanwhile: with a window of 4
    sends they waited behind every slow tile of rank 0 (E_2 was 83 %)."""
    import os
    import time

    config = RenderConfig(grid=6, tile_px=16, max_iter=8, sites=("a",))
    real_render, rendered_at = tile_mod.render_tile, []
    slow_first_tile = world.Get_rank() == 0

    def render(*args, **kwargs):
        nonlocal slow_first_tile
        if slow_first_tile:
            slow_first_tile = False
            time.sleep(2.0)
        done = real_render(*args, **kwargs)
        rendered_at.append(time.perf_counter())
        return type(done)(done.row, done.col, os.urandom(300_000), done.render_ms,
                          done.encode_ms, done.iterations)  # a PNG-sized, incompressible payload

    monkeypatch.setattr(tile_mod, "render_tile", render)
    sink = MemorySink()
    world.Barrier()
    started = time.perf_counter()
    assert driver.run(config, "a", kernels=NUMPY, comm=world, sink=sink) == 0
    if world.Get_rank() == 0:
        assert len(sink.tiles) == 36
    else:  # every tile of this worker rendered long before rank 0's slow tile was done
        assert rendered_at[-1] - started < 1.5, rendered_at[-1] - started

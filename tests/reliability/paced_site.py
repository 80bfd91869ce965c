"""The real ``mpi-render`` site job, with every tile render paced by a fixed sleep.

Fault tests must strike *mid-run*. Pacing with a sleep (``MPI_RENDER_TEST_PACE_S`` seconds per
tile) instead of an expensive view makes "mid-run" the same on an idle and on a busy 2-core
machine, and costs no CPU. Everything else is the shipped code path: ``cli.main`` -> driver ->
poster -> spool. Run as ``mpiexec -n R python -m mpi4py paced_site.py <mpi-render flags>``.
"""
import os
import sys
import time

from mpi_render import cli, tile

PACE_ENV = "MPI_RENDER_TEST_PACE_S"


def _paced(render):
    pace_s = float(os.environ.get(PACE_ENV, "0"))

    def render_tile(*args, **kwargs):
        time.sleep(pace_s)
        return render(*args, **kwargs)
    return render_tile


if __name__ == "__main__":
    tile.render_tile = _paced(tile.render_tile)  # the driver looks it up on the module per tile
    sys.exit(cli.main())

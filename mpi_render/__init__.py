"""mpi-render: an MPI parallel Mandelbrot renderer that bursts one render across sites.

The package holds every contract the renderer and the dashboard share (``config``, ``tiling``,
``protocol``, ``tokens``), the per-tile pipeline (``palettes``, ``encode``, ``tile``), the
kernels (``kernels``), the MPI site job (``site``) and the launchers (``launch``). It never
imports :mod:`dashboard`. Importing it never initialises MPI (``mpi4py.MPI`` is imported only
by the CLI or lazily by the driver), so the dashboard and unit tests can use it freely.
"""
from .kernels import escape_counts, escape_data

__version__ = "0.1.0"
__all__ = ["escape_counts", "escape_data"]

"""mpi-render: an MPI parallel Mandelbrot renderer that bursts one render across sites.

Importing this package never initialises MPI (``mpi4py.MPI`` is imported only by the CLI or
lazily by the driver), so the dashboard and unit tests can use it freely.
"""
__version__ = "0.1.0"

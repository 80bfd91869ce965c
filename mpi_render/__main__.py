"""``python -m mpi_render`` (and ``python -m mpi4py -m mpi_render`` under mpiexec/srun)."""
from .cli import main

raise SystemExit(main())

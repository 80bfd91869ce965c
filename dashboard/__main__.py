"""``python -m dashboard`` is ``mpi-render-dashboard``."""
import sys

from .server import main

sys.exit(main())

"""Deep views: perturbation against an MPFR reference orbit, with BLA, at any depth."""
from .geometry import needs_perturbation
from .prepare import Reference, prepare
from .tiles import BACKENDS, available_backends, tile_escape

__all__ = ["BACKENDS", "Reference", "available_backends", "needs_perturbation", "prepare",
           "tile_escape"]

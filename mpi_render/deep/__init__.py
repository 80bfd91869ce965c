"""Deep views: perturbation against an MPFR reference orbit, with BLA, at any depth.

The API the site job and the tile pipeline use (docs/PERFORMANCE.md, "Deep views"):

* :func:`choose_kernel` (:func:`needs_perturbation`) -- the line between the double kernel and
  perturbation, or a forced choice;
* :func:`prepare` -> :class:`Reference` -- once per view (rank 0), shared with the ranks through
  :meth:`Reference.to_arrays` / :meth:`Reference.from_arrays`;
* :func:`tile_escape` -- one tile, by the ``numba``, ``numpy`` or ``reference`` backend;
* :func:`warm_up` -- compile or load the kernels once per process.

Modules: ``geometry`` (exact pixel offsets, precision, the line), ``orbit`` (MPFR reference),
``bla`` (the BLA table), ``wide`` (the wide-exponent number), ``constants``, ``prepare``,
``tiles`` (the tile API), the backends ``numba_backend`` (and ``native``, its prebuilt
library) and ``numpy_backend``, the oracles ``loop`` (the reference perturbation loop) and
``brute`` (MPFR brute force, the truth), ``tail`` (the smooth tail after an escape, shared by
the loop and the backends) and ``stats`` (step counters).
"""
from .geometry import KERNELS, choose_kernel, needs_perturbation
from .prepare import Reference, prepare
from .tiles import BACKENDS, available_backends, tile_escape, warm_up

__all__ = ["BACKENDS", "KERNELS", "Reference", "available_backends", "choose_kernel",
           "needs_perturbation", "prepare",
           "tile_escape", "warm_up"]

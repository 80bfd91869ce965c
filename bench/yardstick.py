"""The benchmark's fast C yardstick (``yardstick.c``): vectorised brute-force kernels, one thread.

``g4`` iterates groups of 16 adjacent pixels until all escaped, ``r8`` refills 32 lanes from a pixel
queue every 16 iterations. Both are bit-identical to ``mpi_render/kernels/reference.c``; the
library is built with ``-O3 -march=native -mprefer-vector-width=256 -ffp-contract=off``.

``python bench/yardstick.py`` prints G-iter/s (sum of counts / CPU time) of the scalar reference,
g4 and r8 on the full view and checks that all three agree.
"""
from __future__ import annotations

import ctypes
import time
from pathlib import Path

import numpy as np

from mpi_render.kernels import pixel_centres
from mpi_render.kernels.creference import CReference, build_shared_library, prepare_counts

SOURCE = Path(__file__).with_name("yardstick.c")
FLAGS = ["-O3", "-march=native", "-mprefer-vector-width=256"]
KERNELS = {"g4": 0, "r8": 1}


class Yardstick:
    """The vectorised C kernels of ``yardstick.c``."""

    def __init__(self, cache_dir: Path | None = None):
        """Build or load the library (cache_dir and CompilerUnavailable: see ``build_shared_library``)."""
        self._counts = ctypes.CDLL(str(build_shared_library(SOURCE, FLAGS, cache_dir))).mr_yardstick_counts
        self._counts.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p)
        self._counts.restype = ctypes.c_uint64

    def counts(self, cr, ci, max_iter: int, kernel: str = "g4", precheck: bool = False) -> np.ndarray:
        """Escape counts of the pixels ``cr[i] + 1j*ci[j]``.

        Args:
            cr, ci: 1-D column and row centres (plane units); max_iter: the iteration cap.
            kernel: ``"g4"`` (16-pixel groups) or ``"r8"`` (32 refilled lanes).
            precheck: pixels inside the main cardioid or period-2 bulb get max_iter without iterating.
        Returns:
            ``(len(ci), len(cr))`` uint32 array of ``min(escape iteration, max_iter)``.
        Raises:
            ValueError: an unknown kernel, or bad axes / max_iter (``prepare_counts``).
        """
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
        cr, ci, out = prepare_counts(cr, ci, max_iter)
        self._counts(KERNELS[kernel], cr.ctypes.data, ci.ctypes.data, cr.size, ci.size, max_iter, precheck,
                     out.ctypes.data)
        return out

    def tile(self, xmin: float, ymax: float, dx: float, dy: float, width: int, height: int,
             max_iter: int, kernel: str = "g4", precheck: bool = False) -> np.ndarray:
        """:meth:`counts` of the tile's pixel centres (``pixel_centres``; plane units)."""
        return self.counts(*pixel_centres(xmin, ymax, dx, dy, width, height), max_iter, kernel, precheck)


def _self_check(rounds: int = 5) -> None:
    """Print best-of-``rounds`` G-iter/s of reference, g4 and r8 on the full view; fail on a mismatch."""
    view = (-2.25, 1.5, 3 / 1024, 3 / 1024, 1024, 1024, 256)
    reference, yardstick = CReference(), Yardstick()
    contenders = {"scalar reference.c": reference.tile}
    contenders.update({name: lambda *a, k=name: yardstick.tile(*a, kernel=k) for name in KERNELS})
    expected, scalar = None, None
    for name, run in contenders.items():
        seconds = []
        for _ in range(rounds):
            start = time.thread_time()
            counts = run(*view)
            seconds.append(time.thread_time() - start)
        expected = counts if expected is None else expected
        if not np.array_equal(counts, expected):
            raise SystemExit(f"{name}: {np.count_nonzero(counts != expected)} pixels differ from reference.c")
        rate = int(counts.sum(dtype=np.uint64)) / min(seconds) / 1e9
        scalar = scalar or rate
        print(f"{name:20s} {rate:6.3f} G-iter/s  {rate / scalar:5.1f}x scalar  (best of {rounds})")
    print("bit-identical: yes")


if __name__ == "__main__":
    _self_check()

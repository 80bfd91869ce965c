"""Kernel speed as ratios to the C yardstick, measured side by side in one process.

Workloads: (a) full view 1024x1024, max_iter 256; (b) the same at max_iter 1024; (c) seahorse
valley centre, width 1e-4, 512x512, max_iter 2048. Per round, every contender runs once (order
reversed on odd rounds to cancel drift) and is timed in CPU seconds; the C time of a round is
the best of its ``g4`` and ``r8`` kernels with the same precheck setting. Reported ratios are
medians over rounds of the per-round ratio C time / our time (> 1 means faster than C). The
plain-Python loop is timed on a random sample of pixels and scaled to the whole workload.

Usage: .venv/bin/python bench/bench_kernel.py [--rounds N] [--quick]  (--quick: one round)
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from harness import bench_args, machine_line
from yardstick import Yardstick

from mpi_render.kernels import numba_backend, reference
from mpi_render.kernels.dispatch import escape_counts, pixel_centres
from mpi_render.tile import warm_up

SEAHORSE = (-0.743643887037151, 0.131825904205330)
PYTHON_SAMPLE_PX = 3000


def workloads() -> dict[str, tuple]:
    """escape_counts arguments (xmin, ymax, dx, dy, width, height, max_iter) per workload."""
    full = 3.0 / 1024
    zoom = 1e-4 / 512
    return {
        "(a) full 1024² it256": (-2.25, 1.5, full, full, 1024, 1024, 256),
        "(b) full 1024² it1024": (-2.25, 1.5, full, full, 1024, 1024, 1024),
        "(c) seahorse 1e-4 512² it2048": (SEAHORSE[0] - 5e-5, SEAHORSE[1] + 5e-5, zoom, zoom,
                                          512, 512, 2048),
    }


def load_cref():
    """The C yardstick (bench/yardstick.c: AVX2 group and refill kernels), built on first use."""
    return Yardstick()


def timed(fn) -> tuple[float, np.ndarray]:
    """CPU seconds of ``fn()`` on this thread, and its result.

    CPU time, not wall time: every contender is single-threaded, and on this shared 2-core
    machine wall time mostly measures the other tenants (the load is often > 5). Thread time
    rather than process time, so nothing another thread of the process does is counted.
    """
    start = time.thread_time()
    result = fn()
    return time.thread_time() - start, result


def python_seconds(args: tuple, rng: np.random.Generator) -> float:
    """Estimated CPU seconds of the plain-Python per-pixel loop over the whole workload."""
    cr, ci = pixel_centres(*args[:6])
    cols = rng.integers(0, cr.size, PYTHON_SAMPLE_PX)
    rows = rng.integers(0, ci.size, PYTHON_SAMPLE_PX)
    points = [(float(cr[c]), float(ci[r])) for c, r in zip(cols, rows)]
    start = time.thread_time()
    for x, y in points:
        reference.escape_count(x, y, args[6])
    return (time.thread_time() - start) * cr.size * ci.size / PYTHON_SAMPLE_PX


def one_round(cref, args: tuple, precheck: bool, reverse: bool) -> dict[str, float]:
    """Seconds per contender for one workload and precheck setting; checks exactness too."""
    contenders = {
        "C g4": lambda: cref.tile(*args, kernel="g4", precheck=precheck),
        "C r8": lambda: cref.tile(*args, kernel="r8", precheck=precheck),
        "numba": lambda: escape_counts(*args, backend="numba", precheck=precheck),
        "numba JIT": lambda: numba_backend.escape_counts(*pixel_centres(*args[:6]), args[6],
                                                        precheck),
        "numpy": lambda: escape_counts(*args, backend="numpy", precheck=precheck),
    }
    order = list(contenders)[::-1] if reverse else list(contenders)
    seconds, results = {}, {}
    for name in order:
        seconds[name], results[name] = timed(contenders[name])
    for name in ("numba", "numba JIT", "numpy"):
        if not np.array_equal(results[name], results["C r8"]):
            raise SystemExit(f"{name} counts differ from C (precheck={precheck}): not exact")
    seconds["C best"] = min(seconds["C g4"], seconds["C r8"])
    seconds["giter"] = int(results["C r8"].sum(dtype=np.uint64)) / 1e9
    return seconds


def report(name: str, precheck: bool, rounds: list[dict], python_s: float | None) -> str:
    def med(key):
        return statistics.median(r[key] for r in rounds)

    def ratio(key):
        return statistics.median(r["C best"] / r[key] for r in rounds)

    giter = rounds[0]["giter"]
    cells = [name, "on" if precheck else "off", f"{giter:.3f}",
             f"{med('C best') * 1e3:.1f} ({giter / med('C best'):.2f})",
             f"{med('numba') * 1e3:.1f}", f"**{ratio('numba'):.2f}**",
             f"{min(r['C best'] / r['numba'] for r in rounds):.2f}", f"{ratio('numba JIT'):.2f}",
             f"{med('numpy') * 1e3:.0f}", f"**{ratio('numpy'):.3f}**"]
    if python_s is None:
        cells += ["", "", ""]
    else:
        cells += [f"{python_s:.1f}", f"{statistics.median(python_s / r['numba'] for r in rounds):.0f}x",
                  f"{statistics.median(python_s / r['C best'] for r in rounds):.0f}x"]
    return "| " + " | ".join(cells) + " |"


def main(argv=None) -> int:
    rounds = bench_args(__doc__, argv, rounds=7).rounds
    cref = load_cref()
    warm_up("numba")
    numba_backend.escape_counts(*pixel_centres(-2.0, 1.0, 0.5, 0.5, 4, 4), 8)  # load the JIT too
    rng = np.random.default_rng(2024)
    print(f"kernel benchmark: {machine_line()}; {rounds} paired rounds, one core, CPU time\n")
    print("| workload | precheck | G-iter | C best ms (G-it/s) | numba ms | numba/C | "
          "numba/C worst | numba JIT/C | numpy ms | numpy/C | Python s (est.) | numba vs Python | "
          "C vs Python |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, wl in workloads().items():
        python_s = python_seconds(wl, rng)
        for precheck in (False, True):
            results = [one_round(cref, wl, precheck, reverse=bool(r % 2)) for r in range(rounds)]
            print(report(name, precheck, results, None if precheck else python_s), flush=True)
    print("\nratios = median over rounds of (best of C g4/r8 in the same round) / ours; "
          "'numba/C worst' is the lowest round. 'numba' is the backend as a rank runs it (the "
          "native library of mpi_render.kernels.native when built), 'numba JIT' the same kernel "
          "through numba's dispatcher.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

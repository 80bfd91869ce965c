"""Kernel speed as ratios to the C yardstick, measured side by side in one process, one core.

Per round, every contender runs once on the same view (order reversed on odd rounds to cancel
drift) and is timed in CPU seconds of the calling thread. "C brute" is the faster of the
yardstick's AVX2 kernels ``g4`` and ``r8`` in that round with its precheck off, "C precheck" the
faster of the two with its cardioid / period-2 precheck on. The goal ratio is C brute / our
default (the exact shortcuts on), numba backend; reported ratios are medians over rounds of the
per-round ratio (> 1: faster than C), "worst" the lowest round. numpy runs in the first
``NUMPY_ROUNDS`` rounds only (it is 10x slower). Every contender's counts are checked against
the C brute force's in every round. The plain-Python loop is timed on a random sample of pixels
and scaled to the whole view.

The smooth-colour data (``escape_data``, what the tile pipeline runs) is timed in the same
rounds as the counts alone (``escape_counts``): "numba smooth" and "numpy smooth", checked
against the C reference's ``extra`` and ``r2`` once per view; the last table gives its cost
as smooth / counts.

Usage: .venv/bin/python bench/bench_kernel.py [--rounds N] [--quick]
(--quick: one round at a quarter of the pixels)
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from harness import bench_args, machine_line, timed, view_args
from yardstick import Yardstick

from mpi_render.kernels import numba_backend, reference
from mpi_render.kernels.creference import CReference
from mpi_render.kernels.dispatch import (
    escape_counts,
    escape_counts_and_work,
    escape_data,
    pixel_centres,
)
from mpi_render.tile import warm_up

SEAHORSE = (-0.7436438870, 0.1318259043)
MINIBROT = (-1.7685, 0.0)
PYTHON_SAMPLE_PX = 2000
NUMPY_ROUNDS = 3

# (label, centre, width in the plane, pixels per side, max_iter, goal of C brute / numba default)
VIEWS = (
    ("full", (-0.75, 0.0), 3.0, 1024, 256, 3.0),
    ("full", (-0.75, 0.0), 3.0, 1024, 1024, 3.0),
    ("seahorse 0.02", SEAHORSE, 0.02, 1024, 4096, 2.5),
    ("mini-brot 0.01", MINIBROT, 0.01, 512, 4096, 2.0),
    ("seahorse deep 1e-4", SEAHORSE, 1e-4, 512, 2048, 0.85),
)


def python_seconds(args: tuple, rng: np.random.Generator) -> float:
    """Estimated CPU seconds of the plain-Python per-pixel loop over the whole view."""
    cr, ci = pixel_centres(*args[:6])
    cols = rng.integers(0, cr.size, PYTHON_SAMPLE_PX)
    rows = rng.integers(0, ci.size, PYTHON_SAMPLE_PX)
    points = [(float(cr[c]), float(ci[r])) for c, r in zip(cols, rows)]
    start = time.thread_time()
    for x, y in points:
        reference.escape_count(x, y, args[6])
    return (time.thread_time() - start) * cr.size * ci.size / PYTHON_SAMPLE_PX


def contenders(yardstick: Yardstick, args: tuple, with_numpy: bool) -> dict:
    """name -> zero-argument callable returning the counts."""
    centres = pixel_centres(*args[:6])
    runs = {f"C {kernel} {mode}": (lambda k=kernel, p=precheck: yardstick.tile(*args, kernel=k,
                                                                                precheck=p))
            for kernel in ("g4", "r8") for mode, precheck in (("brute", False), ("precheck", True))}
    runs.update({
        "numba": lambda: escape_counts(*args, backend="numba"),
        "numba brute": lambda: escape_counts(*args, backend="numba", shortcuts=False),
        "numba JIT": lambda: numba_backend.escape_counts(*centres, args[6])[0],
        "numba smooth": lambda: escape_data(*args, backend="numba").counts,
    })
    if with_numpy:
        runs["numpy"] = lambda: escape_counts(*args, backend="numpy")
        runs["numpy brute"] = lambda: escape_counts(*args, backend="numpy", shortcuts=False)
        runs["numpy smooth"] = lambda: escape_data(*args, backend="numpy").counts
    return runs


def check_smooth_data(cref: CReference, args: tuple) -> None:
    """Exit unless every backend's smooth-colour data equals the C reference's bit for bit."""
    want = cref.escape_tile(*args)
    for backend in ("numba", "numpy"):
        got = escape_data(*args, backend=backend)
        if not (np.array_equal(got.extra, want.extra)
                and np.array_equal(got.r2.view(np.uint64), want.r2.view(np.uint64))):
            raise SystemExit(f"{backend}: smooth-colour data differ from the C reference")


def one_round(yardstick: Yardstick, args: tuple, reverse: bool, with_numpy: bool) -> dict:
    """Seconds per contender for one view; checks exactness too."""
    runs = contenders(yardstick, args, with_numpy)
    seconds, results = {}, {}
    for name in (list(runs)[::-1] if reverse else list(runs)):
        seconds[name], results[name] = timed(runs[name])
    truth = results["C r8 brute"]
    for name, counts in results.items():
        if not np.array_equal(counts, truth):
            raise SystemExit(f"{name}: counts differ from the C brute force: not exact")
    seconds["C brute"] = min(seconds["C g4 brute"], seconds["C r8 brute"])
    seconds["C precheck"] = min(seconds["C g4 precheck"], seconds["C r8 precheck"])
    return seconds


def ratio(rounds: list[dict], over: str, ours: str, worst: bool = False) -> float:
    """Median (or lowest) over rounds of ``rounds[over] / rounds[ours]``."""
    values = [r[over] / r[ours] for r in rounds if ours in r]
    return min(values) if worst else statistics.median(values)


def median_ms(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds if key in r) * 1e3


def main(argv=None) -> int:
    options = bench_args(__doc__, argv, rounds=7)
    yardstick, cref = Yardstick(), CReference()
    warm_up("numba")
    numba_backend.escape_counts(*pixel_centres(-2.0, 1.0, 0.5, 0.5, 4, 4), 8)  # the JIT too
    rng = np.random.default_rng(2024)
    print(f"kernel benchmark: {machine_line()}; {options.rounds} paired rounds "
          f"(numpy in the first {min(NUMPY_ROUNDS, options.rounds)}), one core, CPU time\n")
    goals, brute, speed, smooth = [], [], [], []
    for label, centre, width, side_px, max_iter, goal in VIEWS:
        side_px = side_px // 2 if options.quick else side_px
        name = f"{label} {side_px}² it{max_iter}"
        args = view_args(centre, width, side_px, max_iter)
        counts, lane_iterations = escape_counts_and_work(*args, backend="numba")
        giter = int(counts.sum(dtype=np.uint64)) / 1e9
        python_s = python_seconds(args, rng)
        check_smooth_data(cref, args)
        rounds = [one_round(yardstick, args, bool(r % 2), r < NUMPY_ROUNDS)
                  for r in range(options.rounds)]
        got = ratio(rounds, "C brute", "numba")
        status = "met" if got >= goal else f"**missed by {100 * (1 - got / goal):.0f} %**"
        goals.append(f"| {name} | {giter:.3f} | {median_ms(rounds, 'C brute'):.1f} | "
                     f"{median_ms(rounds, 'numba'):.1f} | **{got:.2f}** | "
                     f"{ratio(rounds, 'C brute', 'numba', worst=True):.2f} | {goal:.2f} | "
                     f"{status} | {median_ms(rounds, 'C precheck'):.1f} | "
                     f"{ratio(rounds, 'C precheck', 'numba'):.2f} | "
                     f"{lane_iterations / 1e9 / giter:.2f} |")
        brute.append(f"| {name} | {median_ms(rounds, 'numba brute'):.1f} | "
                     f"**{ratio(rounds, 'C brute', 'numba brute'):.2f}** | "
                     f"{ratio(rounds, 'C brute', 'numba brute', worst=True):.2f} | "
                     f"{ratio(rounds, 'C brute', 'numba JIT'):.2f} (default) | "
                     f"{median_ms(rounds, 'numpy brute'):.0f} | "
                     f"**{ratio(rounds, 'C brute', 'numpy brute'):.3f}** |")
        speed.append(f"| {name} | {median_ms(rounds, 'numpy'):.0f} | "
                     f"**{ratio(rounds, 'C brute', 'numpy'):.2f}** | "
                     f"{ratio(rounds, 'C precheck', 'numpy'):.2f} | {python_s:.1f} | "
                     f"{statistics.median(python_s / r['numba'] for r in rounds):.0f}x | "
                     f"{statistics.median(python_s / r['numba brute'] for r in rounds):.0f}x | "
                     f"{statistics.median(python_s / r['C brute'] for r in rounds):.0f}x |")
        smooth.append(f"| {name} | {median_ms(rounds, 'numba'):.1f} | "
                      f"{median_ms(rounds, 'numba smooth'):.1f} | "
                      f"**{ratio(rounds, 'numba smooth', 'numba'):.3f}** | "
                      f"{max(r['numba smooth'] / r['numba'] for r in rounds):.3f} | "
                      f"{median_ms(rounds, 'numpy'):.0f} | {median_ms(rounds, 'numpy smooth'):.0f} | "
                      f"**{ratio(rounds, 'numpy smooth', 'numpy'):.3f}** |")
        print(f"measured {name}", flush=True)
    print("\nGoals: C brute / numba default (the exact shortcuts on)\n")
    print("| view | G-iter | C brute ms | numba ms | C brute / numba | worst round | goal | "
          "status | C precheck ms | C precheck / numba | numba work / G-iter |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    print("\n".join(goals))
    print("\nLike for like: brute force against C brute force\n")
    print("| view | numba brute ms | C brute / numba brute | worst round | numba JIT | "
          "numpy brute ms | C brute / numpy brute |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(brute))
    print("\nnumpy default, and plain Python (estimated)\n")
    print("| view | numpy ms | C brute / numpy | C precheck / numpy | Python s (est.) | "
          "numba vs Python | numba brute vs Python | C brute vs Python |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(speed))
    print("\nSmooth-colour data (escape_data, the tile pipeline's kernel) against the counts "
          "alone, same rounds\n")
    print("| view | numba counts ms | numba smooth ms | smooth / counts | worst round | "
          "numpy counts ms | numpy smooth ms | smooth / counts |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(smooth))
    print("\n'numba' is the backend as a rank runs it (the native library of "
          "mpi_render.kernels.native when built); 'numba JIT' the default through numba's "
          "dispatcher. 'numba work' is the lane iterations the default ran (16 per step of a "
          "lane set, idle lanes included) over the brute force's iterations (the sum of counts).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Deep-view kernels: perturbation vs the double kernel, BLA, orbit vs pixels, numba vs numpy.

One process, one core, CPU seconds of the calling thread (``time.thread_time``), several rounds
in alternating order; ratios are medians over rounds of the per-round ratio. Tables:

1. **per iteration**: the perturbation kernel (numba, as a rank runs it: the native library
   when built) vs the double kernel (numba default) on a view both can render (the seahorse
   valley at width 1e-5, just past the line, 256 x 256, 5,000 iterations): pixel iterations
   (sum of counts) per second, same tile; counts of the two compared with the MPFR truth on a
   sample;
2. **the Flake** at 1024 x 1024 (16 tiles of 256), 50,000 iterations, single-threaded: orbit
   time, BLA build time, pixel time, iterations skipped by BLA, steps per pixel, the bytes a
   rank holds (orbit + BLA table), and numba vs numpy on one tile;
3. **the deep places** (spiral 1e-310, tripod 1e-1005, minibrot 3e-50) at 256 x 256: prepare
   and pixel time, wide steps, interior exits; the minibrot with interior detection on vs off
   (speed-up, pixels that differ).

Usage: .venv/bin/python bench/bench_deep.py [--rounds N] [--quick]
(--quick: one round, the Flake at 512 x 512 and 128-pixel tiles)
"""
from __future__ import annotations

import statistics
import sys

import numpy as np
from harness import bench_args, machine_line, table, timed, view_args

from mpi_render import deep
from mpi_render.deep import brute, tiles
from mpi_render.deep import stats as st
from mpi_render.kernels.dispatch import escape_counts
from mpi_render.locations import location
from mpi_render.tile import warm_up
from mpi_render.view import View

SEAHORSE = ("-0.743643887037158704752191506114774", "0.131825904205311970493132056385139")


def view_of(name: str) -> tuple[View, int]:
    """The view and max_iter of the location ``name`` (:mod:`mpi_render.locations`)."""
    place = location(name)
    return place.view(), place.max_iter


def render(reference, grid: int, tile_px: int, backend: str = "numba", which=None):
    """All (or ``which``) tiles: ``(counts list, stats dict)``."""
    counters = st.new()
    cells = which or [(r, c) for r in range(grid) for c in range(grid)]
    counts = [deep.tile_escape(reference, grid, tile_px, r, c, backend=backend,
                               stats=counters).counts for r, c in cells]
    return counts, st.as_dict(counters)


def per_iteration(rounds: int, quick: bool) -> str:
    side, max_iter = (128, 5000) if quick else (256, 5000)
    view = View(*SEAHORSE, "1e-5")
    cx, cy, width = view.floats()
    args = view_args((cx, cy), width, side, max_iter)
    reference = deep.prepare(view, side, max_iter)
    tiles.tile_offsets(reference, 1, side, 0, 0)
    rows = []
    for r in range(rounds):
        runs = {"double": lambda: escape_counts(*args, backend="numba"),
                "perturbation": lambda: deep.tile_escape(reference, 1, side, 0, 0).counts}
        got = {name: timed(fn) for name, fn in (list(runs.items())[::-1] if r % 2 else runs.items())}
        rows.append(got)
    iterations = {name: int(rows[0][name][1].sum(dtype=np.uint64)) for name in ("double",
                                                                                "perturbation")}
    rng = np.random.default_rng(9)
    sample = [(0, 0, int(rng.integers(side)), int(rng.integers(side))) for _ in range(100)]
    truth = brute.sample_counts(view, 1, side, max_iter, sample)
    agree = {name: sum(int(rows[0][name][1][j, i]) == t for (_, _, i, j), t in zip(sample, truth))
             for name in iterations}
    line = []
    for name in ("double", "perturbation"):
        seconds = statistics.median(r[name][0] for r in rows)
        line.append([name, f"{seconds * 1e3:.1f}", f"{iterations[name] / seconds / 1e9:.3f}",
                     f"{agree[name]} %"])
    ratio = statistics.median(r["perturbation"][0] / r["double"][0] for r in rows)
    return (f"Per iteration: seahorse valley at 1e-5 (just below the line: perturbation's "
            f"view), {side}², {max_iter} iterations; perturbation / double time = "
            f"**{ratio:.2f}**\n\n"
            + table(["kernel", "ms", "G pixel-iter/s", "MPFR agreement (100 px)"], line))


def flake(rounds: int, quick: bool) -> str:
    view, max_iter = view_of("flake")
    image, tile_px = (512, 128) if quick else (1024, 256)
    grid = image // tile_px
    prepared = [timed(lambda: deep.prepare(view, image, max_iter)) for _ in range(rounds)]
    reference = prepared[-1][1]
    for r in range(grid):
        for c in range(grid):
            tiles.tile_offsets(reference, grid, tile_px, r, c)
    pixel_runs = [timed(lambda: render(reference, grid, tile_px)) for _ in range(rounds)]
    seconds = statistics.median(run[0] for run in pixel_runs)
    counts, stats = pixel_runs[0][1]
    total = sum(int(c.sum(dtype=np.uint64)) for c in counts)
    pixels = image * image
    steps = stats["perturbation_steps"] + stats["bla_steps"]
    numba_s, _ = timed(lambda: render(reference, grid, tile_px, which=[(1, 1)]))
    numpy_s, _ = timed(lambda: render(reference, grid, tile_px, "numpy", [(1, 1)]))
    orbit_s = statistics.median(p[1].seconds["orbit"] for p in prepared)
    bla_s = statistics.median(p[1].seconds["bla"] for p in prepared)
    rows = [[f"reference orbit (MPFR, {reference.prec} bits, {reference.orbit.length} "
             "iterations)", f"{orbit_s:.3f} s"],
            [f"BLA table ({reference.table.rows} rows)", f"{bla_s:.3f} s"],
            [f"pixels ({grid * grid} tiles of {tile_px}, numba, one core)",
             f"**{seconds:.2f} s**"],
            ["per pixel", f"{seconds / pixels * 1e6:.2f} us"],
            ["orbit + BLA / pixel time", f"{(orbit_s + bla_s) / seconds:.3f}"],
            ["mean count", f"{total / pixels:.0f}"],
            ["iterations skipped by BLA", f"{stats['bla_skipped'] / total * 100:.2f} %"],
            ["steps per pixel (perturbation + BLA)",
             f"{steps / pixels:.0f} ({stats['perturbation_steps'] / pixels:.0f} + "
             f"{stats['bla_steps'] / pixels:.0f})"],
            ["rebases per pixel", f"{stats['rebases'] / pixels:.2f}"],
            ["ns per step", f"{seconds / steps * 1e9:.2f}"],
            ["bytes per rank (orbit + BLA table + flags)", f"{reference.nbytes / 1e6:.2f} MB"],
            ["numpy / numba, one tile", f"**{numpy_s / numba_s:.1f}**"]]
    return (f"The Flake, {image}², {max_iter} iterations, median of {rounds} rounds\n\n"
            + table(["", "value"], rows))


def deep_places(quick: bool) -> str:
    side = 128 if quick else 256
    grid, tile_px = side // 64, 64
    rows = []
    for name in ("spiral", "tripod", "minibrot"):
        view, max_iter = view_of(name)
        prep_s, reference = timed(deep.prepare, view, side, max_iter)
        pixel_s, (counts, stats) = timed(render, reference, grid, tile_px)
        rows.append([name, view.width, f"{prep_s:.2f}", f"{pixel_s / side**2 * 1e6:.1f}",
                     f"{(stats['perturbation_steps'] + stats['bla_steps']) / side**2:.0f}",
                     f"{stats['wide_steps'] / side**2:.1f}",
                     f"{stats['interior_exits'] / side**2 * 100:.1f} %",
                     f"{reference.nbytes / 1e6:.2f}"])
    view, max_iter = view_of("minibrot")
    on = deep.prepare(view, side, max_iter)
    off = deep.prepare(view, side, max_iter, interior=False)
    on_s, (on_counts, _) = timed(lambda: render(on, grid, tile_px))
    off_s, (off_counts, _) = timed(lambda: render(off, grid, tile_px))
    differ = sum(int((a != b).sum()) for a, b in zip(on_counts, off_counts))
    return (f"Deep places at {side}² (numba, one core)\n\n"
            + table(["place", "width", "prepare s", "us / pixel", "steps / pixel",
                     "wide steps / pixel", "interior exits", "MB / rank"], rows)
            + f"\n\nInterior detection on the minibrot: off / on time = **{off_s / on_s:.1f}**, "
              f"pixels that differ: {differ} of {side * side}")


def main(argv=None) -> int:
    options = bench_args(__doc__, argv, rounds=3)
    warm_up("numba")
    deep.warm_up("numba")
    print(f"deep-view benchmark: {machine_line()}; {options.rounds} rounds, one core, CPU "
          f"time\n")
    print(per_iteration(options.rounds, options.quick), flush=True)
    print("\n" + flake(options.rounds, options.quick), flush=True)
    print("\n" + deep_places(options.quick), flush=True)
    print(f"\nBLA epsilon 2**{deep.bla.EPSILON_LOG2}; the line at 2**-{deep.geometry.LINE_BITS} "
          f"of the coordinates; 'numba' runs the native library of mpi_render/deep/native.py "
          f"when it is built.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Flake against fractalshades 1.2.1: whole commands, start-up included, in one run.

Run: ``.venv/bin/python bench/bench_flake.py [--quick] [--rounds N]``. Prints markdown tables.

The view is Dinkydau's flake (``--location flake``: width 1.7e-157, max_iter 50,000) at 1024 x
1024 pixels on the machine's 2 cores, rendered by two whole commands in alternating order each
round (so a drift of the shared machine's load favours neither):

* **ours**: ``mpiexec -n 2 mpi-render --location flake --grid 4 --tile 256 --site a --sites a
  --out DIR`` (launch, Python and MPI start, reference orbit, BLA table, every pixel, 16 PNG
  files): wall seconds of the whole ``mpiexec`` and the CPU seconds of its tree;
* **fractalshades**: ``bench/fractalshades_flake.py`` in the yardstick's own venv
  (``bench/fractalshades_env.sh`` builds it the first time, ~40 s), the same view, pixel centres
  and escape test (``--bailout 2``), BLA with its default epsilon, both cores: wall seconds of
  the whole process (its numba compilation included: fractalshades compiles its perturbation
  loop in every process).

One untimed run of each comes first (ours fills the native kernel library, fractalshades its
numba cache). Goal (issue 18): ours / fractalshades <= 0.5. The ratio is taken per round and its
median reported. Afterwards, as a check that both computed the same image, our counts of every
pixel (``mpi_render.tile_counts``) are compared with the counts fractalshades exported.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
import numpy as np
from harness import REPO, VENV_BIN, mpiexec

from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS
from mpi_render.tile import prepare_reference, tile_counts

FLAKE = LOCATIONS["flake"]
GOAL = 0.5


def yardstick_python() -> str:
    """The fractalshades venv's python (built by bench/fractalshades_env.sh when missing)."""
    built = subprocess.run(["bash", str(REPO / "bench" / "fractalshades_env.sh")], check=True,
                           capture_output=True, text=True)
    return built.stdout.strip().splitlines()[-1]


def ours(grid: int, tile_px: int, out: Path) -> tuple[float, float]:
    """``(wall s, CPU s)`` of one whole ``mpiexec -n 2 mpi-render --location flake`` job."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [mpiexec(), "-n", "2", str(VENV_BIN / "mpi-render"), "--location", "flake",
           "--grid", str(grid), "--tile", str(tile_px), "--site", "a", "--sites", "a",
           "--out", str(out), "--log-level", "WARNING"]
    cpu_before = harness.children_cpu_s()
    start = time.perf_counter()
    harness.run(cmd, timeout=1200)
    wall = time.perf_counter() - start
    written = len(list(out.glob("r*c*.png")))
    if written != grid * grid:
        raise RuntimeError(f"{' '.join(cmd)} wrote {written} of {grid * grid} tiles")
    return wall, harness.children_cpu_s() - cpu_before


def theirs(python: str, pixels: int, out: Path, counts: Path | None = None) -> tuple[float, dict]:
    """``(wall s, the script's JSON report)`` of one whole fractalshades process."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [python, str(REPO / "bench" / "fractalshades_flake.py"),
           f"--center={FLAKE.cx},{FLAKE.cy}", "--width", FLAKE.width, "--pixels", str(pixels),
           "--max-iter", str(FLAKE.max_iter), "--bailout", "2", "--out", str(out)]
    if counts is not None:
        cmd += ["--counts", str(counts)]
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800)
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def our_counts(grid: int, tile_px: int) -> np.ndarray:
    """Every pixel's count, assembled from :func:`mpi_render.tile_counts` (numba)."""
    config = RenderConfig(grid=grid, tile_px=tile_px, center=(FLAKE.cx, FLAKE.cy),
                          width=FLAKE.width, max_iter=FLAKE.max_iter, sites=("a",))
    reference = prepare_reference(config)
    rows = [np.hstack([tile_counts(config, row, col, reference=reference)
                       for col in range(grid)]) for row in range(grid)]
    return np.vstack(rows)


def main(argv=None) -> int:
    args = harness.bench_args(__doc__, argv, rounds=3)
    grid, tile_px = (4, 128) if args.quick else (4, 256)
    pixels = grid * tile_px
    python = yardstick_python()
    work = Path(tempfile.mkdtemp(prefix="bench-flake-"))
    try:
        ours(grid, tile_px, work / "ours")  # untimed: native libraries, caches
        theirs(python, 64, work / "theirs")
        rows, ratios = [], []
        commands = {"ours": lambda: ours(grid, tile_px, work / "ours"),
                    "theirs": lambda: theirs(python, pixels, work / "theirs")}
        for round_no in range(args.rounds):
            order = ("ours", "theirs") if round_no % 2 == 0 else ("theirs", "ours")
            result = {who: commands[who]() for who in order}
            (wall, cpu), (their_wall, report) = result["ours"], result["theirs"]
            ratios.append(wall / their_wall)
            rows.append([round_no + 1, f"{wall:.2f}", f"{cpu:.2f}", f"{their_wall:.2f}",
                         f"{report.get('cpu_s', float('nan')):.2f}", f"{ratios[-1]:.2f}"])
        print(f"## The Flake, {pixels}², max_iter {FLAKE.max_iter}: whole commands "
              f"({harness.machine_line()})\n")
        print(harness.table(["round", "ours wall s", "ours CPU s", "fractalshades wall s",
                             "fractalshades CPU s", "ours / fractalshades"], rows))
        ratio = harness.median(ratios)
        print(f"\nmedian ratio {ratio:.2f} (goal <= {GOAL}): "
              f"{'met' if ratio <= GOAL else 'MISSED'}")
        counts_file = work / "fs-counts.npy"
        theirs(python, pixels, work / "theirs", counts_file)
        agree = float(np.mean(our_counts(grid, tile_px) == np.load(counts_file)))
        print(f"\ncounts equal to fractalshades' on {100 * agree:.2f} % of the {pixels}² pixels")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

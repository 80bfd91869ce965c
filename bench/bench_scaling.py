"""MPI scaling of one site job: 1, 2 and (oversubscribed, for information) 4 ranks.

Run: ``.venv/bin/python bench/bench_scaling.py [--quick]``. Prints a markdown table.

Each round (2 by default: a 1-rank round lasts about 25 s) runs ``mpiexec -n R mpi-render
--grid 32 --tile 512 --max-iter 1024 --site cloud --sites cloud --out DIR`` for R = 1, 2, 4
back to back (paired rounds; the order rotates every round so slow
drift of the shared machine's load does not favour one R). The job writes PNG files instead of
posting, so no dashboard competes with the ranks for the 2 cores; the tile pipeline (render,
encode, gather to rank 0) is the same as in a posting run.

* ``T_R`` = wall seconds of the whole ``mpiexec`` (launch to exit), median over rounds.
* efficiency ``E_R = T_1 / (R * T_R)``. Target ``E_2 >= 90 %``.
* ``CPU s`` = user + system CPU of the whole ``mpiexec`` tree (extra ranks add their own
  start-up CPU; a rank that waits sleeps instead of spinning, so idle time costs no CPU).
  ``CPU_1 / CPU_R`` is the work efficiency: with R <= cores, perfect balance and no other
  tenant, ``E_R`` would equal it, so it is the load-independent estimate of ``E_R``.
* ``T_0`` = wall of a one-tile job of the same kind (the fixed cost: mpiexec, imports, MPI
  init, numba cache load); ``E_R'`` = ``(T_1 - T_0) / (R * (T_R - T_0))`` is the efficiency of
  the parallel part alone.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import VENV_BIN, mpiexec

CORES = 2
# Full view at max_iter 1024: about 25 s of single-core work, so the ~1.5 s start of a process
# (paid by every rank, in parallel) is small against it, as on a real render.
MAX_ITER = 1024


def job_seconds(ranks: int, grid: int, tile_px: int, out: Path) -> tuple[float, float]:
    """``(wall s, CPU s of the whole mpiexec tree)`` of one ``--out`` site job."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [mpiexec(), "-n", str(ranks), str(VENV_BIN / "mpi-render"), "--grid", str(grid),
           "--tile", str(tile_px), "--max-iter", str(MAX_ITER), "--site", "cloud",
           "--sites", "cloud", "--out", str(out)]
    cpu_before = harness.children_cpu_s()
    start = time.perf_counter()
    harness.run(cmd, timeout=600)
    elapsed = time.perf_counter() - start
    cpu_s = harness.children_cpu_s() - cpu_before
    written = len(list(out.glob("r*c*.png")))
    if written != grid * grid:
        raise RuntimeError(f"{' '.join(cmd)} wrote {written} of {grid * grid} tiles")
    return elapsed, cpu_s


def main(argv=None) -> int:
    args = harness.bench_args(__doc__, argv, rounds=3)
    quick, rounds = args.quick, args.rounds
    grid, tile_px = (8, 256) if quick else (32, 512)
    rank_counts = (1, 2, 4)
    print("## MPI scaling\n")
    print(harness.machine_line(), "\n")
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        out = Path(tmp) / "out"
        job_seconds(1, 1, 16, out)  # warm the numba cache and the page cache
        times = {r: [] for r in rank_counts}
        cpu = {r: [] for r in rank_counts}
        fixed = []
        for rnd in range(rounds):
            order = rank_counts[rnd % 3:] + rank_counts[:rnd % 3]
            for ranks in order:
                wall_s, cpu_s = job_seconds(ranks, grid, tile_px, out)
                times[ranks].append(wall_s)
                cpu[ranks].append(cpu_s)
            fixed.append(job_seconds(1, 1, tile_px, out)[0])
    t0 = harness.median(fixed)
    t1 = harness.median(times[1])
    cpu1 = harness.median(cpu[1])
    rows = []
    for ranks in rank_counts:
        tr = harness.median(times[ranks])
        eff = t1 / (ranks * tr)
        eff_par = (t1 - t0) / (ranks * (tr - t0))
        note = "" if ranks <= CORES else f"oversubscribed ({ranks} ranks on {CORES} cores)"
        rows.append([ranks, f"{tr:.2f}", " / ".join(f"{t:.2f}" for t in times[ranks]),
                     f"{t1 / tr:.2f}", f"**{100 * eff:.0f} %**", f"{100 * eff_par:.0f} %",
                     f"{harness.median(cpu[ranks]):.2f}",
                     f"{100 * cpu1 / harness.median(cpu[ranks]):.0f} %", note])
    print(f"One site, {grid}x{grid} tiles of {tile_px} px, full view, max_iter {MAX_ITER}, --out "
          f"(no dashboard), {rounds} rounds; fixed cost T_0 (1-tile job) = {t0:.2f} s\n")
    print(harness.table(["ranks", "T_R s (median)", "per round", "speed-up",
                         "efficiency T1/(R*TR)", "efficiency excl. T_0", "CPU s (all ranks)",
                         "CPU_1 / CPU_R", "note"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

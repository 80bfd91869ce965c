"""End-to-end benchmark: a local two-site run against a running dashboard.

Run: ``.venv/bin/python bench/bench_e2e.py [--quick]``. Prints a markdown table.

One dashboard runs for the whole benchmark. Each round creates a fresh run id and launches two
site jobs together, ``mpiexec -n 1 mpi-render --site cloud`` and ``... --site onprem``
(``--sites cloud,onprem``, full view, default max_iter and palette), then waits for both to exit.

Definitions (per round):

* ``wall`` = time of the last tile stored (max ``stored_at`` of the run's tiles, read back with a
  WebSocket replay) - time just before the two ``mpiexec`` were started. Both are this
  machine's ``time.time()``.
* ``kernel`` = sum of ``render_ms`` over every tile of the run (the escape-time kernel only, as
  each rank measured it); ``kernel/2`` is the ideal wall time on 2 cores.
* ``ratio`` = wall / (kernel / 2). Target <= 1.25.

The overhead is split into ``start`` (launch -> first tile stored: mpiexec, Python, imports,
MPI init, numba cache load, PUT of the run, first render and first batch), ``stream`` (first ->
last tile stored) and ``encode`` (sum of ``encode_ms``). ``site jobs CPU`` is the user + system
CPU of both ``mpiexec`` trees (``getrusage`` of the children), ``dashboard CPU`` that of the
dashboard during the round, ``kernel CPU`` the CPU seconds of ``escape_counts`` over every tile,
measured once in this process. ``CPU floor`` = (jobs + dashboard CPU) / kernel CPU is the
smallest ratio any schedule on 2 idle cores could reach with that much work; unlike the wall
figures it hardly depends on the load other tenants put on the machine. Before the rounds
one tiny job warms the numba cache (a cold cache costs a JIT compile per process), and the
fixed per-process costs are measured one by one.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import VENV_BIN, Dashboard, mpi_env, mpiexec

from mpi_render.launch import processes

SITES = ("cloud", "onprem")
JOB_TIMEOUT_S = 240
STARTUP_REPEATS = 3


def site_command(dash: Dashboard, run_id: str, site: str, grid: int, tile_px: int,
                 ranks: int = 1) -> list[str]:
    """``mpiexec -n RANKS mpi-render ...`` for one site of a full-view run."""
    return [mpiexec(), "-n", str(ranks), str(VENV_BIN / "mpi-render"),
            "--grid", str(grid), "--tile", str(tile_px), "--site", site,
            "--sites", ",".join(SITES), "--dashboard", dash.url, "--run", run_id,
            "--token-file", str(dash.token_file)]


def run_jobs(commands: list[list[str]], workdir: Path) -> list[float]:
    """Start ``commands`` together, wait for all; returns each one's exit time (epoch s).

    Raises:
        RuntimeError: a job exited non-zero or outlived JOB_TIMEOUT_S (every job's output
            attached).
    """
    # processes.spawn: each job in its own session, so a hung one is stopped whole (mpiexec, proxy
    # and ranks) by processes.stop.
    jobs = [processes.spawn(f"job{i}", cmd, workdir / f"job{i}.log", mpi_env())
            for i, cmd in enumerate(commands)]
    ends = [None] * len(jobs)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    try:
        while None in ends and time.monotonic() < deadline:
            for i, job in enumerate(jobs):
                if ends[i] is None and job.poll() is not None:
                    ends[i] = time.time()
            time.sleep(0.01)
        failed = [job.proc.returncode for job in jobs if job.proc.returncode != 0]
        if failed:
            why = (f"exited {failed}" if None not in ends
                   else f"still running after {JOB_TIMEOUT_S} s")
            raise RuntimeError(f"site jobs {why}\n" + "\n".join(
                f"--- {' '.join(cmd)}\n{job.log_tail(3000)}" for cmd, job in zip(commands, jobs)))
    finally:
        for job in jobs:
            processes.stop(job)
    return ends


def e2e_round(dash: Dashboard, workdir: Path, run_id: str, grid: int, tile_px: int) -> dict:
    """One two-site run; returns the figures defined in the module docstring."""
    commands = [site_command(dash, run_id, site, grid, tile_px) for site in SITES]
    jobs_cpu_before = harness.children_cpu_s()
    dash_cpu_before = harness.proc_cpu_s(dash.proc.pid)
    launched = time.time()
    try:
        exits = run_jobs(commands, workdir)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n--- dashboard log\n{dash.log()}") from None
    jobs_cpu_s = harness.children_cpu_s() - jobs_cpu_before
    dash_cpu_s = harness.proc_cpu_s(dash.proc.pid) - dash_cpu_before
    headers, _ = harness.replay_headers(dash, run_id, grid * grid)
    stored = sorted(h["stored_at"] for h in headers)
    kernel_s = sum(h["render_ms"] for h in headers) / 1e3
    encode_s = sum(h["encode_ms"] for h in headers) / 1e3
    wall_s = stored[-1] - launched
    return {"wall_s": wall_s, "kernel_s": kernel_s, "encode_s": encode_s,
            "ratio": wall_s / (kernel_s / 2), "ratio_with_encode": wall_s / ((kernel_s + encode_s) / 2),
            "start_s": stored[0] - launched, "stream_s": stored[-1] - stored[0],
            "exit_s": max(exits) - launched, "jobs_cpu_s": jobs_cpu_s,
            "dashboard_cpu_s": dash_cpu_s}


def startup_costs(workdir: Path) -> dict[str, tuple[float, float]]:
    """Fixed per-process costs, each probe run alone: ``{what: (wall s, CPU s)}``, medians.

    CPU seconds (user + system of the child, from ``getrusage``) hardly depend on what else
    the shared machine is doing; wall seconds do.
    """
    python = str(VENV_BIN / "python")
    probes = {
        "python -c pass": [python, "-c", "pass"],
        "mpiexec -n 1 python: import mpi4py.MPI (MPI init)": [
            mpiexec(), "-n", "1", python, "-c", "from mpi4py import MPI"],
        "python: import numpy": [python, "-c", "import numpy"],
        "python: import numpy, numba": [python, "-c", "import numpy, numba"],
        "python: import + numba warm-up from the cache (tile.warm_up)": [
            python, "-c", "from mpi_render.tile import warm_up; warm_up()"],
    }
    costs = {}
    for label, cmd in probes.items():
        walls, cpus = [], []
        for _ in range(STARTUP_REPEATS):
            cpu_before = harness.children_cpu_s()
            start = time.perf_counter()
            subprocess.run(cmd, check=True, env=mpi_env(), cwd=workdir, capture_output=True)
            walls.append(time.perf_counter() - start)
            cpus.append(harness.children_cpu_s() - cpu_before)
        costs[label] = (harness.median(walls), harness.median(cpus))
    return costs


def kernel_cpu_s(grid: int, tile_px: int) -> float:
    """CPU seconds of ``escape_counts`` (the job's backend and settings) for every tile of the
    full view, in this process: the same work as the jobs' kernels, unaffected by other
    tenants' load (wall-clock ``render_ms`` is not). The tile benchmark's per-stage loop."""
    from bench_tile import one_round

    from mpi_render.config import RenderConfig
    from mpi_render.tile import warm_up

    return one_round(RenderConfig(grid=grid, tile_px=tile_px), warm_up())["render"]


def warm_numba_cache(workdir: Path) -> float:
    """Run a one-tile job so the numba cache exists; returns its wall seconds."""
    start = time.perf_counter()
    harness.run([mpiexec(), "-n", "1", str(VENV_BIN / "mpi-render"), "--grid", "1",
                       "--tile", "16", "--site", "cloud", "--sites", "cloud",
                       "--out", str(workdir / "warm")], timeout=300)
    return time.perf_counter() - start


def main(argv=None) -> int:
    args = harness.bench_args(__doc__, argv)
    quick, rounds = args.quick, args.rounds
    sizes = [(8, 256)] if quick else [(32, 256), (32, 512)]
    print("## End-to-end\n")
    print(harness.machine_line(), "\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        tmp = Path(tmp)
        warm_s = warm_numba_cache(tmp)
        with Dashboard(tmp / "dash") as dash:
            results = {size: [] for size in sizes}
            for rnd in range(rounds):
                for grid, tile_px in sizes:  # paired: every size in every round
                    results[(grid, tile_px)].append(
                        e2e_round(dash, tmp, f"e2e-{grid}x{tile_px}-{rnd}", grid, tile_px))
        costs = startup_costs(tmp)
    cpu_rows = []
    for (grid, tile_px), res in results.items():
        med = {key: harness.median([r[key] for r in res]) for key in res[0]}
        kernel_cpu = kernel_cpu_s(grid, tile_px)
        cpu_rows.append([f"{grid}x{grid}x{tile_px}", f"{kernel_cpu:.2f}",
                         f"{med['jobs_cpu_s']:.2f}", f"{med['dashboard_cpu_s']:.2f}",
                         f"{(med['jobs_cpu_s'] + med['dashboard_cpu_s']) / kernel_cpu:.2f}",
                         f"{med['wall_s'] / (kernel_cpu / 2):.2f}"])
        rows.append([f"{grid}x{grid}x{tile_px}", f"{med['kernel_s']:.2f}", f"{med['encode_s']:.2f}",
                     f"{med['wall_s']:.2f}", f"{med['start_s']:.2f}", f"{med['stream_s']:.2f}",
                     f"{med['exit_s']:.2f}", f"**{med['ratio']:.2f}**",
                     " / ".join(f"{r['ratio']:.2f}" for r in res),
                     f"{med['ratio_with_encode']:.2f}"])
    print(f"Two sites x 1 rank, full view, max_iter 256, {rounds} rounds (medians; "
          "ratio = wall / (sum render_ms / 2 cores), target <= 1.25)\n")
    print(harness.table(
        ["grid x tile", "kernel s (sum)", "encode s (sum)", "wall s", "start s", "stream s",
         "exit s", "ratio", "ratio per round", "ratio incl. encode"], rows), "\n")
    print("CPU budget (load-independent): kernel CPU = escape_counts of every tile in one "
          "process; CPU floor = (site jobs + dashboard CPU) / kernel CPU, the best ratio any "
          "schedule on 2 idle cores could reach; wall ratio = wall / (kernel CPU / 2)\n")
    print(harness.table(["grid x tile", "kernel CPU s", "site jobs CPU s", "dashboard CPU s",
                         "CPU floor of ratio", "wall / (kernel CPU / 2)"], cpu_rows), "\n")
    print(f"Fixed costs per job (median of {STARTUP_REPEATS}, each alone; numba warm-up job "
          f"with cold-or-warm cache took {warm_s:.2f} s)\n")
    print(harness.table(["what", "wall s", "CPU s"],
                        [[k, f"{wall:.2f}", f"{cpu:.2f}"] for k, (wall, cpu) in costs.items()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

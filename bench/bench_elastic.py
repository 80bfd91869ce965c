"""Elastic-run benchmark: the dynamic split against the static one, and serving sites against
fresh jobs. Run: ``.venv/bin/python bench/bench_elastic.py [--quick] [--rounds N]``.

One dashboard (subprocess, loopback) for everything; every site job is ``mpiexec -n 1
mpi-render`` (one rank per site: the machine has 2 cores). Wall times are this process's
monotonic clock from just before the jobs are launched (or the run is created) to the first
poll (every 20 ms) of ``GET api/runs/{id}`` that answers ``complete``.

(a) **Unequal sites**: site ``fast`` runs ``--backend numba``, site ``slow`` ``--backend numpy``,
on the demo's view (centre -0.7436438870,0.1318259043, width 0.02), grid 8, tile 256, max_iter
4096. ``alone``: each site renders the whole grid as the only site of a run (same launch, same
wall definition); its rate is tiles / wall. ``ideal`` = tiles / (rate_fast + rate_slow).
``static``: both sites, contiguous halves; ``dynamic``: both sites, ``--split dynamic``. Every
round runs all four; the ratios are taken within a round, and the table gives their median and
every round's. Goals: dynamic <= 0.6 x static and <= 1.3 x ideal (issue 20).

(a') **Unequal sites on a deep view**: the same with the Flake (``--location flake``: width
1.7e-157, max_iter 50,000, rendered by perturbation; each site computes its reference orbit),
grid 8 (4 with ``--quick``), tile 64: the numpy perturbation backend is 12-20x slower than numba,
so the end game (the fast site backing up the slow one's last tiles) decides the ratio. Goal:
dynamic <= 1.2 x ideal (issue 18).

(b) **Serving**: a 16x16 grid of 256 px tiles, full view, default max_iter, ``split dynamic``,
sites ``fast`` and ``slow`` both numba. ``warm``: both sites run ``mpi-render --serve`` (started
before the round, kernels warm); wall = PUT of the run -> complete. ``fresh``: the same run as
two one-shot ``--split dynamic`` jobs; wall = launch -> complete. Goal: warm <= 2 s.
"""
from __future__ import annotations

import collections
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import VENV_BIN, Dashboard, mpi_env, mpiexec

from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS

DEMO_VIEW = dict(center=(-0.7436438870, 0.1318259043), width=0.02)
JOB_TIMEOUT_S = 300
POLL_S = 0.02


def image_flags(config: RenderConfig) -> list[str]:
    return ["--grid", str(config.grid), "--tile", str(config.tile_px), "--max-iter",
            str(config.max_iter), f"--center={config.view.center_text()}",
            "--width", config.view.width_text(), "--sites", ",".join(config.sites),
            "--split", config.split]


class Sites:
    """Launches site jobs against one dashboard, logs in ``workdir``."""

    def __init__(self, dash: Dashboard, workdir: Path):
        self.dash, self.workdir, self.procs, self.logs = dash, workdir, [], []

    def start(self, site: str, backend: str, args: list[str]) -> subprocess.Popen:
        self.logs.append(self.workdir / f"{site}-{len(self.procs)}.log")
        log = open(self.logs[-1], "w")
        cmd = [mpiexec(), "-n", "1", str(VENV_BIN / "mpi-render"), "--site", site,
               "--backend", backend, "--dashboard", self.dash.url,
               "--token-file", str(self.dash.token_file), *args]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=mpi_env(),
                                cwd=self.workdir)
        log.close()
        self.procs.append(proc)
        return proc

    def one_shot(self, run_id: str, config: RenderConfig, backends: dict[str, str]) -> float:
        """Launch one job per site of ``config``; seconds from launch to the run complete."""
        started = time.monotonic()
        jobs = [self.start(site, backends[site], [*image_flags(config), "--run", run_id])
                for site in config.sites]
        wall_s = self.wait_complete(run_id, started, jobs)
        for job in jobs:
            if job.wait(JOB_TIMEOUT_S) != 0:
                raise RuntimeError(f"a site job of {run_id} exited {job.returncode}; see "
                                   f"{self.workdir}")
        return wall_s

    def wait_complete(self, run_id: str, started: float, jobs=()) -> float:
        deadline = started + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            status, doc = self.dash.api("GET", f"api/runs/{run_id}")
            if status == 200 and doc["complete"]:
                return time.monotonic() - started
            if any(job.poll() not in (None, 0) for job in jobs):
                raise RuntimeError(f"a site job of {run_id} failed; see {self.workdir}")
            time.sleep(POLL_S)
        raise RuntimeError(f"run {run_id} not complete after {JOB_TIMEOUT_S} s")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)


def unequal_sites(sites: Sites, base: RenderConfig, rounds: int, ideal_goal: float,
                  name: str, prefix: str = "") -> str:
    """Part (a) on ``base`` (sites ``fast``, ``slow``), ``rounds`` rounds; a markdown section.
    Run ids start with ``prefix`` (each part's runs are its own)."""
    backends = {"fast": "numba", "slow": "numpy"}
    tiles = base.total_tiles
    walls: dict[str, list[float]] = collections.defaultdict(list)
    shares = []
    for n in range(rounds):  # every round measures all four, so the ratios are within a round
        for site in base.sites:
            walls[f"alone {site}"].append(sites.one_shot(
                f"{prefix}alone-{site}-{n}", dataclasses.replace(base, sites=(site,)), backends))
        walls["ideal"].append(tiles / sum(tiles / walls[f"alone {site}"][-1]
                                          for site in base.sites))
        walls["static"].append(sites.one_shot(f"{prefix}static-{n}", base, backends))
        walls["dynamic"].append(sites.one_shot(
            f"{prefix}dynamic-{n}", dataclasses.replace(base, split="dynamic"), backends))
        _, doc = sites.dash.api("GET", f"api/runs/{prefix}dynamic-{n}")
        shares.append("/".join(str(doc["sites"][s]["stored"]) for s in base.sites))
    ratios = {over: [d / o for d, o in zip(walls["dynamic"], walls[over])]
              for over in ("static", "ideal")}

    def row(label: str, values: list[float], note: str = "") -> list[str]:
        return [label, f"{harness.median(values):.2f}", " ".join(f"{v:.2f}" for v in values),
                note]

    rows = [row(f"{site} alone ({backends[site]})", walls[f"alone {site}"],
                f"{tiles / harness.median(walls[f'alone {site}']):.2f} tiles/s")
            for site in base.sites]
    rows += [row("ideal (tiles / sum of rates)", walls["ideal"]),
             row("static (contiguous halves)", walls["static"]),
             row("dynamic", walls["dynamic"],
                 f"tiles per site ({'/'.join(base.sites)}): {', '.join(shares)}")]
    rows += [[f"**{label}** (goal <= {goal})", f"**{harness.median(ratios[over]):.2f}**",
              " ".join(f"{v:.2f}" for v in ratios[over]), f"worst {max(ratios[over]):.2f}"]
             for label, over, goal in (("dynamic / static", "static", 0.6),
                                       ("dynamic / ideal", "ideal", ideal_goal))]
    title = (f"### Unequal sites: grid {base.grid}, tile {base.tile_px}, max_iter "
             f"{base.max_iter}, {name}, one rank per site, {rounds} rounds\n\n")
    return title + harness.table(["run", "median wall s", "rounds s", "note"], rows)


def serving(sites: Sites, quick: bool, rounds: int) -> str:
    grid = 8 if quick else 16
    config = RenderConfig(grid=grid, tile_px=256, sites=("fast", "slow"), split="dynamic")
    backends = {"fast": "numba", "slow": "numba"}
    servers = [sites.start(site, "numba", ["--serve"]) for site in config.sites]
    logs = sites.logs[-len(servers):]
    deadline = time.monotonic() + 60
    while not all("serving site" in log.read_text() for log in logs):
        if time.monotonic() > deadline or any(s.poll() is not None for s in servers):
            raise RuntimeError(f"serving jobs did not start; see {sites.workdir}")
        time.sleep(0.1)
    warm = []
    for n in range(rounds):
        started = time.monotonic()
        status, _ = sites.dash.api("PUT", f"api/runs/warm-{n}", config.run_json())
        assert status == 201, sites.dash.log()
        warm.append(sites.wait_complete(f"warm-{n}", started, servers))
    for server in servers:
        server.terminate()
        if server.wait(60) != 0:
            raise RuntimeError(f"a serving job exited {server.returncode} on SIGTERM")
    fresh = [sites.one_shot(f"fresh-{n}", config, backends) for n in range(rounds)]
    w, f = harness.median(warm), harness.median(fresh)
    rows = [["warm: two serving sites, PUT -> complete", f"{w:.2f}",
             " ".join(f"{x:.2f}" for x in warm)],
            ["fresh: two one-shot jobs, launch -> complete", f"{f:.2f}",
             " ".join(f"{x:.2f}" for x in fresh)],
            ["**warm / fresh**", f"**{w / f:.2f}**", ""],
            ["**warm <= 2 s** (goal)", "**yes**" if w <= 2.0 else "**no**", ""]]
    title = (f"### Serving sites: grid {grid}, tile 256, full view, split dynamic, two one-rank "
             f"numba sites, {rounds} rounds\n\n")
    return title + harness.table(["run", "median wall s", "rounds s"], rows)


def main(argv=None) -> int:
    args = harness.bench_args(__doc__, argv, rounds=3)
    print(f"## Elastic runs ({harness.machine_line()})\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-elastic-") as tmp, \
            Dashboard(Path(tmp) / "dash") as dash:
        sites = Sites(dash, Path(tmp))
        try:
            harness.run([mpiexec(), "-n", "1", str(VENV_BIN / "mpi-render"), "--grid", "1",
                         "--tile", "16", "--site", "fast", "--sites", "fast", "--backend",
                         "numba", "--out", str(Path(tmp) / "warm")], timeout=JOB_TIMEOUT_S)
            grid, max_iter = (4, 1024) if args.quick else (8, 4096)
            demo = RenderConfig(grid=grid, tile_px=256, max_iter=max_iter,
                                sites=("fast", "slow"), **DEMO_VIEW)
            print(unequal_sites(sites, demo, args.rounds, 1.3, "the demo's view") + "\n",
                  flush=True)
            flake = LOCATIONS["flake"]
            deep = RenderConfig(grid=4 if args.quick else 8, tile_px=64, max_iter=flake.max_iter,
                                center=(flake.cx, flake.cy), width=flake.width,
                                sites=("fast", "slow"))
            print(unequal_sites(sites, deep, args.rounds, 1.2, "the Flake (perturbation)",
                                "deep-") + "\n", flush=True)
            print(serving(sites, args.quick, args.rounds) + "\n", flush=True)
        finally:
            sites.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared plumbing of the end-to-end, scaling and dashboard benchmarks.

Processes are started with the test suite's helpers (``tests/support.py``: a real dashboard
subprocess on a free loopback port, the venv's ``mpiexec``), so a benchmark and a test launch
things the same way. Everything here is measurement plumbing: statistics, the machine line,
markdown tables, pre-rendered tile sets (cached on disk, keyed by their settings) and a
keep-alive batch poster.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import http.client
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support import Dashboard, free_port, mpi_env, mpiexec, run

from mpi_render.launch import processes
from mpi_render.protocol import encode_batch

VENV_BIN = Path(sys.executable).parent
CACHE_DIR = Path(os.environ.get("MPI_RENDER_BENCH_CACHE", "/tmp/mpi-render-bench-cache"))

__all__ = [
    "REPO",
    "VENV_BIN",
    "BatchPoster",
    "Dashboard",
    "bench_args",
    "children_cpu_s",
    "create_run",
    "descendants_cpu_s",
    "free_port",
    "machine_line",
    "median",
    "mpi_env",
    "mpiexec",
    "percentile",
    "proc_cpu_s",
    "proc_memory_kb",
    "replay_headers",
    "run",
    "run_doc",
    "table",
    "tile_set",
    "timed",
    "view_args",
]


def median(values) -> float:
    """Median of a non-empty sequence of numbers."""
    return statistics.median(values)


def percentile(values, pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(headers: list[str], rows: list[list]) -> str:
    """A GitHub markdown table; numbers are printed as given (format them before)."""
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    """Date, CPU model, core count and load average: the header line of every result block."""
    model = "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"{now}, {model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load}")


def bench_args(doc: str, argv: list[str] | None = None, rounds: int = 5) -> argparse.Namespace:
    """The options every benchmark script takes.

    ``--quick``: a smoke run (1 round, small sizes); ``--rounds N``: paired rounds (default
    ``rounds``, 1 with ``--quick``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small sizes")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {rounds}, 1 with --quick)")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else rounds
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    """CPU seconds of ``fn(*args, **kwargs)`` on this thread, and its result.

    CPU time, not wall time: every contender is single-threaded, and on this shared 2-core
    machine wall time mostly measures the other tenants. Thread time rather than process
    time, so nothing another thread of the process does is counted.
    """
    start = time.thread_time()
    result = fn(*args, **kwargs)
    return time.thread_time() - start, result


def view_args(centre, width: float, side_px: int, max_iter: int) -> tuple:
    """escape_counts arguments (xmin, ymax, dx, dy, width, height, max_iter) of a square view."""
    dx = width / side_px
    return (centre[0] - width / 2, centre[1] + width / 2, dx, dx, side_px, side_px, max_iter)


def tile_set(grid: int, tile_px: int, max_iter: int = 256, palette: str = "electric",
             sites=("cloud", "onprem")) -> list[tuple[dict, bytes]]:
    """Every tile of a full-view run as ``(metadata, png)``, rendered once and cached on disk.

    The metadata names the owning site under the default contiguous split, so the whole set
    can be posted to a run created with the same settings. Rendering uses the project's own
    tile pipeline (``mpi_render.tile.render_tile``), so sizes are realistic. The cache key
    includes a hash of the pipeline's sources, so a change to how tiles are made renders the set
    again (stale tiles once made the dashboard benchmark measure an old encoding).
    """
    from mpi_render import encode, palettes, tile, tiling
    from mpi_render.config import RenderConfig

    config = RenderConfig(grid=grid, tile_px=tile_px, max_iter=max_iter, palette=palette,
                          sites=tuple(sites))
    pipeline = hashlib.sha256()
    for module in (encode, palettes, tile, tiling):
        pipeline.update(Path(module.__file__).read_bytes())
    folder = (CACHE_DIR / f"g{grid}_p{tile_px}_m{max_iter}_{palette}_{'-'.join(sites)}_"
              f"{pipeline.hexdigest()[:12]}")
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        _render_tile_set(config, folder)
    manifest = json.loads(manifest_path.read_text())
    return [(meta, (folder / f"r{meta['row']}c{meta['col']}.png").read_bytes())
            for meta in manifest]


def _render_tile_set(config, folder: Path) -> None:
    from mpi_render.tile import render_tile

    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for site, indices in config.owned().items():
        for index in indices:
            row, col = divmod(index, config.grid)
            tile = render_tile(config, row, col)
            (folder / f"r{row}c{col}.png").write_bytes(tile.png)
            manifest.append({"row": row, "col": col, "site": site, "rank": 0,
                             "host": platform.node(), "render_ms": tile.render_ms,
                             "encode_ms": tile.encode_ms, "iterations": tile.iterations})
    # The manifest is written last, so an interrupted render is redone rather than half-used.
    (folder / "manifest.json").write_text(json.dumps(manifest))


def create_run(dash: Dashboard, run_id: str, grid: int, tile_px: int, max_iter: int = 256,
               palette: str = "electric", sites=("cloud", "onprem"), view=None) -> dict:
    """``PUT api/runs/{run_id}`` with a full-view config, or ``view`` ``(cx, cy, width)`` (decimal
    strings of any depth); returns the run document."""
    from mpi_render.config import RenderConfig

    where = {} if view is None else {"center": view[:2], "width": view[2]}
    config = RenderConfig(grid=grid, tile_px=tile_px, max_iter=max_iter, palette=palette,
                          sites=tuple(sites), **where)
    status, doc = dash.api("PUT", f"api/runs/{run_id}", config.run_json())
    if status not in (200, 201):
        raise RuntimeError(f"PUT api/runs/{run_id} answered {status}: {doc}\n{dash.log()}")
    return doc


def run_doc(dash: Dashboard, run_id: str) -> dict:
    """``GET api/runs/{run_id}``."""
    status, doc = dash.api("GET", f"api/runs/{run_id}", auth=False)
    if status != 200:
        raise RuntimeError(f"GET api/runs/{run_id} answered {status}: {doc}")
    return doc


class BatchPoster:
    """Posts pre-encoded tile batches over one keep-alive ``http.client`` connection.

    Args:
        url: dashboard root URL (trailing slash).
        token: ingest bearer token.
        timeout_s: socket timeout per request.
    """

    def __init__(self, url: str, token: str, timeout_s: float = 30.0):
        parts = urlsplit(url)
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        self.token = token

    @staticmethod
    def encode(tiles: list[tuple[dict, bytes]], batch_size: int) -> list[tuple[str, bytes]]:
        """Cut ``tiles`` into multipart bodies of ``batch_size`` tiles (done before timing)."""
        return [encode_batch(tiles[i:i + batch_size]) for i in range(0, len(tiles), batch_size)]

    def post(self, run_id: str, body: tuple[str, bytes]) -> dict:
        """POST one encoded batch; returns the JSON answer or raises on a non-200 status."""
        content_type, payload = body
        self.conn.request("POST", f"{self.prefix}api/runs/{run_id}/tiles", body=payload,
                          headers={"Content-Type": content_type,
                                   "Authorization": f"Bearer {self.token}"})
        resp = self.conn.getresponse()
        answer = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"batch POST answered {resp.status}: {answer[:300]!r}")
        return json.loads(answer)

    def close(self) -> None:
        self.conn.close()


def proc_memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB, from ``/proc/PID/status``."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by a process (``/proc/PID/stat``); 0 once gone."""
    fields = processes.proc_stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants_cpu_s(root_pid: int, exclude: tuple[int, ...] = ()) -> float:
    """CPU seconds used so far by the live descendants of ``root_pid`` (not by ``root_pid``
    itself), skipping the subtrees rooted at the pids in ``exclude``."""
    pids = set(processes.descendants(root_pid))
    for pid in exclude:
        pids -= {pid, *processes.descendants(pid)}
    return sum(proc_cpu_s(pid) for pid in pids)


def children_cpu_s() -> float:
    """User + system CPU seconds of every waited-for child process so far (``getrusage``)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def replay_headers(dash: Dashboard, run_id: str, n_tiles: int,
                   timeout_s: float = 120.0) -> tuple[list[dict], float]:
    """Join ``run_id``'s WebSocket with ``since=0`` and read ``n_tiles`` tile frames.

    Returns:
        ``(headers, elapsed_s)``: the frame headers in arrival order and the seconds from
        connecting to the last frame.
    """
    import asyncio

    from tornado.websocket import websocket_connect

    from mpi_render.protocol import decode_frame

    async def replay():
        start = time.perf_counter()
        conn = await websocket_connect(
            dash.url.replace("http://", "ws://", 1) + f"api/runs/{run_id}/ws?since=0",
            max_message_size=64 << 20)
        headers = []
        while len(headers) < n_tiles:
            msg = await conn.read_message()
            if msg is None:
                raise RuntimeError(f"replay of {run_id} closed after {len(headers)} tiles")
            if isinstance(msg, bytes):
                headers.append(decode_frame(msg)[0])
        conn.close()
        return headers, time.perf_counter() - start

    return asyncio.run(asyncio.wait_for(replay(), timeout_s))

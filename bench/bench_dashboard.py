"""Dashboard benchmarks: ingest throughput, WebSocket fan-out latency, memory.

Run: ``.venv/bin/python bench/bench_dashboard.py [--quick]``. Prints markdown tables.

* **Ingest**: a realistic 32x32 set of 256 px full-view tile PNGs is rendered once (cached), cut
  into multipart batches of 32 before timing, then posted over keep-alive ``http.client``
  connections by one process, or by two processes at once (one per site), to a fresh run.
  Tiles/s stored = tiles / (last answer - first request); every batch answer is a 200 and the
  run reports every tile stored afterwards. Target >= 3000 tiles/s.
* **Fan-out**: 50 WebSocket clients (one asyncio process, the lean reader of ``wsclient.py``)
  join a run, then one poster sends the 1024 tiles at a paced 500 tiles/s. Latency per delivered frame =
  receive time - ``stored_at`` of its header (both ``time.time()`` on this machine). Target
  p99 < 50 ms.
* **Memory**: a fresh dashboard stores a 32x32 run of 512 px tiles; VmRSS / VmHWM of the
  dashboard process before, after ingest and after one full WebSocket replay.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import harness
import wsclient
from harness import BatchPoster, Dashboard, create_run, run_doc

BATCH_TILES = 32
FANOUT_CLIENTS = 50
FANOUT_RATE = 500.0          # tiles per second offered by the poster
FANOUT_BATCH_TILES = 10      # 10 tiles every 20 ms


def _post_all(url: str, token: str, run_id: str, bodies, start_barrier) -> tuple[float, float]:
    poster = BatchPoster(url, token)
    poster.conn.connect()
    if start_barrier is not None:
        start_barrier.wait()
    start = time.time()
    for body in bodies:
        poster.post(run_id, body)
    end = time.time()
    poster.close()
    return start, end


def _post_worker(url, token, run_id, bodies, barrier, results):
    results.put(_post_all(url, token, run_id, bodies, barrier))


def ingest_round(dash: Dashboard, tiles, run_id: str, n_clients: int) -> tuple[float, float]:
    """Post every tile of ``tiles`` from ``n_clients`` processes.

    Returns:
        ``(stored tiles/s, dashboard CPU ms per tile)``.
    """
    create_run(dash, run_id, 32, 256)
    cpu_before = harness.proc_cpu_s(dash.proc.pid)
    by_site: dict[str, list] = {}
    for meta, png in tiles:
        by_site.setdefault(meta["site"], []).append((meta, png))
    if n_clients == 1:
        start, end = _post_all(dash.url, dash.token, run_id,
                               BatchPoster.encode(tiles, BATCH_TILES), None)
        spans = [(start, end)]
    else:
        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(n_clients), ctx.Queue()
        shares = list(by_site.values())
        procs = [ctx.Process(target=_post_worker,
                             args=(dash.url, dash.token, run_id,
                                   BatchPoster.encode(shares[i], BATCH_TILES), barrier, results))
                 for i in range(n_clients)]
        for proc in procs:
            proc.start()
        spans = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(30)
            if proc.exitcode != 0:
                raise RuntimeError(f"poster process exited {proc.exitcode}")
    cpu_ms_per_tile = 1e3 * (harness.proc_cpu_s(dash.proc.pid) - cpu_before) / len(tiles)
    doc = run_doc(dash, run_id)
    if doc["stored"] != len(tiles):
        raise RuntimeError(f"run {run_id} stored {doc['stored']} of {len(tiles)} tiles")
    return len(tiles) / (max(e for _, e in spans) - min(s for s, _ in spans)), cpu_ms_per_tile


def _client_worker(url: str, path: str, n_clients: int, n_tiles: int, ready, results):
    parts = urlsplit(url)
    started = time.process_time()
    latencies = asyncio.run(wsclient.read_tiles(parts.hostname, parts.port, path, n_clients,
                                                n_tiles, ready.set, 120))
    results.put((latencies, time.process_time() - started))


def fanout_round(dash: Dashboard, tiles, run_id: str, n_clients: int) -> dict:
    """Pace ``tiles`` at FANOUT_RATE into a run watched by ``n_clients`` sockets."""
    create_run(dash, run_id, 32, 256)
    path = f"{urlsplit(dash.url).path}api/runs/{run_id}/ws?since=0"
    ctx = multiprocessing.get_context("fork")
    ready, results = ctx.Event(), ctx.Queue()
    clients = ctx.Process(target=_client_worker,
                          args=(dash.url, path, n_clients, len(tiles), ready, results))
    clients.start()
    if not ready.wait(60):
        clients.kill()
        raise RuntimeError("WebSocket clients did not connect within 60 s")
    bodies = BatchPoster.encode(tiles, FANOUT_BATCH_TILES)
    poster = BatchPoster(dash.url, dash.token)
    cpu_before = harness.proc_cpu_s(dash.proc.pid)
    start = time.time()
    for i, body in enumerate(bodies):
        delay = start + i * FANOUT_BATCH_TILES / FANOUT_RATE - time.time()
        if delay > 0:
            time.sleep(delay)
        poster.post(run_id, body)
    post_s = time.time() - start
    poster.close()
    latencies, client_cpu_s = results.get(timeout=180)
    dashboard_cpu_s = harness.proc_cpu_s(dash.proc.pid) - cpu_before
    clients.join(30)
    return {"p50_ms": 1e3 * harness.percentile(latencies, 50),
            "p99_ms": 1e3 * harness.percentile(latencies, 99),
            "max_ms": 1e3 * max(latencies), "frames": len(latencies),
            "offered_rate": len(tiles) / post_s, "dashboard_cpu_s": dashboard_cpu_s,
            "client_cpu_s": client_cpu_s, "span_s": post_s}


def memory_bench(workdir: Path, grid: int, tile_px: int) -> dict:
    """RSS of a fresh dashboard before, after storing a full run, and after one replay."""
    tiles = harness.tile_set(grid, tile_px)
    stored_mb = sum(len(png) for _, png in tiles) / 1e6
    with Dashboard(workdir / f"mem{tile_px}") as dash:
        pid = dash.proc.pid
        empty = harness.proc_memory_kb(pid)
        create_run(dash, "mem", grid, tile_px)
        poster = BatchPoster(dash.url, dash.token)
        for body in BatchPoster.encode(tiles, BATCH_TILES):
            poster.post("mem", body)
        poster.close()
        stored = harness.proc_memory_kb(pid)
        replay_s = harness.replay_headers(dash, "mem", len(tiles))[1]
        replayed = harness.proc_memory_kb(pid)
    return {"tiles": len(tiles), "png_mb": stored_mb, "empty": empty, "stored": stored,
            "replayed": replayed, "replay_s": replay_s}


def main(argv=None) -> int:
    args = harness.bench_args(__doc__, argv)
    quick, rounds = args.quick, args.rounds
    grid = 32
    tiles = harness.tile_set(grid, 256)
    print("## Dashboard\n")
    print(harness.machine_line(), "\n")
    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        tmp = Path(tmp)
        with Dashboard(tmp / "ingest") as dash:
            rates, cpu_ms = {1: [], 2: []}, {1: [], 2: []}
            for rnd in range(rounds):
                for n_clients in (1, 2):  # paired: both client counts in every round
                    rate, cpu = ingest_round(dash, tiles, f"ingest-{n_clients}-{rnd}", n_clients)
                    rates[n_clients].append(rate)
                    cpu_ms[n_clients].append(cpu)
        png_kb = sum(len(p) for _, p in tiles) / len(tiles) / 1e3
        print(f"Ingest: {len(tiles)} tiles of 256 px ({png_kb:.1f} KB mean PNG), batches of "
              f"{BATCH_TILES}, keep-alive, {rounds} rounds\n")
        print(harness.table(
            ["posting clients", "median tiles/s", "min", "max", "dashboard CPU ms/tile",
             "target"],
            [[n, f"**{harness.median(r):.0f}**", f"{min(r):.0f}", f"{max(r):.0f}",
              f"{harness.median(cpu_ms[n]):.3f}", ">= 3000"] for n, r in rates.items()]), "\n")

        fan_rounds = min(3, rounds)
        n_clients = 10 if quick else FANOUT_CLIENTS
        with Dashboard(tmp / "fanout") as dash:
            fan = [fanout_round(dash, tiles, f"fanout-{rnd}", n_clients)
                   for rnd in range(fan_rounds)]
        print(f"Fan-out: {n_clients} WebSocket clients, {len(tiles)} tiles offered at "
              f"{FANOUT_RATE:.0f} tiles/s in batches of {FANOUT_BATCH_TILES}, {fan_rounds} rounds "
              f"(median round shown; latency = receive time - stored_at)\n")
        fan.sort(key=lambda r: r["p99_ms"])
        mid = fan[len(fan) // 2]
        print(harness.table(
            ["clients", "frames", "offered tiles/s", "p50 ms", "p99 ms", "max ms",
             "p99 of rounds ms", "dashboard CPU s", "client CPU s", "span s", "target p99"],
            [[n_clients, mid["frames"], f"{mid['offered_rate']:.0f}", f"{mid['p50_ms']:.1f}",
              f"{mid['p99_ms']:.1f}", f"{mid['max_ms']:.1f}",
              " / ".join(f"{r['p99_ms']:.0f}" for r in fan), f"{mid['dashboard_cpu_s']:.2f}",
              f"{mid['client_cpu_s']:.2f}", f"{mid['span_s']:.2f}", "< 50 ms"]]), "\n")

        mem_grid = 8 if quick else 32
        mem = memory_bench(tmp, mem_grid, 512)
        print(f"Memory: {mem['tiles']} tiles of 512 px stored ({mem['png_mb']:.1f} MB of PNG), "
              f"then one WebSocket replay of the whole run ({mem['replay_s']:.2f} s)\n")
        print(harness.table(
            ["dashboard state", "VmRSS MB", "VmHWM MB"],
            [[label, f"{m['VmRSS'] / 1024:.1f}", f"{m['VmHWM'] / 1024:.1f}"]
             for label, m in (("started, empty", mem["empty"]), ("run stored", mem["stored"]),
                              ("after full replay", mem["replayed"]))]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

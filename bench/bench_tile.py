"""Tile pipeline cost per tile size: render, palette map, PNG encode, and their shares.

For each tile size (128, 256, 512 px) the full view (centre -0.75,0, width 3, max_iter 256) is cut
into a 4x4 grid and every tile goes through the same steps as :func:`mpi_render.tile.render_tile`
(render: ``escape_data``; palette map: ``smooth_indices``), each step timed on its own (CPU
seconds, single-threaded), with every available kernel backend, and with each of the two colour
mappings in alternate rounds: the pipeline's (``smooth_indices``: compiled where numba runs,
``mpi_render.kernels.colour_numba``) and the numpy reference (``numpy_indices``), which gives
the same bytes. The table shows medians over rounds of the per-round totals per tile, and the
map's cost against the numpy reference as the median of the per-round ratios. Target: palette
map + PNG encode <= 30 % of the whole for 256 px tiles with the default (fastest) backend.

Usage: .venv/bin/python bench/bench_tile.py [--rounds N] [--quick]  (--quick: one round)
"""
from __future__ import annotations

import statistics
import sys
import time

from harness import bench_args, machine_line

from mpi_render.config import RenderConfig
from mpi_render.encode import encode_png
from mpi_render.kernels.dispatch import available_backends, escape_data
from mpi_render.palettes import compiled_mapping, numpy_indices, palette_bytes, smooth_indices
from mpi_render.tile import warm_up
from mpi_render.tiling import tile_bounds

TILE_SIZES = (128, 256, 512)
GRID = 4
ENCODE_SHARE_TARGET = 0.30
MAPPINGS = {"pipeline": smooth_indices, "numpy": numpy_indices}


def one_round(config: RenderConfig, backend: str, mapping=smooth_indices) -> dict[str, float]:
    """CPU seconds per stage summed over every tile of ``config``, plus the PNG bytes
    (``mapping``: the palette map, :func:`smooth_indices` as in the tile pipeline)."""
    totals = {"render": 0.0, "map": 0.0, "encode": 0.0, "bytes": 0}
    palette = palette_bytes(config.palette)
    cx, cy, width = config.view.floats()
    for row in range(config.grid):
        for col in range(config.grid):
            b = tile_bounds(config.grid, config.tile_px, (cx, cy), width, row, col)
            t0 = time.process_time()
            escape = escape_data(b.xmin, b.ymax, b.dx, b.dy, config.tile_px, config.tile_px,
                                 config.max_iter, backend=backend)
            t1 = time.process_time()
            indices = mapping(escape, config.max_iter)
            t2 = time.process_time()
            png = encode_png(indices, palette)
            t3 = time.process_time()
            totals["render"] += t1 - t0
            totals["map"] += t2 - t1
            totals["encode"] += t3 - t2
            totals["bytes"] += len(png)
    return totals


def share(row: dict[str, float]) -> float:
    """Map + encode as a fraction of the tile's time."""
    return (row["map"] + row["encode"]) / (row["render"] + row["map"] + row["encode"])


def print_table(results: dict[tuple[str, int, str], list[dict]]) -> None:
    print("| backend | tile px | palette map | render ms | palette map ms | map / numpy map | "
          "PNG encode ms | map+encode share | KB per tile |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    n_tiles = GRID * GRID
    for (backend, px, mapping), rows in results.items():
        med = {key: statistics.median(r[key] for r in rows) / n_tiles
               for key in ("render", "map", "encode", "bytes")}
        numpy_rows = results[backend, px, "numpy"]  # the same rounds, alternating
        ratio = statistics.median(r["map"] / n["map"] for r, n in zip(rows, numpy_rows))
        print(f"| {backend} | {px} | {mapping} | {med['render'] * 1e3:.2f} | "
              f"{med['map'] * 1e3:.3f} | {ratio:.2f} | {med['encode'] * 1e3:.2f} | "
              f"**{statistics.median(share(r) for r in rows):.0%}** | "
              f"{med['bytes'] / 1024:.1f} |")


def main(argv=None) -> int:
    rounds = bench_args(__doc__, argv, rounds=7).rounds
    backends = available_backends()
    for backend in backends:
        warm_up(backend)
    results = {(backend, px, mapping): [] for backend in backends for px in TILE_SIZES
               for mapping in MAPPINGS}
    for _ in range(rounds):
        for backend, px, mapping in results:
            config = RenderConfig(grid=GRID, tile_px=px, max_iter=256)
            results[backend, px, mapping].append(one_round(config, backend, MAPPINGS[mapping]))
    compiled = compiled_mapping()
    how = "none: numpy" if compiled is None else (
        "numba's JIT" if hasattr(compiled, "signatures") else "prebuilt library")
    print(f"tile pipeline: {machine_line()}; full view, {GRID}x{GRID} tiles, max_iter 256, "
          f"palette electric, {rounds} rounds, CPU ms per tile; the pipeline's compiled "
          f"mapping: {how}\n")
    print_table(results)
    default = results[backends[0], 256, "pipeline"]
    achieved = statistics.median(share(r) for r in default)
    print(f"\ntarget: map+encode <= {ENCODE_SHARE_TARGET:.0%} of the 256 px tile time with "
          f"{backends[0]}: {achieved:.0%}, "
          f"{'met' if achieved <= ENCODE_SHARE_TARGET else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

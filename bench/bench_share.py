"""Sharing a deep view's reference between the ranks of a site job: broadcast vs MPI-3 shared memory.

Run: ``.venv/bin/python bench/bench_share.py [--quick] [--rounds N]``. Prints a markdown table.

A site job prepares one reference (MPFR orbit + BLA table, :mod:`mpi_render.deep`) on rank 0 and
every rank needs it. Two ways, timed here under ``mpiexec -n 2`` (the machine's cores; on a real
node the broadcast's cost grows with log2 of the ranks, shared memory's stays one copy):

* **broadcast** (what :func:`mpi_render.site.rendering.share` does): one ``bcast`` of the
  metadata, one ``Bcast`` per array into each rank's own buffer; every rank then holds a copy;
* **shared memory**: ``MPI.Win.Allocate_shared`` on the node's communicator, rank 0 copies the
  arrays in, a barrier, the other ranks map them (one copy per node).

For references of three sizes: the Flake's (35,170 iterations), and views whose reference does
not escape, at 10^5 and 10^6 iterations (10^6 with ``--quick`` left out). Each figure is the median
over rounds of the slowest rank's wall time for the exchange alone (the orbit is prepared before
the clock starts), next to the time the orbit itself took.
"""
from __future__ import annotations

import json
import sys

import harness
from harness import VENV_BIN, mpiexec

PROBE = r'''
import json, sys, time
import numpy as np
from mpi4py import MPI
from mpi_render.config import RenderConfig
from mpi_render.locations import LOCATIONS
from mpi_render.site.rendering import TileRenderer, broadcast, reference_message
from mpi_render.tile import KernelChoice, prepare_reference

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
rounds = int(sys.argv[1])
flake = LOCATIONS["flake"]
views = [("Flake", dict(center=(flake.cx, flake.cy), width=flake.width, max_iter=flake.max_iter))]
for n in sys.argv[2:]:  # inside the main cardioid: the reference runs all of max_iter
    views.append((f"inside, {int(n):,} it", dict(center=("-0.1", "0.1"), width="1e-40",
                                                 max_iter=int(n))))


def bcast_once(renderer, config, message):
    comm.Barrier()
    start = time.perf_counter()
    broadcast(comm, renderer, config, message, "bench")
    return time.perf_counter() - start


def shared_once(message):
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    meta, arrays = message if rank == 0 else (None, None)
    comm.Barrier()
    start = time.perf_counter()
    meta = node.bcast(meta, root=0)
    layout, offset = {}, 0
    for name, (dtype, shape) in sorted(meta["arrays"].items()):
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        layout[name] = (offset, dtype, shape)
        offset += (size + 63) // 64 * 64
    win = MPI.Win.Allocate_shared(offset if node.Get_rank() == 0 else 0, 1, comm=node)
    buffer, _ = win.Shared_query(0)
    views = {name: np.ndarray(shape, dtype, buffer=buffer, offset=at)
             for name, (at, dtype, shape) in layout.items()}
    if node.Get_rank() == 0:
        for name, array in arrays.items():
            views[name][...] = array
    node.Barrier()
    elapsed = time.perf_counter() - start
    win.Free()
    node.Free()
    return elapsed


results = []
for label, view in views:
    config = RenderConfig(grid=4, tile_px=256, sites=("a",), **view)
    reference = prepare_reference(config) if rank == 0 else None
    walls = {"bcast": [], "shared": []}
    message = reference_message(reference) if rank == 0 else None
    for _ in range(rounds):
        renderer = TileRenderer(KernelChoice(backend="numpy"))
        walls["bcast"].append(max(comm.allgather(bcast_once(renderer, config, message))))
        walls["shared"].append(max(comm.allgather(shared_once(message))))
    if rank == 0:
        results.append({"view": label, "mb": reference.nbytes / 1e6,
                        "orbit_s": reference.seconds["orbit"] + reference.seconds["bla"],
                        "bcast": walls["bcast"], "shared": walls["shared"]})
if rank == 0:
    print(json.dumps(results))
'''


def main(argv=None) -> int:
    args = harness.bench_args(__doc__, argv, rounds=5)
    sizes = ["100000"] if args.quick else ["100000", "1000000"]
    done = harness.run([mpiexec(), "-n", "2", str(VENV_BIN / "python"), "-m", "mpi4py", "-c", PROBE,
                        str(args.rounds), *sizes], timeout=1800)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [[r["view"], f"{r['mb']:.1f}", f"{r['orbit_s']:.2f}",
             f"{1e3 * harness.median(r['bcast']):.1f}", f"{1e3 * harness.median(r['shared']):.1f}",
             f"{harness.median(r['bcast']) / r['orbit_s']:.3f}"] for r in results]
    print(f"## Sharing the reference, 2 ranks ({harness.machine_line()}, {args.rounds} rounds)\n")
    print(harness.table(["reference", "MB per copy", "orbit + table s", "broadcast ms",
                         "shared memory ms", "broadcast / orbit"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

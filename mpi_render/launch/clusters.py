"""The workflow's extra clusters: one more site per entry of the ``extra_clusters`` list input.

The ACTIVATE workflow takes an optional list of extra clusters (``workflow.yaml``, input
``extra_clusters``); each entry is ``{"resource": {...compute-clusters object...}, "scheduler":
yes/no, "ranks": N, "partition": "..."}``. Entry ``i`` (from 1) is the site ``extra{i}``, so
every site has its own name whatever the resource is called (a resource's ``name`` may be empty
on CLI launches). The sites of the run are ``cloud,onprem`` and then the extra ones; with more
than two sites the split defaults to ``dynamic``: every cluster claims tiles while it renders,
so each one simply adds capacity.

The workflow's scripts read the list as JSON from the environment variable ``EXTRA_CLUSTERS``
(empty, ``null`` or ``[]``: no extra cluster) and call this module::

    python -m mpi_render.launch.clusters --split auto   # prints "SITES SPLIT"
    python -m mpi_render.launch.clusters --entries      # one line per cluster:
                                                        # SITE IP SCHEDULER RANKS PARTITION

(``SCHEDULER`` is ``slurm`` or ``-`` for mpiexec on the login node, ``PARTITION`` ``-`` for the
cluster's default; every field is one word, so ``read`` in bash splits them safely.)
Bad input is a one-line error and exit 2.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass

from ..config import DEFAULT_SITES, RenderConfig
from ..tiling import SPLITS

ENV = "EXTRA_CLUSTERS"
SPLIT_CHOICES = ("auto",) + tuple(SPLITS)
_WORD = re.compile(r"^[A-Za-z0-9_.:@%+-]+$")  # addresses, partitions: one shell word
_YES, _NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off", "")


@dataclass(frozen=True)
class ExtraCluster:
    """One extra site: its name, the login node's address, how it runs MPI, and where."""

    site: str
    ip: str
    scheduler: str  # "slurm" or "" (mpiexec on the login node)
    ranks: int
    partition: str  # "" = the cluster's default


def parse_clusters(text: str | None) -> list[ExtraCluster]:
    """The entries of the list input (JSON text) as sites ``extra1``, ``extra2``, ...

    Raises:
        ValueError: not a JSON list of objects, or an entry without a usable address, ranks
            or scheduler answer (the message names the entry).
    """
    text = (text or "").strip()
    if text in ("", "null", "None"):
        return []
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"extra clusters must be a JSON list, got {text[:80]!r} ({exc})") from None
    if not isinstance(entries, list):
        raise ValueError(f"extra clusters must be a JSON list, got {type(entries).__name__}")
    return [_entry(number, entry) for number, entry in enumerate(entries, start=1)]


def _entry(number: int, entry) -> ExtraCluster:
    where = f"extra cluster {number}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object with resource, scheduler, ranks, partition")
    resource = entry.get("resource")
    if not isinstance(resource, dict) or not _WORD.match(str(resource.get("ip") or "")):
        raise ValueError(f"{where}: the resource has no address (got {resource!r}); pick a "
                         "running cluster in the form")
    scheduler = str(entry.get("scheduler", "yes")).strip().lower()
    if scheduler not in _YES + _NO:
        raise ValueError(f"{where}: scheduler must be yes or no, got {entry.get('scheduler')!r}")
    try:
        ranks = int(float(str(entry.get("ranks", 2))))
    except ValueError:
        ranks = 0
    if ranks < 1:
        raise ValueError(f"{where}: ranks must be a whole number >= 1, got {entry.get('ranks')!r}")
    partition = str(entry.get("partition") or "").strip()
    if partition and not _WORD.match(partition):
        raise ValueError(f"{where}: partition {partition!r} is not a Slurm partition name")
    return ExtraCluster(f"extra{number}", str(resource["ip"]),
                        "slurm" if scheduler in _YES else "", ranks, partition)


def run_sites(clusters: list[ExtraCluster], split: str = "auto") -> tuple[tuple[str, ...], str]:
    """The run's sites (``cloud,onprem`` first, as the two-resource workflow) and its split.

    ``split`` ``auto`` is ``contiguous`` for two sites and ``dynamic`` for more.

    Raises:
        ValueError: an unknown split, or sites the run config refuses.
    """
    if split not in SPLIT_CHOICES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
    sites = tuple(DEFAULT_SITES) + tuple(c.site for c in clusters)
    if split == "auto":
        split = "dynamic" if len(sites) > 2 else "contiguous"
    RenderConfig(sites=sites, split=split)  # the run config's own checks (names, count)
    return sites, split


def main(argv: list[str] | None = None, environ=os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m mpi_render.launch.clusters", description=(
        f"The workflow's extra clusters, read as JSON from ${ENV}."))
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--split", choices=SPLIT_CHOICES,
                      help="print the run's sites (comma-separated) and split")
    mode.add_argument("--entries", action="store_true",
                      help="print SITE IP SCHEDULER RANKS PARTITION per extra cluster")
    args = parser.parse_args(argv)
    try:
        clusters = parse_clusters(environ.get(ENV))
        sites, split = run_sites(clusters, args.split or "auto")
    except ValueError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.entries:
        for c in clusters:
            print(c.site, c.ip, c.scheduler or "-", c.ranks, c.partition or "-")
    else:
        print(",".join(sites), split)
    return 0


if __name__ == "__main__":
    sys.exit(main())

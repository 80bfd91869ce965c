"""Progress and summary text for one run, from its ``GET api/runs/{id}`` document.

Used by ``mpi-render-demo`` while it waits, and by the ACTIVATE workflow's summary step as
``python -m mpi_render.launch.report --dashboard URL --run ID`` (exit 0 only when every tile is stored).
"""
from __future__ import annotations

import argparse
import sys

from ..config import check_run_id
from ..site.client import TRANSPORT_ERRORS, DashboardClient
from ..view import View


def site_tiles(doc: dict, name: str, unit: str = "") -> str:
    """Site ``name``'s tiles: ``stored/owned`` in a static split (``6/8``); in a dynamic run,
    where no site owns a tile, its achieved share of the stored tiles (``6 (60%)``). ``unit``
    goes after the count (``6/8 tiles``, ``6 tiles (60%)``)."""
    site = doc["sites"][name]
    if site.get("owned") is not None:
        return f"{site['stored']}/{site['owned']}{unit}"
    return f"{site['stored']}{unit} ({100 * site['stored'] / max(1, doc['stored']):.0f}%)"


def progress_line(doc: dict) -> str:
    """``stored/total`` and each site's tiles, e.g. ``tiles 10/16 | cloud 6/8 | onprem 4/8``
    (dynamic run: ``tiles 10/16 | cloud 6 (60%) | onprem 4 (40%)``)."""
    parts = [f"tiles {doc['stored']}/{doc['total']}"]
    parts += [f"{name} {site_tiles(doc, name)}" for name in doc["sites"]]
    return " | ".join(parts)


def progress_bar(doc: dict, width: int = 30) -> str:
    """A one-line bar for a terminal: ``[#######-------] tiles 10/16 | ...``."""
    filled = width * doc["stored"] // max(1, doc["total"])
    return f"[{'#' * filled}{'-' * (width - filled)}] {progress_line(doc)}"


def tile_names(tiles: list[dict]) -> str:
    """``r{row}c{col}`` names, space separated, at most 20 then ``... (N more)``."""
    names = [f"r{t['row']}c{t['col']}" for t in tiles]
    extra = f" ... ({len(names) - 20} more)" if len(names) > 20 else ""
    return " ".join(names[:20]) + extra


def missing_by_site(doc: dict) -> dict[str | None, list[dict]]:
    """The run's missing tiles grouped by the site that owns them (sites in run order); in a
    dynamic run nobody owns them, so they are all under ``None``."""
    grouped: dict[str | None, list[dict]] = {name: [] for name in doc["sites"]}
    for tile in doc["missing"]:
        grouped.setdefault(tile["site"], []).append(tile)
    return grouped


def summary_lines(doc: dict, site_seconds: dict[str, float] | None = None) -> list[str]:
    """The summary: ``tiles: X/Y``, then one line per site.

    Args:
        doc: the run document.
        site_seconds: wall time of each site's job in seconds; a site without one gets the time
            from the run's creation to its last stored tile.

    Returns:
        Lines like ``site cloud: 8/8 tiles in 1.20 s (6.7 tiles/s), mean render 11.3 ms``; in a
        dynamic run the site's achieved share instead: ``site cloud: 9 tiles (56%) in ...``;
        the missing tiles; last the view, exactly as the run config gives it (``view: centre
        CX, CY, width W, max_iter M``), when the document has the config.
    """
    lines = [f"tiles: {doc['stored']}/{doc['total']}"]
    for name, site in doc["sites"].items():
        seconds = (site_seconds or {}).get(name)
        if seconds is None and site.get("last_at") is not None:
            seconds = site["last_at"] - doc["created_at"]
        rate = f"{site['stored'] / seconds:.1f}" if seconds else "-"
        mean = site.get("render_ms_mean")
        mean_text = f"{mean:.1f} ms" if mean is not None else "-"
        seconds_text = f"{seconds:.2f} s" if seconds is not None else "- s"
        lines.append(f"site {name}: {site_tiles(doc, name, ' tiles')} in {seconds_text} "
                     f"({rate} tiles/s), mean render {mean_text}")
    for name, tiles in missing_by_site(doc).items():
        if tiles:
            where = f"from site {name}" if name is not None else "(dynamic split, no owner)"
            lines.append(f"missing {where}: {tile_names(tiles)}")
    if "config" in doc:
        view = doc["config"]["view"]
        lines.append(f"view: {View(view['cx'], view['cy'], view['width']).describe()}, "
                     f"max_iter {doc['config']['max_iter']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print a run's summary; exit 0 when complete, 1 when tiles are missing, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m mpi_render.launch.report",
                                     description="Print a run's summary from its dashboard.")
    parser.add_argument("--dashboard", required=True, help="dashboard root URL")
    parser.add_argument("--run", required=True, help="run id")
    args = parser.parse_args(argv)
    try:
        client = DashboardClient(args.dashboard, timeout_s=30)
        check_run_id(args.run)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    try:
        answer = client.get_run(args.run)
    except TRANSPORT_ERRORS as exc:
        print(f"dashboard {client.url} did not answer: {exc}", file=sys.stderr)
        return 1
    if answer.status != 200:
        print(f"GET api/runs/{args.run}: {answer.error}", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(answer.body)))
    return 0 if answer.body["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The table of ``mpi-render`` flags: names, environment fallbacks, defaults and help texts.

The parser, ``--help`` and the tables in ``docs/CLI.md`` and the README (checked by a test) all
come from :data:`FLAGS`; :mod:`mpi_render.cliargs` turns the values into validated options.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import RenderConfig
from .locations import LOCATIONS
from .tls import CA_FILE_ENV

_DEFAULT = RenderConfig()


@dataclass(frozen=True)
class Flag:
    """One command-line flag: name, environment fallback, default (a string) and help."""

    name: str
    env: str
    default: str | None
    help: str
    metavar: str | None = None
    boolean: bool = False

    @property
    def dest(self) -> str:
        return self.name[2:].replace("-", "_")


def _fmt(values) -> str:
    return ",".join(str(v) for v in values)


FLAGS = (
    Flag("--grid", "MPI_RENDER_GRID", str(_DEFAULT.grid), "tiles per side, 1..64", "N"),
    Flag("--tile", "MPI_RENDER_TILE", str(_DEFAULT.tile_px), "pixels per tile side, 16..2048", "P"),
    Flag("--palette", "MPI_RENDER_PALETTE", _DEFAULT.palette,
         "electric, fire, ocean or cosmic", "NAME"),
    Flag("--max-iter", "MPI_RENDER_MAX_ITER", str(_DEFAULT.max_iter), "iteration cap per pixel",
         "M"),
    Flag("--center", "MPI_RENDER_CENTER", _fmt(_DEFAULT.center),
         "view centre; write --center=CX,CY when CX is negative", "CX,CY"),
    Flag("--width", "MPI_RENDER_WIDTH", str(_DEFAULT.width),
         "width of the whole image in the complex plane", "W"),
    Flag("--location", "MPI_RENDER_LOCATION", None,
         f"a famous view ({', '.join(LOCATIONS)}): sets --center, --width and --max-iter (an "
         f"explicit --max-iter wins)", "NAME"),
    Flag("--site", "MPI_RENDER_SITE", None, "this job's site, one of --sites (required)", "NAME"),
    Flag("--sites", "MPI_RENDER_SITES", _fmt(_DEFAULT.sites), "all sites of the run, in order",
         "A,B"),
    Flag("--split", "MPI_RENDER_SPLIT", _DEFAULT.split, "contiguous, interleaved or dynamic", "SPLIT"),
    Flag("--weights", "MPI_RENDER_WEIGHTS", None,
         "contiguous shares per site, summing to 1 (default equal)", "W1,W2"),
    Flag("--backend", "MPI_RENDER_BACKEND", "auto", "kernel: auto, numpy or numba", "NAME"),
    Flag("--kernel", "MPI_RENDER_KERNEL", "auto",
         "auto (double precision while it resolves every pixel, perturbation below), double or "
         "perturbation (forced: for comparisons)", "NAME"),
    Flag("--no-shortcuts", "MPI_RENDER_NO_SHORTCUTS", None,
         "iterate every pixel by brute force (same image; for benchmarks)", boolean=True),
    Flag("--dashboard", "MPI_RENDER_DASHBOARD_URL", None, "dashboard root URL (http/https)",
         "URL"),
    Flag("--run", "MPI_RENDER_RUN", None,
         "run id (default: derived from the config, so all sites agree)", "ID"),
    Flag("--token-file", "MPI_RENDER_TOKEN_FILE", None,
         "file holding the dashboard token (needed with --dashboard)", "PATH"),
    Flag("--ca-file", CA_FILE_ENV, None,
         "CA certificate(s) that verify an https dashboard (default: the system's CAs)", "PEM"),
    Flag("--out", "MPI_RENDER_OUT", None, "also write DIR/r{row}c{col}.png", "DIR"),
    Flag("--spool", "MPI_RENDER_SPOOL", None,
         "unsent batches (default ./mpi-render-spool/RUN/SITE)", "DIR"),
    Flag("--only-missing", "MPI_RENDER_ONLY_MISSING", None,
         "render only the site's tiles the dashboard lacks", boolean=True),
    Flag("--deadline", "MPI_RENDER_DEADLINE", "600",
         "seconds after start after which failed sends are not retried", "SECONDS"),
    Flag("--batch-tiles", "MPI_RENDER_BATCH_TILES", "32", "flush a batch at this many tiles",
         "N"),
    Flag("--batch-bytes", "MPI_RENDER_BATCH_BYTES", str(4 << 20),
         "flush a batch at this many PNG bytes", "BYTES"),
    Flag("--batch-age-ms", "MPI_RENDER_BATCH_AGE_MS", "250",
         "flush a batch this long after its first tile", "MS"),
    Flag("--http-timeout", "MPI_RENDER_HTTP_TIMEOUT", "30", "seconds per HTTP request",
         "SECONDS"),
    Flag("--log-level", "MPI_RENDER_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR",
         "LEVEL"),
    Flag("--resend", "MPI_RENDER_RESEND", None,
         "send a spool left by an earlier job (needs --spool, --dashboard, --token-file; "
         "no MPI)", boolean=True),
    Flag("--serve", "MPI_RENDER_SERVE", None,
         "stay up and render every run of --site the dashboard offers (no image flags)",
         boolean=True),
    Flag("--idle-exit", "MPI_RENDER_IDLE_EXIT", None,
         "with --serve: exit 0 after this long with nothing to do (default never)", "SECONDS"),
)
# What a serving job takes from each run instead of its command line.
RUN_FLAGS = ("--grid", "--tile", "--palette", "--max-iter", "--center", "--width", "--location",
             "--split", "--weights", "--run", "--out", "--only-missing", "--resend")

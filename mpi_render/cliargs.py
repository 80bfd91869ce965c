"""The flags of ``mpi-render``, their environment fallbacks, and their validation.

:data:`~mpi_render.cliflags.FLAGS` is the one table of flags: the parser, ``--help`` and the table in
``docs/CLI.md`` (checked by a test) all come from it. A flag absent from the command line takes
its value from the environment variable ``MPI_RENDER_<FLAG>`` (``MPI_RENDER_DASHBOARD_URL`` for
``--dashboard``), then from its default. :func:`resolve` turns the raw strings into validated
:class:`Options` or raises :class:`UsageError` with a one-line message; it never touches MPI.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from .cliflags import FLAGS, RUN_FLAGS
from .config import RenderConfig, check_run_id
from .locations import location
from .site.client import check_dashboard_url
from .tile import KernelChoice
from .tls import TLSFileError, client_context
from .tokens import TokenFileError, read_token
from .view import parse_decimal

__all__ = ["FLAGS", "Options", "UsageError", "build_parser", "derived_run_id", "resolve"]
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXAMPLE = "mpi-render --site onprem --sites onprem,cloud --out tiles/"


class UsageError(ValueError):
    """Bad command-line input (exit 2); ``help_requested`` for ``--help``."""

    def __init__(self, message: str = "", help_requested: bool = False):
        super().__init__(message)
        self.help_requested = help_requested


@dataclass(frozen=True)
class Options:
    """Validated options. ``config``/``site`` are ``None`` in ``--resend`` mode, ``config`` and
    ``run`` in ``--serve`` mode (each run brings its own)."""

    config: RenderConfig | None
    site: str | None
    kernels: KernelChoice
    dashboard: str | None
    run: str | None
    token_file: str | None
    token: str | None
    ca_file: str | None
    out: str | None
    spool: str | None
    only_missing: bool
    deadline_s: float
    batch_tiles: int
    batch_bytes: int
    batch_age_ms: float
    http_timeout_s: float
    log_level: str
    resend: bool
    serve: bool = False
    idle_exit_s: float | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error, raised not exited
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The argparse parser; every value stays a string (or flag) until :func:`resolve`."""
    parser = _Parser(prog=prog, add_help=False, allow_abbrev=False,
                     description="Render one site's share of a Mandelbrot tile grid with MPI.",
                     epilog="Every flag falls back to its environment variable; see docs/CLI.md.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    for flag in FLAGS:
        suffix = f" [env {flag.env}" + (f", default {flag.default}]" if flag.default else "]")
        if flag.boolean:
            parser.add_argument(flag.name, action="store_true", default=None,
                                help=flag.help + suffix)
        else:
            parser.add_argument(flag.name, metavar=flag.metavar, help=flag.help + suffix)
    return parser


class _Raw:
    """Raw string values by flag dest, with where each came from (for error messages)."""

    def __init__(self, ns: argparse.Namespace, environ):
        self.values, self.labels, self.given, self.set = {}, {}, set(), set()
        for flag in FLAGS:
            value, label = getattr(ns, flag.dest), flag.name
            if value is not None:
                self.given.add(flag.name)
            if value is not None or flag.env in environ:
                self.set.add(flag.name)  # given on the command line or in the environment
            if value is None and flag.env in environ:
                value, label = environ[flag.env], f"{flag.name} (from {flag.env})"
                if flag.boolean:
                    value = _boolean(value, label)
            self.values[flag.dest] = flag.default if value is None else value
            self.labels[flag.dest] = label

    def get(self, dest: str):
        return self.values[dest]

    def number(self, dest: str, kind=float, low: float | None = 0.0, low_open: bool = True):
        """``kind(value)``, checked ``> low`` (``>= low`` unless ``low_open``; no check if None)."""
        raw, label = self.values[dest], self.labels[dest]
        try:
            value = kind(raw)
        except ValueError:
            raise UsageError(f"{label} must be {'an integer' if kind is int else 'a number'}, "
                             f"got {raw!r}") from None
        if low is None:
            return value
        if not math.isfinite(value) or value < low or (low_open and value == low):
            raise UsageError(f"{label} must be {'>' if low_open else '>='} {low:g}, got {raw!r}")
        return value

    def decimals(self, dest: str, count: int) -> tuple[str, ...]:
        """``count`` comma-separated view values as strings, checked exactly (never through a
        float: a deep view's digits must reach the kernels as given)."""
        raw, label = self.values[dest], self.labels[dest]
        values = tuple(value.strip() for value in str(raw).split(","))
        if len(values) != count:
            shape = ",".join(["X"] * count)
            raise UsageError(f"{label} must be {shape} (decimals of any length), got {raw!r}")
        for value in values:
            try:
                parse_decimal(label, value)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        return values

    def floats(self, dest: str, count: int | None = None) -> tuple[float, ...]:
        raw, label = self.values[dest], self.labels[dest]
        try:
            values = tuple(float(v) for v in str(raw).split(","))
        except ValueError:
            values = ()
        if not values or (count is not None and len(values) != count):
            shape = ",".join(["X"] * count) if count else "comma-separated numbers"
            raise UsageError(f"{label} must be {shape}, got {raw!r}")
        return values


def _boolean(value: str, label: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise UsageError(f"{label} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS[:-1])}, "
                     f"got {value!r}")


def resolve(parser: argparse.ArgumentParser, argv: list[str], environ) -> Options:
    """Parse and validate ``argv`` with ``environ`` fallbacks.

    Raises:
        UsageError: any bad or missing input (one-line message naming the flag).
    """
    ns = parser.parse_args(argv)
    if ns.help:
        raise UsageError(help_requested=True)
    raw = _Raw(ns, environ)
    if raw.get("serve"):
        return _serve_options(raw)
    if raw.get("idle_exit") is not None:
        raise UsageError("--idle-exit applies to --serve only")
    resend = bool(raw.get("resend"))
    config, site = (None, None) if resend else _render_config(raw)
    dashboard = raw.get("dashboard")
    try:
        dashboard = check_dashboard_url(dashboard) if dashboard else None
        run = check_run_id(raw.get("run")) if raw.get("run") else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_targets(raw, dashboard, resend)
    if run is None and config is not None:
        run = derived_run_id(config)
    token_file = raw.get("token_file")
    spool = raw.get("spool") or (str(Path("mpi-render-spool") / run / site) if run else None)
    return Options(
        config=config, site=site, kernels=_kernels(raw) if not resend else KernelChoice(),
        dashboard=dashboard, run=run, token_file=token_file,
        token=_token(token_file) if dashboard else None, ca_file=_ca_file(raw), out=raw.get("out"),
        spool=spool,
        only_missing=bool(raw.get("only_missing")), resend=resend, **_delivery(raw))


def _delivery(raw: _Raw) -> dict:
    """The options every mode that posts shares: deadline, batching, timeouts, logging."""
    return dict(deadline_s=raw.number("deadline"),
                batch_tiles=raw.number("batch_tiles", int, 1, False),
                batch_bytes=raw.number("batch_bytes", int, 1, False),
                batch_age_ms=raw.number("batch_age_ms", float, 0, False),
                http_timeout_s=raw.number("http_timeout"), log_level=_log_level(raw))


def _render_config(raw: _Raw) -> tuple[RenderConfig, str]:
    sites = tuple(s.strip() for s in str(raw.get("sites")).split(","))
    site = raw.get("site")
    if not site:
        raise UsageError(f"--site is required (one of {','.join(sites)}), e.g. {EXAMPLE}")
    if site not in sites:
        raise UsageError(f"--site {site!r} is not in --sites {','.join(sites)}")
    weights = raw.floats("weights") if raw.get("weights") else None
    try:
        config = RenderConfig(
            grid=raw.number("grid", int, None), tile_px=raw.number("tile", int, None),
            palette=raw.get("palette"), sites=sites, split=raw.get("split"), weights=weights,
            **_view(raw))
    except UsageError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return config, site


def _view(raw: _Raw) -> dict:
    """``center``, ``width`` and ``max_iter``: from ``--location`` (an explicit ``--max-iter``
    wins over the location's) or from the flags."""
    max_iter = raw.number("max_iter", int, None)
    if not raw.get("location"):
        return dict(center=raw.decimals("center", 2), width=_width(raw), max_iter=max_iter)
    clash = [name for name in ("--center", "--width") if name in raw.set]
    if clash:
        raise UsageError(f"{raw.labels['location']} sets the view: drop {' and '.join(clash)} "
                         f"(or drop --location)")
    try:
        place = location(raw.get("location"))
    except ValueError as exc:
        raise UsageError(f"{raw.labels['location']}: {exc}") from None
    return dict(center=(place.cx, place.cy), width=place.width,
                max_iter=max_iter if "--max-iter" in raw.set else place.max_iter)


def _width(raw: _Raw) -> str:
    (width,) = raw.decimals("width", 1)
    if parse_decimal("--width", width) <= 0:
        raise UsageError(f"{raw.labels['width']} must be > 0, got {width!r}")
    return width


def _check_targets(raw: _Raw, dashboard: str | None, resend: bool) -> None:
    if resend and not (dashboard and raw.get("spool") and raw.get("token_file")):
        raise UsageError("--resend needs --spool DIR, --dashboard URL and --token-file PATH")
    if not resend and not dashboard and not raw.get("out"):
        raise UsageError(f"give --dashboard URL or --out DIR (or both), e.g. {EXAMPLE}")
    if dashboard and not raw.get("token_file"):
        raise UsageError("--token-file PATH is required with --dashboard")
    if raw.get("only_missing") and not dashboard:
        raise UsageError("--only-missing asks the dashboard; give --dashboard URL")
    if not resend and raw.get("split") == "dynamic":
        if not dashboard:
            raise UsageError("--split dynamic claims tiles from the dashboard; give --dashboard URL")
        if raw.get("out") or raw.get("only_missing"):
            raise UsageError("--split dynamic renders what it claims: drop --out and --only-missing")


def _serve_options(raw: _Raw) -> Options:
    """Options of ``--serve``: a site, a dashboard and a token; every run brings its image."""
    refused = [name for name in RUN_FLAGS if name in raw.given]
    if refused:
        raise UsageError(f"--serve takes each run's image from the dashboard: drop "
                         f"{', '.join(refused)} (e.g. mpi-render --serve --site onprem "
                         f"--dashboard URL --token-file PATH)")
    site, dashboard = raw.get("site"), raw.get("dashboard")
    if not site or not raw.get("token_file") or not dashboard:
        raise UsageError("--serve needs --site NAME, --dashboard URL and --token-file PATH")
    try:
        RenderConfig(sites=(site,))
        dashboard = check_dashboard_url(dashboard)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    idle_exit_s = raw.number("idle_exit") if raw.get("idle_exit") is not None else None
    return Options(
        config=None, site=site, kernels=_kernels(raw), dashboard=dashboard, run=None,
        token_file=raw.get("token_file"), token=_token(raw.get("token_file")),
        ca_file=_ca_file(raw), out=None,
        spool=raw.get("spool") or "mpi-render-spool", only_missing=False, resend=False,
        serve=True, idle_exit_s=idle_exit_s, **_delivery(raw))


def _kernels(raw: _Raw) -> KernelChoice:
    return KernelChoice(backend=_backend(raw), shortcuts=not raw.get("no_shortcuts"))


def _backend(raw: _Raw) -> str:
    from .kernels.dispatch import resolve_backend  # imports numba when asked: only after cheap checks
    backend = raw.get("backend")
    try:
        resolve_backend(backend)
    except ValueError as exc:
        raise UsageError(f"--backend: {exc}") from None
    return backend


def _log_level(raw: _Raw) -> str:
    level = str(raw.get("log_level")).upper()
    if level not in LOG_LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return level


def _token(path: str) -> str:
    try:
        return read_token(path)
    except TokenFileError as exc:
        raise UsageError(str(exc)) from None


def _ca_file(raw: _Raw) -> str | None:
    """The CA file, checked now so that a bad one is a usage error before MPI starts."""
    path = raw.get("ca_file") or None
    if path:
        try:
            client_context(path)
        except TLSFileError as exc:
            raise UsageError(f"{raw.labels['ca_file']}: {exc}") from None
    return path


def derived_run_id(config: RenderConfig) -> str:
    """``run-`` + 12 hex digits of the config's hash: sites with equal configs agree on it (the
    view hashed as exact fractions, so sites that spell it differently agree too)."""
    canonical = dict(config.run_json(), view=[str(value) for value in config.view.exact])
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    return f"run-{digest[:12]}"

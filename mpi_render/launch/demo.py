"""``mpi-render-demo``: the whole thing on one machine with one command.

Starts the dashboard on a local port (with an ingest and a control token file, 0600, in the data
directory), creates the first run, launches every site as its own serving job
``mpiexec -n R python -m mpi4py -m mpi_render --serve --site S`` (in parallel, as separate
clusters would), prints the read-only link and the control link at once, and shows progress.
After the first run's summary the dashboard and the sites keep taking new runs (the page's
"Render this view", or anyone with the control token) until Ctrl-C; ``--exit-when-done`` exits
after the summary instead. Every process it starts is stopped on the way out (SIGTERM, which a
serving site answers by delivering what it rendered, then SIGKILL), by process group and by
pid, so nothing is left running.

With ``--tls`` it makes a private CA and a certificate for 127.0.0.1/localhost in the data
directory (:mod:`mpi_render.launch.certs`, keys 0600), serves the dashboard with HTTPS and WSS, and
gives the sites the CA with ``--ca-file``: everything runs over verified TLS, and both links are
``https``.

The control token is printed once, in the control link's URL fragment, and nowhere else: not on
a command line (the dashboard reads it from its file), not in a log, not in the URL the browser
is opened with (the read-only one).

Exit codes: 0 every tile of the first run stored; 1 a site job failed or tiles are missing (the
message names the site and the tiles); 2 bad arguments; 128+N stopped by signal N before the
first render finished.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import webbrowser
from pathlib import Path

from ..config import (
    DEFAULT_CENTER,
    DEFAULT_MAX_ITER,
    DEFAULT_SITES,
    DEFAULT_WIDTH,
    RenderConfig,
    check_run_id,
)
from ..locations import LOCATIONS
from ..site.client import TRANSPORT_ERRORS, DashboardClient
from ..tiling import SPLITS
from ..tokens import TokenFileError, load_or_create_token
from . import certs, processes, watch

HEALTH_TIMEOUT_S = 60.0
POLL_S = 0.5


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum, _frame):
    raise Interrupted(signum)


def _floats(text: str, count: int | None, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{what} must have {count} values, got {text!r}")
    return values


def _decimals(text: str, count: int, what: str) -> tuple[str, ...]:
    """Comma-separated view values kept as strings (checked by the config, exactly)."""
    values = tuple(value.strip() for value in text.split(","))
    if len(values) != count:
        raise ValueError(f"{what} must have {count} values, got {text!r}")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    p = argparse.ArgumentParser(prog="mpi-render-demo", description=(
        "Render a Mandelbrot image with one local MPI job per site and watch it arrive live."))
    p.add_argument("--grid", type=int, default=8, help="tiles per side (default 8)")
    p.add_argument("--tile", type=int, default=256, help="pixels per tile side (default 256)")
    p.add_argument("--palette", default="electric", help="electric, fire, ocean or cosmic")
    p.add_argument("--max-iter", type=int, default=None,
                   help=f"iteration cap per pixel (default: the location's, else {DEFAULT_MAX_ITER})")
    p.add_argument("--location", type=str.lower, choices=list(LOCATIONS), default=None,
                   help="a famous view: " + "; ".join(f"{place.name}: {place.description}"
                                                      for place in LOCATIONS.values()))
    p.add_argument("--center", default=None,
                   help="view centre CX,CY, decimals of any length (use --center=-0.5,0 for "
                        f"negative values; default {','.join(map(str, DEFAULT_CENTER))})")
    p.add_argument("--width", default=None,
                   help=f"view width (a decimal of any depth, e.g. 1.7e-157; default "
                        f"{DEFAULT_WIDTH})")
    p.add_argument("--sites", default=",".join(DEFAULT_SITES), help="site names, in split order")
    p.add_argument("--split", choices=SPLITS, default="contiguous")
    p.add_argument("--weights", help="contiguous shares per site, e.g. 0.3,0.7")
    p.add_argument("--ranks-per-site", type=int, default=None,
                   help=f"MPI ranks per site (default: cores // sites, here {cpus})")
    p.add_argument("--backend", action="append", default=[], metavar="[SITE=]NAME",
                   help="kernel backend for every site, or SITE=NAME for one (repeatable)")
    p.add_argument("--hostfile", type=Path, help="hostfile for every mpiexec (default: local)")
    p.add_argument("--host", default="127.0.0.1", help="dashboard listen address")
    p.add_argument("--port", type=int, default=0, help="dashboard port (default: a free one)")
    p.add_argument("--data-dir", type=Path,
                   help="dashboard data, token files and logs (default: a temp dir removed at exit)")
    p.add_argument("--run", help="run id (default: demo-<time>)")
    p.add_argument("--exit-when-done", action="store_true",
                   help="exit after the first run's summary instead of serving new runs")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--tls", action="store_true",
                   help="HTTPS and WSS with a private CA made for the run (needs openssl)")
    args = p.parse_args(argv)
    args.cpus = cpus
    return args


def build_config(args: argparse.Namespace) -> RenderConfig:
    """The run's :class:`RenderConfig` from the arguments (raises ValueError)."""
    sites = tuple(s.strip() for s in args.sites.split(",") if s.strip())
    if args.location:
        if args.center is not None or args.width is not None:
            raise ValueError("--location sets the view: drop --center and --width")
        place = LOCATIONS[args.location]
        center, width, max_iter = (place.cx, place.cy), place.width, place.max_iter
    else:
        center = DEFAULT_CENTER if args.center is None else _decimals(args.center, 2, "center")
        width = DEFAULT_WIDTH if args.width is None else args.width.strip()
        max_iter = DEFAULT_MAX_ITER
    return RenderConfig(
        grid=args.grid, tile_px=args.tile, palette=args.palette,
        max_iter=max_iter if args.max_iter is None else args.max_iter, center=center,
        width=width, sites=sites, split=args.split,
        weights=_floats(args.weights, None, "weights") if args.weights else None)


def site_backends(specs: list[str], sites: tuple[str, ...]) -> dict[str, str]:
    """``{site: backend}`` from ``--backend`` values (``NAME`` or ``SITE=NAME``; last one wins).

    The backend names themselves are checked by each site job, which knows what it has.
    """
    backends = dict.fromkeys(sites, "auto")
    for spec in specs:
        site, _, name = spec.rpartition("=")
        if site and site not in backends:
            raise ValueError(f"--backend {spec}: site must be one of {','.join(sites)}")
        for target in ([site] if site else sites):
            backends[target] = name
    return backends


def child_env() -> dict:
    """Environment for the children: unbuffered output; Open MPI may oversubscribe the cores."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    if os.geteuid() == 0:  # demo containers often run as root; Open MPI refuses that by default
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def wait_healthy(dashboard: processes.Child, client: DashboardClient) -> None:
    """Block until ``GET healthz`` answers 200 (raises RuntimeError if the dashboard dies)."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if dashboard.poll() is not None:
            raise RuntimeError(f"the dashboard exited {dashboard.poll()}:\n{dashboard.log_tail()}")
        try:
            if client.request("GET", "healthz", timeout_s=2).status == 200:
                return
        except TRANSPORT_ERRORS:
            pass
        time.sleep(POLL_S / 5)
    raise RuntimeError(f"the dashboard did not answer within {HEALTH_TIMEOUT_S:.0f} s:\n"
                       f"{dashboard.log_tail()}")


def open_browser(url: str) -> None:
    """Open ``url`` when a graphical browser can be (never a text browser in this terminal)."""
    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY"))
    if graphical:
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass  # the URL is printed anyway


def token_from(path: Path) -> str:
    """The token in ``path``, made (0600) when missing: the dashboard's own rules, so a file
    others can read is refused (raises RuntimeError with the fix)."""
    try:
        return load_or_create_token(path)
    except TokenFileError as exc:
        raise RuntimeError(str(exc)) from None


def make_tls(data_dir: Path, host: str) -> tuple[certs.ServerCert, Path]:
    """A new private CA and a server certificate for this machine in ``data_dir/tls``.

    Each run gets its own CA: what an earlier run left in ``data_dir/tls`` is replaced.

    Returns:
        ``(server certificate and key, CA certificate)``; the CA's key stays in ``data_dir``.

    Raises:
        RuntimeError: openssl is missing or failed.
    """
    names = list(certs.LOCAL_NAMES)
    if host not in ("0.0.0.0", "::", "") and host not in names:
        names.append(host)
    shutil.rmtree(data_dir / "tls", ignore_errors=True)
    try:
        authority = certs.make_authority(data_dir / "tls" / "ca")
        return certs.issue(authority, data_dir / "tls", names=names), authority.cert
    except certs.CertError as exc:
        raise RuntimeError(f"--tls: {exc}") from None


def run_demo(args: argparse.Namespace, config: RenderConfig, data_dir: Path,
             children: list[processes.Child]) -> int:
    """Start everything (appending to ``children`` as it goes) and wait; return the exit code."""
    env = child_env()
    port = args.port or processes.free_port()
    token_file, control_token_file = data_dir / "token", data_dir / "control-token"
    data_dir.mkdir(parents=True, exist_ok=True)
    token = token_from(token_file)
    control_token = token_from(control_token_file)
    logs = data_dir / "logs"
    server_cert, ca_file = make_tls(data_dir, args.host) if args.tls else (None, None)
    tls_files = (server_cert.cert, server_cert.key) if server_cert else None
    dashboard = processes.spawn("dashboard", processes.dashboard_command(
        args.host, port, data_dir / "dashboard", token_file, control_token_file, tls_files),
        logs / "dashboard.log", env)
    children.append(dashboard)
    scheme = "https" if args.tls else "http"
    local_url = f"{scheme}://127.0.0.1:{port}/"
    client = DashboardClient(local_url, token, timeout_s=30, ca_file=ca_file)
    wait_healthy(dashboard, client)
    run_id = args.run or f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    created = client.put_run(run_id, config.run_json())
    if created.status not in (200, 201):
        raise RuntimeError(f"PUT api/runs/{run_id}: {created.error}")
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    url = f"{scheme}://{shown_host}:{port}/?run={run_id}"
    print(f"dashboard: {url}", flush=True)
    print(f"control link: {url}#key={control_token}", flush=True)
    print("  (the control link can start and cancel renders: share it only with who may)",
          flush=True)
    if ca_file:
        print(f"private CA (trust it in the browser, or pass it as --ca-file): {ca_file}",
              flush=True)
    if not args.no_browser:
        open_browser(url)  # the read-only link: a browser's command line is not for secrets
    ranks = args.ranks_per_site or max(1, args.cpus // len(config.sites))
    backends = site_backends(args.backend, config.sites)
    sites = {}
    for name in config.sites:
        cmd = processes.serve_command(name, ranks, local_url, token_file, backends[name],
                                      args.hostfile, ca_file)
        # cwd: the site job's default spool directory (unsent tiles) lands in the data dir.
        sites[name] = processes.spawn(f"site {name}", cmd, logs / f"site-{name}.log", env,
                                      cwd=data_dir)
        children.append(sites[name])
    plural = "" if ranks == 1 else "s"
    print(f"sites: {', '.join(config.sites)} ({ranks} rank{plural} each, serving); "
          f"logs in {logs}", flush=True)
    code = watch.verdict(watch.follow(sites, dashboard, client, run_id), sites)
    if not args.exit_when_done:
        print(f"the dashboard and the sites keep taking new runs at {url} "
              f"- press Ctrl-C to stop", flush=True)
        try:
            watch.keep_serving(sites, dashboard, client, {run_id})
        except Interrupted:
            pass  # the normal way out once the render is over: the render's verdict stands
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = build_config(args)
        site_backends(args.backend, config.sites)
        if args.run is not None:
            check_run_id(args.run)
        if args.ranks_per_site is not None and args.ranks_per_site < 1:
            raise ValueError("ranks per site must be at least 1")
        processes.mpiexec_path()
    except (ValueError, FileNotFoundError) as exc:
        print(f"mpi-render-demo: error: {exc}", file=sys.stderr)
        return 2
    own_dir = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="mpi-render-demo-")) if own_dir else args.data_dir
    data_dir = data_dir.resolve()
    children: list[processes.Child] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    try:
        return run_demo(args, config, data_dir, children)
    except Interrupted as stop:
        print(f"\nmpi-render-demo: {stop} during the render; stopping", file=sys.stderr)
        return 128 + stop.signum
    except RuntimeError as exc:
        print(f"mpi-render-demo: error: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        # children[0] is the dashboard: the sites go first (on SIGTERM they deliver what they
        # rendered, all at once), the dashboard last.
        processes.stop_all(children[1:])
        processes.stop_all(children[:1])
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

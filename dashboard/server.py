"""``mpi-render-dashboard``: command line, listening socket, signals, graceful shutdown."""
from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import math
import signal
import ssl
import sys
from pathlib import Path

import tornado.httpserver

from mpi_render.tls import TLSFileError, server_context
from mpi_render.tokens import TokenFileError, load_or_create_token

from .app import DEFAULT_LEASE_S, DEFAULT_MAX_BODY_BYTES, make_app, shutdown
from .records import StorageUnavailable
from .store import TileStore

log = logging.getLogger(__name__)
EXIT_USAGE = 2
CONTROL_TOKEN_NAME = "control-token"  # default --control-token-file, inside --data-dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mpi-render-dashboard",
        description="Live dashboard of mpi-render runs: tile ingest, storage, WebSocket fan-out.",
        epilog="example: mpi-render-dashboard --port 8080 --data-dir ./dash-data "
               "--token-file ./dash-token")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 only behind a proxy)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument("--data-dir", required=True, help="directory of the SQLite database")
    parser.add_argument("--token-file", required=True,
                        help="ingest token file (mode 0600; generated when missing)")
    parser.add_argument("--control-token-file", default=None, metavar="PATH",
                        help="control token file: may create and cancel runs, nothing else "
                             f"(mode 0600; generated when missing; default DATA_DIR/{CONTROL_TOKEN_NAME})")
    parser.add_argument("--lease-s", type=float, default=DEFAULT_LEASE_S, metavar="SECONDS",
                        help="how long a claimed tile stays leased to its site before it is handed "
                             f"out again (default {DEFAULT_LEASE_S:g})")
    parser.add_argument("--allow-origin", action="append", default=[],
                        help="extra WebSocket origin(s), comma-separated, repeatable; * = any")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY_BYTES, metavar="BYTES",
                        help=f"largest request body in bytes (default {DEFAULT_MAX_BODY_BYTES})")
    parser.add_argument("--certfile", metavar="PEM",
                        help="serve HTTPS and WSS with this certificate chain (needs --keyfile)")
    parser.add_argument("--keyfile", metavar="PEM",
                        help="the certificate's private key (mode 0600; needs --certfile)")
    args = parser.parse_args(argv)
    if (args.certfile is None) != (args.keyfile is None):
        parser.error("--certfile and --keyfile go together: give both (HTTPS) or neither (HTTP)")
    if not 0 < args.port < 65536:
        parser.error(f"--port must be in 1..65535, got {args.port}")
    if args.max_body < 1024:
        parser.error(f"--max-body must be at least 1024 bytes, got {args.max_body}")
    if not (math.isfinite(args.lease_s) and args.lease_s > 0):
        parser.error(f"--lease-s must be a positive number of seconds, got {args.lease_s:g}")
    if args.control_token_file is None:
        args.control_token_file = str(Path(args.data_dir) / CONTROL_TOKEN_NAME)
    return args


def fail(message: str) -> int:
    print(f"mpi-render-dashboard: error: {message}", file=sys.stderr)
    return EXIT_USAGE


async def serve(args: argparse.Namespace, token: str, control_token: str, store: TileStore,
                tls: ssl.SSLContext | None = None) -> int:
    app = make_app(store, token=token, control_token=control_token,
                   allowed_origins=args.allow_origin, max_body_bytes=args.max_body,
                   lease_s=args.lease_s)
    server = tornado.httpserver.HTTPServer(app, xheaders=True, max_body_size=args.max_body,
                                           idle_connection_timeout=120, ssl_options=tls)
    try:
        server.listen(args.port, args.host)
    except OSError as exc:
        reason = ("the port is already in use" if exc.errno == errno.EADDRINUSE
                  else exc.strerror)
        return fail(f"cannot listen on {args.host}:{args.port}: {reason} "
                    "(choose another --port or stop the other server)")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    scheme = "https" if tls else "http"
    print(f"mpi-render dashboard listening on {scheme}://{args.host}:{args.port}/ "
          f"(control token in {args.control_token_file})", flush=True)
    await stopping.wait()
    log.info("shutting down: closing WebSockets, finishing storage writes")
    server.stop()
    await shutdown(app)
    await asyncio.wait_for(server.close_all_connections(), timeout=5)
    return 0


def main(argv=None) -> int:
    """Entry point; returns the exit code (0 after a signal, 2 on bad setup)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        token = load_or_create_token(args.token_file)
    except TokenFileError as exc:
        return fail(str(exc))
    try:
        tls = server_context(args.certfile, args.keyfile) if args.certfile else None
    except TLSFileError as exc:
        return fail(str(exc))
    try:
        store = TileStore(args.data_dir)
    except StorageUnavailable as exc:
        return fail(str(exc))
    try:
        # after the store: the default file lives in the data dir, which the store creates
        control_token = load_or_create_token(args.control_token_file)
    except TokenFileError as exc:
        store.close()
        return fail(f"--control-token-file: {exc}")
    if control_token == token:
        store.close()
        return fail("--control-token-file holds the ingest token; the control token must differ "
                    "(delete the file to have one generated)")
    try:
        return asyncio.run(serve(args, token, control_token, store, tls))
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())

"""``mpi-render-dashboard``: command line, listening socket, signals, graceful shutdown."""
from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import ssl
import sys

import tornado.httpserver

from mpi_render.tls import TLSFileError, server_context
from mpi_render.tokens import TokenFileError, load_or_create_token

from .app import DEFAULT_MAX_BODY_BYTES, make_app, shutdown
from .records import StorageUnavailable
from .store import TileStore

log = logging.getLogger(__name__)
EXIT_USAGE = 2


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
                        help="bearer token file (mode 0600; generated when missing)")
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
    return args


def fail(message: str) -> int:
    print(f"mpi-render-dashboard: error: {message}", file=sys.stderr)
    return EXIT_USAGE


async def serve(args: argparse.Namespace, token: str, store: TileStore,
                tls: ssl.SSLContext | None = None) -> int:
    app = make_app(store, token=token, allowed_origins=args.allow_origin,
                   max_body_bytes=args.max_body)
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
    print(f"mpi-render dashboard listening on {scheme}://{args.host}:{args.port}/", flush=True)
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
        return asyncio.run(serve(args, token, store, tls))
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())

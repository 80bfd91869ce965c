"""A token-checking HTTP relay, for a cluster login node that compute nodes can reach.

In the ACTIVATE workflow the dashboard runs on the on-prem machine; a reverse SSH tunnel makes
it reachable on the cloud login node, but only on the login node's loopback. This relay listens
on an address the compute nodes can reach and forwards to the tunnel. Because that address is
open to the whole cluster, every request except ``GET healthz`` must carry the run's bearer token
(401 without, 403 wrong), so other cluster users can neither post tiles nor read runs through it.

    python -m mpi_render.launch.relay --listen 0.0.0.0:9123 --upstream http://127.0.0.1:9122/ \\
        --token-file ~/mpi-render-runs/42/cloud/token
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import signal
import sys
from pathlib import Path

import tornado.httpclient
import tornado.web

from ..site.client import check_dashboard_url

log = logging.getLogger(__name__)
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept")
RETURNED_HEADERS = ("Content-Type", "Retry-After")
DEFAULT_MAX_BODY_BYTES = 64 << 20
UPSTREAM_TIMEOUT_S = 120.0


class RelayHandler(tornado.web.RequestHandler):
    """Forwards one request to the upstream dashboard after checking the token."""

    SUPPORTED_METHODS = ("GET", "HEAD", "PUT", "POST")

    def initialize(self, upstream: str, token: str, client: tornado.httpclient.AsyncHTTPClient):
        self.upstream, self.token, self.client = upstream, token, client

    def _fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish({"error": message})

    def _token_error(self) -> tuple[int, str] | None:
        if self.request.method in ("GET", "HEAD") and self.request.path == "/healthz":
            return None  # liveness only: lets the workflow check the whole path before a render
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return 401, "this relay needs Authorization: Bearer <token>"
        if not hmac.compare_digest(header[7:].strip().encode(), self.token.encode()):
            return 403, "wrong token"
        return None

    async def _relay(self) -> None:
        refused = self._token_error()
        if refused:
            self._fail(*refused)
            return
        headers = {k: self.request.headers[k] for k in FORWARDED_HEADERS
                   if k in self.request.headers}
        headers["X-Forwarded-For"] = self.request.remote_ip or ""
        body = self.request.body if self.request.method in ("PUT", "POST") else None
        request = tornado.httpclient.HTTPRequest(
            self.upstream + self.request.uri.lstrip("/"), method=self.request.method,
            headers=headers, body=body, follow_redirects=False,
            request_timeout=UPSTREAM_TIMEOUT_S, decompress_response=False)
        try:
            answer = await self.client.fetch(request, raise_error=False)
        except OSError as exc:  # refused before any HTTP exchange
            self._fail(502, f"dashboard unreachable through the tunnel: {exc}")
            return
        if answer.code == 599:
            self._fail(502, f"dashboard unreachable through the tunnel: {answer.error}")
            return
        self.set_status(answer.code, answer.reason)
        for name in RETURNED_HEADERS:
            if name in answer.headers:
                self.set_header(name, answer.headers[name])
        self.finish(answer.body or b"")

    get = head = put = post = _relay


def make_app(upstream: str, token: str) -> tornado.web.Application:
    """The relay application forwarding every path to ``upstream`` (a root URL)."""
    client = tornado.httpclient.AsyncHTTPClient()
    return tornado.web.Application([(r"/.*", RelayHandler,
                                     dict(upstream=upstream, token=token, client=client))])


def _listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, got {text!r}")
    return host or "0.0.0.0", int(port)


async def serve(host: str, port: int, upstream: str, token: str, max_body_bytes: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = make_app(upstream, token).listen(port, host, max_body_size=max_body_bytes)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("relay on %s:%d -> %s", host, port, upstream)
    await stop.wait()
    server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mpi_render.launch.relay", description=(
        "Forward HTTP to a dashboard, refusing requests without its token."))
    parser.add_argument("--listen", required=True, help="HOST:PORT to listen on")
    parser.add_argument("--upstream", required=True, help="dashboard root URL")
    parser.add_argument("--token-file", required=True, type=Path, help="the dashboard's token")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="largest request body in bytes")
    args = parser.parse_args(argv)
    try:
        host, port = _listen_address(args.listen)
        upstream = check_dashboard_url(args.upstream)
        token = args.token_file.read_text().strip()
        if not token:
            raise ValueError(f"token file {args.token_file} is empty")
    except (ValueError, OSError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(message)s")
    asyncio.run(serve(host, port, upstream, token, args.max_body))
    return 0


if __name__ == "__main__":
    sys.exit(main())

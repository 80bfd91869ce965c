"""A token-checking HTTP relay, for a cluster login node that compute nodes can reach.

In the ACTIVATE workflow the dashboard runs on the on-prem machine; a reverse SSH tunnel makes
it reachable on the cloud login node, but only on the login node's loopback. This relay listens
on an address the compute nodes can reach and forwards to the tunnel. Because that address is
open to the whole cluster, every request except ``GET healthz`` must carry the run's bearer token
(401 without, 403 wrong), so other cluster users can neither post tiles nor read runs through it.

    python -m mpi_render.launch.relay --listen 0.0.0.0:9123 --upstream http://127.0.0.1:9122/ \\
        --token-file ~/mpi-render-runs/42/cloud/token

TLS on both sides (docs/TLS.md): with ``--certfile/--keyfile`` the relay listens with HTTPS, so
the token and the tiles cross the cluster network encrypted; an ``https://`` upstream is verified
(``--ca-file``, else the system's CAs). An upstream whose TLS cannot work (a rejected
certificate, a server that does not speak TLS) is exit 2 at start; later it is a 502 naming the
problem, also in the body's ``upstream_tls`` field, which tells a site job that this is a verdict
(exit 2) rather than an outage (a 502 without it, retried). Never a fall back to ``http://``.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import signal
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

import tornado.httpclient
import tornado.web

from ..site.client import CONNECT_TIMEOUT_S, UPSTREAM_TLS_FIELD, check_dashboard_url
from ..tls import (
    CA_FILE_ENV,
    certificate_problem,
    client_context,
    handshake_problem,
    plain_http_problem,
    server_context,
)
from ..tokens import read_token

log = logging.getLogger(__name__)
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept")
RETURNED_HEADERS = ("Content-Type", "Retry-After")
DEFAULT_MAX_BODY_BYTES = 64 << 20
UPSTREAM_TIMEOUT_S = 120.0


class RelayHandler(tornado.web.RequestHandler):
    """Forwards one request to the upstream dashboard after checking the token."""

    SUPPORTED_METHODS = ("GET", "HEAD", "PUT", "POST")

    def initialize(self, upstream: str, token: str, client: tornado.httpclient.AsyncHTTPClient,
                   upstream_tls: ssl.SSLContext | None):
        self.upstream, self.token, self.client = upstream, token, client
        self.upstream_tls = upstream_tls

    def _fail(self, status: int, message: str, **fields: str) -> None:
        self.set_status(status)
        self.finish({"error": message, **fields})

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
            request_timeout=UPSTREAM_TIMEOUT_S, decompress_response=False,
            ssl_options=self.upstream_tls)
        try:
            answer = await self.client.fetch(request, raise_error=False)
        except OSError as exc:  # refused before any HTTP exchange, or a TLS verdict
            problem = upstream_tls_problem(exc)
            if problem:
                self._fail(502, problem, **{UPSTREAM_TLS_FIELD: problem})
            else:
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


def make_app(upstream: str, token: str,
             upstream_tls: ssl.SSLContext | None = None) -> tornado.web.Application:
    """The relay application forwarding every path to ``upstream`` (a root URL).

    ``upstream_tls`` verifies an ``https://`` upstream (:func:`mpi_render.tls.client_context`).
    """
    client = tornado.httpclient.AsyncHTTPClient()
    return tornado.web.Application([(r"/.*", RelayHandler, dict(
        upstream=upstream, token=token, client=client, upstream_tls=upstream_tls))])


def upstream_tls_problem(exc: BaseException) -> str | None:
    """Why TLS with the upstream cannot work, if ``exc`` says so (its certificate is rejected,
    or it does not speak TLS); None for an outage."""
    problem = certificate_problem(exc)
    if problem:
        return f"the dashboard's TLS certificate was rejected: {problem}"
    problem = handshake_problem(exc)
    return f"TLS with the dashboard failed: {problem}" if problem else None


async def check_upstream_tls(upstream: str, upstream_tls: ssl.SSLContext) -> str | None:
    """Why TLS with the upstream cannot work, or None (also when it is unreachable now).

    A handshake that fails without a verdict (it timed out, the connection closed) is one when
    the upstream answers plain HTTP (:func:`mpi_render.tls.plain_http_problem`).
    """
    try:
        await tornado.httpclient.AsyncHTTPClient().fetch(
            upstream + "healthz", ssl_options=upstream_tls, connect_timeout=CONNECT_TIMEOUT_S,
            request_timeout=10, raise_error=False)
    except (OSError, tornado.httpclient.HTTPClientError) as exc:
        problem = upstream_tls_problem(exc)
        if problem is None:
            parts = urlsplit(upstream)
            plain = await asyncio.to_thread(plain_http_problem, parts.hostname, parts.port or 443,
                                            CONNECT_TIMEOUT_S)
            problem = plain and f"TLS with the dashboard failed: {plain}"
        return problem
    return None


def _listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, got {text!r}")
    return host or "0.0.0.0", int(port)


async def serve(host: str, port: int, upstream: str, token: str, max_body_bytes: int,
                tls: ssl.SSLContext | None = None,
                upstream_tls: ssl.SSLContext | None = None) -> int:
    """Serve until SIGTERM or SIGINT (exit 0); exit 2 when TLS with the upstream cannot work.

    Args:
        tls: the listening side's context (HTTPS), or None (HTTP).
        upstream_tls: verifies an ``https://`` upstream; None for ``http://``.
    """
    if upstream_tls is not None:
        problem = await check_upstream_tls(upstream, upstream_tls)
        if problem:
            log.error("%s: %s (a private CA: give it with --ca-file; a plain HTTP dashboard: "
                      "an http:// --upstream)", upstream, problem)
            return 2
    server = make_app(upstream, token, upstream_tls).listen(
        port, host, max_body_size=max_body_bytes, ssl_options=tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("relay on %s://%s:%d -> %s", "https" if tls else "http", host, port, upstream)
    await stop.wait()
    server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mpi_render.launch.relay", description=(
        "Forward HTTP to a dashboard, refusing requests without its token."))
    parser.add_argument("--listen", required=True, help="HOST:PORT to listen on")
    parser.add_argument("--upstream", required=True, help="dashboard root URL")
    parser.add_argument("--token-file", required=True, type=Path, help="the dashboard's token")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="largest request body in bytes")
    parser.add_argument("--certfile", help="listen with HTTPS: certificate chain (PEM)")
    parser.add_argument("--keyfile", help="the certificate's private key (PEM, mode 0600)")
    parser.add_argument("--ca-file", default=os.environ.get(CA_FILE_ENV),
                        help=f"CA(s) verifying an https upstream (default: ${CA_FILE_ENV}, "
                             "else the system's CAs)")
    args = parser.parse_args(argv)
    if (args.certfile is None) != (args.keyfile is None):
        parser.error("--certfile and --keyfile go together: give both (HTTPS) or neither")
    try:
        host, port = _listen_address(args.listen)
        upstream = check_dashboard_url(args.upstream)
        token = read_token(args.token_file)  # refused when group/others can read it
        tls = server_context(args.certfile, args.keyfile) if args.certfile else None
        upstream_tls = client_context(args.ca_file) if upstream.startswith("https:") else None
    except (ValueError, OSError) as exc:  # TLSFileError is a ValueError
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(message)s")
    return asyncio.run(serve(host, port, upstream, token, args.max_body, tls, upstream_tls))


if __name__ == "__main__":
    sys.exit(main())

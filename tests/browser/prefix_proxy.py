"""A small reverse proxy that puts the dashboard under a path prefix, as ACTIVATE's session proxy does.

The browser talks to ``http://127.0.0.1:PORT/me/session/user/dash/...``; the proxy strips the
prefix, rewrites ``Host`` to the upstream's, and adds ``X-Forwarded-Host`` (what the browser
used) and ``X-Forwarded-Prefix``. HTTP requests are forwarded whole; the two WebSocket paths
(``api/runs/{id}/ws`` and ``api/ws``) are relayed message by message, and an upstream refusal
(403 origin, 404 run) is passed back before the browser's upgrade is accepted. Requests outside the
prefix get 404 and are recorded in ``stray_paths`` so a test can assert the page never left it.

It runs its own asyncio loop in a daemon thread, so a synchronous test (Playwright's sync API) can
use it.
"""
from __future__ import annotations

import asyncio
import re
import threading

import tornado.httpclient
import tornado.web
import tornado.websocket

PREFIX = "/me/session/user/dash/"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length",
              "proxy-connection", "te", "trailer"}


def _upstream_headers(handler: tornado.web.RequestHandler, proxy: PrefixProxy) -> dict:
    headers = {k: v for k, v in handler.request.headers.get_all() if k.lower() not in HOP_BY_HOP}
    headers.update({"Host": proxy.upstream_host, "X-Forwarded-Host": handler.request.host,
                    "X-Forwarded-Prefix": PREFIX.rstrip("/"), "X-Forwarded-Proto": "http"})
    return headers


class HttpProxyHandler(tornado.web.RequestHandler):
    """Forwards one HTTP request under the prefix to the upstream and copies the answer back."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT")

    def initialize(self, proxy: PrefixProxy):
        self.proxy = proxy

    async def forward(self, path: str):
        query = f"?{self.request.query}" if self.request.query else ""
        method = self.request.method
        request = tornado.httpclient.HTTPRequest(
            f"http://{self.proxy.upstream_host}/{path}{query}", method=method,
            headers=_upstream_headers(self, self.proxy),
            body=self.request.body if method in ("POST", "PUT") else None,
            follow_redirects=False, decompress_response=False, request_timeout=60)
        response = await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599:
            self.set_status(502)
            self.finish({"error": f"upstream unreachable: {response.error}"})
            return
        self.set_status(response.code, response.reason)
        self.clear_header("Content-Type")
        for name, value in response.headers.get_all():
            if name.lower() not in HOP_BY_HOP:
                self.add_header(name, value)
        self.finish(response.body or None)  # finish(b"") would be a body, refused for a 304

    get = head = post = put = forward


class StrayHandler(tornado.web.RequestHandler):
    """Anything outside the prefix: what a page with an absolute URL would ask for."""

    def initialize(self, proxy: PrefixProxy):
        self.proxy = proxy

    def get(self, path: str):
        self.proxy.stray_paths.append(self.request.path)
        self.set_status(404)
        self.finish({"error": "outside the session prefix"})


class WebSocketProxyHandler(tornado.websocket.WebSocketHandler):
    """Relays one WebSocket; the upstream checks the origin (it sees X-Forwarded-Host)."""

    def initialize(self, proxy: PrefixProxy):
        self.proxy = proxy
        self.upstream = None

    def check_origin(self, origin: str) -> bool:
        return True  # the dashboard decides, with the headers this proxy adds

    async def get(self, path: str):
        query = f"?{self.request.query}" if self.request.query else ""
        request = tornado.httpclient.HTTPRequest(
            f"ws://{self.proxy.upstream_host}/{path}{query}",
            headers=_upstream_headers(self, self.proxy), request_timeout=10)
        try:
            self.upstream = await tornado.websocket.websocket_connect(request)
        except tornado.httpclient.HTTPClientError as err:
            self.set_status(err.code)
            self.finish(err.response.body if err.response else b"")
            return
        except OSError:
            self.set_status(502)
            self.finish({"error": "upstream unreachable"})
            return
        self.proxy.sockets.add(self)
        await super().get(path)

    def open(self, path: str):
        asyncio.ensure_future(self.pump())

    async def pump(self):
        while True:
            message = await self.upstream.read_message()
            if message is None:
                break
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except tornado.websocket.WebSocketClosedError:
                break
        self.close(self.upstream.close_code or 1001, self.upstream.close_reason)

    def on_message(self, message):
        if self.upstream is not None:
            self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self):
        self.proxy.sockets.discard(self)
        if self.upstream is not None:
            self.upstream.close()


class PrefixProxy:
    """The proxy on ``127.0.0.1:port``; ``url`` is the page's address under the prefix."""

    def __init__(self, upstream_port: int, port: int):
        self.upstream_host = f"127.0.0.1:{upstream_port}"
        self.port = port
        self.url = f"http://127.0.0.1:{port}{PREFIX}"
        self.stray_paths: list[str] = []
        self.sockets: set[WebSocketProxyHandler] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout_s: float = 10) -> PrefixProxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(ready),),
                                        name="prefix-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise AssertionError(f"prefix proxy did not start within {timeout_s} s")
        return self

    async def _serve(self, ready: threading.Event):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        prefix = re.escape(PREFIX)
        app = tornado.web.Application([
            (rf"{prefix}(api/(?:runs/[^/]+/)?ws)", WebSocketProxyHandler, {"proxy": self}),
            (rf"{prefix}(.*)", HttpProxyHandler, {"proxy": self}),
            (r"/(.*)", StrayHandler, {"proxy": self}),
        ])
        server = app.listen(self.port, "127.0.0.1")
        ready.set()
        await self._stop.wait()
        server.stop()
        for handler in list(self.sockets):
            handler.close(1001)
        await asyncio.sleep(0.05)  # let the close frames go out
        await server.close_all_connections()

    def stop(self, timeout_s: float = 10) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout_s)

    def __enter__(self) -> PrefixProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

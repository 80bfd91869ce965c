"""Helpers to drive a dashboard from tests and benchmarks: tile PNGs, batches, run configs.

Kept in the package (like ``tornado.testing``) so the dashboard, reliability and benchmark tests
share one way to build valid and invalid input. Needs Pillow and numpy (install requirements).
"""
from __future__ import annotations

import asyncio
import io
import json
import struct
import tempfile
import zlib

import numpy as np
from PIL import Image
from tornado.httpclient import HTTPRequest
from tornado.testing import AsyncHTTPTestCase
from tornado.websocket import websocket_connect

from mpi_render.config import RenderConfig
from mpi_render.encode import PNG_SIGNATURE, png_chunk
from mpi_render.protocol import decode_frame, encode_batch

from .app import make_app
from .store import TileStore


def tile_png(tile_px: int, seed: int = 0, noisy: bool = False) -> bytes:
    """A ``tile_px`` square 8-bit palette PNG whose pixels depend on ``seed``.

    ``noisy`` gives random (incompressible) pixels, for tests that need many bytes on the wire.
    """
    rng = np.random.default_rng(seed)
    if noisy:
        pixels = rng.integers(0, 256, (tile_px, tile_px), dtype=np.uint8)
    else:
        y, x = np.mgrid[0:tile_px, 0:tile_px]
        pixels = ((x + y + seed * 7) % 256).astype(np.uint8)
    image = Image.fromarray(pixels, "L").convert("P")
    image.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def bomb_png(side_px: int = 100_000) -> bytes:
    """A tiny PNG whose IHDR claims ``side_px`` square (a decompression bomb if ever decoded)."""
    ihdr = struct.pack(">IIBBBBB", side_px, side_px, 8, 0, 0, 0, 0)
    # a few KB of zlib that would inflate to gigabytes of zero rows
    idat = zlib.compress(b"\0" * (1 << 22), 9)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def tile_meta(row: int, col: int, site: str, **extra) -> dict:
    """Manifest entry of a tile with plausible metadata."""
    meta = {"row": row, "col": col, "site": site, "rank": 0, "host": "testhost",
            "render_ms": 1.5 + row + col, "encode_ms": 0.5, "iterations": 1000 * (row + 1)}
    meta.update(extra)
    return meta


def site_batch(config: RenderConfig, site: str, indices=None, tile_px: int | None = None,
               seed: int = 0, noisy: bool = False) -> tuple[str, bytes, list[tuple[int, int]]]:
    """A batch body with tiles of ``site`` (all it owns, or ``indices``).

    Returns:
        ``(content_type, body, [(row, col), ...])``.
    """
    indices = config.owned()[site] if indices is None else indices
    size = tile_px or config.tile_px
    tiles = [(tile_meta(t // config.grid, t % config.grid, site),
              tile_png(size, seed + t, noisy)) for t in indices]
    content_type, body = encode_batch(tiles)
    return content_type, body, [divmod(t, config.grid) for t in indices]


def small_config(**changes) -> RenderConfig:
    """A 4x4 grid of 32 px tiles over two sites (cheap for tests)."""
    base = {"grid": 4, "tile_px": 32, "palette": "fire", "max_iter": 64,
            "sites": ("cloud", "onprem")}
    base.update(changes)
    return RenderConfig(**base)


class DashboardTestCase(AsyncHTTPTestCase):
    """``AsyncHTTPTestCase`` on :func:`dashboard.app.make_app` with a temporary store.

    Subclasses may override :attr:`app_options` (keyword arguments of ``make_app``) and
    :attr:`store_options` (of ``TileStore``).
    """

    token = "test-token"
    control_token = "test-control-token"
    app_options: dict = {}
    store_options: dict = {}

    def get_app(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.store = TileStore(self._tmp.name, **self.store_options)
        self.app = make_app(self.store, token=self.token, control_token=self.control_token,
                            **self.app_options)
        self.services = self.app.settings["services"]
        return self.app

    def tearDown(self):
        super().tearDown()
        self.services.shutdown_executors()
        self.store.close()
        self._tmp.cleanup()

    def api(self, method: str, path: str, body=None, token: str | None = "",
            headers: dict | None = None) -> tuple[int, dict]:
        """One request; asserts the answer is JSON with nosniff. ``token=""`` = the right one."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        response = self.fetch("/" + path, method=method, body=body, headers=headers,
                              allow_nonstandard_methods=True, raise_error=False)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", response.headers
        assert response.headers.get("Content-Type", "").startswith("application/json"), \
            (response.code, response.headers.get("Content-Type"), response.body[:200])
        return response.code, json.loads(response.body)

    def create_run(self, run_id: str = "run1", config: RenderConfig | None = None) -> RenderConfig:
        config = config or small_config()
        status, doc = self.api("PUT", f"api/runs/{run_id}", config.run_json())
        assert status == 201, doc
        return config

    def post_batch(self, run_id: str, content_type: str, body: bytes, token: str | None = ""):
        return self.api("POST", f"api/runs/{run_id}/tiles", body, token,
                        headers={"Content-Type": content_type})

    def claim(self, run_id: str, site: str, max_tiles: int, token: str | None = ""):
        """``POST api/runs/{run_id}/claims``; returns ``(status, doc)``."""
        return self.api("POST", f"api/runs/{run_id}/claims",
                        {"site": site, "max_tiles": max_tiles}, token)

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.get_http_port()}/{path}"

    async def ws_connect(self, path: str, headers: dict | None = None):
        request = HTTPRequest(self.ws_url(path), headers=headers or {})
        return await websocket_connect(request)


async def read_until_seq(conn, last_seq: int, timeout_s: float = 10.0) -> list:
    """Read WebSocket messages until a tile frame with ``seq == last_seq`` (or fail on timeout).

    Returns every message: dicts for JSON text frames, ``(header, png)`` for tile frames.
    """
    messages = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = await asyncio.wait_for(conn.read_message(), max(left, 0.001))
        if message is None:
            raise AssertionError(f"socket closed ({conn.close_code} {conn.close_reason}) after "
                                 f"{len(messages)} messages, waiting for seq {last_seq}")
        if isinstance(message, bytes):
            messages.append(decode_frame(message))
            if messages[-1][0]["seq"] == last_seq:
                return messages
        else:
            messages.append(json.loads(message))

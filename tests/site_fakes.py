"""A small Tornado stand-in for the dashboard API, with scripted failures, for poster tests.

It implements just what the poster uses (``PUT``/``GET api/runs/{id}``, ``POST .../tiles``)
with the real wire format (:func:`mpi_render.protocol.parse_batch`), and can be told to fail the
next requests in chosen ways, so a test can check that nothing is lost and nothing is stored
twice. It runs its own asyncio loop in a thread on a free loopback port.
"""
from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter

import tornado.web
from support import free_port

from mpi_render.protocol import BatchError, parse_batch

# Scripted failures for the next POSTs, consumed in order:
#   "503", "429", "500"       answer that status without storing
#   "store-then-500"          store the batch, then answer 500 (the answer is "lost")
#   "drop"                    close the connection without any answer
#   "422"                     a permanent refusal
#   "forget"                  forget every run (as a dashboard with a fresh data dir), then 404


class FakeDashboard:
    """Attributes for asserts: ``tiles`` {(row, col): bytes}, ``fresh_stores`` Counter of how
    often each tile was newly stored, ``batch_sizes`` of accepted POSTs, ``streams`` (distinct
    TCP connections), ``runs`` {id: config}."""

    def __init__(self, token: str = "tok", port: int | None = None):
        self.token, self.port = token, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.failures: list[str] = []
        self.runs: dict[str, dict] = {}
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.sites: dict[tuple[int, int], str] = {}
        self.fresh_stores: Counter = Counter()
        self.batch_sizes: list[int] = []
        self.streams: set[int] = set()
        self.requests = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> FakeDashboard:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)),
                                        daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise AssertionError("fake dashboard did not start")
        return self

    async def _serve(self, ready: threading.Event) -> None:
        app = tornado.web.Application([
            (r"/api/runs/([^/]+)", RunHandler, {"fake": self}),
            (r"/api/runs/([^/]+)/tiles", TilesHandler, {"fake": self}),
        ])
        server = app.listen(self.port, "127.0.0.1")
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await self._stop.wait()
        server.stop()
        await server.close_all_connections()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> FakeDashboard:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Base(tornado.web.RequestHandler):
    def initialize(self, fake: FakeDashboard):
        self.fake = fake

    def prepare(self):
        self.fake.requests += 1
        self.fake.streams.add(id(self.request.connection.stream))

    def answer(self, status: int, doc: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc))

    def authorised(self) -> bool:
        if self.request.headers.get("Authorization") != f"Bearer {self.fake.token}":
            self.answer(403, {"error": "wrong token"})
            return False
        return True


class RunHandler(_Base):
    def put(self, run_id):
        if not self.authorised():
            return
        config = json.loads(self.request.body)
        known = self.fake.runs.setdefault(run_id, config)
        if known != config:
            self.answer(409, {"error": "different config"})
        else:
            self.answer(200, {"id": run_id, "config": config})

    def get(self, run_id):
        if run_id not in self.fake.runs:
            return self.answer(404, {"error": "unknown run"})
        config = self.fake.runs[run_id]
        grid = config["grid"]
        # the fake owns no split: a missing tile is reported for every site named in the config
        missing = [{"row": r, "col": c, "site": site} for site in config["sites"]
                   for r in range(grid) for c in range(grid) if (r, c) not in self.fake.tiles]
        self.answer(200, {"id": run_id, "missing": missing})


class TilesHandler(_Base):
    def post(self, run_id):
        if not self.authorised():
            return
        failure = self.fake.failures.pop(0) if self.fake.failures else None
        if failure == "drop":
            self.request.connection.stream.close()
            return
        if failure == "forget":
            self.fake.runs.clear()
        if run_id not in self.fake.runs:
            return self.answer(404, {"error": "unknown run"})
        if failure in ("503", "429", "500", "422"):
            return self.answer(int(failure), {"error": f"scripted {failure}"})
        try:
            batch = parse_batch(self.request.headers.get("Content-Type", ""), self.request.body)
        except BatchError as exc:
            return self.answer(400, {"error": str(exc)})
        accepted = duplicates = 0
        for meta, png in batch:
            key = (meta["row"], meta["col"])
            if key in self.fake.tiles:
                assert self.fake.tiles[key] == png, f"tile {key} resent with other bytes"
                duplicates += 1
            else:
                self.fake.tiles[key], self.fake.sites[key] = png, meta["site"]
                self.fake.fresh_stores[key] += 1
                accepted += 1
        if failure == "store-then-500":
            return self.answer(500, {"error": "stored, but the answer is lost"})
        self.fake.batch_sizes.append(len(batch))
        self.answer(200, {"accepted": accepted, "duplicates": duplicates, "seq": 0})

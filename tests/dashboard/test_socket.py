"""WebSocket fan-out on make_app(): hello, replay, live, no gap/duplicate, origins, slow clients."""
import asyncio
import base64
import json
import os
import socket
import threading

import pytest
from tornado.httpclient import HTTPClientError
from tornado.testing import gen_test

from dashboard.testing import DashboardTestCase, read_until_seq, site_batch, small_config, tile_png


def tiles_of(messages):
    return [m for m in messages if isinstance(m, tuple)]


def seqs(messages):
    return [header["seq"] for header, _ in tiles_of(messages)]


class StreamTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.config = self.create_run("r1")

    def post_site(self, site, indices=None, seed=0):
        content_type, body, _ = site_batch(self.config, site, indices, seed=seed)
        return self.post_batch("r1", content_type, body)

    async def apost_site(self, site, indices=None):
        content_type, body, _ = site_batch(self.config, site, indices)
        response = await self.http_client.fetch(
            self.get_url("/api/runs/r1/tiles"), method="POST", body=body,
            headers={"Content-Type": content_type, "Authorization": f"Bearer {self.token}"})
        return json.loads(response.body)

    @gen_test(timeout=30)
    async def test_hello_then_replay_then_replayed_then_live(self):
        await self.apost_site("cloud", [0, 1, 2])
        conn = await self.ws_connect("api/runs/r1/ws")
        hello = json.loads(await conn.read_message())
        assert hello["type"] == "hello" and hello["run"] == "r1" and hello["seq"] == 3
        assert hello["config"] == self.config.run_json() and hello["total"] == 16
        assert hello["sites"]["cloud"]["stored"] == 3 and "missing" not in hello
        replay = await read_until_seq(conn, 3)
        assert seqs(replay) == [1, 2, 3]
        header, png = replay[2]
        assert png == tile_png(32, 2)
        assert {k: header[k] for k in ("row", "col", "site", "rank", "host", "iterations")} == \
            {"row": 0, "col": 2, "site": "cloud", "rank": 0, "host": "testhost", "iterations": 1000}
        assert header["render_ms"] == 3.5 and header["encode_ms"] == 0.5 and header["stored_at"] > 0
        assert json.loads(await conn.read_message()) == {"type": "replayed", "seq": 3}
        await self.apost_site("onprem", [8, 9])
        live = await read_until_seq(conn, 5)
        assert seqs(live) == [4, 5] and len(live) == 2
        conn.close()

    @gen_test(timeout=30)
    async def test_since_skips_what_the_client_has(self):
        await self.apost_site("cloud", [0, 1, 2, 3])
        conn = await self.ws_connect("api/runs/r1/ws?since=2")
        await conn.read_message()  # hello
        assert seqs(await read_until_seq(conn, 4)) == [3, 4]
        conn.close()

    @gen_test(timeout=30)
    async def test_header_only_replay_up_to_images_after(self):
        await self.apost_site("cloud", [0, 1, 2])
        conn = await self.ws_connect("api/runs/r1/ws?since=0&images_after=2")
        assert json.loads(await conn.read_message())["seq"] == 3
        replay = await read_until_seq(conn, 3)
        assert seqs(replay) == [1, 2, 3]
        assert [png for _, png in tiles_of(replay)] == [b"", b"", tile_png(32, 2)]
        assert tiles_of(replay)[0][0]["render_ms"] == 1.5 and tiles_of(replay)[1][0]["col"] == 1
        assert json.loads(await conn.read_message()) == {"type": "replayed", "seq": 3}
        await self.apost_site("onprem", [8])
        (header, png), = tiles_of(await read_until_seq(conn, 4))
        assert png == tile_png(32, 8)
        conn.close()
        # images_after above the run's seq counts as that seq: live tiles come with their PNG
        conn = await self.ws_connect("api/runs/r1/ws?since=4&images_after=99")
        assert json.loads(await conn.read_message())["type"] == "hello"
        assert json.loads(await conn.read_message()) == {"type": "replayed", "seq": 4}
        await self.apost_site("onprem", [9])
        (header, png), = tiles_of(await read_until_seq(conn, 5))
        assert png == tile_png(32, 9)
        conn.close()

    def test_bad_since_unknown_run_and_bad_id_are_refused_before_the_upgrade(self):
        for query in ("since=-1", "since=abc", "since=1.5", "since="):
            status, doc = self.api("GET", f"api/runs/r1/ws?{query}", token=None)
            assert status == 400 and "since must be a non-negative integer" in doc["error"], query
        status, doc = self.api("GET", "api/runs/r1/ws?images_after=-3", token=None)
        assert status == 400 and "images_after must be a non-negative integer" in doc["error"]
        assert self.api("GET", "api/runs/nope/ws", token=None) == (404, {"error": "unknown run nope"})
        assert self.api("GET", "api/runs/..%2Fx/ws", token=None)[0] == 400
        status, doc = self.api("GET", "api/runs/r1/ws", token=None)  # no Upgrade header
        assert status == 400 and "WebSocket endpoint" in doc["error"]

    @gen_test(timeout=30)
    async def test_a_websocket_from_a_foreign_origin_gets_403(self):
        with pytest.raises(HTTPClientError) as refused:
            await self.ws_connect("api/runs/r1/ws", {"Origin": "http://evil.example"})
        assert refused.value.code == 403
        assert "not allowed" in json.loads(refused.value.response.body)["error"]
        with pytest.raises(HTTPClientError):
            await self.ws_connect("api/ws", {"Origin": "http://evil.example"})

    @gen_test(timeout=30)
    async def test_own_origin_and_a_host_rewriting_proxy_are_accepted(self):
        own = f"http://127.0.0.1:{self.get_http_port()}"
        conn = await self.ws_connect("api/runs/r1/ws", {"Origin": own})
        assert json.loads(await conn.read_message())["type"] == "hello"
        conn.close()
        proxied = await self.ws_connect("api/runs/r1/ws", {
            "Origin": "https://cloud.example.com", "X-Forwarded-Host": "cloud.example.com"})
        assert json.loads(await proxied.read_message())["type"] == "hello"
        proxied.close()

    @gen_test(timeout=30)
    async def test_new_runs_are_announced_on_tile_sockets_and_the_runs_feed(self):
        tiles = await self.ws_connect("api/runs/r1/ws")
        feed = await self.ws_connect("api/ws")
        assert [r["id"] for r in json.loads(await feed.read_message())["runs"]] == ["r1"]
        await tiles.read_message()  # hello
        assert json.loads(await tiles.read_message())["type"] == "replayed"
        response = await self.http_client.fetch(
            self.get_url("/api/runs/r2"), method="PUT", body=json.dumps(self.config.run_json()),
            headers={"Authorization": f"Bearer {self.token}"})
        assert response.code == 201
        for conn in (tiles, feed):
            message = json.loads(await conn.read_message())
            assert message["type"] == "run" and message["run"]["id"] == "r2"
            assert message["run"]["total"] == 16
            conn.close()

    @gen_test(timeout=30)
    async def test_a_closed_client_does_not_break_the_broadcast(self):
        gone = await self.ws_connect("api/runs/r1/ws")
        stays = await self.ws_connect("api/runs/r1/ws")
        gone.close()
        await self.apost_site("cloud", [0, 1])
        assert seqs(await read_until_seq(stays, 2)) == [1, 2]
        stays.close()


class MidReplayTest(DashboardTestCase):
    """Tiles stored while a client is replaying reach it once, in order, after the replay."""

    app_options = {"replay_chunk_tiles": 4}

    @gen_test(timeout=60)
    async def test_no_gap_and_no_duplicate_when_tiles_arrive_mid_replay(self):
        await self.replay_with_a_batch_arriving_midway(images_after=0)

    @gen_test(timeout=60)
    async def test_header_only_replay_has_no_gap_and_no_duplicate_mid_replay(self):
        await self.replay_with_a_batch_arriving_midway(images_after=20)

    async def replay_with_a_batch_arriving_midway(self, images_after: int):
        config = small_config(grid=8)
        await self.http_client.fetch(self.get_url("/api/runs/r1"), method="PUT",
                                     body=json.dumps(config.run_json()),
                                     headers={"Authorization": f"Bearer {self.token}"})
        content_type, body, _ = site_batch(config, "cloud")  # 32 tiles: seq 1..32
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {self.token}"}
        await self.http_client.fetch(self.get_url("/api/runs/r1/tiles"), method="POST",
                                     body=body, headers=headers)
        gate, calls, real = threading.Event(), [], self.store.tiles_since

        def gated(*args):  # the replay's second chunk waits until the live batch is stored
            calls.append(args)
            if len(calls) == 2:
                assert gate.wait(20)
            return real(*args)

        self.store.tiles_since = gated
        conn = await self.ws_connect(f"api/runs/r1/ws?images_after={images_after}")
        assert json.loads(await conn.read_message())["seq"] == 32
        first = await read_until_seq(conn, 4)
        content_type, body, _ = site_batch(config, "onprem")  # 32 tiles: seq 33..64
        response = await self.http_client.fetch(
            self.get_url("/api/runs/r1/tiles"), method="POST", body=body,
            headers=dict(headers, **{"Content-Type": content_type}))
        assert json.loads(response.body)["seq"] == 64
        assert len(calls) == 2, "the live batch must have been stored during the replay"
        gate.set()
        rest = await read_until_seq(conn, 64)
        messages = first + rest
        assert seqs(messages) == list(range(1, 65))
        marker = messages.index({"type": "replayed", "seq": 32})
        assert seqs(messages[:marker]) == list(range(1, 33))
        assert [header["seq"] for header, png in tiles_of(messages) if png == b""] == \
            list(range(1, images_after + 1))
        conn.close()


class SlowClientTest(DashboardTestCase):
    """A client that stops reading is dropped; a fast one and ingest keep going."""

    app_options = {"client_buffer_bytes": 256 * 1024}

    def raw_ws_that_never_reads(self, path):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.get_http_port()))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{self.get_http_port()}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        return sock

    @gen_test(timeout=120)
    async def test_slow_client_dropped_while_fast_client_gets_everything(self):
        config = small_config(grid=8, tile_px=512)
        await self.http_client.fetch(self.get_url("/api/runs/r1"), method="PUT",
                                     body=json.dumps(config.run_json()),
                                     headers={"Authorization": f"Bearer {self.token}"})
        slow = self.raw_ws_that_never_reads("api/runs/r1/ws")
        fast = await self.ws_connect("api/runs/r1/ws")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while self.services.hub.count("r1") < 2:
            assert loop.time() < deadline, "both clients must be registered"
            await asyncio.sleep(0.02)
        received = asyncio.ensure_future(read_until_seq(fast, 64, timeout_s=100))
        try:
            # 8 batches of 8 incompressible 512 px tiles (~2 MB each, 16 MB in all): far more
            # than the kernel's socket buffers (tcp_wmem max 4 MB) can hide
            for first in range(0, 64, 8):
                site = "cloud" if first < 32 else "onprem"
                content_type, body, _ = site_batch(config, site, range(first, first + 8),
                                                   noisy=True)
                response = await self.http_client.fetch(
                    self.get_url("/api/runs/r1/tiles"), method="POST", body=body,
                    headers={"Content-Type": content_type,
                             "Authorization": f"Bearer {self.token}"}, request_timeout=30)
                assert response.code == 200
            messages = await received
            assert seqs(messages) == list(range(1, 65))
            assert self.services.hub.count("r1") == 1, "the slow client must have been dropped"
        finally:
            slow.close()
            fast.close()


class AllowedOriginsTest(DashboardTestCase):
    app_options = {"allowed_origins": ["https://OK.example/, http://b.example:8080"]}

    @gen_test(timeout=30)
    async def test_listed_origins_are_accepted_and_others_refused(self):
        for origin in ("https://ok.example", "http://b.example:8080"):
            conn = await self.ws_connect("api/ws", {"Origin": origin})
            assert json.loads(await conn.read_message())["type"] == "runs"
            conn.close()
        for origin in ("http://ok.example", "http://b.example", "null"):
            with pytest.raises(HTTPClientError) as refused:
                await self.ws_connect("api/ws", {"Origin": origin})
            assert refused.value.code == 403, origin


class AnyOriginTest(DashboardTestCase):
    app_options = {"allowed_origins": ["*"]}

    @gen_test(timeout=30)
    async def test_star_accepts_any_origin(self):
        conn = await self.ws_connect("api/ws", {"Origin": "http://anything.example"})
        assert json.loads(await conn.read_message())["type"] == "runs"
        conn.close()

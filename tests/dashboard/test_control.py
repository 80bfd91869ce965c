"""The control token and cancelling runs on make_app(): the auth matrix, 410s, persistence, WS."""
import json
import sqlite3

from tornado.testing import gen_test

from dashboard.store import TileStore
from dashboard.testing import DashboardTestCase, small_config, tile_meta, tile_png
from mpi_render.protocol import encode_batch

DYNAMIC = small_config(split="dynamic")


class ControlTokenTest(DashboardTestCase):
    def test_the_control_token_may_create_and_cancel_runs(self):
        body = DYNAMIC.run_json()
        assert self.api("PUT", "api/runs/r1", body, token=self.control_token)[0] == 201
        assert self.api("PUT", "api/runs/r1", body, token=self.control_token)[0] == 200
        status, doc = self.api("POST", "api/runs/r1/cancel", token=self.control_token)
        assert (status, doc) == (200, {"id": "r1", "cancelled": True})

    def test_the_control_token_may_not_post_tiles_claim_or_list_work(self):
        self.create_run("r1", DYNAMIC)
        content_type, body = encode_batch([(tile_meta(0, 0, "cloud"), tile_png(32))])
        answers = [
            self.post_batch("r1", content_type, body, token=self.control_token),
            self.claim("r1", "cloud", 1, token=self.control_token),
            self.api("GET", "api/work?site=cloud", token=self.control_token),
        ]
        for status, doc in answers:
            assert status == 403 and "control token may only" in doc["error"], doc
        assert self.api("GET", "api/runs/r1", token=None)[1]["stored"] == 0

    def test_cancel_and_work_need_a_token(self):
        self.create_run("r1", DYNAMIC)
        for path, method in (("api/runs/r1/cancel", "POST"), ("api/work?site=cloud", "GET")):
            assert self.api(method, path, b"" if method == "POST" else None, token=None)[0] == 401
            assert self.api(method, path, b"" if method == "POST" else None,
                            token="wrong")[0] == 403
        assert self.api("GET", "api/runs/r1", token=None)[1]["cancelled"] is False

    def test_the_ingest_token_may_cancel_too(self):
        self.create_run("r1", DYNAMIC)
        assert self.api("POST", "api/runs/r1/cancel")[0] == 200


class CancelTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.create_run("r1", DYNAMIC)

    def test_cancel_is_idempotent_and_shows_in_the_run_document_and_list(self):
        assert self.api("POST", "api/runs/r1/cancel") == (200, {"id": "r1", "cancelled": True})
        assert self.api("POST", "api/runs/r1/cancel") == (200, {"id": "r1", "cancelled": True})
        assert self.api("GET", "api/runs/r1", token=None)[1]["cancelled"] is True
        assert self.api("GET", "api/runs", token=None)[1]["runs"][0]["cancelled"] is True

    def test_put_after_cancel_confirms_the_same_config_and_refuses_another(self):
        self.api("POST", "api/runs/r1/cancel")
        status, doc = self.api("PUT", "api/runs/r1", DYNAMIC.run_json())
        assert status == 200 and doc["cancelled"] is True
        assert self.api("PUT", "api/runs/r1", small_config(grid=5).run_json())[0] == 409

    def test_cancel_errors(self):
        assert self.api("POST", "api/runs/nope/cancel")[0] == 404
        assert self.api("POST", "api/runs/..%2Fx/cancel")[0] == 400

    @gen_test
    async def test_the_runs_websocket_clients_are_told(self):
        conn = await self.ws_connect("api/runs/r1/ws")
        assert json.loads(await conn.read_message())["type"] == "hello"
        assert json.loads(await conn.read_message())["type"] == "replayed"
        response = await self.http_client.fetch(
            self.get_url("/api/runs/r1/cancel"), method="POST", body=b"",
            headers={"Authorization": f"Bearer {self.token}"})
        assert response.code == 200
        assert json.loads(await conn.read_message()) == {"type": "cancelled", "run": "r1"}
        conn.close()

    @gen_test
    async def test_a_client_joining_a_cancelled_run_sees_it_in_hello(self):
        await self.http_client.fetch(self.get_url("/api/runs/r1/cancel"), method="POST", body=b"",
                                     headers={"Authorization": f"Bearer {self.token}"})
        conn = await self.ws_connect("api/runs/r1/ws")
        hello = json.loads(await conn.read_message())
        assert hello["type"] == "hello" and hello["cancelled"] is True
        conn.close()


def test_a_restart_keeps_tiles_and_cancellation(tmp_path):
    store = TileStore(tmp_path)
    store.create_run("r1", DYNAMIC)
    store.create_run("r2", DYNAMIC)
    store.add_tiles("r1", [(tile_meta(0, 0, "cloud"), tile_png(32))])
    assert store.cancel_run("r1") is True and store.cancel_run("r1") is False
    store.close()
    reopened = TileStore(tmp_path)
    try:
        assert reopened.run_doc("r1")["cancelled"] is True and reopened.run_doc("r1")["stored"] == 1
        assert reopened.run_doc("r2")["cancelled"] is False
        assert reopened.unstored_tiles("r1", "cloud") is None  # nothing more to hand out
        assert reopened.unstored_tiles("r2", "cloud") == list(range(16))
    finally:
        reopened.close()


def test_a_database_of_an_older_dashboard_is_migrated(tmp_path):
    with sqlite3.connect(tmp_path / "dashboard.sqlite3") as conn:  # the schema before cancel
        conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, config TEXT NOT NULL,"
                     " created_at REAL NOT NULL)")
        conn.execute("INSERT INTO runs VALUES ('old', ?, 1.0)", (json.dumps(DYNAMIC.run_json()),))
    conn.close()
    store = TileStore(tmp_path)
    try:
        assert store.run_doc("old")["cancelled"] is False
        assert store.cancel_run("old") is True
    finally:
        store.close()
    reopened = TileStore(tmp_path)
    assert reopened.run_doc("old")["cancelled"] is True
    reopened.close()

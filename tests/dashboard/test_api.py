"""HTTP API on make_app(): runs, ingest (every bad input -> right 4xx, nothing stored), images."""
import io
import json
import sqlite3

import pytest
from PIL import Image

from dashboard.store import TileStore
from dashboard.testing import (
    DashboardTestCase,
    bomb_png,
    site_batch,
    small_config,
    tile_meta,
    tile_png,
)
from mpi_render.locations import LOCATIONS
from mpi_render.protocol import encode_batch


class RunsTest(DashboardTestCase):
    def test_put_creates_then_confirms_then_refuses_a_different_config(self):
        config = small_config()
        status, doc = self.api("PUT", "api/runs/r1", config.run_json())
        assert status == 201 and doc["id"] == "r1" and doc["config"] == config.run_json()
        assert self.api("PUT", "api/runs/r1", config.run_json())[0] == 200
        status, doc = self.api("PUT", "api/runs/r1", small_config(grid=5).run_json())
        assert status == 409 and "different config" in doc["error"]

    def test_a_deep_view_is_stored_and_returned_digit_for_digit_and_equal_as_decimals(self):
        cx = ("-1." + "99996619445037030418434688506350579675531241540724851511761922944801584" * 70
              )[:4990]
        body = dict(small_config().run_json(), max_iter=100_000_000,
                    view={"cx": cx, "cy": "0", "width": "1.7e-157"})
        status, doc = self.api("PUT", "api/runs/deep", body)
        assert status == 201 and doc["config"]["view"] == body["view"]
        respelled = dict(body, view={"cx": cx + "000", "cy": "-0e5", "width": "17e-158"})
        status, doc = self.api("PUT", "api/runs/deep", respelled)
        assert status == 200 and doc["config"]["view"] == body["view"]  # the first spelling
        other = dict(body, view={"cx": cx[:-1], "cy": "0", "width": "1.7e-157"})
        assert self.api("PUT", "api/runs/deep", other)[0] == 409
        reopened = TileStore(self._tmp.name)  # what a restarted dashboard reads back
        try:
            assert reopened.run_doc("deep")["config"]["view"] == body["view"]
        finally:
            reopened.close()

    def test_bad_view_values_are_422_naming_the_field_and_store_nothing(self):
        base = small_config().run_json()
        for view, message in (({"cx": "NaN"}, "cx must be a decimal like"),
                              ({"cy": "1e-"}, "cy must be a decimal like"),
                              ({"width": "0"}, "width must be positive"),
                              ({"width": "-1.5e-300"}, "width must be positive"),
                              ({"cx": "1" * 5001}, "cx has 5001 characters"),
                              ({"cx": "1e-99999999"}, "cx is below 1e-5000"),
                              ({"cx": [1]}, "cx must be a number or a decimal string"),
                              ({"cx": True}, "cx must be a number or a decimal string")):
            body = dict(base, view=dict(base["view"], **view))
            status, doc = self.api("PUT", "api/runs/bad", body)
            assert status == 422 and message in doc["error"], (view, doc)
        status, doc = self.api("PUT", "api/runs/bad", b'{"view": {"cx": NaN}}')
        assert status in (400, 422) and "error" in doc
        assert self.api("GET", "api/runs/bad", token=None)[0] == 404
        assert self.api("GET", "api/runs", token=None)[1] == {"runs": []}

    def test_get_run_document(self):
        self.create_run("r1")
        status, doc = self.api("GET", "api/runs/r1", token=None)
        assert status == 200 and doc["total"] == 16 and doc["stored"] == 0 and doc["seq"] == 0
        assert doc["sites"]["cloud"] == {"owned": 8, "stored": 0, "render_ms_mean": None,
                                         "first_at": None, "last_at": None}
        assert doc["missing"][0] == {"row": 0, "col": 0, "site": "cloud"}
        assert doc["missing"][-1] == {"row": 3, "col": 3, "site": "onprem"}

    def test_list_is_newest_first(self):
        for name in ("old", "new"):
            self.create_run(name)
        status, doc = self.api("GET", "api/runs", token=None)
        assert status == 200 and [r["id"] for r in doc["runs"]] == ["new", "old"]
        assert set(doc["runs"][0]) == {"id", "created_at", "total", "stored", "complete", "cancelled",
                                       "parent"}

    def test_a_parent_is_kept_with_the_run_and_is_not_part_of_its_config(self):
        config = small_config()
        self.create_run("root")
        body = dict(config.run_json(), parent="root")
        status, doc = self.api("PUT", "api/runs/child", body)
        assert status == 201 and doc["parent"] == "root" and "parent" not in doc["config"]
        # The same config with another parent, or none, confirms the run; the first parent stays.
        self.create_run("other")
        assert self.api("PUT", "api/runs/child", dict(body, parent="other"))[1]["parent"] == "root"
        assert self.api("PUT", "api/runs/child", config.run_json())[1]["parent"] == "root"
        assert self.api("GET", "api/runs/child", token=None)[1]["parent"] == "root"
        listed = {run["id"]: run["parent"] for run in self.api("GET", "api/runs", token=None)[1]["runs"]}
        assert listed == {"child": "root", "other": None, "root": None}
        reopened = TileStore(self._tmp.name)  # what a restarted dashboard reads back
        try:
            assert reopened.run_summary("child")["parent"] == "root"
        finally:
            reopened.close()

    def test_a_bad_parent_is_422_and_stores_nothing(self):
        self.create_run("root")
        body = small_config().run_json()
        for parent, message in (("nope", "parent run nope does not exist"),
                                ("../x", "parent: run id must match"),
                                (7, "parent must be a run id"),
                                ("child", "a run cannot be its own parent")):
            status, doc = self.api("PUT", "api/runs/child", dict(body, parent=parent))
            assert status == 422 and message in doc["error"], (parent, doc)
        assert self.api("GET", "api/runs/child", token=None)[0] == 404

    def test_put_needs_the_token(self):
        body = small_config().run_json()
        assert self.api("PUT", "api/runs/r1", body, token=None)[0] == 401
        assert self.api("PUT", "api/runs/r1", body, token="wrong")[0] == 403
        assert self.api("GET", "api/runs", token=None)[1] == {"runs": []}

    def test_put_bad_bodies(self):
        status, doc = self.api("PUT", "api/runs/r1", b"{not json")
        assert status == 400 and "not JSON" in doc["error"]
        status, doc = self.api("PUT", "api/runs/r1", dict(small_config().run_json(), grid=0))
        assert status == 422 and doc["error"].startswith("grid must be an integer")
        status, doc = self.api("PUT", "api/runs/r1", {"grid": 4})
        assert status == 422 and "missing field" in doc["error"]

    def test_bad_run_ids_and_unknown_runs(self):
        for bad in ("..", "..%2F..%2Fetc", "a" * 1024, "%3Cb%3E"):
            status, doc = self.api("GET", f"api/runs/{bad}", token=None)
            assert status == 400 and "run id must match" in doc["error"], bad
            assert self.api("PUT", f"api/runs/{bad}", small_config().run_json())[0] == 400
        status, doc = self.api("GET", "api/runs/nope", token=None)
        assert status == 404 and doc == {"error": "unknown run nope"}

    def test_locations_are_the_clis_list_as_exact_views(self):
        status, doc = self.api("GET", "api/locations", token=None)
        assert status == 200 and [place["name"] for place in doc["locations"]] == list(LOCATIONS)
        flake = next(place for place in doc["locations"] if place["name"] == "flake")
        assert flake == LOCATIONS["flake"].json()
        assert flake["view"]["width"] == "1.7e-157" and len(flake["view"]["cx"]) > 150
        assert flake["max_iter"] == 50_000

    def test_health_unknown_path_and_page(self):
        assert self.api("GET", "healthz", token=None) == (200, {"ok": True})
        assert self.api("GET", "no/such/thing", token=None)[0] == 404
        page = self.fetch("/")
        assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert page.headers["X-Content-Type-Options"] == "nosniff"


class IngestTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.config = self.create_run("r1")

    def assert_nothing_stored(self):
        doc = self.api("GET", "api/runs/r1", token=None)[1]
        assert (doc["stored"], doc["seq"]) == (0, 0), doc
        assert self.store.tiles_since("r1", 0, 1 << 30, 10) == []

    def post_tiles(self, tiles, run_id="r1", token=""):
        return self.post_batch(run_id, *encode_batch(tiles), token=token)

    def test_a_good_batch_is_stored_with_seqs_and_stats(self):
        content_type, body, keys = site_batch(self.config, "cloud")
        status, doc = self.post_batch("r1", content_type, body)
        assert status == 200 and doc == {"accepted": 8, "duplicates": 0, "seq": 8}
        run = self.api("GET", "api/runs/r1", token=None)[1]
        assert run["stored"] == 8 and run["sites"]["cloud"]["stored"] == 8
        assert run["sites"]["cloud"]["render_ms_mean"] == pytest.approx(
            sum(1.5 + r + c for r, c in keys) / 8)
        assert [(m["row"], m["col"]) for m in run["missing"]] == [divmod(t, 4) for t in range(8, 16)]

    def test_the_same_batch_twice_is_idempotent(self):
        content_type, body, _ = site_batch(self.config, "onprem")
        assert self.post_batch("r1", content_type, body)[1] == {"accepted": 8, "duplicates": 0,
                                                               "seq": 8}
        assert self.post_batch("r1", content_type, body)[1] == {"accepted": 0, "duplicates": 8,
                                                               "seq": 8}
        assert self.api("GET", "api/runs/r1", token=None)[1]["stored"] == 8

    def test_different_bytes_for_a_stored_tile_is_409_and_stores_nothing_of_the_batch(self):
        self.post_tiles([(tile_meta(0, 0, "cloud"), tile_png(32, 1))])
        status, doc = self.post_tiles([(tile_meta(0, 1, "cloud"), tile_png(32, 2)),
                                       (tile_meta(0, 0, "cloud"), tile_png(32, 3))])
        assert status == 409 and "r0c0" in doc["error"]
        assert self.api("GET", "api/runs/r1", token=None)[1]["stored"] == 1

    def test_auth_and_run_errors(self):
        good = [(tile_meta(0, 0, "cloud"), tile_png(32))]
        cases = [({"token": None}, 401), ({"token": "wrong"}, 403),
                 ({"run_id": "nope"}, 404), ({"run_id": "..%2F..%2Fx"}, 400),
                 ({"run_id": "x" * 1024}, 400)]
        for kwargs, expected in cases:
            status, doc = self.post_tiles(good, **kwargs)
            assert status == expected and doc["error"], (kwargs, status, doc)
        self.assert_nothing_stored()

    def test_bad_tiles_are_422_with_the_reason_and_nothing_stored(self):
        good = (tile_meta(0, 0, "cloud"), tile_png(32))
        cases = {
            "outside the 4x4 grid": (tile_meta(4, 0, "cloud"), tile_png(32)),
            "belongs to site 'onprem'": (tile_meta(3, 3, "cloud"), tile_png(32)),
            "not a site of this run": (tile_meta(0, 1, "<b>mars</b>"), tile_png(32)),
            "not a PNG": (tile_meta(0, 1, "cloud"), b"GIF89a" + bytes(200)),
            "PNG is 16x16, must be 32x32": (tile_meta(0, 1, "cloud"), tile_png(16)),
            "PNG is 100000x100000": (tile_meta(0, 1, "cloud"), bomb_png()),
            "truncated": (tile_meta(0, 1, "cloud"), tile_png(32)[:-20]),
        }
        for reason, bad in cases.items():
            status, doc = self.post_tiles([good, bad])
            assert status == 422 and reason in doc["error"], (reason, doc)
        self.assert_nothing_stored()

    def test_malformed_batches_are_400_and_nothing_stored(self):
        content_type, body = encode_batch([(tile_meta(0, 0, "cloud"), tile_png(32))])
        manifest_part = lambda text: (  # noqa: E731 - a tiny body builder for this table
            b'--B\r\nContent-Disposition: form-data; name="manifest"\r\n\r\n' + text
            + b'\r\n--B\r\nContent-Disposition: form-data; name="r0c0"; filename="r0c0.png"'
            b"\r\n\r\n" + tile_png(32) + b"\r\n--B--\r\n")
        cases = {
            "truncated": (content_type, body[: len(body) // 2]),
            "not JSON": ("multipart/form-data; boundary=B", manifest_part(b"[{oops")),
            "missing": ("multipart/form-data; boundary=B", manifest_part(b'[{"row": 0}]')),
            "multipart": ("application/json", b"[]"),
            "render_ms": ("multipart/form-data; boundary=B", manifest_part(
                b'[{"row": 0, "col": 0, "site": "cloud", "render_ms": "slow"}]')),
        }
        for reason, (ctype, payload) in cases.items():
            status, doc = self.post_batch("r1", ctype, payload)
            assert status == 400 and reason in doc["error"], (reason, doc)
        self.assert_nothing_stored()

    def test_stored_tile_and_mosaic_images(self):
        png = tile_png(32, 5)
        self.post_tiles([(tile_meta(0, 1, "cloud"), png)])
        tile = self.fetch("/api/runs/r1/tiles/0/1.png")
        assert tile.code == 200 and tile.body == png
        assert tile.headers["Content-Type"] == "image/png"
        assert tile.headers["X-Content-Type-Options"] == "nosniff"
        assert self.api("GET", "api/runs/r1/tiles/0/0.png", token=None)[0] == 404
        mosaic = self.fetch("/api/runs/r1/image.png?scale=0.5")
        assert mosaic.code == 200 and mosaic.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(mosaic.body))
        assert image.size == (64, 64) and image.mode == "RGB"
        assert image.getpixel((0, 0)) == (48, 48, 48)  # missing tile: dark grey
        expected = Image.open(io.BytesIO(png)).convert("RGB").resize((16, 16), Image.BILINEAR)
        assert image.crop((16, 0, 32, 16)).tobytes() == expected.tobytes()

    def test_mosaic_scale_errors(self):
        for scale in ("0", "-1", "1.5", "abc", "nan"):
            status, doc = self.api("GET", f"api/runs/r1/image.png?scale={scale}", token=None)
            assert status == 400 and "scale must be" in doc["error"], scale
        self.create_run("huge", small_config(grid=64, tile_px=512))
        status, doc = self.api("GET", "api/runs/huge/image.png", token=None)
        assert status == 422 and "use scale <= 0.5000" in doc["error"]


class LimitsTest(DashboardTestCase):
    app_options = {"max_body_bytes": 64 * 1024}
    store_options = {"max_db_bytes": 96 * 1024}

    def test_a_body_over_the_limit_is_413_and_nothing_stored(self):
        config = self.create_run("r1")
        content_type, body, _ = site_batch(config, "cloud", tile_px=128, noisy=True)
        assert len(body) > 64 * 1024
        self.create_run("big", small_config(tile_px=128))
        status, doc = self.post_batch("big", content_type, body)
        assert status == 413 and "limit" in doc["error"]
        assert self.api("GET", "api/runs/big", token=None)[1]["stored"] == 0

    def test_a_full_disk_is_507_and_the_database_stays_sound(self):
        config = self.create_run("r1", small_config(grid=8, tile_px=64))
        stored = 0
        for index in range(32):  # 32 noisy 64 px tiles are ~140 KB: the 96 KB quota fills up
            content_type, body, _ = site_batch(config, "cloud", [index], noisy=True)
            status, doc = self.post_batch("r1", content_type, body)
            if status != 200:
                break
            stored += 1
        assert status == 507 and "full" in doc["error"], doc
        assert 0 < stored < 32
        assert self.api("GET", "api/runs/r1", token=None)[1]["stored"] == stored
        with sqlite3.connect(self.store.path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT count(*) FROM tiles").fetchone() == (stored,)

    def test_a_chunked_body_over_the_limit_is_413_too(self):
        self.create_run("r1")

        async def produce(write):  # no Content-Length: 96 KB, over the 64 KB limit
            for _ in range(24):
                await write(b"x" * 4096)

        response = self.fetch("/api/runs/r1/tiles", method="POST", body_producer=produce,
                              headers={"Authorization": f"Bearer {self.token}",
                                       "Content-Type": "multipart/form-data; boundary=B"},
                              raise_error=False)
        assert response.code == 413, (response.code, response.body)
        assert "exceeds" in json.loads(response.body)["error"]
        assert self.api("GET", "api/runs/r1", token=None)[1]["stored"] == 0

"""``GET api/work`` on make_app(): which runs a serving site is offered, in what order, and the
long-poll (wakes within well under a second, times out after wait_s, never spins)."""
import asyncio
import json
import time

from tornado.testing import gen_test

from dashboard.testing import DashboardTestCase, small_config, tile_meta, tile_png
from mpi_render.protocol import encode_batch

DYNAMIC = small_config(split="dynamic")


class WorkListTest(DashboardTestCase):
    def work(self, site="cloud", **query):
        args = "&".join(f"{k}={v}" for k, v in {"site": site, **query}.items())
        return self.api("GET", f"api/work?{args}")

    def ids(self, site="cloud"):
        status, doc = self.work(site)
        assert status == 200, doc
        return [run["id"] for run in doc["runs"]]

    def test_runs_are_listed_newest_first_with_config_and_lease_length(self):
        self.create_run("old", DYNAMIC)
        self.create_run("new", small_config())
        status, doc = self.work()
        assert status == 200 and doc["lease_s"] == 30
        assert [r["id"] for r in doc["runs"]] == ["new", "old"]
        assert doc["runs"][1]["config"] == DYNAMIC.run_json()
        assert doc["runs"][0]["created_at"] >= doc["runs"][1]["created_at"]

    def test_only_runs_with_a_tile_the_site_could_claim_now(self):
        self.create_run("other-sites", small_config(sites=("mars", "venus"), split="dynamic"))
        self.create_run("cancelled", DYNAMIC)
        self.api("POST", "api/runs/cancelled/cancel")
        self.create_run("leased", DYNAMIC)
        self.claim("leased", "onprem", 16)
        self.create_run("complete", small_config(grid=1))
        tiles = [(tile_meta(0, 0, "cloud"), tile_png(32))]
        assert self.post_batch("complete", *encode_batch(tiles))[0] == 200
        self.create_run("static", small_config())  # cloud owns tiles 0..7
        cloud_tiles = [(tile_meta(t // 4, t % 4, "cloud"), tile_png(32, t)) for t in range(8)]
        assert self.post_batch("static", *encode_batch(cloud_tiles))[0] == 200
        assert self.ids("cloud") == []
        assert self.ids("onprem") == ["static"]
        assert self.ids("mars") == ["other-sites"]

    def test_a_dynamic_end_game_backup_is_work_for_a_faster_site(self):
        self.create_run("tail", DYNAMIC)
        fast = [(tile_meta(t // 4, t % 4, "cloud", render_ms=100.0), tile_png(32, t))
                for t in range(14)]
        slow = [(tile_meta(3, 2, "onprem", render_ms=9000.0), tile_png(32, 14))]
        assert self.post_batch("tail", *encode_batch(fast + slow))[0] == 200
        self.claim("tail", "onprem", 1)  # the last tile, leased to the slow site
        assert self.ids("cloud") == ["tail"] and self.ids("onprem") == []

    def test_bad_queries_are_400(self):
        for query, reason in (("", "site must match"), ("site=a%20b", "site must match"),
                              ("site=" + "x" * 33, "site must match"),
                              ("site=cloud&wait_s=-1", "wait_s must be"),
                              ("site=cloud&wait_s=25.5", "wait_s must be"),
                              ("site=cloud&wait_s=nan", "wait_s must be"),
                              ("site=cloud&wait_s=soon", "wait_s must be")):
            status, doc = self.api("GET", f"api/work?{query}")
            assert status == 400 and reason in doc["error"], (query, doc)


class LongPollClient(DashboardTestCase):
    """Asynchronous requests from inside a test's own event loop."""

    async def fetch_work(self, query: str) -> tuple[float, dict]:
        """GET api/work?query; returns (seconds it took, answer)."""
        started = time.monotonic()
        response = await self.http_client.fetch(
            self.get_url(f"/api/work?{query}"), request_timeout=30,
            headers={"Authorization": f"Bearer {self.token}"})
        return time.monotonic() - started, json.loads(response.body)

    async def put_run(self, run_id: str, config=DYNAMIC) -> float:
        response = await self.http_client.fetch(
            self.get_url(f"/api/runs/{run_id}"), method="PUT", body=json.dumps(config.run_json()),
            headers={"Authorization": f"Bearer {self.token}"})
        assert response.code == 201
        return time.monotonic()


class LongPollTest(LongPollClient):
    app_options = {"lease_s": 0.4}

    @gen_test(timeout=10)
    async def test_a_new_run_wakes_the_waiter_within_a_fraction_of_a_second(self):
        waiter = asyncio.ensure_future(self.fetch_work("site=cloud&wait_s=10"))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        created = await self.put_run("fresh")
        _, doc = await waiter
        latency_s = time.monotonic() - created
        assert [r["id"] for r in doc["runs"]] == ["fresh"]
        assert latency_s < 0.5, f"woke {latency_s:.3f} s after the run was created"

    @gen_test(timeout=10)
    async def test_nothing_to_do_answers_the_empty_list_after_wait_s(self):
        elapsed_s, doc = await self.fetch_work("site=cloud&wait_s=0.5")
        assert doc == {"runs": [], "lease_s": 0.4}
        assert 0.5 <= elapsed_s < 2.5, elapsed_s

    @gen_test(timeout=10)
    async def test_an_expiring_lease_wakes_the_waiter(self):
        await self.put_run("dyn")
        self.claim_all("dyn", "onprem")
        elapsed_s, doc = await self.fetch_work("site=cloud&wait_s=10")
        assert [r["id"] for r in doc["runs"]] == ["dyn"]
        assert 0.3 <= elapsed_s < 2.0, elapsed_s

    @gen_test(timeout=10)
    async def test_waiting_does_not_spin(self):
        calls = []
        open_runs = self.store.open_runs
        self.store.open_runs = lambda site: calls.append(site) or open_runs(site)
        await self.put_run("dyn", small_config(sites=("mars",), split="dynamic"))
        self.claim_all("dyn", "mars")  # a lease that expires while cloud waits: one re-check
        await self.fetch_work("site=cloud&wait_s=1")
        assert 2 <= len(calls) <= 4, calls

    def claim_all(self, run_id: str, site: str) -> None:
        """Lease every tile of the run to ``site`` (straight on the leases: the test's loop is
        busy, so no blocking request can be made from here)."""
        candidates = self.store.unstored_tiles(run_id, site)
        assert self.services.leases.claim(run_id, site, candidates, 1024) == candidates


class BackupWakeTest(LongPollClient):
    """Leases of 30 s: no lease expiry wakes the waiter during the test."""

    @gen_test(timeout=15)
    async def test_a_store_that_makes_a_backup_worthwhile_wakes_the_waiter(self):
        """cloud has no mean yet, so the tiles onprem holds are no work for it; once cloud's
        first tile is stored they are (onprem, with no stored tile, counts as slower)."""
        await self.put_run("tail")
        candidates = self.store.unstored_tiles("tail", "onprem")
        assert self.services.leases.claim("tail", "onprem", candidates[1:], 1024)
        assert self.services.leases.claim("tail", "cloud", candidates[:1], 1) == [0]
        waiter = asyncio.ensure_future(self.fetch_work("site=cloud&wait_s=8"))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        content_type, body = encode_batch([(tile_meta(0, 0, "cloud", render_ms=50.0),
                                            tile_png(32))])
        response = await self.http_client.fetch(
            self.get_url("/api/runs/tail/tiles"), method="POST", body=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type})
        stored = time.monotonic()
        assert json.loads(response.body)["accepted"] == 1
        _, doc = await waiter
        assert [r["id"] for r in doc["runs"]] == ["tail"]
        assert time.monotonic() - stored < 1.0

"""Claims and leases on make_app(): what is handed out, to whom, for how long; dynamic ingest."""
import pytest

from dashboard.app import make_app
from dashboard.store import TileStore
from dashboard.testing import DashboardTestCase, small_config, tile_meta, tile_png
from mpi_render.protocol import encode_batch

DYNAMIC = small_config(split="dynamic")


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keys(doc) -> list[tuple[int, int]]:
    return [(t["row"], t["col"]) for t in doc["tiles"]]


class ClaimTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.services.leases.clock = self.clock
        self.create_run("dyn", DYNAMIC)

    def post_tiles(self, tiles, run_id="dyn"):
        return self.post_batch(run_id, *encode_batch(tiles))

    def test_tiles_are_handed_out_in_index_order_and_leased(self):
        status, doc = self.claim("dyn", "cloud", 3)
        assert status == 200 and keys(doc) == [(0, 0), (0, 1), (0, 2)]
        assert doc["lease_s"] == 30 and doc["complete"] is False
        assert keys(self.claim("dyn", "onprem", 2)[1]) == [(0, 3), (1, 0)]
        assert keys(self.claim("dyn", "cloud", 1024)[1]) == [divmod(t, 4) for t in range(5, 16)]
        assert self.claim("dyn", "onprem", 5)[1] == {"tiles": [], "lease_s": 30, "complete": False}

    def test_an_expired_lease_is_handed_out_again(self):
        self.claim("dyn", "cloud", 16)
        self.clock.now += 29.9
        assert self.claim("dyn", "onprem", 16)[1]["tiles"] == []
        self.clock.now += 0.2
        assert keys(self.claim("dyn", "onprem", 2)[1]) == [(0, 0), (0, 1)]

    def test_storing_ends_the_lease_by_anyone_and_the_run_completes(self):
        self.claim("dyn", "cloud", 16)  # cloud holds every lease ...
        status, doc = self.post_tiles([(tile_meta(0, 0, "onprem"), tile_png(32, 1))])
        assert status == 200 and doc["accepted"] == 1  # ... but any site may store any tile
        assert 0 not in self.services.leases.live("dyn")
        self.clock.now += 31
        assert (0, 0) not in keys(self.claim("dyn", "onprem", 16)[1])
        tiles = [(tile_meta(t // 4, t % 4, "cloud"), tile_png(32, t)) for t in range(1, 16)]
        assert self.post_tiles(tiles)[1]["accepted"] == 15
        assert self.services.leases.live("dyn") == {}
        assert self.claim("dyn", "cloud", 4)[1] == {"tiles": [], "lease_s": 30, "complete": True}

    def test_dynamic_ingest_first_copy_wins_and_later_copies_are_duplicates(self):
        first = self.post_tiles([(tile_meta(1, 2, "cloud"), tile_png(32, 1))])[1]
        second = self.post_tiles([(tile_meta(1, 2, "onprem"), tile_png(32, 2)),
                                  (tile_meta(1, 3, "onprem"), tile_png(32, 3))])[1]
        assert first == {"accepted": 1, "duplicates": 0, "seq": 1}
        assert second == {"accepted": 1, "duplicates": 1, "seq": 2}
        assert self.store.tile_png("dyn", 1, 2)[0] == tile_png(32, 1)
        doc = self.api("GET", "api/runs/dyn", token=None)[1]
        assert doc["stored"] == 2 and doc["seq"] == 2
        assert doc["sites"]["cloud"]["stored"] == 1 and doc["sites"]["onprem"]["stored"] == 1
        assert doc["sites"]["cloud"]["owned"] is None
        assert all(m["site"] is None for m in doc["missing"]) and len(doc["missing"]) == 14

    def test_the_end_game_lends_a_slow_sites_tile_to_a_faster_site_once(self):
        tiles = [(tile_meta(t // 4, t % 4, "cloud", render_ms=200.0), tile_png(32, t))
                 for t in range(14)]
        self.post_tiles(tiles + [(tile_meta(3, 2, "onprem", render_ms=9000.0), tile_png(32, 14))])
        assert keys(self.claim("dyn", "onprem", 4)[1]) == [(3, 3)]  # the last tile, leased
        self.clock.now += 1
        status, doc = self.claim("dyn", "cloud", 4)
        assert status == 200 and doc["tiles"] == [{"row": 3, "col": 3, "backup": True}]
        assert self.claim("dyn", "cloud", 4)[1]["tiles"] == []  # one backup per tile
        assert self.claim("dyn", "onprem", 4)[1]["tiles"] == []  # the slow site gets none
        first = self.post_tiles([(tile_meta(3, 3, "cloud"), tile_png(32, 15))])[1]
        late = self.post_tiles([(tile_meta(3, 3, "onprem"), tile_png(32, 15))])[1]
        assert first["accepted"] == 1 and late == {"accepted": 0, "duplicates": 1, "seq": 16}
        assert self.claim("dyn", "onprem", 4)[1]["complete"] is True

    def test_static_runs_and_unknown_speeds_get_no_backups(self):
        self.claim("dyn", "onprem", 16)  # nobody has stored a tile: no speeds known
        assert self.claim("dyn", "cloud", 4)[1]["tiles"] == []
        self.create_run("halves", small_config())
        mine = [(tile_meta(t // 4, t % 4, "cloud", render_ms=1.0), tile_png(32, t)) for t in range(8)]
        self.post_tiles(mine, "halves")
        self.post_tiles([(tile_meta(2, 0, "onprem", render_ms=9000.0), tile_png(32, 8))], "halves")
        self.claim("halves", "onprem", 16)
        assert self.claim("halves", "cloud", 4)[1]["tiles"] == []  # cloud owns no missing tile

    def test_dynamic_ingest_still_refuses_a_site_outside_the_run(self):
        status, doc = self.post_tiles([(tile_meta(0, 0, "mars"), tile_png(32))])
        assert status == 422 and "not a site of this run" in doc["error"]

    def test_a_static_split_hands_a_site_only_its_own_missing_tiles(self):
        config = self.create_run("static", small_config(split="interleaved"))
        self.post_tiles([(tile_meta(0, 0, "cloud"), tile_png(32))], run_id="static")
        assert keys(self.claim("static", "cloud", 3)[1]) == [(0, 2), (1, 0), (1, 2)]
        assert keys(self.claim("static", "onprem", 1024)[1]) == [
            divmod(t, 4) for t in config.owned()["onprem"]]
        doc = self.api("GET", "api/runs/static", token=None)[1]
        assert doc["sites"]["cloud"]["owned"] == 8 and doc["missing"][0]["site"] == "onprem"

    def test_bad_claims_are_refused_and_lease_nothing(self):
        path = "api/runs/dyn/claims"
        good = {"site": "cloud", "max_tiles": 4}
        cases = [
            (self.api("POST", path, good, token=None), 401, "missing bearer token"),
            (self.api("POST", path, good, token="wrong"), 403, "wrong token"),
            (self.api("POST", path, good, token=self.control_token), 403, "control token"),
            (self.claim("dyn", "mars", 4), 422, "not a site of this run"),
            (self.claim("dyn", "cloud", 0), 422, "max_tiles must be in 1..1024"),
            (self.claim("dyn", "cloud", 1025), 422, "max_tiles must be in 1..1024"),
            (self.api("POST", path, b"{not json"), 400, "not JSON"),
            (self.api("POST", path, b"[1, 2]"), 400, "must be an object"),
            (self.api("POST", path, {"site": "cloud"}), 400, "max_tiles must be an integer"),
            (self.api("POST", path, {"site": "cloud", "max_tiles": "4"}), 400, "max_tiles"),
            (self.api("POST", path, {"site": "cloud", "max_tiles": True}), 400, "max_tiles"),
            (self.api("POST", path, {"site": "cloud", "max_tiles": 4.0}), 400, "max_tiles"),
            (self.api("POST", path, {"site": 7, "max_tiles": 4}), 400, "site must be a string"),
            (self.api("POST", path, b"\xff\xfe"), 400, "not JSON"),
            (self.api("POST", path, b" " * (64 * 1024 + 1)), 413, "at most"),
            (self.claim("nope", "cloud", 4), 404, "unknown run nope"),
            (self.claim("..", "cloud", 4), 400, "run id must match"),
        ]
        for (status, doc), expected, reason in cases:
            assert status == expected and reason in doc["error"], (expected, reason, doc)
        assert self.services.leases.live("dyn") == {}

    def test_a_cancelled_run_refuses_claims_and_tiles_with_410(self):
        self.claim("dyn", "cloud", 4)
        assert self.api("POST", "api/runs/dyn/cancel")[0] == 200
        assert self.services.leases.live("dyn") == {}
        assert self.claim("dyn", "cloud", 4) == (
            410, {"error": "run dyn was cancelled", "cancelled": True})
        status, doc = self.post_tiles([(tile_meta(0, 0, "cloud"), tile_png(32))])
        assert (status, doc["cancelled"]) == (410, True)
        assert self.api("GET", "api/runs/dyn", token=None)[1]["stored"] == 0


class RenderedAtTest(DashboardTestCase):
    def test_rendered_at_is_kept_in_the_tile_metadata_and_frame_header(self):
        self.create_run("r1", DYNAMIC)
        meta = tile_meta(0, 0, "cloud", rendered_at=1_700_000_000.25)
        assert self.post_batch("r1", *encode_batch([(meta, tile_png(32))]))[0] == 200
        (tile,) = self.store.tiles_since("r1", 0, 10, 10)
        assert tile.meta["rendered_at"] == 1_700_000_000.25
        assert tile.header()["rendered_at"] == 1_700_000_000.25

    def test_a_mistyped_or_non_finite_rendered_at_is_400(self):
        self.create_run("r1", DYNAMIC)
        for bad in ("soon", True, float("nan"), float("inf")):
            meta = tile_meta(0, 0, "cloud", rendered_at=bad)
            status, doc = self.post_batch("r1", *encode_batch([(meta, tile_png(32))]))
            assert status == 400 and "rendered_at" in doc["error"], (bad, doc)


class LeaseLengthTest(DashboardTestCase):
    app_options = {"lease_s": 2.5}

    def test_the_lease_length_is_the_apps(self):
        self.create_run("dyn", DYNAMIC)
        assert self.claim("dyn", "cloud", 1)[1]["lease_s"] == 2.5


@pytest.mark.parametrize("lease_s", [0, -1, float("inf"), float("nan"), True])
def test_make_app_refuses_a_bad_lease_length(tmp_path, lease_s):
    store = TileStore(tmp_path)
    try:
        with pytest.raises(ValueError, match="lease_s must be a positive number"):
            make_app(store, token="t", lease_s=lease_s)
    finally:
        store.close()

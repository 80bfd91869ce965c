"""GET api/runs/{id}/overview.png: geometry, tile placement, seq header, incremental updates."""
import io

from PIL import Image

from dashboard.overview import BACKGROUND_RGB
from dashboard.testing import DashboardTestCase, site_batch, small_config, tile_png


class OverviewTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.config = self.create_run("r1", small_config(grid=4, tile_px=32))

    def post(self, site, indices):
        content_type, body, _ = site_batch(self.config, site, indices)
        status, doc = self.post_batch("r1", content_type, body)
        assert status == 200, doc

    def overview(self, query="px=64"):
        response = self.fetch(f"/api/runs/r1/overview.png?{query}")
        assert response.code == 200, response.body[:200]
        assert response.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(response.body))
        image.load()
        return image, int(response.headers["X-Mosaic-Seq"]), int(response.headers["X-Cell-Px"])

    def assert_cells(self, image, cell_px, stored):
        """Every cell shows its tile subsampled to ``cell_px``, or the background."""
        for index in range(self.config.total_tiles):
            row, col = divmod(index, self.config.grid)
            box = (col * cell_px, row * cell_px, (col + 1) * cell_px, (row + 1) * cell_px)
            got = image.crop(box).convert("RGB")
            if index in stored:
                with Image.open(io.BytesIO(tile_png(32, index))) as tile:
                    want = tile.resize((cell_px, cell_px), Image.Resampling.NEAREST).convert("RGB")
                assert got.tobytes() == want.tobytes(), f"tile {index}"
            else:
                assert got.getcolors() == [(cell_px * cell_px, BACKGROUND_RGB)], f"empty {index}"

    def test_empty_run_is_all_background_at_seq_0(self):
        image, seq, cell_px = self.overview()
        assert (image.size, seq, cell_px) == ((64, 64), 0, 16)
        self.assert_cells(image, 16, stored=set())

    def test_tiles_at_their_place_then_only_new_ones_are_pasted(self):
        self.post("cloud", [0, 1, 5])
        image, seq, cell_px = self.overview()
        assert (image.size, seq, cell_px) == ((64, 64), 3, 16)
        self.assert_cells(image, 16, {0, 1, 5})

        calls, real = [], self.store.tiles_since
        self.store.tiles_since = lambda *args: calls.append(args) or real(*args)
        assert self.overview()[1] == 3 and calls == []  # nothing new: served from the cache
        self.post("onprem", [8, 15])
        image, seq, _ = self.overview()
        assert seq == 5 and [args[1:3] for args in calls] == [(3, 5)]
        self.assert_cells(image, 16, {0, 1, 5, 8, 15})

    def test_px_sets_the_cell_size_never_above_tile_px(self):
        self.post("cloud", [2])
        assert self.overview("px=2048")[0].size == (128, 128)  # 4 x 32: full resolution
        image, _, cell_px = self.overview("px=10")
        assert (image.size, cell_px) == ((8, 8), 2)
        assert self.overview("px=1")[2] == 1
        assert self.overview("")[0].size == (128, 128)  # default px 2048

    def test_bad_px_and_unknown_run(self):
        for px in ("0", "abc", "2049", "1.5", "-4", ""):
            status, doc = self.api("GET", f"api/runs/r1/overview.png?px={px}", token=None)
            assert status == 400 and "px must be an integer in [1, 2048]" in doc["error"], px
        assert self.api("GET", "api/runs/nope/overview.png", token=None) == \
            (404, {"error": "unknown run nope"})
        assert self.api("GET", "api/runs/..%2Fx/overview.png", token=None)[0] == 400

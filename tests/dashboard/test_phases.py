"""Phase reports (``POST api/runs/{id}/phase``) and the ``kernel`` tile field on make_app()."""
import json

from support import close_websocket
from tornado.testing import gen_test

from dashboard.testing import DashboardTestCase, read_until_seq, tile_meta, tile_png
from mpi_render.protocol import encode_batch

REPORT = {"site": "cloud", "phase": "reference", "done": 12000, "total": 50000, "elapsed_s": 1.25}


class PhaseTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.config = self.create_run("r1")

    @gen_test(timeout=30)
    async def test_a_report_reaches_live_viewers_the_run_document_and_late_joiners(self):
        conn = await self.ws_connect("api/runs/r1/ws")
        hello = json.loads(await conn.read_message())
        assert hello["type"] == "hello" and hello["phases"] == {}
        assert json.loads(await conn.read_message())["type"] == "replayed"
        response = await self.http_client.fetch(
            self.get_url("/api/runs/r1/phase"), method="POST", body=json.dumps(REPORT),
            headers={"Authorization": f"Bearer {self.token}"})
        assert json.loads(response.body) == {"accepted": True}
        assert json.loads(await conn.read_message()) == {"type": "phase", "run": "r1", **REPORT}
        await close_websocket(conn)
        late = await self.ws_connect("api/runs/r1/ws")
        assert json.loads(await late.read_message())["phases"] == {"cloud": REPORT}
        await close_websocket(late)
        doc = json.loads((await self.http_client.fetch(self.get_url("/api/runs/r1"))).body)
        assert doc["phases"] == {"cloud": REPORT}

    def test_a_newer_report_replaces_the_older_one_per_site(self):
        self.api("POST", "api/runs/r1/phase", REPORT)
        self.api("POST", "api/runs/r1/phase", dict(REPORT, done=50000, elapsed_s=4.0))
        self.api("POST", "api/runs/r1/phase", dict(REPORT, site="onprem", done=10))
        phases = self.api("GET", "api/runs/r1", token=None)[1]["phases"]
        assert phases["cloud"]["done"] == 50000 and phases["onprem"]["done"] == 10

    def test_bad_reports_are_refused_and_kept_nowhere(self):
        for body, status, message in (
                (b"{", 400, "not JSON"), (b"[]", 400, "must be an object"),
                (dict(REPORT, site=3), 400, "must be strings"),
                (dict(REPORT, done="1"), 400, "done must be a finite number"),
                (dict(REPORT, elapsed_s=True), 400, "elapsed_s must be a finite number"),
                (dict(REPORT, site="mars"), 422, "not a site of this run"),
                (dict(REPORT, phase="dreaming"), 422, "phase must be one of"),
                (dict(REPORT, done=50001), 422, "0 <= done <= total")):
            got, doc = self.api("POST", "api/runs/r1/phase", body)
            assert got == status and message in doc["error"], (body, doc)
        assert self.api("POST", "api/runs/r1/phase", REPORT, token=None)[0] == 401
        assert self.api("POST", "api/runs/r1/phase", REPORT, token=self.control_token)[0] == 403
        assert self.api("POST", "api/runs/nope/phase", REPORT)[0] == 404
        assert self.api("GET", "api/runs/r1", token=None)[1]["phases"] == {}

    def test_cancelling_a_run_forgets_its_phases(self):
        self.api("POST", "api/runs/r1/phase", REPORT)
        assert self.api("POST", "api/runs/r1/cancel", b"")[0] == 200
        assert self.api("GET", "api/runs/r1", token=None)[1]["phases"] == {}


class KernelFieldTest(DashboardTestCase):
    def setUp(self):
        super().setUp()
        self.create_run("r1")

    @gen_test(timeout=30)
    async def test_the_kernel_that_rendered_a_tile_is_kept_and_sent_to_viewers(self):
        content_type, body = encode_batch([(tile_meta(0, 0, "cloud", kernel="perturbation"),
                                            tile_png(32, 1))])
        await self.http_client.fetch(self.get_url("/api/runs/r1/tiles"), method="POST", body=body,
                                     headers={"Content-Type": content_type,
                                              "Authorization": f"Bearer {self.token}"})
        conn = await self.ws_connect("api/runs/r1/ws")
        header, _ = [m for m in await read_until_seq(conn, 1) if isinstance(m, tuple)][0]
        assert header["kernel"] == "perturbation"
        await close_websocket(conn)

    def test_an_unknown_kernel_name_is_a_malformed_manifest(self):
        content_type, body = encode_batch([(tile_meta(0, 0, "cloud", kernel="gpu"),
                                            tile_png(32, 1))])
        status, doc = self.post_batch("r1", content_type, body)
        assert status == 400 and "kernel must be one of double, perturbation" in doc["error"]
        assert self.api("GET", "api/runs/r1", token=None)[1]["stored"] == 0

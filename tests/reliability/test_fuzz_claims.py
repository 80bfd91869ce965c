"""Fuzz the elastic-run endpoints of a real app (make_app, Tornado on loopback, SQLite) with hypothesis.

Contract under test: whatever body a holder of the ingest token sends to ``POST .../claims``, and
whatever run config a holder of the control token sends to ``PUT api/runs/{id}``, the answer is a
JSON 2xx or 4xx (never a 5xx), a refused run leaves nothing behind (no run, no row in SQLite), an
accepted one is stored whole, and a claim never hands out more than asked, a stored tile, or a tile
leased to someone else. Examples are bounded so the module runs in seconds.
"""
from __future__ import annotations

import itertools
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dashboard.testing import DashboardTestCase, small_config, tile_meta, tile_png
from mpi_render.protocol import encode_batch

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4),
    max_leaves=20,
)
claim_docs = st.fixed_dictionaries(
    {}, optional={"site": st.sampled_from(["cloud", "onprem", "mars", ""]) | json_values,
                  "max_tiles": st.integers(-3, 1030) | json_values}) | json_values
good_run = small_config(split="dynamic").run_json()
run_docs = st.fixed_dictionaries(
    {}, optional={key: st.just(value) | json_values for key, value in good_run.items()})
run_docs = run_docs | st.dictionaries(st.sampled_from(sorted(good_run)), json_values) | json_values


class FuzzClaimsTest(DashboardTestCase):
    run_ids = itertools.count()

    def setUp(self):
        super().setUp()
        self.create_run("dyn", small_config(split="dynamic"))
        self.create_run("static", small_config())
        tiles = [(tile_meta(0, 0, "cloud"), tile_png(32))]
        assert self.post_batch("dyn", *encode_batch(tiles))[0] == 200

    def check_claim(self, run_id: str, body: bytes) -> None:
        before = self.services.leases.live(run_id)
        status, doc = self.api("POST", f"api/runs/{run_id}/claims", body)
        assert status in (200, 400, 413, 422), (status, doc, body[:200])
        if status != 200:
            assert isinstance(doc["error"], str) and self.services.leases.live(run_id) == before
            return
        asked = json.loads(body)["max_tiles"]
        handed = [t["row"] * 4 + t["col"] for t in doc["tiles"]]
        assert len(handed) <= asked and len(set(handed)) == len(handed)
        assert not set(handed) & set(before), "handed out a tile under a live lease"
        assert 0 not in handed or run_id == "static", "handed out a stored tile"

    @FUZZ
    @given(claim_docs)
    @example({"site": "cloud", "max_tiles": 10 ** 400})
    @example({"site": "cloud", "max_tiles": 1e308})
    @example({"site": ["cloud"], "max_tiles": 1})
    def test_any_claim_body_is_a_json_4xx_or_an_honest_claim(self, doc):
        for run_id in ("dyn", "static"):
            self.check_claim(run_id, json.dumps(doc).encode())

    @FUZZ
    @given(st.binary(max_size=200))
    @example(b"[" * 100_000)
    @example(b'{"site": "cloud", "max_tiles": ' + b"9" * 5000 + b"}")
    def test_any_claim_bytes_are_a_json_4xx_or_an_honest_claim(self, body):
        self.check_claim("dyn", body)

    @FUZZ
    @given(run_docs)
    @example(dict(good_run, grid=65))
    @example(dict(good_run, split="dynamic", weights=[1.0, 0.0]))
    @example(dict(good_run, view={"cx": float("nan"), "cy": 0, "width": 1}))
    def test_any_run_config_from_the_control_token_is_stored_whole_or_not_at_all(self, doc):
        run_id = f"fuzz{next(self.run_ids)}"
        status, answer = self.api("PUT", f"api/runs/{run_id}", json.dumps(doc).encode(),
                                  token=self.control_token)
        assert status in (201, 400, 422), (status, answer, doc)
        with sqlite3.connect(self.store.path) as conn:
            rows = conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchall()
        conn.close()
        if status == 201:
            assert self.api("GET", f"api/runs/{run_id}", token=None)[1]["config"] == answer["config"]
            assert [json.loads(config) for config, in rows] == [answer["config"]]
        else:
            assert rows == [] and self.store.run_config(run_id) is None
            assert self.api("GET", f"api/runs/{run_id}", token=None)[0] == 404

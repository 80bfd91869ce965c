"""The poster against a local Tornado stand-in: batching, retries, the spool and --resend."""
import sys
import time

import pytest
from site_fakes import FakeDashboard
from support import free_port, run

from mpi_render.config import RenderConfig
from mpi_render.site.client import DashboardClient
from mpi_render.site.courier import Backoff
from mpi_render.site.poster import BatchLimits, Poster, resend
from mpi_render.site.sinks import EXIT_FAILED, EXIT_OK, EXIT_SPOOLED, SetupError
from mpi_render.site.spool import Spool, content_type_of
from mpi_render.tiling import tile_position

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
CONFIG = RenderConfig(grid=9, tile_px=16, sites=("cloud", "onprem"))
FAST = Backoff(base_s=0.01, cap_s=0.05)
SMALL_BATCHES = BatchLimits(8, 4 << 20, 0.05)


def tile(index: int, site: str = "cloud") -> tuple[dict, bytes]:
    row, col = tile_position(CONFIG.grid, index)
    meta = {"row": row, "col": col, "site": site, "rank": index % 3, "host": "h",
            "render_ms": 1.0, "encode_ms": 0.5, "iterations": index}
    return meta, b"\x89PNG fake tile %d " % index + bytes(100)


def make_poster(url, spool_dir, deadline_s=30.0, limits=SMALL_BATCHES,
                **kwargs) -> Poster:
    client = DashboardClient(url, "tok", timeout_s=5)
    return Poster(client, "run1", CONFIG, "cloud", Spool(spool_dir),
                  time.monotonic() + deadline_s, limits=limits, backoff=FAST, **kwargs)


def deliver(poster: Poster, indices) -> object:
    chosen = poster.open(list(indices))
    for index in chosen:
        poster.put(*tile(index))
    return poster.close()


def test_a_flaky_dashboard_loses_nothing_and_stores_nothing_twice(tmp_path, caplog):
    caplog.set_level("WARNING", logger="mpi_render.site.poster")
    with FakeDashboard() as fake:
        fake.failures = ["503", "drop", "store-then-500", "429", "500", "drop"]
        delivery = deliver(make_poster(fake.url, tmp_path / "spool"), range(70))
    assert delivery.exit_code == EXIT_OK, delivery.message
    assert delivery.stored == delivery.expected == 70
    assert sorted(fake.tiles) == sorted(tile_position(9, i) for i in range(70))
    assert all(fake.tiles[tile_position(9, i)] == tile(i)[1] for i in range(70))
    assert set(fake.fresh_stores.values()) == {1}
    assert not (tmp_path / "spool").exists()
    assert "HTTP 503" in caplog.text  # an operator sees why a site is retrying


def test_batches_flush_by_count_and_by_bytes(tmp_path):
    with FakeDashboard() as fake:
        deliver(make_poster(fake.url, tmp_path / "a", limits=BatchLimits(3, 1 << 20, 60)),
                range(7))
        by_count = list(fake.batch_sizes)
        fake.batch_sizes.clear()
        deliver(make_poster(fake.url, tmp_path / "b", limits=BatchLimits(100, 250, 60)),
                range(10, 17))
    assert by_count == [3, 3, 1]
    assert fake.batch_sizes == [3, 3, 1]  # tiles are ~117 bytes: the third one crosses 250


def test_batches_flush_by_age(tmp_path):
    with FakeDashboard() as fake:
        poster = make_poster(fake.url, tmp_path / "s", limits=BatchLimits(100, 1 << 20, 0.05))
        poster.open([0, 1])
        poster.put(*tile(0))
        deadline = time.monotonic() + 10
        while not fake.batch_sizes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.batch_sizes == [1], "a lone tile must be sent once its batch is 50 ms old"
        poster.put(*tile(1))
        assert poster.close().exit_code == EXIT_OK
    assert fake.batch_sizes == [1, 1]


def test_one_kept_alive_connection_carries_every_batch(tmp_path):
    with FakeDashboard() as fake:
        deliver(make_poster(fake.url, tmp_path / "s", limits=BatchLimits(2, 1 << 20, 60)),
                range(20))
    assert len(fake.batch_sizes) == 10 and len(fake.streams) == 1


def test_past_the_deadline_tiles_stay_spooled_and_resend_delivers_them(tmp_path):
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text("tok\n")
    token_file.chmod(0o600)
    spool_dir = tmp_path / "spool"
    poster = make_poster(f"http://127.0.0.1:{port}/", spool_dir, deadline_s=0.5,
                         resend_hint="mpi-render --resend ...")
    delivery = deliver(poster, range(20))
    assert delivery.exit_code == EXIT_SPOOLED
    assert "20 tiles (3 batches) are spooled in" in delivery.message
    assert "resend them with: mpi-render --resend ..." in delivery.message
    assert len(Spool(spool_dir).pending()) == 3
    with FakeDashboard(port=port) as fake:
        proc = run([sys.executable, "-m", "mpi_render", "--resend", "--spool", str(spool_dir),
                    "--dashboard", fake.url, "--token-file", str(token_file)], timeout=60)
    assert "20 tiles stored" in proc.stderr
    assert sorted(fake.tiles) == sorted(tile_position(9, i) for i in range(20))
    assert fake.runs["run1"] == CONFIG.run_json()
    assert not spool_dir.exists()


def test_leftover_batches_of_an_earlier_job_are_sent_first(tmp_path):
    first = make_poster(f"http://127.0.0.1:{free_port()}/", tmp_path / "s", deadline_s=0.2)
    assert deliver(first, range(5)).exit_code == EXIT_SPOOLED
    with FakeDashboard() as fake:
        second = deliver(make_poster(fake.url, tmp_path / "s"), range(5, 9))
    assert second.exit_code == EXIT_OK and second.stored == 4
    assert sorted(fake.tiles) == sorted(tile_position(9, i) for i in range(9))


def test_a_permanent_refusal_stops_sending_and_keeps_the_batches(tmp_path):
    with FakeDashboard() as fake:
        fake.failures = ["422"]
        delivery = deliver(make_poster(fake.url, tmp_path / "s"), range(16))
    assert delivery.exit_code == EXIT_FAILED
    assert "HTTP 422: scripted 422" in delivery.message
    assert fake.tiles == {}
    assert sum(len(b.keys) for b in Spool(tmp_path / "s").pending()) == 16


def test_a_run_with_another_config_is_a_setup_error(tmp_path):
    with FakeDashboard() as fake:
        fake.runs["run1"] = {"grid": 2}
        with pytest.raises(SetupError, match="already exists .* different config") as info:
            make_poster(fake.url, tmp_path / "s").open([0])
    assert info.value.code == 2
    assert not (tmp_path / "s").exists()


def test_a_dashboard_that_forgot_the_run_gets_it_again(tmp_path):
    with FakeDashboard() as fake:
        fake.failures = [None, "forget"]
        delivery = deliver(make_poster(fake.url, tmp_path / "s"), range(24))
    assert delivery.exit_code == EXIT_OK, delivery.message
    assert len(fake.tiles) == 24 and "run1" in fake.runs


def test_only_missing_keeps_the_tiles_the_dashboard_lacks(tmp_path):
    with FakeDashboard() as fake:
        fake.runs["run1"] = CONFIG.run_json()
        fake.tiles = {tile_position(9, i): tile(i)[1] for i in range(0, 10, 2)}
        poster = make_poster(fake.url, tmp_path / "s", only_missing=True)
        chosen = poster.open(list(range(10)))
        assert chosen == [1, 3, 5, 7, 9]
        for index in chosen:
            poster.put(*tile(index))
        assert poster.close().exit_code == EXIT_OK


def test_resend_of_a_spool_without_run_json_is_a_clear_error(tmp_path):
    spool = Spool(tmp_path / "empty")
    with pytest.raises(ValueError, match="has no readable run.json"):
        resend(spool, DashboardClient("http://127.0.0.1:1/"), time.monotonic() + 1)


def test_a_corrupt_spooled_batch_is_named(tmp_path):
    spool = Spool(tmp_path)
    (tmp_path / "0001.batch").write_bytes(b"--b\r\nnot a batch")
    with pytest.raises(ValueError, match="0001.batch is corrupt"):
        spool.pending()
    assert content_type_of(b"--xyz\r\n...") == "multipart/form-data; boundary=xyz"


def test_a_dashboard_that_keeps_losing_the_run_is_a_permanent_failure(tmp_path):
    with FakeDashboard() as fake:
        fake.failures = ["forget"] * 10
        delivery = deliver(make_poster(fake.url, tmp_path / "s"), range(4))
    assert delivery.exit_code == EXIT_FAILED
    assert "HTTP 404: unknown run" in delivery.message
    assert fake.failures == ["forget"] * 8  # one POST, one after re-creating the run, then stop

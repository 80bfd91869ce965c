"""TileStore: runs, atomic batches with per-run seq, duplicates, conflicts, reopen, quota."""
import json
import sqlite3

import pytest

from dashboard.records import RunConflict, StorageFull, StorageUnavailable, TileConflict
from dashboard.store import TileStore
from dashboard.testing import small_config, tile_meta, tile_png


@pytest.fixture
def store(tmp_path):
    opened = TileStore(tmp_path / "data")
    yield opened
    opened.close()


def cloud_tiles(indices, seed=0):
    return [(tile_meta(t // 4, t % 4, "cloud"), tile_png(32, seed + t)) for t in indices]


def test_create_confirm_and_conflict(store):
    config = small_config()
    created, doc = store.create_run("r1", config)
    assert created and doc["seq"] == 0 and doc["total"] == 16 and len(doc["missing"]) == 16
    assert store.create_run("r1", config)[0] is False
    with pytest.raises(RunConflict):
        store.create_run("r1", small_config(max_iter=65))


def test_runs_are_listed_newest_first(store):
    for name in ("a", "c", "b"):
        store.create_run(name, small_config())
    assert [r["id"] for r in store.list_runs()] == ["b", "c", "a"]


def test_a_database_made_before_lineage_is_migrated_and_its_runs_have_no_parent(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / "dashboard.sqlite3")
    old.executescript("""
        CREATE TABLE runs (id TEXT PRIMARY KEY, config TEXT NOT NULL, created_at REAL NOT NULL);
        CREATE TABLE tiles (run TEXT NOT NULL, seq INTEGER NOT NULL, row INTEGER NOT NULL,
            col INTEGER NOT NULL, site TEXT NOT NULL, meta TEXT NOT NULL, png BLOB NOT NULL,
            sha256 BLOB NOT NULL, length INTEGER NOT NULL, stored_at REAL NOT NULL,
            PRIMARY KEY (run, seq), UNIQUE (run, row, col));""")
    old.execute("INSERT INTO runs VALUES ('before', ?, 1.0)", (json.dumps(small_config().run_json()),))
    old.commit()
    old.close()
    store = TileStore(data)
    try:
        assert store.run_summary("before")["parent"] is None
        assert store.create_run("after", small_config(), parent="before")[1]["parent"] == "before"
    finally:
        store.close()
    reopened = TileStore(data)
    try:
        assert [(r["id"], r["parent"]) for r in reopened.list_runs()] == [("after", "before"),
                                                                        ("before", None)]
    finally:
        reopened.close()


def test_batches_get_consecutive_seqs_and_duplicates_are_counted(store):
    store.create_run("r1", small_config())
    first = store.add_tiles("r1", cloud_tiles([0, 1, 2]))
    assert [t.seq for t in first.stored] == [1, 2, 3] and first.duplicates == 0
    again = store.add_tiles("r1", cloud_tiles([2, 3]))
    assert [t.seq for t in again.stored] == [4] and again.duplicates == 1 and again.seq == 4
    doc = store.run_doc("r1")
    assert doc["sites"]["cloud"]["stored"] == 4 and doc["sites"]["onprem"]["stored"] == 0
    assert doc["sites"]["cloud"]["render_ms_mean"] == pytest.approx((1.5 + 2.5 + 3.5 + 4.5) / 4)


def test_different_bytes_for_a_stored_tile_store_nothing_of_the_batch(store):
    store.create_run("r1", small_config())
    store.add_tiles("r1", cloud_tiles([0]))
    with pytest.raises(TileConflict, match="r0c0"):
        store.add_tiles("r1", cloud_tiles([1]) + cloud_tiles([0], seed=99))
    assert store.run_doc("r1")["stored"] == 1 and store.last_seq("r1") == 1
    assert store.tiles_since("r1", 0, 100, 100)[0].png == tile_png(32, 0)


def test_reopen_gives_back_runs_tiles_seq_and_stats(tmp_path):
    first = TileStore(tmp_path)
    first.create_run("r1", small_config())
    first.add_tiles("r1", cloud_tiles([0, 1, 5]))
    before = (first.list_runs(), first.run_doc("r1"), first.tiles_since("r1", 0, 99, 99))
    first.close()
    second = TileStore(tmp_path)
    try:
        assert (second.list_runs(), second.run_doc("r1"), second.tiles_since("r1", 0, 99, 99)) \
            == before
        assert [t.seq for t in second.add_tiles("r1", cloud_tiles([6])).stored] == [4]
    finally:
        second.close()


def test_replay_chunks_are_bounded_and_ordered(store):
    store.create_run("r1", small_config())
    store.add_tiles("r1", cloud_tiles(range(8)))
    assert [t.seq for t in store.tiles_since("r1", 2, 6, 3)] == [3, 4, 5]
    assert [t.seq for t in store.tiles_since("r1", 5, 6, 3)] == [6]
    header = store.tiles_since("r1", 0, 1, 1)[0].header()
    assert header["seq"] == 1 and header["row"] == 0 and header["site"] == "cloud"
    assert header["render_ms"] == 1.5 and "stored_at" in header


def test_a_full_database_refuses_the_batch_and_keeps_what_was_stored(tmp_path):
    setup = TileStore(tmp_path)
    setup.create_run("r1", small_config())
    setup.add_tiles("r1", cloud_tiles([0]))
    setup.close()
    full = TileStore(tmp_path, max_db_bytes=1)  # clamps to the current size: no growth
    try:
        with pytest.raises(StorageFull):
            full.add_tiles("r1", [(m, tile_png(32, 5, noisy=True)) for m, _ in cloud_tiles(range(1, 8))])
        assert full.run_doc("r1")["stored"] == 1 and full.last_seq("r1") == 1
    finally:
        full.close()
    with sqlite3.connect(tmp_path / "dashboard.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM tiles").fetchone() == (1,)


def test_a_read_only_database_refuses_the_batch_as_unavailable(store):
    store.create_run("r1", small_config())
    # root ignores file modes, so make this thread's connection read-only instead
    store.db.connection().execute("PRAGMA query_only=1")
    with pytest.raises(StorageUnavailable, match="not writable"):
        store.add_tiles("r1", cloud_tiles([0]))
    assert store.run_doc("r1")["stored"] == 0 and store.last_seq("r1") == 0

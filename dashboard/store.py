"""Durable storage of runs and tiles: SQLite (stdlib ``sqlite3``, WAL) in a data directory.

No Tornado here: every method is synchronous and thread-safe. The app calls the writing methods
(:meth:`TileStore.create_run`, :meth:`TileStore.add_tiles`) from ONE writer thread, so the
duplicate/conflict check and the insert of a batch see a consistent state, and the reading
methods from reader threads (each thread gets its own connection; WAL lets them read while the
writer writes).

Per run, an in-memory :class:`RunState` (config, last ``seq``, the SHA-256 of every stored tile,
per-site counters) answers the run documents and the duplicate check without touching the disk.
It is rebuilt from the database at open, so a restart gives back every run, tile, ``seq`` and stat.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from mpi_render.config import RenderConfig

from .records import BatchResult, RunConflict, StorageFull, StorageUnavailable, StoredTile, TileConflict
from .runstate import RunState

DB_NAME = "dashboard.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, config TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tiles (
    run TEXT NOT NULL, seq INTEGER NOT NULL, row INTEGER NOT NULL, col INTEGER NOT NULL,
    site TEXT NOT NULL, meta TEXT NOT NULL, png BLOB NOT NULL, sha256 BLOB NOT NULL,
    length INTEGER NOT NULL, stored_at REAL NOT NULL,
    PRIMARY KEY (run, seq), UNIQUE (run, row, col));
"""


class TileStore:
    """Runs and tiles in ``data_dir/dashboard.sqlite3``.

    Args:
        data_dir: created if missing.
        max_db_bytes: optional quota: the database never grows beyond it (a batch that would
            is refused with :class:`StorageFull`, as on a full disk).

    Raises:
        StorageUnavailable: the directory or the database cannot be created or written.
    """

    def __init__(self, data_dir: str | os.PathLike, max_db_bytes: int | None = None):
        self.path = Path(data_dir) / DB_NAME
        self.max_db_bytes = max_db_bytes
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._runs: dict[str, RunState] = {}
        try:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.executescript(_SCHEMA)
            conn.execute("PRAGMA user_version").fetchone()
            conn.execute("BEGIN IMMEDIATE")  # proves the file is writable now, not at first ingest
            conn.execute("ROLLBACK")
            self._load(conn)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise StorageUnavailable(f"data dir {data_dir} is not usable: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed batch survives a process crash (SIGKILL); only a
            # power cut can lose the last batches, and posters resend those.
            conn.execute("PRAGMA synchronous=NORMAL")
            if self.max_db_bytes is not None:
                page_bytes = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count={max(1, self.max_db_bytes // page_bytes)}")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _load(self, conn: sqlite3.Connection) -> None:
        for run_id, config, created_at in conn.execute(
                "SELECT id, config, created_at FROM runs ORDER BY rowid"):
            cfg = RenderConfig.from_run_json(json.loads(config))
            self._runs[run_id] = RunState.new(run_id, cfg, created_at)
        rows = conn.execute("SELECT run, seq, row, col, site, sha256, stored_at,"
                            " json_extract(meta, '$.render_ms') FROM tiles ORDER BY run, seq")
        for run_id, seq, row, col, site, digest, stored_at, render_ms in rows:
            state = self._runs[run_id]
            state.digests[row * state.config.grid + col] = digest
            state.sites[site].add(render_ms, stored_at)
            state.seq = max(state.seq, seq)

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run_id: str, config: RenderConfig) -> tuple[bool, dict]:
        """Create ``run_id`` with ``config``, or confirm it.

        Returns:
            ``(created, run document)``; ``created`` is False when it existed with this config.

        Raises:
            RunConflict: it exists with a different config.
            StorageFull, StorageUnavailable: the insert failed (nothing stored).
        """
        with self._lock:
            existing = self._runs.get(run_id)
        if existing is not None:
            if existing.config.run_json() != config.run_json():
                raise RunConflict(f"run {run_id} exists with a different config")
            return False, self.run_doc(run_id)
        created_at = time.time()
        self._write(lambda conn: conn.execute(
            "INSERT INTO runs (id, config, created_at) VALUES (?, ?, ?)",
            (run_id, json.dumps(config.run_json()), created_at)))
        state = RunState.new(run_id, config, created_at)
        with self._lock:
            self._runs[run_id] = state
            return True, state.doc()

    def run_config(self, run_id: str) -> RenderConfig | None:
        """The config of ``run_id`` or None when it does not exist."""
        with self._lock:
            state = self._runs.get(run_id)
            return None if state is None else state.config

    def run_doc(self, run_id: str) -> dict | None:
        """The ``GET api/runs/{id}`` document, or None for an unknown run."""
        with self._lock:
            state = self._runs.get(run_id)
            return None if state is None else state.doc()

    def run_summary(self, run_id: str) -> dict | None:
        """The ``GET api/runs`` entry of one run, or None."""
        with self._lock:
            state = self._runs.get(run_id)
            return None if state is None else state.summary()

    def list_runs(self) -> list[dict]:
        """Summaries of every run, newest first."""
        with self._lock:
            return [state.summary() for state in reversed(self._runs.values())]

    def last_seq(self, run_id: str) -> int:
        """The seq of the last committed tile of ``run_id`` (0 when none)."""
        with self._lock:
            return self._runs[run_id].seq

    # -- tiles ------------------------------------------------------------------------------

    def add_tiles(self, run_id: str, tiles: Sequence[tuple[dict, bytes]]) -> BatchResult:
        """Store a validated batch atomically: all new tiles in one transaction, or none.

        Args:
            run_id: an existing run.
            tiles: ``(meta, png)`` pairs; ``meta`` has ``row``, ``col``, ``site`` and the
                optional metadata (already validated by :mod:`dashboard.validate`).

        Returns:
            The newly stored tiles with their seqs (manifest order) and the duplicate count.

        Raises:
            KeyError: unknown run.
            TileConflict: a tile is stored with different bytes (nothing stored).
            StorageFull, StorageUnavailable: the transaction failed (nothing stored).
        """
        with self._lock:
            state = self._runs[run_id]
            grid, seq = state.config.grid, state.seq
            fresh, duplicates = [], 0
            for meta, png in tiles:
                index = meta["row"] * grid + meta["col"]
                digest = hashlib.sha256(png).digest()
                known = state.digests.get(index)
                if known is None:
                    fresh.append((index, digest, meta, png))
                elif known == digest:
                    duplicates += 1
                else:
                    raise TileConflict(f"tile r{meta['row']}c{meta['col']} is already stored "
                                       "with different bytes")
        stored_at = time.time()
        new_tiles = [StoredTile(seq + i + 1, meta["row"], meta["col"], meta["site"],
                                _extra_meta(meta), png, stored_at)
                     for i, (_, _, meta, png) in enumerate(fresh)]
        if new_tiles:
            self._write(lambda conn: conn.executemany(
                "INSERT INTO tiles (run, seq, row, col, site, meta, png, sha256, length,"
                " stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, t.seq, t.row, t.col, t.site, json.dumps(t.meta), t.png, digest,
                  len(t.png), stored_at) for t, (_, digest, _, _) in zip(new_tiles, fresh)]))
        with self._lock:
            for tile, (index, digest, meta, _) in zip(new_tiles, fresh):
                state.digests[index] = digest
                state.sites[tile.site].add(meta.get("render_ms"), stored_at)
            state.seq = seq + len(new_tiles)
            return BatchResult(new_tiles, duplicates, state.seq)

    def tiles_since(self, run_id: str, since: int, upto: int, limit: int,
                    with_png: bool = True) -> list[StoredTile]:
        """Up to ``limit`` tiles with ``since < seq <= upto``, in seq order (one replay chunk).

        ``with_png=False`` leaves the PNG out (``b""``): the blobs are not even read.
        """
        png_column = "png" if with_png else "X''"
        rows = self._conn().execute(
            f"SELECT seq, row, col, site, meta, {png_column}, stored_at FROM tiles"
            " WHERE run = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (run_id, since, upto, limit))
        return [StoredTile(seq, row, col, site, json.loads(meta), png, stored_at)
                for seq, row, col, site, meta, png, stored_at in rows]

    def tile_png(self, run_id: str, row: int, col: int) -> tuple[bytes, bytes] | None:
        """``(png, sha256)`` of a stored tile, or None."""
        found = self._conn().execute(
            "SELECT png, sha256 FROM tiles WHERE run = ? AND row = ? AND col = ?",
            (run_id, row, col)).fetchone()
        return None if found is None else (found[0], found[1])

    def iter_row_pngs(self, run_id: str, row: int) -> Iterator[tuple[int, bytes]]:
        """``(col, png)`` of the stored tiles of one tile row (for the mosaic)."""
        yield from self._conn().execute(
            "SELECT col, png FROM tiles WHERE run = ? AND row = ?", (run_id, row))

    # -- plumbing ---------------------------------------------------------------------------

    def _write(self, action) -> None:
        """Run ``action(conn)`` in one IMMEDIATE transaction; map SQLite failures."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                action(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back by itself (disk full)
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc):
                raise StorageFull(f"storage is full: {exc}") from None
            raise StorageUnavailable(f"storage is not writable: {exc}") from None

    def close(self) -> None:
        """Checkpoint the WAL into the database file and close every connection."""
        with self._lock:
            connections, self._connections = self._connections, []
        for index, conn in enumerate(connections):
            try:
                if index == 0:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # a checkpoint is an optimisation; the WAL itself is durable
            conn.close()


_OPTIONAL_META = ("rank", "host", "render_ms", "encode_ms", "iterations")


def _extra_meta(meta: dict) -> dict:
    """The optional manifest fields kept with a tile (row/col/site live in their own columns)."""
    return {key: meta[key] for key in _OPTIONAL_META if key in meta}

"""The SQLite file under the tile store: schema, migrations, per-thread connections, transactions.

Stdlib ``sqlite3`` in WAL mode, no Tornado. :class:`dashboard.store.TileStore` holds the logic;
this module only knows how to open, write and close the database and how to map SQLite failures
onto the storage errors of :mod:`dashboard.records`.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from .records import StorageFull, StorageUnavailable

DB_NAME = "dashboard.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, config TEXT NOT NULL, created_at REAL NOT NULL, cancelled_at REAL,
    parent TEXT);
CREATE TABLE IF NOT EXISTS tiles (
    run TEXT NOT NULL, seq INTEGER NOT NULL, row INTEGER NOT NULL, col INTEGER NOT NULL,
    site TEXT NOT NULL, meta TEXT NOT NULL, png BLOB NOT NULL, sha256 BLOB NOT NULL,
    length INTEGER NOT NULL, stored_at REAL NOT NULL,
    PRIMARY KEY (run, seq), UNIQUE (run, row, col));
"""


class Database:
    """``data_dir/dashboard.sqlite3``, created or migrated to the current schema.

    Args:
        data_dir: created if missing.
        max_db_bytes: optional quota: the file never grows beyond it (a write that would is
            refused with :class:`StorageFull`, as on a full disk).

    Raises:
        StorageUnavailable: the directory or the database cannot be created or written.
    """

    def __init__(self, data_dir: str | os.PathLike, max_db_bytes: int | None = None):
        self.path = Path(data_dir) / DB_NAME
        self.max_db_bytes = max_db_bytes
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        try:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            conn = self.connection()
            conn.executescript(_SCHEMA)
            _migrate(conn)
            conn.execute("BEGIN IMMEDIATE")  # proves the file is writable now, not at first ingest
            conn.execute("ROLLBACK")
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise StorageUnavailable(f"data dir {data_dir} is not usable: {exc}") from None

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
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

    def write(self, action) -> None:
        """Run ``action(conn)`` in one IMMEDIATE transaction.

        Raises:
            StorageFull: the disk or the quota is full (nothing written).
            StorageUnavailable: any other SQLite failure (nothing written).
        """
        conn = self.connection()
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


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an older dashboard up to the current schema (idempotent)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    if "cancelled_at" not in columns:
        conn.execute("ALTER TABLE runs ADD COLUMN cancelled_at REAL")
    if "parent" not in columns:  # runs made before lineage have no parent (NULL)
        conn.execute("ALTER TABLE runs ADD COLUMN parent TEXT")

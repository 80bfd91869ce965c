"""Durable storage of runs and tiles: SQLite (stdlib ``sqlite3``, WAL) in a data directory.

No Tornado here: every method is synchronous and thread-safe. The app calls the writing methods
(:meth:`TileStore.create_run`, :meth:`TileStore.add_tiles`, :meth:`TileStore.cancel_run`) from
ONE writer thread, so the duplicate/conflict check and the insert of a batch see a consistent
state (and a cancel cannot slip between them), and the reading methods from reader threads (each
thread gets its own connection; WAL lets them read while the writer writes). The SQLite plumbing
is :mod:`dashboard.database`.

Per run, an in-memory :class:`RunState` (config, last ``seq``, the SHA-256 of every stored tile,
per-site counters) answers the run documents and the duplicate check without touching the disk.
It is rebuilt from the database at open, so a restart gives back every run, tile, ``seq``, stat
and cancellation (leases are not stored: see :mod:`dashboard.leases`).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence

from mpi_render.config import RenderConfig

from .database import Database
from .records import (
    BatchResult,
    RunCancelled,
    RunConflict,
    StorageUnavailable,
    StoredTile,
    TileConflict,
)
from .runstate import RunState
from .validate import OPTIONAL_META


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
        self.db = Database(data_dir, max_db_bytes)
        self.path = self.db.path
        self._lock = threading.Lock()
        self._runs: dict[str, RunState] = {}
        try:
            self._load(self.db.connection())
        except sqlite3.Error as exc:
            self.db.close()
            raise StorageUnavailable(f"data dir {data_dir} is not usable: {exc}") from None

    def _load(self, conn: sqlite3.Connection) -> None:
        for run_id, config, created_at, cancelled_at, parent in conn.execute(
                "SELECT id, config, created_at, cancelled_at, parent FROM runs ORDER BY rowid"):
            cfg = RenderConfig.from_run_json(json.loads(config))
            self._runs[run_id] = RunState.new(run_id, cfg, created_at, cancelled_at, parent)
        rows = conn.execute("SELECT run, seq, row, col, site, sha256, stored_at,"
                            " json_extract(meta, '$.render_ms') FROM tiles ORDER BY run, seq")
        for run_id, seq, row, col, site, digest, stored_at, render_ms in rows:
            state = self._runs[run_id]
            state.digests[row * state.config.grid + col] = digest
            state.sites[site].add(render_ms, stored_at)
            state.seq = max(state.seq, seq)

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run_id: str, config: RenderConfig,
                   parent: str | None = None) -> tuple[bool, dict]:
        """Create ``run_id`` with ``config``, or confirm it.

        Args:
            run_id: a checked run id.
            config: the run's config.
            parent: the run it was made from (an existing run, checked by the caller), kept with
                the run and returned in its documents. Not part of the config: confirming an
                existing run keeps the parent it was created with, whatever this one says.

        Returns:
            ``(created, run document)``; ``created`` is False when it existed with this config.

        Raises:
            RunConflict: it exists with a different config.
            StorageFull, StorageUnavailable: the insert failed (nothing stored).
        """
        with self._lock:
            existing = self._runs.get(run_id)
        if existing is not None:
            # equal as decimals: the same view in another spelling is the same run (the first
            # spelling stays stored and is what the run document returns)
            if existing.config != config:
                raise RunConflict(f"run {run_id} exists with a different config")
            return False, self.run_doc(run_id)
        created_at = time.time()
        self.db.write(lambda conn: conn.execute(
            "INSERT INTO runs (id, config, created_at, parent) VALUES (?, ?, ?, ?)",
            (run_id, json.dumps(config.run_json()), created_at, parent)))
        state = RunState.new(run_id, config, created_at, parent=parent)
        with self._lock:
            self._runs[run_id] = state
            return True, state.doc()

    def cancel_run(self, run_id: str) -> bool:
        """Mark ``run_id`` cancelled (persisted); idempotent.

        Returns:
            True when this call cancelled it, False when it was cancelled already.

        Raises:
            KeyError: unknown run.
            StorageFull, StorageUnavailable: the update failed (the run stays as it was).
        """
        with self._lock:
            state = self._runs[run_id]
            if state.cancelled:
                return False
        cancelled_at = time.time()
        self.db.write(lambda conn: conn.execute(
            "UPDATE runs SET cancelled_at = ? WHERE id = ?", (cancelled_at, run_id)))
        with self._lock:
            state.cancelled_at = cancelled_at
        return True

    def is_cancelled(self, run_id: str) -> bool:
        """Whether ``run_id`` was cancelled (False for an unknown run)."""
        with self._lock:
            state = self._runs.get(run_id)
            return state is not None and state.cancelled

    def unstored_tiles(self, run_id: str, site: str) -> list[int] | None:
        """The tiles ``site`` may render in ``run_id`` now (see :meth:`RunState.unstored`).

        Returns:
            Tile indices in tile-index order; None when the run is unknown, cancelled or
            complete (nothing to hand out).
        """
        with self._lock:
            state = self._runs.get(run_id)
            if state is None or state.cancelled or state.complete:
                return None
            return state.unstored(site)

    def open_runs(self, site: str) -> list[tuple[str, dict, float, list[int]]]:
        """Runs that include ``site``, are neither cancelled nor complete, and where ``site`` has
        unstored tiles, newest first: ``(id, run json, created_at, unstored tile indices)``."""
        with self._lock:
            states = [s for s in reversed(self._runs.values())
                      if site in s.config.sites and not s.cancelled and not s.complete]
            found = [(s.run_id, s.config.run_json(), s.created_at, s.unstored(site))
                     for s in states]
        return [entry for entry in found if entry[3]]

    def mean_tile_s(self, run_id: str) -> dict[str, float]:
        """Each site's mean ``render_ms`` in ``run_id``, in seconds (sites with none left out)."""
        with self._lock:
            state = self._runs.get(run_id)
            sites = {} if state is None else state.sites
            return {name: stats.render_ms_sum / stats.render_ms_count / 1e3
                    for name, stats in sites.items() if stats.render_ms_count}

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

        In a dynamic run the first stored copy of a tile wins: a later copy is a duplicate
        whatever its bytes. In a static split a later copy must have the same bytes.

        Returns:
            The newly stored tiles with their seqs (manifest order) and the duplicate count.

        Raises:
            KeyError: unknown run.
            RunCancelled: the run was cancelled (nothing stored).
            TileConflict: static split, a tile is stored with different bytes (nothing stored).
            StorageFull, StorageUnavailable: the transaction failed (nothing stored).
        """
        with self._lock:
            state = self._runs[run_id]
            if state.cancelled:
                raise RunCancelled(f"run {run_id} was cancelled")
            grid, seq, first_wins = state.config.grid, state.seq, state.config.dynamic
            fresh, duplicates = [], 0
            for meta, png in tiles:
                index = meta["row"] * grid + meta["col"]
                digest = hashlib.sha256(png).digest()
                known = state.digests.get(index)
                if known is None:
                    fresh.append((index, digest, meta, png))
                elif known == digest or first_wins:
                    duplicates += 1
                else:
                    raise TileConflict(f"tile r{meta['row']}c{meta['col']} is already stored "
                                       "with different bytes")
        stored_at = time.time()
        new_tiles = [StoredTile(seq + i + 1, meta["row"], meta["col"], meta["site"],
                                _extra_meta(meta), png, stored_at)
                     for i, (_, _, meta, png) in enumerate(fresh)]
        if new_tiles:
            self.db.write(lambda conn: conn.executemany(
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
        rows = self.db.connection().execute(
            f"SELECT seq, row, col, site, meta, {png_column}, stored_at FROM tiles"
            " WHERE run = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (run_id, since, upto, limit))
        return [StoredTile(seq, row, col, site, json.loads(meta), png, stored_at)
                for seq, row, col, site, meta, png, stored_at in rows]

    def tile_png(self, run_id: str, row: int, col: int) -> tuple[bytes, bytes] | None:
        """``(png, sha256)`` of a stored tile, or None."""
        found = self.db.connection().execute(
            "SELECT png, sha256 FROM tiles WHERE run = ? AND row = ? AND col = ?",
            (run_id, row, col)).fetchone()
        return None if found is None else (found[0], found[1])

    def iter_row_pngs(self, run_id: str, row: int) -> Iterator[tuple[int, bytes]]:
        """``(col, png)`` of the stored tiles of one tile row (for the mosaic)."""
        yield from self.db.connection().execute(
            "SELECT col, png FROM tiles WHERE run = ? AND row = ?", (run_id, row))

    def close(self) -> None:
        """Checkpoint and close the database."""
        self.db.close()


def _extra_meta(meta: dict) -> dict:
    """The optional manifest fields kept with a tile (row/col/site live in their own columns)."""
    return {key: meta[key] for key in OPTIONAL_META if key in meta}

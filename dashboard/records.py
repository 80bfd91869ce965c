"""What the tile store hands out and raises: stored tiles, batch results, storage errors.

Plain data, no SQLite, so handlers and the hub can use them without the store's internals.
"""
from __future__ import annotations

from dataclasses import dataclass


class StoreError(Exception):
    """Base of the storage errors."""


class RunConflict(StoreError):
    """A run exists with a different config (answer 409)."""


class RunCancelled(StoreError):
    """The run was cancelled: no more tiles or claims (answer 410); nothing was stored."""


class TileConflict(StoreError):
    """A tile is already stored with different bytes (answer 409); nothing was stored."""


class StorageFull(StoreError):
    """The disk (or the database's page limit) is full (answer 507); nothing was stored."""


class StorageUnavailable(StoreError):
    """The database cannot be written (read-only, I/O error) (answer 503); nothing was stored."""


@dataclass(frozen=True)
class StoredTile:
    """One stored tile as replay and the tile endpoints see it."""

    seq: int
    row: int
    col: int
    site: str
    meta: dict
    png: bytes
    stored_at: float

    def header(self) -> dict:
        """The JSON header of its WebSocket frame: the manifest metadata plus seq and stored_at."""
        return {**self.meta, "seq": self.seq, "row": self.row, "col": self.col,
                "site": self.site, "stored_at": self.stored_at}


@dataclass(frozen=True)
class BatchResult:
    """Outcome of ``TileStore.add_tiles``: the newly stored tiles (seq order), duplicates."""

    stored: list[StoredTile]
    duplicates: int
    seq: int

"""What the dashboard knows about one run, kept in memory: config, last seq, tile digests and
per-site counters. Pure data, no I/O: :class:`dashboard.store.TileStore` fills it from SQLite at
open and after every committed batch, and answers the run documents from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mpi_render.config import RenderConfig


@dataclass
class SiteStats:
    """Incremental per-site counters; ``render_ms_count`` counts tiles that reported render_ms.

    ``owned`` is the site's static share (None in a dynamic run); ``stored`` counts the tiles the
    site rendered and stored (in a dynamic run, the share it achieved).
    """

    owned: int | None
    stored: int = 0
    render_ms_sum: float = 0.0
    render_ms_count: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def add(self, render_ms, stored_at: float) -> None:
        self.stored += 1
        if isinstance(render_ms, (int, float)) and not isinstance(render_ms, bool):
            self.render_ms_sum += render_ms
            self.render_ms_count += 1
        self.first_at = stored_at if self.first_at is None else min(self.first_at, stored_at)
        self.last_at = stored_at if self.last_at is None else max(self.last_at, stored_at)

    def doc(self) -> dict:
        mean = self.render_ms_sum / self.render_ms_count if self.render_ms_count else None
        return {"owned": self.owned, "stored": self.stored, "render_ms_mean": mean,
                "first_at": self.first_at, "last_at": self.last_at}


@dataclass
class RunState:
    """What the dashboard knows about one run, kept in memory (rebuilt from SQLite at open)."""

    run_id: str
    config: RenderConfig
    created_at: float
    seq: int = 0
    digests: dict[int, bytes] = field(default_factory=dict)  # tile index -> sha256 of the PNG
    sites: dict[str, SiteStats] = field(default_factory=dict)
    cancelled_at: float | None = None
    owned: dict[str, list[int]] = field(default_factory=dict)  # static shares (empty lists: dynamic)
    parent: str | None = None  # the run this one was made from (kept, not part of the config)

    @classmethod
    def new(cls, run_id: str, config: RenderConfig, created_at: float,
            cancelled_at: float | None = None, parent: str | None = None) -> RunState:
        owned = config.owned()
        return cls(run_id, config, created_at, cancelled_at=cancelled_at, owned=owned,
                   parent=parent, sites={
            site: SiteStats(None if config.dynamic else len(tiles)) for site, tiles in owned.items()})

    @property
    def complete(self) -> bool:
        return len(self.digests) == self.config.total_tiles

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def unstored(self, site: str) -> list[int]:
        """Tile indices ``site`` may render now, in tile-index order: every unstored tile of a
        dynamic run, the site's own unstored ones in a static split."""
        tiles = range(self.config.total_tiles) if self.config.dynamic else self.owned[site]
        return [t for t in tiles if t not in self.digests]

    def summary(self) -> dict:
        """The entry of ``GET api/runs``."""
        return {"id": self.run_id, "created_at": self.created_at,
                "total": self.config.total_tiles, "stored": len(self.digests),
                "complete": self.complete, "cancelled": self.cancelled, "parent": self.parent}

    def doc(self) -> dict:
        """The document of ``GET api/runs/{id}`` (see docs/API.md)."""
        grid = self.config.grid
        owner = {t: site for site, tiles in self.owned.items() for t in tiles}
        missing = [{"row": t // grid, "col": t % grid, "site": owner.get(t)}
                   for t in range(self.config.total_tiles) if t not in self.digests]
        return {**self.summary(), "config": self.config.run_json(), "seq": self.seq,
                "sites": {name: stats.doc() for name, stats in self.sites.items()},
                "missing": missing}

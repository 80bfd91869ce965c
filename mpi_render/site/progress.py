"""Rank 0's progress display: a one-line bar on a terminal, periodic log lines otherwise.

Updated from rank 0's main thread each time a tile is finished (its own or a worker's), so it
needs no thread of its own. ``stored`` comes from the sink (tiles the dashboard confirmed).
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Callable, TextIO

log = logging.getLogger(__name__)
BAR_WIDTH = 30
BAR_REDRAW_S = 0.1


class Progress:
    """Counts finished tiles per rank and shows them.

    Args:
        total: tiles this site renders in this job.
        stored: returns how many tiles the sink has confirmed so far.
        stream: where the bar goes (a TTY gets the bar; anything else gets log lines).
        log_every_s: seconds between log lines when ``stream`` is not a TTY.
    """

    def __init__(self, total: int, stored: Callable[[], int], stream: TextIO | None = None,
                 log_every_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.total, self._stored, self._clock = total, stored, clock
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every_s = log_every_s
        self.per_rank: dict[int, int] = {}
        self.started_at = clock()
        self._shown_at = self.started_at

    def restart(self) -> None:
        """Start the clock now (after the kernel warm-up)."""
        self.started_at = self._shown_at = self._clock()

    @property
    def done(self) -> int:
        return sum(self.per_rank.values())

    def rate(self) -> float:
        """Finished tiles per second since the start."""
        return self.done / max(self._clock() - self.started_at, 1e-9)

    def tile_done(self, rank: int) -> None:
        """Count one finished tile of ``rank`` and refresh the display if it is due."""
        self.per_rank[rank] = self.per_rank.get(rank, 0) + 1
        now = self._clock()
        if self.tty and (now - self._shown_at >= BAR_REDRAW_S or self.done == self.total):
            self.stream.write("\r" + self.bar_line())
            self.stream.flush()
            self._shown_at = now
        elif not self.tty and now - self._shown_at >= self.log_every_s:
            log.info("%d/%d tiles, %.1f tiles/s, %d stored", self.done, self.total, self.rate(),
                     self._stored())
            self._shown_at = now

    def bar_line(self) -> str:
        """``[#####.....] 12/32 tiles  3.4 tiles/s  stored 10``"""
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} tiles  "
                f"{self.rate():.1f} tiles/s  stored {self._stored()}")

    def summary(self) -> str:
        """The final line: tiles, seconds, tiles/s and per-rank counts."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        elapsed_s = self._clock() - self.started_at
        ranks = " ".join(f"{r}={n}" for r, n in sorted(self.per_rank.items())) or "-"
        return (f"rendered {self.done}/{self.total} tiles in {elapsed_s:.2f} s "
                f"({self.rate():.1f} tiles/s); per rank: {ranks}; stored {self._stored()}")

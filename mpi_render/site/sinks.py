"""Where rank 0 puts finished tiles: the sink protocol, the ``--out`` directory sink, a tee.

A sink lives on rank 0 only. The driver calls ``open(tiles)`` once before rendering (it may
narrow the list, e.g. ``--only-missing``), ``put(meta, png)`` for every finished tile (its own
and the workers'), and ``close()`` once at the end, which returns a :class:`Delivery`.
``stored`` is read by the progress display.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

EXIT_OK = 0
EXIT_FAILED = 1      # a permanent failure: refused batch, missing tiles, rank error
EXIT_USAGE = 2       # bad input, including a run config that conflicts with the dashboard
EXIT_SPOOLED = 3     # the deadline passed with tiles still in the spool (resend them later)


class SetupError(Exception):
    """The sink cannot start (e.g. the run exists with another config); ``code`` = exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Delivery:
    """The outcome of a sink: how many of the expected tiles it holds, and the exit code."""

    stored: int
    expected: int
    exit_code: int
    message: str


class Sink(Protocol):
    stored: int

    def open(self, tiles: Sequence[int]) -> list[int]: ...

    def put(self, meta: dict, png: bytes) -> None: ...

    def close(self) -> Delivery: ...


class DirSink:
    """Writes each tile to ``directory/r{row}c{col}.png`` (created if missing).

    A file is written to a temporary name and renamed, so a reader never sees a partial PNG.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.stored = 0
        self._expected: set[int] = set()

    def open(self, tiles: Sequence[int]) -> list[int]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._expected = set(tiles)
        return list(tiles)

    def put(self, meta: dict, png: bytes) -> None:
        name = f"r{meta['row']}c{meta['col']}.png"
        tmp = self.directory / f".tmp-{os.getpid()}-{name}"
        tmp.write_bytes(png)
        os.replace(tmp, self.directory / name)
        self.stored += 1

    def close(self) -> Delivery:
        expected = len(self._expected)
        if self.stored >= expected:
            return Delivery(self.stored, expected, EXIT_OK,
                            f"{self.stored} tiles written to {self.directory}")
        return Delivery(self.stored, expected, EXIT_FAILED,
                        f"only {self.stored} of {expected} tiles written to {self.directory}")


class TeeSink:
    """Sends every tile to several sinks; the first one decides which tiles to render.

    ``stored`` and the delivery are those of the weakest sink (a tile counts when every sink
    has it).
    """

    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    @property
    def stored(self) -> int:
        return min(sink.stored for sink in self.sinks)

    def open(self, tiles: Sequence[int]) -> list[int]:
        chosen = self.sinks[0].open(tiles)
        for sink in self.sinks[1:]:
            sink.open(chosen)
        return chosen

    def put(self, meta: dict, png: bytes) -> None:
        for sink in self.sinks:
            sink.put(meta, png)

    def close(self) -> Delivery:
        deliveries = [sink.close() for sink in self.sinks]
        worst = max(deliveries, key=lambda d: d.exit_code)
        return Delivery(min(d.stored for d in deliveries), worst.expected, worst.exit_code,
                        "; ".join(d.message for d in deliveries))


class MemorySink:
    """Keeps every tile in memory: ``tiles[(row, col)] = (meta, png)`` (tests, embedding)."""

    def __init__(self):
        self.tiles: dict[tuple[int, int], tuple[dict, bytes]] = {}
        self._expected = 0

    @property
    def stored(self) -> int:
        return len(self.tiles)

    def open(self, tiles: Sequence[int]) -> list[int]:
        self._expected = len(tiles)
        return list(tiles)

    def put(self, meta: dict, png: bytes) -> None:
        self.tiles[(meta["row"], meta["col"])] = (meta, png)

    def close(self) -> Delivery:
        code = EXIT_OK if self.stored >= self._expected else EXIT_FAILED
        return Delivery(self.stored, self._expected, code,
                        f"{self.stored} of {self._expected} tiles kept in memory")

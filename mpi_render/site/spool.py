"""The on-disk spool of tile batches that are not yet confirmed stored by the dashboard.

Write-ahead: the poster writes every batch here *before* sending it and removes it only after
the dashboard answered 200, so a batch survives a dashboard outage, a poster deadline and a
crash of rank 0 alike. ``mpi-render --resend`` sends what is left.

Layout of a spool directory (one per run and site)::

    run.json                         {"run": ID, "site": NAME, "config": run_json}
    <time_ns>-<pid>-<n>.batch        one batch: the multipart body exactly as POSTed

Files are written to a temporary name, flushed, fsynced and renamed, so a reader never sees half a
batch. A batch file is self-describing: its first line is the multipart boundary.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..protocol import BatchError, parse_batch

BATCH_SUFFIX = ".batch"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class SpooledBatch:
    """A batch on disk: its file and the ``(row, col)`` keys of its tiles."""

    path: Path
    keys: tuple[tuple[int, int], ...]

    def read(self) -> tuple[str, bytes]:
        """``(content_type, body)`` ready to POST again."""
        body = self.path.read_bytes()
        return content_type_of(body), body


def content_type_of(body: bytes) -> str:
    """The multipart content type of a spooled body, from its first (boundary) line.

    Raises:
        ValueError: the body does not start with a multipart boundary line.
    """
    first, sep, _ = body.partition(b"\r\n")
    if not sep or not first.startswith(b"--") or len(first) < 3:
        raise ValueError("spooled batch does not start with a multipart boundary")
    return f"multipart/form-data; boundary={first[2:].decode('ascii')}"


class Spool:
    """Batches of one run and site, kept in ``directory`` (created on first write)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self._written = 0

    def write_run(self, run_id: str, site: str, run_json: dict) -> None:
        """Record which run and site the batches belong to (read back by ``--resend``)."""
        doc = {"run": run_id, "site": site, "config": run_json}
        self._atomic_write(self.directory / RUN_FILE, json.dumps(doc, indent=1).encode())

    def read_run(self) -> dict:
        """The ``run.json`` document.

        Raises:
            ValueError: missing or malformed (the message names the file).
        """
        path = self.directory / RUN_FILE
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"spool {self.directory} has no readable {RUN_FILE}: {exc}") from None
        if not (isinstance(doc, dict) and {"run", "site", "config"} <= doc.keys()):
            raise ValueError(f"{path} must hold an object with run, site and config")
        return doc

    def add(self, content_type: str, body: bytes) -> SpooledBatch:
        """Persist one batch body (durably) and return it.

        Raises:
            ValueError: ``content_type`` does not match the body's boundary line.
            OSError: the disk refused (full, read-only, ...).
        """
        if content_type_of(body) != content_type:
            raise ValueError("content type does not match the batch body's boundary")
        self._written += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._written:06d}{BATCH_SUFFIX}"
        path = self.directory / name
        self._atomic_write(path, body)
        return SpooledBatch(path, _keys(content_type, body, path))

    def pending(self) -> list[SpooledBatch]:
        """Every batch still on disk, oldest first.

        Raises:
            ValueError: a batch file is corrupt (the message names it; it is left in place).
        """
        if not self.directory.is_dir():
            return []
        batches = []
        for path in sorted(self.directory.glob("*" + BATCH_SUFFIX)):
            body = path.read_bytes()
            batches.append(SpooledBatch(path, _keys(content_type_of(body), body, path)))
        return batches

    def remove(self, batch: SpooledBatch) -> None:
        """Forget a batch (call only after the dashboard confirmed every tile of it)."""
        batch.path.unlink(missing_ok=True)

    def drop(self) -> int:
        """Delete every batch (their run was cancelled) and the directory; returns how many."""
        batches = self.pending() if self.directory.is_dir() else []
        for batch in batches:
            self.remove(batch)
        self.discard_if_empty()
        return len(batches)

    def discard_if_empty(self) -> None:
        """Remove the spool directory once no batch is left in it."""
        if self.directory.is_dir() and not any(self.directory.glob("*" + BATCH_SUFFIX)):
            (self.directory / RUN_FILE).unlink(missing_ok=True)
            try:
                self.directory.rmdir()
            except OSError:
                pass  # something else lives there (a stray temp file): leave the directory

    def _atomic_write(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def _keys(content_type: str, body: bytes, path: Path) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((meta["row"], meta["col"]) for meta, _ in parse_batch(content_type, body))
    except BatchError as exc:
        raise ValueError(f"spooled batch {path} is corrupt: {exc}") from None

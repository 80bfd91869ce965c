"""The wire formats shared by the poster (``mpi_render.site.poster``) and the dashboard. Stdlib only.

Tile batch (``POST api/runs/{id}/tiles``): ``multipart/form-data`` with one form field
``manifest`` (JSON list of tile metadata, one object per tile, each with at least ``row``,
``col`` and ``site``) and one file part per tile, field name ``r{row}c{col}``, filename
``r{row}c{col}.png``, content type ``image/png``, the PNG bytes as they are (no base64).

Tile frame (one binary WebSocket message per tile)::

    bytes 0..3   "MRT1" (magic and layout version)
    bytes 4..7   H = length of the header, unsigned 32-bit big-endian
    bytes 8..8+H header: UTF-8 JSON object (seq, row, col, site, rank, host, render_ms, ...)
    rest         the PNG bytes
"""
from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Sequence

FRAME_MAGIC = b"MRT1"
MANIFEST_FIELD = "manifest"
REQUIRED_TILE_FIELDS = ("row", "col", "site")
_BOUNDARY_RE = re.compile(r'boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))', re.IGNORECASE)
_DISPOSITION_RE = re.compile(r'\bname="([^"]*)"', re.IGNORECASE)


class BatchError(ValueError):
    """A batch body that cannot be parsed; the message says what is wrong (answer 400)."""


def tile_field(row: int, col: int) -> str:
    """Form field name of tile ``(row, col)``: ``r{row}c{col}``."""
    return f"r{row}c{col}"


def encode_batch(tiles: Sequence[tuple[dict, bytes]]) -> tuple[str, bytes]:
    """Build a batch body from ``(metadata, png_bytes)`` pairs.

    Returns:
        ``(content_type, body)`` ready for an HTTP POST.
    """
    boundary = "mpirender" + os.urandom(12).hex()
    manifest = [meta for meta, _ in tiles]
    parts = [_part(boundary, f'form-data; name="{MANIFEST_FIELD}"', "application/json",
                   json.dumps(manifest, separators=(",", ":")).encode())]
    for meta, png in tiles:
        name = tile_field(meta["row"], meta["col"])
        parts.append(_part(boundary, f'form-data; name="{name}"; filename="{name}.png"',
                           "image/png", png))
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def _part(boundary: str, disposition: str, content_type: str, payload: bytes) -> bytes:
    head = (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + payload + b"\r\n"


def parse_batch(content_type: str, body: bytes) -> list[tuple[dict, bytes]]:
    """Parse a batch body strictly into ``(metadata, png_bytes)`` pairs, in manifest order.

    Every manifest entry must have ``row``, ``col`` (integers) and ``site`` (string), name a
    distinct tile, and have exactly one file part; no file part may be left over.

    Raises:
        BatchError: not multipart, no boundary, truncated body, manifest missing / not JSON /
            not a list of objects / missing fields, duplicate or missing or extra tile parts.
    """
    match = _BOUNDARY_RE.search(content_type or "")
    if not (content_type or "").lower().startswith("multipart/form-data") or not match:
        raise BatchError("body must be multipart/form-data with a boundary")
    fields = _split_parts(body, (match.group(1) or match.group(2)).encode())
    if MANIFEST_FIELD not in fields:
        raise BatchError("batch has no 'manifest' field")
    manifest = _parse_manifest(fields.pop(MANIFEST_FIELD))
    tiles = []
    for meta in manifest:
        name = tile_field(meta["row"], meta["col"])
        if name not in fields:
            raise BatchError(f"manifest names tile {name} but the batch has no part {name!r}")
        tiles.append((meta, fields.pop(name)))
    if fields:
        raise BatchError(f"batch has parts not in the manifest: {', '.join(sorted(fields))[:200]}")
    return tiles


def _split_parts(body: bytes, boundary: bytes) -> dict[str, bytes]:
    delimiter = b"--" + boundary
    if not body.startswith(delimiter):
        raise BatchError("multipart body does not start with its boundary")
    end = body.rfind(b"\r\n" + delimiter + b"--")
    if end < 0:
        raise BatchError("multipart body is truncated (no closing boundary)")
    fields: dict[str, bytes] = {}
    for chunk in body[len(delimiter):end].split(b"\r\n" + delimiter):
        if not chunk.startswith(b"\r\n"):
            raise BatchError("malformed multipart part")
        head, sep, payload = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise BatchError("multipart part has no header/body separator")
        name = _part_name(head)
        if name in fields:
            raise BatchError(f"multipart field {name!r} appears twice")
        fields[name] = payload
    return fields


def _part_name(head: bytes) -> str:
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            match = _DISPOSITION_RE.search(value)
            if match:
                return match.group(1)
    raise BatchError("multipart part has no Content-Disposition name")


def _parse_manifest(raw: bytes) -> list[dict]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    # ValueError also covers ints past Python's digit limit; RecursionError deep nesting.
    except (ValueError, RecursionError) as exc:
        raise BatchError(f"manifest is not JSON: {str(exc)[:200]}") from None
    if not isinstance(manifest, list) or not manifest:
        raise BatchError("manifest must be a non-empty JSON list of tile objects")
    seen = set()
    for meta in manifest:
        if not isinstance(meta, dict):
            raise BatchError("every manifest entry must be a JSON object")
        missing = [k for k in REQUIRED_TILE_FIELDS if k not in meta]
        if missing:
            raise BatchError(f"manifest entry is missing {', '.join(missing)}")
        if not all(isinstance(meta[k], int) and not isinstance(meta[k], bool)
                   for k in ("row", "col")):
            raise BatchError("manifest row and col must be integers")
        if not isinstance(meta["site"], str):
            raise BatchError("manifest site must be a string")
        key = (meta["row"], meta["col"])
        if key in seen:
            raise BatchError(f"tile {tile_field(*key)} appears twice in the manifest")
        seen.add(key)
    return manifest


def encode_frame(header: dict, png: bytes) -> bytes:
    """One binary WebSocket tile frame (layout in the module docstring)."""
    return b"".join(frame_parts(header, png))


def frame_parts(header: dict, png: bytes) -> tuple[bytes, ...]:
    """The pieces of a tile frame, in order (joined, they are :func:`encode_frame`'s bytes)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return FRAME_MAGIC, struct.pack(">I", len(head)), head, png


def decode_frame(frame: bytes) -> tuple[dict, bytes]:
    """Inverse of :func:`encode_frame`.

    Raises:
        ValueError: wrong magic or a header length past the end of the frame.
    """
    if frame[:4] != FRAME_MAGIC or len(frame) < 8:
        raise ValueError("not a tile frame (bad magic)")
    (size,) = struct.unpack(">I", frame[4:8])
    if 8 + size > len(frame):
        raise ValueError("tile frame header runs past the end of the frame")
    return json.loads(frame[8:8 + size].decode()), frame[8 + size:]

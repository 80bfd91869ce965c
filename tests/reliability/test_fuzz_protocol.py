"""Fuzz the batch parser (``mpi_render.protocol.parse_batch``) with hypothesis.

Contract under test: for ANY content type and body, ``parse_batch`` either returns well-formed
``(metadata, png)`` pairs or raises ``BatchError`` (the dashboard answers 400). Any other exception
would surface as a 500 from the ingest handler. Examples are bounded so the module runs in seconds.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mpi_render.protocol import BatchError, encode_batch, parse_batch, tile_field

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
BOUNDARY = "fuzzb0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"

tile_meta = st.fixed_dictionaries(
    {"row": st.integers(0, 63), "col": st.integers(0, 63), "site": st.text(max_size=12)},
    optional={"rank": st.integers(0, 8), "render_ms": st.floats(0, 1e4)},
)
tile_batches = st.lists(st.tuples(tile_meta, st.binary(max_size=64)), min_size=1, max_size=6,
                        unique_by=lambda pair: (pair[0]["row"], pair[0]["col"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4),
    max_leaves=20,
)


def _manifest_body(manifest_bytes: bytes, parts: dict[str, bytes] | None = None) -> bytes:
    """A well-formed multipart body with the given raw manifest bytes and file parts."""
    chunks = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="manifest"\r\n\r\n'.encode()
              + manifest_bytes + b"\r\n"]
    for name, payload in (parts or {}).items():
        chunks.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                      f'filename="{name}.png"\r\n\r\n'.encode() + payload + b"\r\n")
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


def _parse_or_batch_error(content_type: str, body: bytes):
    """Run the parser; return its result, or None when it refused with BatchError."""
    try:
        tiles = parse_batch(content_type, body)
    except BatchError:
        return None
    keys = set()
    for meta, png in tiles:
        assert isinstance(meta["row"], int) and isinstance(meta["col"], int)
        assert isinstance(meta["site"], str) and isinstance(png, bytes)
        keys.add((meta["row"], meta["col"]))
    assert len(keys) == len(tiles), "parser returned a tile twice"
    return tiles


@FUZZ
@given(tile_batches)
def test_round_trip_of_encoded_batches(tiles):
    content_type, body = encode_batch(tiles)
    assert parse_batch(content_type, body) == tiles


@FUZZ
@given(st.text(max_size=80), st.binary(max_size=400))
@example("multipart/form-data; boundary=x", b"--x--\r\n")
@example("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--")
def test_arbitrary_bodies_only_raise_batch_error(content_type, body):
    _parse_or_batch_error(content_type, body)


@FUZZ
@given(tile_batches, st.data())
def test_mutated_valid_batches_only_raise_batch_error(tiles, data):
    content_type, body = encode_batch(tiles)
    cut = data.draw(st.integers(0, len(body)), label="position")
    mutation = data.draw(st.sampled_from(["truncate", "flip", "insert", "repeat"]), label="op")
    if mutation == "truncate":
        body = body[:cut]
    elif mutation == "flip":
        body = body[:cut] + bytes([body[cut] ^ 0xFF]) + body[cut + 1:] if cut < len(body) else body
    elif mutation == "insert":
        body = body[:cut] + data.draw(st.binary(min_size=1, max_size=40)) + body[cut:]
    else:
        body = body[:cut] + body[cut // 2:cut] + body[cut:]
    _parse_or_batch_error(content_type, body)


@FUZZ
@given(json_values)
def test_any_json_manifest_only_raises_batch_error(manifest):
    body = _manifest_body(json.dumps(manifest).encode(), {tile_field(0, 0): b"png"})
    _parse_or_batch_error(CONTENT_TYPE, body)


@pytest.mark.parametrize("manifest", [
    pytest.param(b"[" * 100_000, id="deeply-nested-json"),
    pytest.param(b'[{"row": ' + b"1" * 5000 + b', "col": 0, "site": "a"}]', id="5000-digit-int"),
    pytest.param(b'[{"row": 0, "col": 0, "site": "a"}]' + b"\xff", id="trailing-non-utf8"),
    pytest.param(b'[{"row": true, "col": 0, "site": "a"}]', id="bool-row"),
    pytest.param(b'[{"row": 0.0, "col": 0, "site": "a"}]', id="float-row"),
    pytest.param(b'[{"row": 0, "col": 0, "site": null}]', id="null-site"),
])
def test_hostile_manifests_are_refused_with_batch_error(manifest):
    body = _manifest_body(manifest, {tile_field(0, 0): b"png"})
    with pytest.raises(BatchError):
        parse_batch(CONTENT_TYPE, body)

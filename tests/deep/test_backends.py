"""Every backend is bit-identical to the reference perturbation loop: counts, extra, r2 and the
step statistics, at every depth, in the centre and in the corners (rebasing), and past the end
of a reference that escapes early."""
import functools
from decimal import Decimal, localcontext

import numpy as np
import pytest
from deepviews import reference, view_of

from mpi_render import deep
from mpi_render.deep import stats as st
from mpi_render.view import View

# (view name, grid, tile_px, row, col): 1024-pixel images; small tiles keep the oracle quick
CASES = [
    ("e20", 128, 8, 64, 63), ("e20", 128, 8, 0, 0),
    ("flake", 64, 16, 32, 31), ("flake", 64, 16, 0, 63),
    ("spiral", 128, 8, 64, 64), ("spiral", 128, 8, 0, 127),
    ("tripod", 128, 8, 63, 64), ("tripod", 128, 8, 127, 0),
    ("minibrot", 64, 16, 32, 32), ("minibrot", 64, 16, 63, 0),
    ("beside-minibrot", 64, 16, 32, 20),
]


@functools.cache
def beside_minibrot() -> deep.Reference:
    """A view centred just outside the minibrot, so the reference escapes early (~1,000) while
    the minibrot's pixels run to max_iter: they rebase at the reference's end."""
    view, max_iter = view_of("minibrot")
    with localcontext() as ctx:
        ctx.prec = 120
        cx = str(Decimal(view.cx) + Decimal("3e-50"))
    return deep.prepare(View(cx, view.cy, "1.2e-49"), 1024, max_iter)


def prepared(name: str) -> deep.Reference:
    return beside_minibrot() if name == "beside-minibrot" else reference(name)


@functools.cache
def oracle(case):
    name, grid, tile_px, row, col = case
    counters = st.new()
    escape = deep.tile_escape(prepared(name), grid, tile_px, row, col, backend="reference",
                              stats=counters)
    return escape, counters


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-r{c[3]}c{c[4]}")
def test_backend_is_bit_identical_to_the_reference_loop(case, fast_backend):
    name, grid, tile_px, row, col = case
    want, want_stats = oracle(case)
    counters = st.new()
    got = deep.tile_escape(prepared(name), grid, tile_px, row, col, backend=fast_backend,
                           stats=counters)
    for field in ("counts", "extra", "r2"):
        a, b = getattr(got, field), getattr(want, field)
        assert a.dtype == b.dtype and a.shape == (tile_px, tile_px)
        assert np.array_equal(a, b), f"{field} differ at {np.argwhere(a != b)[:5].tolist()}"
    assert st.as_dict(counters) == st.as_dict(want_stats)


def test_the_early_escaping_reference_is_outlived():
    ref = beside_minibrot()
    want, counters = oracle(CASES[-1])
    assert ref.orbit.escaped and ref.orbit.length < 2000
    assert (want.counts > ref.orbit.length).any() and counters[st.REBASES] > 0


@pytest.mark.parametrize("backend, message", [
    ("cuda", "backend must be one of numba, numpy, reference, got 'cuda'"),
])
def test_an_unknown_backend_is_refused(backend, message):
    with pytest.raises(ValueError, match=message):
        deep.tile_escape(reference("flake"), 64, 16, 0, 0, backend=backend)


@pytest.mark.parametrize("grid, tile_px, row, col, message", [
    (64, 16, 64, 0, r"tile \(64, 0\) is outside the 64x64 grid"),
    (64, 16, 0, -1, r"tile \(0, -1\) is outside the 64x64 grid"),
    (32, 16, 0, 0, "grid \\* tile_px must be the prepared image size 1024, got 32 \\* 16"),
    (64, 0, 0, 0, "tile_px must be a positive integer, got 0"),
])
def test_a_tile_outside_the_prepared_image_is_refused(grid, tile_px, row, col, message):
    with pytest.raises(ValueError, match=message):
        deep.tile_escape(reference("flake"), grid, tile_px, row, col, backend="numpy")


def test_numpy_in_row_blocks_is_the_same_bits(monkeypatch):
    from mpi_render.deep import numpy_backend

    case = ("spiral", 128, 8, 64, 64)
    want, want_stats = oracle(case)
    monkeypatch.setattr(numpy_backend, "BLOCK_PX", 20)  # 2-row blocks of an 8-pixel tile
    counters = st.new()
    got = deep.tile_escape(prepared("spiral"), 128, 8, 64, 64, backend="numpy", stats=counters)
    assert all(np.array_equal(getattr(got, f), getattr(want, f)) for f in ("counts", "extra", "r2"))
    assert st.as_dict(counters) == st.as_dict(want_stats)

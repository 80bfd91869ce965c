"""The smooth-colour data (``mpi_render.escape``): every backend bit-identical to the references.

``escape_data`` must return the counts of ``escape_counts`` and, for every escaped pixel, the
``extra`` iterations and the ``r2`` (compared bit for bit) of the C reference's smooth tail
(``mr_reference_escape`` in ``reference.c``), which in turn equals the plain-Python reference;
the interior gets 0 and 0.0. Every backend as it runs (numpy, numba's JIT, numba's native
library: the ``backend`` fixture), with the shortcuts on and off.
"""
import numpy as np
import pytest

from mpi_render.escape import SMOOTH_MAX_EXTRA, SMOOTH_R2, Escape
from mpi_render.kernels import dispatch, escape_counts, escape_data, numpy_backend, reference
from tests.kernels.test_kernel import CASES, SEAHORSE, view
from tests.kernels.test_shortcuts import AIRPLANE, PERIOD3_CENTRE

SMOOTH_CASES = {
    **CASES,
    "near c = -2, slow tails": view((-2.0, 0.0), 1e-6, 33, 17, 5000),
    "period-3 bulb and its edge (exact cycles)": view(PERIOD3_CENTRE, 0.05, 40, 32, 3000),
    "airplane mini-brot (trap test)": view(AIRPLANE, 0.01, 40, 40, 4096),
    "seahorse, cap 1e5": view(SEAHORSE, 1e-6, 16, 16, 100000),
    "larger than numpy's working set": view((-0.75, 0.1), 0.8, 320, 256, 1500),
}


def assert_same_escape(got: Escape, want: Escape) -> None:
    for name in ("counts", "extra", "r2"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        bad = np.argwhere(a.view(np.uint64) != b.view(np.uint64)) if name == "r2" \
            else np.argwhere(a != b)
        assert bad.size == 0, (f"{name}: {len(bad)} pixels differ, first at {bad[:3].tolist()}: "
                               f"{[(a[tuple(i)], b[tuple(i)]) for i in bad[:3]]}")


@pytest.mark.parametrize("shortcuts", [False, True], ids=["brute", "shortcuts"])
@pytest.mark.parametrize("case", SMOOTH_CASES.values(), ids=SMOOTH_CASES.keys())
def test_escape_data_matches_c_reference(cref, backend, shortcuts, case):
    got = escape_data(*case, backend=backend, shortcuts=shortcuts)
    assert_same_escape(got, cref.escape_tile(*case))


@pytest.mark.parametrize("case", SMOOTH_CASES.values(), ids=SMOOTH_CASES.keys())
def test_escape_data_counts_are_escape_counts(backend, case):
    np.testing.assert_array_equal(escape_data(*case, backend=backend).counts,
                                  escape_counts(*case, backend=backend))


def test_the_views_exercise_the_tails():
    """The cases above hold interior, slow tails (more than the 4 steps numba takes at once)
    and tails that start far outside the smooth radius (|c| ~ 1e200: no step at all)."""
    escapes = {name: escape_data(*case, backend="numpy") for name, case in SMOOTH_CASES.items()}
    extras = np.concatenate([e.extra[e.counts < case[-1]] for e, case in
                             zip(escapes.values(), SMOOTH_CASES.values())])
    assert extras.min() == 0 and extras.max() > 8
    assert (escapes["full view"].counts == 256).any()
    assert np.isinf(escapes["huge c overflows"].r2).any()


@pytest.mark.parametrize("max_iter", [1, 7, 60])
def test_c_reference_equals_python_reference(cref, max_iter):
    args = view((-0.6, 0.05), 2.8, 13, 9, max_iter)
    cr, ci = dispatch.pixel_centres(*args[:6])
    want = reference.escape_data(cr.tolist(), ci.tolist(), max_iter)
    got = cref.escape(cr, ci, max_iter)
    assert [[(int(n), int(e), float(r)) for n, e, r in zip(*rows)]
            for rows in zip(got.counts, got.extra, got.r2)] == want


@pytest.mark.parametrize(("c", "max_iter", "expected"), [
    # z: 0, 1, 2, 5 (|z|^2 = 25: count 3), 26 (676), 677 (458329 > 65536: 2 more)
    ((1.0, 0.0), 50, (3, 2, 458329.0)),
    ((1.0, 0.0), 4, (3, 2, 458329.0)),
    ((1.0, 0.0), 3, (3, 0, 0.0)),  # the escape at max_iter is not looked at: interior
    # z: 0, 2 (|z|^2 = 4 is not > 4), 6 (count 2), 38, 1446 (2090916)
    ((2.0, 0.0), 50, (2, 2, 2090916.0)),
    # z: 0, 3 (count 1), 12, 147, 21612 (467078544)
    ((3.0, 0.0), 50, (1, 3, 467078544.0)),
    ((-2.0, 0.0), 50, (50, 0, 0.0)),  # 0, -2, 2, 2, ...: never escapes
    ((0.0, 0.0), 50, (50, 0, 0.0)),
])
def test_python_reference_hand_computed(c, max_iter, expected):
    assert reference.escape(*c, max_iter) == expected


def test_tails_stop_after_smooth_max_extra():
    """z = 2 under c = -2 stays at |z|^2 = 4: a tail that never passes the smooth radius stops
    after SMOOTH_MAX_EXTRA iterations with r2 = 4 (no pixel of a double view gets there: near
    c = -2 the slowest tails take about 30). Every implementation of the tail agrees."""
    from mpi_render.kernels import numba_backend
    assert reference._smooth_tail(2.0, 0.0, -2.0, 0.0) == (SMOOTH_MAX_EXTRA, 4.0)
    extra, r2 = np.zeros(1, np.uint8), np.array([2.0])  # r2 holds x of the state on entry
    numba_backend._tail_row(np.array([-2.0]), 0.0, 9, np.array([1], np.uint32), extra, r2,
                            np.array([0.0]))
    assert (extra[0], r2[0]) == (SMOOTH_MAX_EXTRA, 4.0)
    extra[0], r2[0] = 0, 0.0
    numpy_backend._smooth_tails(np.array([0]), np.array([2.0]), np.array([0.0]),
                                np.array([-2.0]), np.array([0.0]), (extra, r2))
    assert (extra[0], r2[0]) == (SMOOTH_MAX_EXTRA, 4.0)
    assert SMOOTH_R2 > 4.0


def test_interior_is_zero_and_escaped_r2_is_past_the_radius(backend):
    escape = escape_data(*view((-0.75, 0.0), 3.0, 64, 64, 300), backend=backend)
    inside = escape.counts == 300
    assert inside.any() and (escape.extra[inside] == 0).all() and (escape.r2[inside] == 0).all()
    assert (escape.r2[~inside] > SMOOTH_R2).all()  # no tail hits the cap on this view


def test_escape_data_refuses_bad_arguments():
    with pytest.raises(ValueError, match="^max_iter must be"):
        escape_data(-2.0, 1.0, 0.1, 0.1, 4, 4, 0, backend="numpy")
    with pytest.raises(ValueError, match="backend must be one of"):
        escape_data(-2.0, 1.0, 0.1, 0.1, 4, 4, 10, backend="cuda")

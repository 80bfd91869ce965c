"""Kernels: every backend bit-identical to the exact C reference and to the plain-Python one.

The numba backend is tested both ways it runs: numba's JIT and the prebuilt native library of
the same kernel (``mpi_render.kernels.native``, built once per session into a temporary
directory by the ``native_library_path`` fixture in ``conftest.py``).

The C reference is the repository's own ``mpi_render/kernels/reference.c``: plain scalar C in the
contract's operation order, built with the machine's ``cc -O2 -ffp-contract=off`` on first use
(``mpi_render.kernels.creference``).
"""
import doctest
import os
import subprocess
import sys

import numpy as np
import pytest

from mpi_render.kernels import (
    available_backends,
    dispatch,
    escape_counts,
    numpy_backend,
    reference,
    resolve_backend,
)
from mpi_render.tiling import tile_bounds

SEAHORSE = (-0.743643887037151, 0.131825904205330)


def view(center, width, width_px, height_px, max_iter):
    """escape_counts arguments for a ``width``-wide view of ``width_px x height_px`` pixels."""
    dx = width / width_px
    return (center[0] - width / 2, center[1] + dx * height_px / 2, dx, dx, width_px, height_px,
            max_iter)


CASES = {
    "full view": view((-0.75, 0.0), 3.0, 160, 160, 256),
    "seahorse deep zoom": view(SEAHORSE, 1e-4, 64, 64, 2048),
    "odd size, max_iter not a block multiple": view((-0.75, 0.1), 2.9, 37, 23, 1001),
    "max_iter below one block": view((-0.5, 0.0), 3.0, 19, 11, 5),
    "max_iter 1": view((-0.5, 0.0), 5.0, 9, 7, 1),
    # |c| up to 1e200: blind block iterations overflow to inf and nan after the escape.
    "huge c overflows": (-1e200, 1e200, 2e199, 2e199, 10, 10, 300),
}


@pytest.mark.parametrize("shortcuts", [False, True], ids=["brute", "shortcuts"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_backend_matches_c_reference(cref, backend, shortcuts, case):
    want = cref.tile(*case)
    got = escape_counts(*case, backend=backend, shortcuts=shortcuts)
    assert got.dtype == np.uint32 and got.shape == want.shape
    mismatched = np.argwhere(got != want)
    assert mismatched.size == 0, f"{len(mismatched)} pixels differ, first at {mismatched[:5]}"


def test_boundary_tiles_match_c_reference(cref, backend):
    grid, tile_px, max_iter = 6, 24, 500
    straddling = 0
    for row in range(grid):
        for col in range(grid):
            b = tile_bounds(grid, tile_px, (-0.75, 0.0), 3.0, row, col)
            args = (b.xmin, b.ymax, b.dx, b.dy, tile_px, tile_px, max_iter)
            got = escape_counts(*args, backend=backend)
            np.testing.assert_array_equal(got, cref.tile(*args))
            straddling += bool((got == max_iter).any() and (got < max_iter).any())
    assert straddling >= 8  # the grid really crosses the set's boundary


@pytest.mark.parametrize("max_iter", [1, 7, 60])
def test_backend_matches_python_reference(backend, max_iter):
    args = view((-0.6, 0.05), 2.8, 13, 9, max_iter)
    cr, ci = dispatch.pixel_centres(*args[:6])
    want = reference.escape_counts(cr.tolist(), ci.tolist(), max_iter)
    assert escape_counts(*args, backend=backend).tolist() == want


def test_bulb_test_accepts_the_cardioid_and_bulb_with_a_margin():
    cr = np.array([0.0, 0.25, 0.249, 0.3, -1.0, -1.26, -0.75, -0.5, -1.25])
    ci = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.5, 0.0])
    # 0.25 (the cusp) and -1.25 (the bulb's edge) are on the boundary: the margin refuses them
    assert numpy_backend.in_main_bulbs(cr, ci).tolist() == [True, False, True, False, True,
                                                           False, False, True, False]


def test_a_view_larger_than_the_numpy_working_set_matches_c_reference(cref, backend):
    """More pixels than numpy's working set holds, short and long orbits mixed: the set is
    refilled while dead pixels wait for compaction, and saves and caps run over slices."""
    case = view((-0.75, 0.1), 0.8, 320, 256, 1500)
    assert 320 * 256 > numpy_backend.WORKING_PX
    np.testing.assert_array_equal(escape_counts(*case, backend=backend), cref.tile(*case))


def test_numpy_short_orbits_never_join_the_working_set(monkeypatch):
    """Most pixels of the full view escape within a block: the numpy backend's entry pass gives
    them their counts, so they pay neither the blind block, the replay nor the compaction."""
    joined = []
    real_add = numpy_backend._WorkingSet.add
    monkeypatch.setattr(numpy_backend._WorkingSet, "add",
                        lambda ws, idx, *rest: joined.append(idx.size) or real_add(ws, idx, *rest))
    case = view((-0.75, 0.0), 3.0, 256, 256, 256)
    counts = escape_counts(*case, backend="numpy")
    short = np.count_nonzero(counts <= numpy_backend.BLOCK_ITERS - 1)
    assert short > 0.7 * counts.size  # the view is what this test is about
    assert sum(joined) < 0.25 * counts.size, sum(joined)


def test_auto_prefers_numba_and_numpy_is_always_there():
    assert available_backends() == ("numba", "numpy")
    assert resolve_backend("auto") == "numba"
    assert resolve_backend("numpy") == "numpy"


@pytest.mark.parametrize("backend", ["cuda", "", "Numpy"])
def test_unknown_backend_names_the_valid_ones(backend):
    with pytest.raises(ValueError, match="backend must be one of auto, numba, numpy"):
        escape_counts(-2.0, 1.0, 0.1, 0.1, 4, 4, 10, backend=backend)


@pytest.mark.parametrize("field, args", [
    ("width", (-2.0, 1.0, 0.1, 0.1, 0, 4, 10)),
    ("height", (-2.0, 1.0, 0.1, 0.1, 4, 2.5, 10)),
    ("max_iter", (-2.0, 1.0, 0.1, 0.1, 4, 4, 0)),
    ("max_iter", (-2.0, 1.0, 0.1, 0.1, 4, 4, 2**32)),
    ("xmin", (float("nan"), 1.0, 0.1, 0.1, 4, 4, 10)),
    ("dy", (-2.0, 1.0, 0.1, float("inf"), 4, 4, 10)),
])
def test_bad_arguments_are_refused(field, args):
    with pytest.raises(ValueError, match=f"^{field} must be"):
        escape_counts(*args, backend="numpy")


def test_kernel_doctests_pass():
    for module in (dispatch, numpy_backend, reference):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__


def test_importing_the_pipeline_does_not_import_numba():
    code = ("import sys, mpi_render.tile, mpi_render.kernels.dispatch; "
            "assert 'numba' not in sys.modules, 'numba imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_numba_kernel_is_loaded_from_cache_in_a_fresh_process(tmp_path):
    """cache=True must really hit: a second process compiles nothing (no closure pitfall)."""
    code = ("from mpi_render.tile import warm_up; from mpi_render.kernels import numba_backend as k; "
            "warm_up('numba'); s = k.escape_counts_flat.stats; "
            "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), MPI_RENDER_NATIVE_KERNEL="0")
    first, second = (subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                                    capture_output=True, text=True, env=env).stdout.split()
                     for _ in range(2))
    assert first == ["0", "1"], first
    assert second == ["1", "0"], second


def test_numba_kernel_releases_the_gil():
    """Rank 0's poster thread must not wait for a whole tile's render to get the interpreter."""
    from mpi_render.kernels import numba_backend
    assert numba_backend.escape_counts_flat.targetoptions.get("nogil") is True

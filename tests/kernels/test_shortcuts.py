"""The exact interior shortcuts: on by default, and bit-identical to the brute force.

Every backend (numpy, numba's JIT, numba's native library: the ``backend`` fixture in
``conftest.py``) runs with its default shortcuts on views that stress each of them, and its
counts must equal the repository's scalar C reference (``reference.c``: the brute-force loop).
``escape_counts_and_work`` also reports the iterations a backend ran, so a shortcut that
silently stops working (everything still exact, only slow) fails ``test_*_is_taken``.
"""
import cmath
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpi_render.kernels import escape_counts
from mpi_render.kernels.dispatch import escape_counts_and_work
from tests.kernels.test_kernel import SEAHORSE, view

PERIOD3_CENTRE = (-0.12256116687665362, 0.7448617666197442)  # the upper period-3 bulb
PERIOD3_ROOT = (-0.125, 0.649519052838329)  # where it touches the cardioid
AIRPLANE = (-1.7548776662466927, 0.0)  # centre of the real period-3 mini-brot

STRESS = {
    "cusp at 0.25": view((0.25, 0.0), 2e-3, 33, 31, 20000),
    "cusp, deep": view((0.25, 0.0), 1e-7, 17, 15, 100000),
    "period-2 bulb's left edge": view((-1.25, 0.0), 1e-3, 31, 17, 20000),
    "period-2 bulb's top edge": view((-1.0, 0.25), 1e-3, 23, 21, 20000),
    "cardioid / period-2 junction": view((-0.75, 0.0), 2e-3, 29, 27, 20000),
    "period-3 bulb's root": view(PERIOD3_ROOT, 2e-3, 25, 25, 20000),
    "period-3 bulb's edge": view((PERIOD3_CENTRE[0], PERIOD3_CENTRE[1] + 0.094), 4e-3, 27, 19,
                                 20000),
    "mini-brot at -1.7685": view((-1.7685, 0.0), 0.01, 40, 40, 4096),
    "seahorse deep, cap 1e5": view(SEAHORSE, 1e-6, 16, 16, 100000),
    "boundary tile, cap 1e6": view((-0.7453, 0.1127), 1e-5, 8, 8, 1000000),
    "odd size 37x23": view((-0.75, 0.1), 2.9, 37, 23, 1001),
    "one row": view((-0.75, 0.0), 3.0, 53, 1, 500),
    "one column": view((-0.75, 0.0), 3.0, 1, 41, 500),
    "max_iter 1": view((-0.5, 0.0), 3.0, 19, 11, 1),
    "max_iter 3": view((-0.5, 0.0), 3.0, 19, 11, 3),
}


def assert_same(got, want):
    assert got.dtype == np.uint32 and got.shape == want.shape
    mismatched = np.argwhere(got != want)
    assert mismatched.size == 0, f"{len(mismatched)} pixels differ, first at {mismatched[:5]}"


@pytest.mark.parametrize("case", STRESS.values(), ids=STRESS.keys())
def test_default_equals_the_brute_force_reference(cref, backend, case):
    assert_same(escape_counts(*case, backend=backend), cref.tile(*case))


@pytest.mark.parametrize("case", [STRESS["cusp at 0.25"], STRESS["period-3 bulb's root"]],
                         ids=["cusp", "period-3 root"])
def test_default_equals_the_backends_own_brute_force(backend, case):
    assert_same(escape_counts(*case, backend=backend),
                escape_counts(*case, backend=backend, shortcuts=False))


def boundary_point(component: str, angle: float) -> tuple[float, float]:
    """A point on the boundary of the main cardioid or of the period-2 bulb."""
    u = cmath.exp(1j * angle)
    c = u / 2 - u * u / 4 if component == "cardioid" else -1 + u / 4
    return c.real, c.imag


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(component=st.sampled_from(["cardioid", "bulb"]),
       angle=st.floats(0.0, 2 * math.pi),
       offset=st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)),
       log_width=st.integers(-9, -2),
       size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
       max_iter=st.sampled_from([1, 2, 17, 300, 5000]))
def test_random_tiles_near_the_boundary_equal_the_reference(cref, backend, component, angle,
                                                            offset, log_width, size, max_iter):
    width = 10.0 ** log_width
    x, y = boundary_point(component, angle)
    centre = (x + offset[0] * width, y + offset[1] * width)
    case = view(centre, width, *size, max_iter)
    assert_same(escape_counts(*case, backend=backend), cref.tile(*case))


def work(case, backend, shortcuts=True):
    return escape_counts_and_work(*case, backend=backend, shortcuts=shortcuts)[1]


def test_bulb_test_is_taken(backend):
    inside = view((-0.2, 0.0), 0.2, 16, 16, 10**6)  # all inside the main cardioid
    assert (escape_counts(*inside, backend=backend) == 10**6).all()
    assert work(inside, backend) == 0
    bulb = view((-1.0, 0.0), 0.1, 16, 16, 10**6)  # all inside the period-2 bulb
    assert work(bulb, backend) == 0


@pytest.mark.parametrize("centre", [PERIOD3_CENTRE, AIRPLANE], ids=["period-3 bulb", "airplane"])
def test_cycle_detection_is_taken(backend, centre):
    case = view(centre, 0.005, 16, 16, 10**5)  # interior the bulb test does not know
    counts, ran = escape_counts_and_work(*case, backend=backend)
    assert (counts == 10**5).all()
    assert ran < 0.01 * counts.size * 10**5, ran  # the brute force runs >= counts.sum()


def test_shortcuts_cut_the_work_of_an_interior_heavy_view(backend):
    case = view((-0.75, 0.0), 3.0, 64, 64, 2000)
    brute = work(case, backend, shortcuts=False)
    assert brute >= escape_counts(*case, backend=backend).sum(dtype=np.uint64)
    assert work(case, backend) < 0.1 * brute


def orbit_state(c: complex, n: int) -> tuple[float, float]:
    """z_n of the float orbit of c, in the reference's operation order."""
    x = y = 0.0
    for _ in range(n):
        x2, y2, t = x * x, y * y, x * y
        x, y = (x2 - y2) + c.real, (t + t) + c.imag
    return x, y


@pytest.mark.parametrize(("c", "after"), [
    (complex(*PERIOD3_CENTRE), 50),  # superattracting: an exact cycle
    (complex(*AIRPLANE) + 0.002, 200),  # attracting, not yet bit for bit periodic
    (complex(-0.7389173245, 0.1372555918), 1000),
], ids=["period-3 centre", "airplane", "seahorse interior"])
def test_trap_test_proves_attracting_orbits(c, after):
    from mpi_render.kernels import trap
    x, y = orbit_state(c, after)
    assert trap.trapped(x, y, c.real, c.imag)


@pytest.mark.parametrize("c", [complex(0.26, 0.0), complex(-0.75, 0.01), complex(-2.0, 1e-9),
                               complex(0.3, 0.5)])
def test_trap_test_refuses_orbits_that_escape_or_wander(c):
    from mpi_render.kernels import trap
    assert not trap.trapped(*orbit_state(c, 100), c.real, c.imag)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(component=st.sampled_from(["cardioid", "bulb"]), angle=st.floats(0.0, 2 * math.pi),
       depth=st.floats(-1e-2, 1e-2), after=st.sampled_from([64, 300, 2000]))
def test_a_trapped_orbit_never_escapes_in_the_reference(cref, component, angle, depth, after):
    from mpi_render.kernels import trap
    x, y = boundary_point(component, angle)
    c = complex(x, y) * (1 + depth)
    if trap.trapped(*orbit_state(c, after), c.real, c.imag):
        assert cref.counts([c.real], [c.imag], 200000)[0, 0] == 200000


def test_the_numba_cache_pin_matches_the_compiled_sources():
    """numba's cache watches only numba_backend.py: its pin must change with lanes_ir / trap /
    escape (whose constants the kernel compiles in)."""
    import hashlib
    from pathlib import Path

    pytest.importorskip("numba")
    from mpi_render.kernels import numba_backend
    digest = hashlib.sha256()
    for name in ("lanes_ir.py", "trap.py", "../escape.py"):
        digest.update((Path(numba_backend.__file__).parent / name).read_bytes())
    assert numba_backend.PINNED_SOURCES == digest.hexdigest()[:16], (
        "update PINNED_SOURCES in numba_backend.py to " + digest.hexdigest()[:16])

"""prepare(): the reference orbit, the BLA table, sharing and determinism."""
import hashlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from deepviews import reference, view_of

from mpi_render import deep
from mpi_render.deep import bla, geometry, orbit
from mpi_render.view import View


def test_orbit_of_c_equal_1_escapes_at_3():
    # Z: 0, 1, 2, 5 -> |Z_2|^2 = 4 is not > 4, |Z_3|^2 = 25 is
    result = orbit.reference_orbit((Fraction(1), Fraction(0)), 64, 100)
    assert (result.length, result.escaped) == (3, True)
    assert result.zx.tolist() == [0.0, 1.0, 2.0, 5.0]


def test_orbit_of_c_equal_minus_1_stays_to_max_iter():
    result = orbit.reference_orbit((Fraction(-1), Fraction(0)), 64, 10)
    assert (result.length, result.escaped) == (10, False)
    assert result.zx.tolist() == [0.0, -1.0] * 5 + [0.0]


def test_tiny_reference_values_keep_53_bits_in_the_wide_form():
    # c = 2**-1500: Z_1 = c underflows a double; its wide form is exact
    point = (Fraction(1, 2**1500), Fraction(0))
    result = orbit.reference_orbit(point, 1600, 3, with_wide=True)
    wzx, wzy, wze = result.wide
    assert result.zx[1] == 0.0
    assert (wzx[1], wzy[1], wze[1]) == (0.5, 0.0, -1499)


def test_precision_follows_the_pixel_pitch():
    # magnitude / pitch = 2.25 / (3 / 1024) = 768: 10 bits, plus 64 guard bits
    assert geometry.precision_bits(View("-0.75", "0", "3.0"), 1024) == 74
    flake = reference("flake")
    assert flake.prec == geometry.floor_log2(Fraction(2) * 1024 / Fraction("1.7e-157")) + 1 + 64


def test_bla_rows_of_a_start_shrink_with_the_level_and_dead_rows_are_zero():
    table = reference("flake").table
    starts, radius = table.starts, table.radius
    for j in range(0, starts.size - 1, 97):
        rows = radius[starts[j]:starts[j + 1]]
        assert (np.diff(rows) <= 0).all()
    dead = radius == 0.0
    assert dead.any() and not table.coeffs[dead].any()
    assert starts[1] - starts[0] >= 10  # the start m = 1 has every level


def test_a_bla_row_is_the_composition_of_its_single_steps():
    # a short orbit, a level-2 row (4 steps from m = 1) against A = prod 2 Z_k, B = sum ...
    result = orbit.reference_orbit((Fraction(-3, 4), Fraction(1, 10)), 80, 40)
    table = bla.build_table(result.zx, result.zy, None, (0.5, -60), False)
    z = result.zx + 1j * result.zy
    a, b = 1.0, 0.0
    for k in range(1, 5):
        a, b = 2 * z[k] * a, 2 * z[k] * b + 1
    row = table.starts[0] + 1  # start m = 1, level 2
    ax, ay, bx, by = table.coeffs[row]
    assert abs(complex(ax, ay) - a) <= 1e-14 * abs(a)
    assert abs(complex(bx, by) - b) <= 1e-14 * abs(b)
    assert 0.0 < table.radius[row] < 2.0**-30


def digest(ref: deep.Reference) -> str:
    """sha256 of everything a reference shares but its timings (as DIGEST computes it)."""
    meta, arrays = ref.to_arrays()
    meta.pop("seconds")
    h = hashlib.sha256(repr(sorted(meta.items())).encode())
    for name in sorted(arrays):
        h.update(name.encode() + arrays[name].tobytes())
    return h.hexdigest()


DIGEST = ("import sys; sys.path.insert(0, {tests!r}); from deepviews import view_of; "
          "from mpi_render import deep; import hashlib; v, m = view_of({name!r}); "
          "meta, arrays = deep.prepare(v, 1024, m).to_arrays(); "
          "meta.pop('seconds'); h = hashlib.sha256(repr(sorted(meta.items())).encode()); "
          "[h.update(k.encode() + arrays[k].tobytes()) for k in sorted(arrays)]; "
          "print(h.hexdigest())")


@pytest.mark.parametrize("name", ["flake", "tripod"])
def test_prepare_is_the_same_bits_in_another_process(name):
    here = digest(deep.prepare(*_view(name)))
    assert here == digest(deep.prepare(*_view(name)))
    tests = str(Path(__file__).resolve().parent.parent)
    there = subprocess.run([sys.executable, "-c", DIGEST.format(tests=tests, name=name)],
                           capture_output=True, text=True, timeout=120)
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == here


def _view(name):
    view, max_iter = view_of(name)
    return view, 1024, max_iter


def test_arrays_round_trip_to_the_same_tiles():
    for name in ("flake", "spiral"):
        ref = reference(name)
        meta, arrays = ref.to_arrays()
        copy = deep.Reference.from_arrays(meta, {k: v.copy() for k, v in arrays.items()})
        a = deep.tile_escape(ref, 64, 16, 5, 60, backend="numpy")
        b = deep.tile_escape(copy, 64, 16, 5, 60, backend="numpy")
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("counts", "extra", "r2"))
        assert ref.nbytes == sum(v.nbytes for v in arrays.values())


def test_from_arrays_refuses_a_wrong_array():
    meta, arrays = reference("flake").to_arrays()
    arrays = dict(arrays, zx=arrays["zx"][:-1])
    with pytest.raises(ValueError, match="'zx' must be float64"):
        deep.Reference.from_arrays(meta, arrays)


def test_progress_is_reported_for_long_orbits(monkeypatch):
    # Whatever the machine's speed: a report at every check (every 1,024 iterations), then the end.
    monkeypatch.setattr(orbit, "PROGRESS_EVERY_S", 0.0)
    calls = []
    deep.prepare(View("0", "1", "1e-30"), 256, 40_000, progress=lambda d, t: calls.append((d, t)))
    assert calls[:2] == [(1024, 40_000), (2048, 40_000)] and calls[-1] == (40_000, 40_000)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_px=0, max_iter=10), "image_px must be an integer"),
    (dict(image_px=64, max_iter=100_000_001), "max_iter must be an integer"),
    (dict(image_px=64, max_iter=True), "max_iter must be an integer"),
])
def test_prepare_refuses_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        deep.prepare(View("0", "1", "1e-30"), **kwargs)


@pytest.mark.parametrize("name", ["flake", "spiral", "tripod"])
def test_tile_offsets_are_the_exact_pixel_offsets_rounded_once(name):
    from mpi_render.deep import tiles

    ref = reference(name)
    exact_re, exact_im = geometry.tile_offsets(ref.view, 64, 16, 3, 60, ref.orbit.point)
    got_re, got_im = tiles.tile_offsets(ref, 64, 16, 3, 60)
    for got, exact in ((got_re, exact_re), (got_im, exact_im)):
        if ref.wide:
            assert list(zip(got[0].tolist(), got[1].tolist())) == [geometry.round_wide(v)
                                                                   for v in exact]
        else:
            assert got.tolist() == [float(v) for v in exact]
    i, j = 5, 11
    cr, ci = geometry.pixel_point(ref.view, 64, 16, 3, 60, i, j)
    assert (exact_re[i], exact_im[j]) == (cr - ref.orbit.point[0], ci - ref.orbit.point[1])
    assert all(type(v.numerator) is int for v in ref.orbit.point)

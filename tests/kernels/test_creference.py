"""The C oracle ``reference.c`` (via ``creference``) and the bench's C yardstick against it."""
from pathlib import Path

import numpy as np
import pytest

from mpi_render.kernels import pixel_centres
from mpi_render.kernels.creference import CompilerUnavailable, CReference, build_shared_library
from mpi_render.kernels.reference import escape_count

BENCH = Path(__file__).resolve().parents[2] / "bench"
FULL = (-2.25, 1.5, 3 / 48, 3 / 40, 48, 40)  # the whole set
SEAHORSE = (-0.748, 0.136, 0.008 / 24, 0.008 / 24, 24, 20)  # seahorse valley, boundary-rich
ODD = (-2.25, 1.5, 3 / 7, 3 / 3, 7, 3)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return CReference(cache_dir=tmp_path_factory.mktemp("creference"))


@pytest.fixture(scope="module")
def yardstick(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        import yardstick
    return yardstick.Yardstick(cache_dir=tmp_path_factory.mktemp("yardstick"))


@pytest.mark.parametrize(("tile", "max_iter"), [(FULL, 100), (SEAHORSE, 500), (FULL, 1), (ODD, 30)],
                         ids=["full-100", "seahorse-500", "max_iter-1", "7x3"])
def test_equals_the_python_reference(reference, tile, max_iter):
    cr, ci = pixel_centres(*tile)
    expected = [[escape_count(x, y, max_iter) for x in cr] for y in ci]
    counts = reference.counts(cr, ci, max_iter)
    assert counts.dtype == np.uint32 and counts.shape == (len(ci), len(cr))
    assert counts.tolist() == expected


def test_hand_computed_tile(reference):
    # centres -1.5, -0.5, 0.5 (+-0.5i): escape after 3 tests, inside the cardioid, after 5
    assert reference.tile(-2.0, 1.0, 1.0, 1.0, 3, 2, 20).tolist() == [[3, 20, 5], [3, 20, 5]]
    assert reference.tile(-2.0, 1.0, 1.0, 1.0, 3, 2, 0).tolist() == [[0, 0, 0], [0, 0, 0]]


def test_bad_arguments_are_refused(reference):
    with pytest.raises(ValueError, match="max_iter"):
        reference.counts([0.0], [0.0], -1)
    with pytest.raises(ValueError, match="1-D"):
        reference.counts(np.zeros((2, 2)), [0.0], 10)


def test_missing_compiler_says_how_to_install_one(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(CompilerUnavailable, match=r"apt-get install gcc libc6-dev") as error:
        CReference(cache_dir=tmp_path / "cache")
    assert isinstance(error.value, RuntimeError)


def test_failed_build_reports_the_compiler_output(tmp_path):
    source = tmp_path / "broken.c"
    source.write_text("int broken(void) { return }\n")
    with pytest.raises(CompilerUnavailable, match="error") as error:
        build_shared_library(source, ["-O2"], tmp_path / "cache")
    assert "apt-get install gcc" in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []  # the temporary output was removed


def test_build_is_cached(tmp_path):
    source = tmp_path / "one.c"
    source.write_text("int one(void) { return 1; }\n")
    first = build_shared_library(source, ["-O2"], tmp_path)
    built = first.stat().st_mtime_ns
    assert build_shared_library(source, ["-O2"], tmp_path) == first
    assert first.stat().st_mtime_ns == built
    assert build_shared_library(source, ["-O1"], tmp_path) != first  # the flags are part of the key
    source.write_text("int one(void) { return 2 - 1; }\n")
    assert build_shared_library(source, ["-O2"], tmp_path) != first  # and so is the source


@pytest.mark.parametrize("precheck", [False, True], ids=["brute", "precheck"])
@pytest.mark.parametrize("kernel", ["g4", "r8"])
@pytest.mark.parametrize(("tile", "max_iter"), [
    ((-2.25, 1.5, 3 / 256, 3 / 256, 256, 256), 256),
    ((-0.748, 0.136, 0.008 / 128, 0.008 / 128, 128, 128), 2000),
    ((-2.25, 1.5, 3 / 37, 3 / 29, 37, 29), 100),  # width and max_iter not multiples of 16
], ids=["full-256", "seahorse-2000", "37x29-100"])
def test_yardstick_is_bit_identical_to_reference(reference, yardstick, tile, max_iter, kernel, precheck):
    expected = reference.tile(*tile, max_iter)  # the brute force: the yardstick's precheck is exact here
    assert np.array_equal(yardstick.tile(*tile, max_iter, kernel=kernel, precheck=precheck), expected)


def test_yardstick_refuses_an_unknown_kernel(yardstick):
    with pytest.raises(ValueError, match="kernel"):
        yardstick.counts([0.0], [0.0], 10, kernel="g8")


@pytest.mark.parametrize("kernel", ["g4", "r8"])
def test_yardstick_matches_reference_on_nan_inf_and_huge_inputs(reference, yardstick, kernel):
    cr = [np.nan, np.inf, -np.inf, 0.0, 3.0]  # NaN never "> 4": max_iter
    for max_iter in (0, 5, 40):
        for precheck in (False, True):
            # the precheck's own test accepts y = 1e308 (inf <= inf), so it runs without that row
            ci = [0.0, np.nan] if precheck else [0.0, np.nan, 1e308]
            expected = reference.counts(cr, ci, max_iter)
            assert np.array_equal(yardstick.counts(cr, ci, max_iter, kernel, precheck), expected)

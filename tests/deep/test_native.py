"""The deep kernels' prebuilt library: built once, loaded without numba, nothing but libc/libm,
and the numba cache pin follows the sources compiled into the kernels."""
import hashlib
from pathlib import Path

from native_libraries import start_process, undefined_symbols

from mpi_render.deep import numba_backend

START = ("import sys; from mpi_render import deep; from mpi_render.view import View; "
         "deep.warm_up(); ref = deep.prepare(View('-0.75', '0.1', '1e-320'), 64, 200); "
         "e = deep.tile_escape(ref, 4, 16, 1, 2); print('numba' in sys.modules, int(e.counts.sum()))")


def test_first_process_builds_the_library_and_later_ones_skip_numba(tmp_path):
    built = start_process(START, tmp_path)
    assert built[0] == "True"
    assert [p.name for p in tmp_path.glob("deep-*.so")] != []
    again = start_process(START, tmp_path)
    assert again == ["False", built[1]]  # the same counts, and numba never imported


def test_library_needs_nothing_but_libc_and_libm(deep_library):
    assert undefined_symbols(deep_library) <= {"frexp", "ldexp"}


def test_the_numba_cache_pin_matches_the_compiled_sources():
    """numba's cache watches only numba_backend.py: its pin must change with the modules whose
    code and constants are compiled into the kernels."""
    here = Path(numba_backend.__file__).parent
    digest = hashlib.sha256()
    for path in (here / "constants.py", here / "wide.py", here / "tail.py",
                 here.parent / "escape.py"):
        digest.update(path.read_bytes())
    assert numba_backend.PINNED_SOURCES == digest.hexdigest()[:16], (
        "update PINNED_SOURCES in deep/numba_backend.py to " + digest.hexdigest()[:16])

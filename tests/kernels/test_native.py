"""The numba kernel's prebuilt native library (``mpi_render.kernels.native``).

Its counts are checked against the C yardstick with the other backends in ``test_kernel.py``;
here: a process builds it once, later processes start without numba, it depends on nothing
but libc, and a missing linker is a clear error that leaves the JIT working.
"""
import logging

import pytest
from native_libraries import start_process, undefined_symbols

from mpi_render.deep import native as deep_native
from mpi_render.kernels import colour_native, native

START = ("import sys; from mpi_render.tile import warm_up; from mpi_render.kernels.dispatch import "
         "escape_counts; counts = escape_counts(-2.0, 1.0, 0.05, 0.05, 60, 40, 500); "
         "print(warm_up(), 'numba' in sys.modules, int(counts.sum()))")


def test_first_process_builds_the_library_and_later_ones_skip_numba(tmp_path):
    built = start_process(START, tmp_path)
    assert built[:2] == ["numba", "True"]  # JIT this time, then builds the library
    assert [p.name for p in tmp_path.glob("escape_counts-*.so")] != []
    again = start_process(START, tmp_path)
    assert again[:2] == ["numba", "False"]  # numba never imported
    assert again[2] == built[2]
    jit = start_process(START, tmp_path, MPI_RENDER_NATIVE_KERNEL="0")
    assert jit == built


def test_library_needs_nothing_but_libc(native_library_path):
    assert undefined_symbols(native_library_path) == set()


@pytest.mark.parametrize("library, stem", [(native, "escape_counts"), (deep_native, "deep"),
                                           (colour_native, "colour")])
def test_library_name_depends_on_the_cache_dir_and_sources(library, stem, tmp_path,
                                                           monkeypatch):
    """Each library's file is keyed by its sources: an edit to any of them names a new one."""
    monkeypatch.setenv("MPI_RENDER_CACHE_DIR", str(tmp_path))
    path = library.library_path()
    assert path.parent == tmp_path and path.name.startswith(stem + "-")
    monkeypatch.setattr(library, "_SOURCES", library._SOURCES[:-1])
    assert library.library_path() != path


def test_missing_linker_is_a_clear_error_and_the_jit_keeps_working(tmp_path, monkeypatch,
                                                                    caplog):
    monkeypatch.setenv("MPI_RENDER_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-cc")
    monkeypatch.setattr(native.sysconfig, "get_config_var", lambda name: None)
    with pytest.raises(RuntimeError, match="no C compiler driver"):
        native.build()
    with caplog.at_level(logging.WARNING, logger="mpi_render.kernels.native"):
        native.ensure_built()
    assert "stays JIT-only" in caplog.text
    assert list(tmp_path.iterdir()) == []  # nothing half-built left behind

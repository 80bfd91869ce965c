"""The numba kernel's prebuilt native library (``mpi_render.kernels.native``).

Its counts are checked against the C yardstick with the other backends in ``test_kernel.py``;
here: a process builds it once, later processes start without numba, it depends on nothing
but libc, and a missing linker is a clear error that leaves the JIT working.
"""
import logging
import os
import subprocess
import sys

import pytest

from mpi_render.kernels import native

START = ("import sys; from mpi_render.tile import warm_up; from mpi_render.kernels.dispatch import "
         "escape_counts; counts = escape_counts(-2.0, 1.0, 0.05, 0.05, 60, 40, 500); "
         "print(warm_up(), 'numba' in sys.modules, int(counts.sum()))")


def start_process(cache_dir, **env):
    done = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True,
                          timeout=300, check=True,
                          env=dict(os.environ, MPI_RENDER_CACHE_DIR=str(cache_dir), **env))
    return done.stdout.split()


def test_first_process_builds_the_library_and_later_ones_skip_numba(tmp_path):
    built = start_process(tmp_path)
    assert built[:2] == ["numba", "True"]  # JIT this time, then builds the library
    assert [p.name for p in tmp_path.glob("escape_counts-*.so")] != []
    again = start_process(tmp_path)
    assert again[:2] == ["numba", "False"]  # numba never imported
    assert again[2] == built[2]
    jit = start_process(tmp_path, MPI_RENDER_NATIVE_KERNEL="0")
    assert jit == built


def test_library_needs_nothing_but_libc(native_library_path):
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(native_library_path)],
                               check=True, capture_output=True, text=True).stdout.split()
    names = {word.split("@")[0] for word in undefined if word not in ("U", "w")}
    assert names - {"memset", "memcpy", "memmove", "__cxa_finalize", "__gmon_start__",
                    "_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable"} == set()


def test_library_name_depends_on_the_cache_dir_and_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("MPI_RENDER_CACHE_DIR", str(tmp_path))
    path = native.library_path()
    assert path.parent == tmp_path and path.name.startswith("escape_counts-")
    monkeypatch.setattr(native, "_SOURCES", native._SOURCES[:-1])
    assert native.library_path() != path


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

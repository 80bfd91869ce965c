"""The deep kernels' prebuilt library: built once, loaded without numba, nothing but libc/libm,
and the numba cache pin follows the sources compiled into the kernels."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from mpi_render.deep import native, numba_backend

START = ("import sys; from mpi_render import deep; from mpi_render.view import View; "
         "deep.warm_up(); ref = deep.prepare(View('-0.75', '0.1', '1e-320'), 64, 200); "
         "e = deep.tile_escape(ref, 4, 16, 1, 2); print('numba' in sys.modules, int(e.counts.sum()))")


def start_process(cache_dir, **env):
    done = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, MPI_RENDER_CACHE_DIR=str(cache_dir),
                                                **env))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_first_process_builds_the_library_and_later_ones_skip_numba(tmp_path):
    built = start_process(tmp_path)
    assert built[0] == "True"
    assert [p.name for p in tmp_path.glob("deep-*.so")] != []
    again = start_process(tmp_path)
    assert again == ["False", built[1]]  # the same counts, and numba never imported


def test_library_needs_nothing_but_libc_and_libm(deep_library):
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(deep_library)],
                               check=True, capture_output=True, text=True).stdout.split()
    names = {word.split("@")[0] for word in undefined if word not in ("U", "w")}
    assert names - {"frexp", "ldexp", "memset", "memcpy", "memmove", "__cxa_finalize",
                    "__gmon_start__", "_ITM_deregisterTMCloneTable",
                    "_ITM_registerTMCloneTable"} == set()


def test_library_name_changes_with_the_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("MPI_RENDER_CACHE_DIR", str(tmp_path))
    path = native.library_path()
    assert path.parent == tmp_path and path.name.startswith("deep-")
    monkeypatch.setattr(native, "_SOURCES", native._SOURCES[:-1])
    assert native.library_path() != path


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

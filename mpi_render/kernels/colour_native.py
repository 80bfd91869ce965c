"""The compiled colour mapping as a prebuilt shared library: ranks colour without numba.

The same scheme as :mod:`.native` (and its helpers: the cache directory, the key of sources +
numba version + CPU, ``MPI_RENDER_NATIVE_KERNEL=0``, the trap definitions, the atomic build): a
C-ABI ``cfunc`` around :func:`.colour_numba.indices_flat` (which allocates nothing and raises
nothing) is linked into a third library, ``colour-KEY.so``, called through ctypes with numpy
alone. Its own library rather than a symbol in the kernel's: the mapping serves the double
kernel and perturbation alike, and an edit to a palette rebuilds it alone (~1 s) and not the
escape kernel (2-3 s). :func:`load` returns a function with the signature of
:func:`.colour_numba.indices_flat`.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from . import native

SYMBOL = "mpi_render_colour"
_HERE = Path(__file__).parent
_SOURCES = (_HERE / "colour_numba.py", _HERE / "colour_native.py", _HERE / "native.py",
            _HERE.parent / "exactlog.py", _HERE.parent / "palettes.py")
# counts, extra, r2, their size, max_iter, out
_ARGTYPES = (ctypes.c_void_p,) * 3 + (ctypes.c_int64,) * 2 + (ctypes.c_void_p,)


def library_path() -> Path | None:
    """The library for this code, numba version and CPU (it may not exist yet), or None."""
    return native.keyed_path("colour", _SOURCES)


@functools.cache
def load():
    """The library's mapping (the signature of :func:`.colour_numba.indices_flat`), or None
    when it is turned off, not built yet or does not load."""
    return native.load_if_built(library_path, open_library, "the native colour mapping")


def open_library(path: str | os.PathLike):
    """The mapping of the library at ``path``.

    Raises:
        OSError: the library does not load; AttributeError: it is not one of ours.
    """
    mapping = ctypes.CDLL(os.fspath(path))[SYMBOL]
    mapping.argtypes, mapping.restype = _ARGTYPES, None
    return functools.partial(_call, mapping)


def _call(mapping, counts: np.ndarray, extra: np.ndarray, r2: np.ndarray, max_iter: int,
          out: np.ndarray) -> None:
    """Same contract as :func:`.colour_numba.indices_flat` (C-contiguous arrays; ctypes
    releases the GIL, as numba's ``nogil`` does)."""
    if not all(a.flags.c_contiguous and a.size == out.size for a in (counts, extra, r2)):
        raise ValueError("the colour mapping needs C-contiguous arrays of one size")
    mapping(counts.ctypes.data, extra.ctypes.data, r2.ctypes.data, out.size, max_iter,
            out.ctypes.data)


def ensure_built() -> None:
    """Build the library for the next processes if it is missing (numba there, turned on);
    about a second once per code version, numba version and CPU. Failures are logged."""
    native.build_if_missing(library_path, build, "the colour mapping")


def build(path: str | os.PathLike | None = None) -> Path:
    """Compile the mapping into a library at ``path`` (default: :func:`library_path`).

    Raises:
        RuntimeError: numba is not installed, the CPU cannot be identified, or linking failed.
    """
    from numba import carray, cfunc, types

    from .colour_numba import indices_flat

    path = native.build_target(path, library_path, "the native colour mapping needs")
    u8, u32, f64 = (types.CPointer(t) for t in (types.uint8, types.uint32, types.float64))

    @cfunc(types.void(u32, u8, f64, types.int64, types.int64, u8), nogil=True,
           error_model="numpy")
    def mapping(counts, extra, r2, size, max_iter, out):
        indices_flat(carray(counts, (size,)), carray(extra, (size,)), carray(r2, (size,)),
                     max_iter, carray(out, (size,)))

    return native.link_library({SYMBOL: mapping}, path)

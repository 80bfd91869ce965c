"""The numba perturbation kernels as a prebuilt shared library: ranks start without numba.

The same scheme as :mod:`mpi_render.kernels.native` (and its helpers: the cache directory,
the key of sources + numba version + CPU, ``MPI_RENDER_NATIVE_KERNEL=0``, the trap definitions,
the atomic build): C-ABI ``cfunc`` s around :func:`.numba_backend.tile_plain` and
:func:`.numba_backend.tile_wide` (which allocate nothing and raise nothing) are linked into a
second library, ``deep-KEY.so``, called through ctypes with numpy alone. :func:`load` returns
``(tile_plain, tile_wide)`` with the numba functions' signatures.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from ..kernels import native

PLAIN_SYMBOL = "mpi_render_deep_plain"
WIDE_SYMBOL = "mpi_render_deep_wide"
_HERE = Path(__file__).parent
_SOURCES = (_HERE / "numba_backend.py", _HERE / "wide.py", _HERE / "constants.py", _HERE / "tail.py",
            _HERE / "native.py", _HERE.parent / "escape.py", _HERE.parent / "kernels" / "native.py")

_P = ctypes.c_void_p
_N = ctypes.c_int64
_F = ctypes.c_double
_B = ctypes.c_bool
# The C signatures: every array as a pointer, followed by its length where the kernel needs it.
_PLAIN_ARGS = (_P, _P, _N, _N,  # zx_ref, zy_ref, their size, length
               _P, _N,  # starts
               _P, _P, _N,  # radius, coeffs, rows
               _P, _N,  # checkpoints
               _F, _F,  # ref_cr, ref_ci
               _P, _N, _P, _N,  # dcx, width, dcy, height
               _N, _B,  # max_iter, interior
               _P, _P, _P,  # counts, extra, r2 (width * height)
               _P, _N)  # counters
_WIDE_ARGS = (_P, _P, _P, _P, _P, _N, _N,  # zx_ref, zy_ref, wzx, wzy, wze, their size, length
              _P, _N,  # starts
              _P, _P, _P, _P, _P, _N,  # radius, radius_wide, radius_exp, coeffs, coeff_exps, rows
              _P, _N,  # checkpoints
              _F, _F,  # ref_cr, ref_ci
              _P, _P, _N, _P, _P, _N,  # dcx, dcx_exp, width, dcy, dcy_exp, height
              _N, _B,  # max_iter, interior
              _P, _P, _P,  # counts, extra, r2
              _P, _N)  # counters


def library_path() -> Path | None:
    """The library for this code, numba version and CPU (it may not exist yet), or None."""
    return native.keyed_path("deep", _SOURCES)


@functools.cache
def load():
    """``(tile_plain, tile_wide)`` from the library, or None when it is turned off, not built
    yet or does not load."""
    return native.load_if_built(library_path, open_library, "the native deep kernels")


def open_library(path: str | os.PathLike):
    """``(tile_plain, tile_wide)`` of the library at ``path``.

    Raises:
        OSError: the library does not load; AttributeError: it is not one of ours.
    """
    library = ctypes.CDLL(os.fspath(path))
    plain, wide = library[PLAIN_SYMBOL], library[WIDE_SYMBOL]
    plain.argtypes, plain.restype = _PLAIN_ARGS, None
    wide.argtypes, wide.restype = _WIDE_ARGS, None
    return functools.partial(_call_plain, plain), functools.partial(_call_wide, wide)


def _p(array: np.ndarray) -> int:
    if not array.flags.c_contiguous:
        raise ValueError("the deep kernels need C-contiguous arrays")
    return array.ctypes.data


def _call_plain(kernel, zx_ref, zy_ref, length, starts, radius, coeffs, checkpoints, ref_cr,
                ref_ci, dcx, dcy, max_iter, interior, counts, extra, r2, counters) -> None:
    """Same contract as :func:`.numba_backend.tile_plain` (ctypes releases the GIL)."""
    kernel(_p(zx_ref), _p(zy_ref), zx_ref.size, length, _p(starts), starts.size, _p(radius),
           _p(coeffs), radius.size, _p(checkpoints), checkpoints.size, ref_cr, ref_ci,
           _p(dcx), dcx.size, _p(dcy), dcy.size, max_iter, interior, _p(counts), _p(extra),
           _p(r2), _p(counters), counters.size)


def _call_wide(kernel, zx_ref, zy_ref, wzx, wzy, wze, length, starts, radius, radius_wide,
               radius_exp, coeffs, coeff_exps, checkpoints, ref_cr, ref_ci, dcx, dcx_exp, dcy,
               dcy_exp, max_iter, interior, counts, extra, r2, counters) -> None:
    """Same contract as :func:`.numba_backend.tile_wide`."""
    kernel(_p(zx_ref), _p(zy_ref), _p(wzx), _p(wzy), _p(wze), zx_ref.size, length, _p(starts),
           starts.size, _p(radius), _p(radius_wide), _p(radius_exp), _p(coeffs),
           _p(coeff_exps), radius.size, _p(checkpoints), checkpoints.size, ref_cr, ref_ci,
           _p(dcx), _p(dcx_exp), dcx.size, _p(dcy), _p(dcy_exp), dcy.size, max_iter, interior,
           _p(counts), _p(extra), _p(r2), _p(counters), counters.size)


def ensure_built() -> None:
    """Build the library for the next processes if it is missing (numba there, turned on);
    ~5-10 s once per code version, numba version and CPU. Failures are logged."""
    native.build_if_missing(library_path, build, "the deep numba kernels")


def build(path: str | os.PathLike | None = None) -> Path:
    """Compile both kernels into one library at ``path`` (default: :func:`library_path`).

    Raises:
        RuntimeError: numba is not installed, the CPU cannot be identified, or linking failed.
    """
    from numba import carray, cfunc, types

    from . import numba_backend as nb

    path = native.build_target(path, library_path, "the native deep kernels need")
    f64, i64, u8, u32 = (types.CPointer(t) for t in (types.float64, types.int64, types.uint8,
                                                       types.uint32))
    n, x, flag = types.int64, types.float64, types.boolean

    @cfunc(types.void(f64, f64, n, n, i64, n, f64, f64, n, u8, n, x, x, f64, n, f64, n, n, flag,
                      u32, u8, f64, i64, n), nogil=True, error_model="numpy")
    def plain(zx_ref, zy_ref, n_ref, length, starts, n_starts, radius, coeffs, rows, checkpoints,
              n_check, ref_cr, ref_ci, dcx, width, dcy, height, max_iter, interior, counts,
              extra, r2, counters, n_counters):
        nb.tile_plain(carray(zx_ref, (n_ref,)), carray(zy_ref, (n_ref,)), length,
                      carray(starts, (n_starts,)), carray(radius, (rows,)),
                      carray(coeffs, (rows, 4)), carray(checkpoints, (n_check,)), ref_cr, ref_ci,
                      carray(dcx, (width,)), carray(dcy, (height,)), max_iter, interior,
                      carray(counts, (width * height,)), carray(extra, (width * height,)),
                      carray(r2, (width * height,)), carray(counters, (n_counters,)))

    @cfunc(types.void(f64, f64, f64, f64, i64, n, n, i64, n, f64, f64, i64, f64, i64, n, u8, n,
                      x, x, f64, i64, n, f64, i64, n, n, flag, u32, u8, f64, i64, n),
           nogil=True, error_model="numpy")
    def wide(zx_ref, zy_ref, wzx, wzy, wze, n_ref, length, starts, n_starts, radius,
             radius_wide, radius_exp, coeffs, coeff_exps, rows, checkpoints, n_check, ref_cr,
             ref_ci, dcx, dcx_exp, width, dcy, dcy_exp, height, max_iter, interior, counts,
             extra, r2, counters, n_counters):
        nb.tile_wide(carray(zx_ref, (n_ref,)), carray(zy_ref, (n_ref,)), carray(wzx, (n_ref,)),
                     carray(wzy, (n_ref,)), carray(wze, (n_ref,)), length,
                     carray(starts, (n_starts,)), carray(radius, (rows,)),
                     carray(radius_wide, (rows,)), carray(radius_exp, (rows,)),
                     carray(coeffs, (rows, 4)), carray(coeff_exps, (rows, 2)),
                     carray(checkpoints, (n_check,)), ref_cr, ref_ci, carray(dcx, (width,)),
                     carray(dcx_exp, (width,)), carray(dcy, (height,)),
                     carray(dcy_exp, (height,)), max_iter, interior,
                     carray(counts, (width * height,)), carray(extra, (width * height,)),
                     carray(r2, (width * height,)), carray(counters, (n_counters,)))

    return native.link_library({PLAIN_SYMBOL: plain, WIDE_SYMBOL: wide}, path, libm=True)

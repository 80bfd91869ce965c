"""The exact C oracle ``reference.c``, built with the machine's C compiler and called through ctypes.

Libraries are built once per source, compiler and flags (and CPU, for ``-march=native``) into
:func:`.native.cache_dir`: ``$MPI_RENDER_CACHE_DIR``, else ``$XDG_CACHE_HOME/mpi-render`` or
``~/.cache/mpi-render``.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..escape import Escape
from . import native
from .dispatch import pixel_centres

SOURCE = Path(__file__).with_name("reference.c")
_INSTALL = "install a C compiler (e.g. `apt-get install gcc libc6-dev`) or set $CC"


class CompilerUnavailable(RuntimeError):
    """No C compiler was found, or it failed to build the library."""


def build_shared_library(source: Path, flags: list[str], cache_dir: Path | None = None) -> Path:
    """Build ``source`` into a shared library with ``$CC`` (default ``cc``), or reuse the cached one.

    Args:
        source: the C file; flags: compiler flags (``-ffp-contract=off -fPIC -shared`` are added:
            an implicit FMA would change boundary pixels); cache_dir: default :func:`.native.cache_dir`.
    Returns:
        The library's path. Each builder (e.g. MPI rank) compiles to a temporary name and renames it
        into place, so concurrent builds are safe and nobody loads a partial file.
    Raises:
        CompilerUnavailable: no compiler, or the build failed (the message holds the compiler's stderr).
    """
    command = shlex.split(os.environ.get("CC") or "cc")
    compiler = shutil.which(command[0]) if command else None
    if compiler is None:
        raise CompilerUnavailable(f"no C compiler {command[:1]} found: {_INSTALL}")
    command = [compiler, *command[1:], *flags, "-ffp-contract=off", "-fPIC", "-shared"]
    key = hashlib.sha256(source.read_bytes() + repr(command).encode())
    if "-march=native" in flags:
        key.update(native._cpu_identity() or b"")
    library = Path(cache_dir or native.cache_dir()) / f"{source.stem}-{key.hexdigest()[:16]}.so"
    if library.exists():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=library.parent, prefix=f".{library.name}.")
    os.close(fd)
    try:
        build = subprocess.run([*command, "-o", tmp, str(source)], capture_output=True, text=True)
        if build.returncode != 0:
            raise CompilerUnavailable(f"{compiler} could not build {source} (exit {build.returncode}):\n"
                                      f"{build.stderr.strip()}\n{_INSTALL}")
        os.replace(tmp, library)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return library


def prepare_counts(cr, ci, max_iter: int):
    """Check a C kernel call's arguments: ``(cr, ci, out)``, C-contiguous float64 axes and (H, W) uint32.

    Raises:
        ValueError: an axis is not 1-D or has 2**31 or more entries, or max_iter is not in 0..2**32 - 1.
    """
    cr = np.ascontiguousarray(cr, dtype=np.float64)
    ci = np.ascontiguousarray(ci, dtype=np.float64)
    if cr.ndim != 1 or ci.ndim != 1 or max(cr.size, ci.size) >= 2**31:
        raise ValueError(f"cr and ci must be 1-D and shorter than 2**31, got shapes {cr.shape}, {ci.shape}")
    if not 0 <= max_iter < 2**32:
        raise ValueError(f"max_iter must be in 0..2**32 - 1, got {max_iter}")
    return cr, ci, np.empty((ci.size, cr.size), dtype=np.uint32)


class CReference:
    """The scalar C oracle (``reference.c`` built with ``-O2``), about 0.3 G-iter/s."""

    def __init__(self, cache_dir: Path | None = None):
        """Build or load the library (cache_dir and CompilerUnavailable: see build_shared_library)."""
        library = ctypes.CDLL(str(build_shared_library(SOURCE, ["-O2"], cache_dir)))
        self._counts, self._escape = library.mr_reference_counts, library.mr_reference_escape
        self._counts.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_uint32, ctypes.c_void_p)
        self._escape.argtypes = self._counts.argtypes + (ctypes.c_void_p, ctypes.c_void_p)
        self._counts.restype = self._escape.restype = ctypes.c_uint64

    def counts(self, cr, ci, max_iter: int) -> np.ndarray:
        """Escape counts of the pixels ``cr[i] + 1j*ci[j]``, by the brute-force loop.

        Args:
            cr, ci: 1-D column and row centres (plane units); max_iter: the iteration cap.
        Returns:
            ``(len(ci), len(cr))`` uint32 array of ``min(escape iteration, max_iter)``.
        Raises:
            ValueError: see :func:`prepare_counts`.
        """
        cr, ci, out = prepare_counts(cr, ci, max_iter)
        self._counts(cr.ctypes.data, ci.ctypes.data, cr.size, ci.size, max_iter, out.ctypes.data)
        return out

    def escape(self, cr, ci, max_iter: int) -> Escape:
        """:meth:`counts` and the smooth-colour data (:mod:`mpi_render.escape`), by the brute force.

        Raises:
            ValueError: see :func:`prepare_counts`.
        """
        cr, ci, out = prepare_counts(cr, ci, max_iter)
        extra = np.empty(out.shape, dtype=np.uint8)
        r2 = np.empty(out.shape, dtype=np.float64)
        self._escape(cr.ctypes.data, ci.ctypes.data, cr.size, ci.size, max_iter, out.ctypes.data,
                     extra.ctypes.data, r2.ctypes.data)
        return Escape(counts=out, extra=extra, r2=r2)

    def tile(self, xmin: float, ymax: float, dx: float, dy: float, width: int, height: int,
             max_iter: int) -> np.ndarray:
        """:meth:`counts` of the tile's pixel centres (:func:`.dispatch.pixel_centres`; plane units)."""
        return self.counts(*pixel_centres(xmin, ymax, dx, dy, width, height), max_iter)

    def escape_tile(self, xmin: float, ymax: float, dx: float, dy: float, width: int,
                    height: int, max_iter: int) -> Escape:
        """:meth:`escape` of the tile's pixel centres (plane units, as :meth:`tile`)."""
        return self.escape(*pixel_centres(xmin, ymax, dx, dy, width, height), max_iter)

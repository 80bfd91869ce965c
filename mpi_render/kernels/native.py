"""The numba kernel as a prebuilt shared library, so a rank starts without importing numba.

Before its first tile, a process that uses numba's cached kernel spends 0.7-1 s of CPU on the
numba import, numba's target set-up and the cache load, in every rank of every job
(``docs/PERFORMANCE.md``). The kernel (:func:`.numba_backend.escape_counts_flat`) allocates
nothing, so its compiled code can be kept as an ordinary shared library and called through
ctypes with numpy alone:

* :func:`build` (needs numba and a C compiler driver as the linker) compiles a C-ABI ``cfunc``
  around the kernel, takes numba's optimised LLVM IR, emits position-independent object code
  for this CPU with llvmlite and links it with ``cc -shared``. Numba's IR still names a few
  runtime functions on paths the kernel never takes (turning a failed call into a Python
  exception, freeing arrays that own memory: the kernel raises nothing and its arrays are
  views of the caller's). They are defined as traps, so the library needs no numba runtime.
  The code model is "large", the one numba's JIT uses on x86-64: with the "small" model the
  hot loop was register-allocated differently (x spilled to the stack) and ran 1.4x slower.
* :func:`load` opens the library built for this code and CPU, if there is one.

Its one C function fills the counts and, when given room for them, the smooth-colour data
(:mod:`mpi_render.escape`); :class:`NativeKernel` wraps it with the backend interface
(``escape_counts`` and ``escape_data``, as :mod:`.numba_backend`).

The library's name carries a key: sha256 of the kernel sources, numba's version and the CPU
model and flags (``/proc/cpuinfo``), so an edit, an upgrade or another node type builds its own,
like numba's own cache. It lives in ``$MPI_RENDER_CACHE_DIR``, else
``$XDG_CACHE_HOME/mpi-render`` or ``~/.cache/mpi-render``. ``MPI_RENDER_NATIVE_KERNEL=0`` turns
the library off (numba's JIT is used).
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

from ..escape import Escape
from .workspace import escape_outputs, workspace

SYMBOL = "mpi_render_escape"
LANES_SYMBOL = "mpi_render_lanes"
_SOURCES = ("numba_backend.py", "lanes_ir.py", "trap.py", "workspace.py", "native.py",
            "../escape.py")
_LIBC = {"memset", "memcpy", "memmove"}
_LIBM = {"frexp", "ldexp"}  # what numba's math.frexp / math.ldexp helpers call (libm)
# numba's helper library wraps frexp and ldexp; a library that uses them gets the same
# one-line wrappers (and links libm), everything else numba's IR names stays a trap.
LIBM_SHIMS = """declare double @frexp(double, ptr)
declare double @ldexp(double, i32)
define double @numba_frexp(double %x, ptr %e) {
  %r = call double @frexp(double %x, ptr %e)
  ret double %r
}
define double @numba_ldexp(double %x, i32 signext %e) {
  %r = call double @ldexp(double %x, i32 %e)
  ret double %r
}
"""
# cr, width, ci, height, max_iter, shortcuts, counts, then extra, r2 and the scratch z_y with
# their size (0: counts only), then the workspace
_ARGTYPES = (ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
             ctypes.c_bool, ctypes.c_void_p) + (ctypes.c_void_p,) * 3 + (ctypes.c_int64,) \
    + (ctypes.c_void_p, ctypes.c_int64) * 3

log = logging.getLogger(__name__)


def enabled() -> bool:
    """False when ``MPI_RENDER_NATIVE_KERNEL=0``."""
    return os.environ.get("MPI_RENDER_NATIVE_KERNEL", "1") != "0"


def cache_dir() -> Path:
    """Where the libraries live (see the module docstring)."""
    if os.environ.get("MPI_RENDER_CACHE_DIR"):
        return Path(os.environ["MPI_RENDER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mpi-render"


def _cpu_identity() -> bytes | None:
    """The first CPU's model name and flags, or None where ``/proc/cpuinfo`` is missing.

    Reads only the first CPU's block: the kernel generates the file as it is read, and on a
    node with hundreds of cores the whole file is large."""
    keep = []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if not line.strip():
                    break
                if line.split(":", 1)[0].strip() in ("model name", "flags"):
                    keep.append(line.rstrip("\n"))
    except OSError:
        return None
    return "\n".join(keep).encode() if keep else None


def keyed_path(stem: str, sources) -> Path | None:
    """``cache_dir()/STEM-KEY.so`` for a library compiled from ``sources`` (paths), keyed like
    numba's cache (module docstring), or None without numba or a CPU identity."""
    cpu = _cpu_identity()
    try:
        numba_version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        return None
    if cpu is None:
        return None
    key = hashlib.sha256(cpu + numba_version.encode())
    for source in sources:
        key.update(Path(source).read_bytes())
    return cache_dir() / f"{stem}-{key.hexdigest()[:20]}.so"


def library_path() -> Path | None:
    """The library for this code, numba version and CPU (it may not exist yet), or None when
    numba is not installed or the CPU cannot be identified."""
    here = Path(__file__).parent
    return keyed_path("escape_counts", [here / name for name in _SOURCES])


@functools.cache
def load() -> NativeKernel | None:
    """The kernel of the library for this code and CPU, or None when it is turned off, not
    built yet or does not load."""
    return load_if_built(library_path, open_library, "the native kernel")


def load_if_built(path_of, opener, what: str):
    """``opener(path)`` for the library at ``path_of()``, or None when native libraries are
    turned off, it is not built yet or it does not load (logged: a broken library means
    numba's JIT, never a failed tile)."""
    path = path_of() if enabled() else None
    if path is None or not path.exists():
        return None
    try:
        return opener(path)
    except (OSError, AttributeError, ValueError) as error:
        log.warning("ignoring %s %s: %s", what, path, error)
        return None


def open_library(path: str | os.PathLike) -> NativeKernel:
    """The kernel of the library at ``path``.

    Raises:
        OSError: the library does not load; AttributeError: it is not one of ours.
    """
    return NativeKernel(ctypes.CDLL(os.fspath(path)))


class NativeKernel:
    """The library's kernel with the backend interface of :mod:`.numba_backend` (ctypes
    releases the GIL for each call, as numba's ``nogil`` does)."""

    def __init__(self, library: ctypes.CDLL):
        """Raises AttributeError when ``library`` is not one of ours."""
        self._kernel = library[SYMBOL]
        self._kernel.argtypes, self._kernel.restype = _ARGTYPES, ctypes.c_int64
        self._lanes = ctypes.c_int64.in_dll(library, LANES_SYMBOL).value

    def escape_counts(self, cr: np.ndarray, ci: np.ndarray, max_iter: int,
                      shortcuts: bool = True) -> tuple[np.ndarray, int]:
        """Same contract as :func:`mpi_render.kernels.numba_backend.escape_counts`."""
        escape, work = self._run(cr, ci, max_iter, shortcuts, smooth=False)
        return escape.counts, work

    def escape_data(self, cr: np.ndarray, ci: np.ndarray, max_iter: int,
                    shortcuts: bool = True) -> tuple[Escape, int]:
        """Same contract as :func:`mpi_render.kernels.numba_backend.escape_data`."""
        return self._run(cr, ci, max_iter, shortcuts, smooth=True)

    def _run(self, cr, ci, max_iter: int, shortcuts: bool, smooth: bool) -> tuple[Escape, int]:
        cr = np.ascontiguousarray(cr, dtype=np.float64)
        ci = np.ascontiguousarray(ci, dtype=np.float64)
        escape, z_y = escape_outputs(cr.size, ci.size, smooth)
        floats, ints, skip = workspace(cr.size, self._lanes)
        work = self._kernel(cr.ctypes.data, cr.size, ci.ctypes.data, ci.size, max_iter,
                            shortcuts, escape.counts.ctypes.data, escape.extra.ctypes.data,
                            escape.r2.ctypes.data, z_y.ctypes.data, z_y.size,
                            floats.ctypes.data, floats.size, ints.ctypes.data, ints.size,
                            skip.ctypes.data, skip.size)
        return escape, work


def _linker() -> str:
    """The C compiler driver that links the library: ``$CC``, Python's, or ``cc``."""
    for candidate in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc"):
        if candidate and shutil.which(candidate.split()[0]):
            return candidate.split()[0]
    raise RuntimeError("no C compiler driver (cc) to link the native kernel; "
                       "install gcc or set CC")


def _trap_definitions(module) -> str:
    """LLVM IR that defines every runtime function and global the kernel's IR declares
    (outside LLVM's intrinsics and libc) as a trap / a zero (module docstring)."""
    lines = ["declare void @llvm.trap()"]
    for function in module.functions:
        if function.is_declaration and not function.name.startswith("llvm.") \
                and function.name not in _LIBC:
            result, params = str(function.global_value_type).split(" ", 1)
            lines.append(f'define {result} @"{function.name}"{params} {{\n'
                         "  call void @llvm.trap()\n  unreachable\n}")
    for variable in module.global_variables:
        if variable.is_declaration:
            lines.append(f'@"{variable.name}" = global {variable.global_value_type} zeroinitializer')
    return "\n".join(lines) + "\n"


def ensure_built() -> None:
    """Build the library for the next processes if it is missing (turned on, numba there).

    Called after numba's JIT warm-up; costs ~2-3 s once per code version, numba version and
    CPU. A failure (e.g. no linker) is logged and the JIT keeps serving this process.
    """
    build_if_missing(library_path, build, "the numba kernel")


def build_if_missing(path_of, builder, what: str) -> None:
    """:func:`ensure_built` for any library: ``path_of()`` its path, ``builder()`` builds it."""
    path = path_of() if enabled() else None
    if path is None or path.exists():
        return
    try:
        builder()
    except (RuntimeError, OSError) as error:
        log.warning("%s stays JIT-only (every process imports numba): %s", what, error)
    else:
        log.info("built %s: %s", what, path)


def build_target(path: str | os.PathLike | None, path_of, what: str) -> Path:
    """Where a library is built: ``path``, or ``path_of()`` when ``path`` is None.

    Raises:
        RuntimeError: ``path_of()`` has no answer (``what`` starts its message: no numba, or a
            CPU that /proc/cpuinfo does not identify).
    """
    target = Path(path) if path is not None else path_of()
    if target is None:
        raise RuntimeError(f"{what} numba and a CPU listed in /proc/cpuinfo")
    return target


def build(path: str | os.PathLike | None = None) -> Path:
    """Compile the numba kernel into a library at ``path`` (default: :func:`library_path`).

    Several processes may build at once: each writes a private file and renames it into place.

    Raises:
        RuntimeError: numba is not installed, the CPU cannot be identified, or linking failed.
    """
    from numba import carray, cfunc, types

    from . import numba_backend

    path = build_target(path, library_path, "the native kernel needs")
    _linker()  # before compiling anything: no linker, no library
    ptr = types.CPointer

    @cfunc(types.int64(ptr(types.float64), types.int64, ptr(types.float64), types.int64,
                      types.int64, types.boolean, ptr(types.uint32), ptr(types.uint8),
                      ptr(types.float64), ptr(types.float64), types.int64,
                      ptr(types.float64), types.int64, ptr(types.int64), types.int64,
                      ptr(types.boolean), types.int64), nogil=True)
    def kernel(cr, width, ci, height, max_iter, shortcuts, out, extra, r2, z_y, n_smooth,
               floats, n_floats, ints, n_ints, skip, n_skip):
        args = (carray(cr, (width,)), carray(ci, (height,)), max_iter, shortcuts,
                carray(out, (width * height,)), carray(floats, (n_floats,)),
                carray(ints, (n_ints,)), carray(skip, (n_skip,)))
        if n_smooth:  # the kernel's two specialisations (numba_backend: smooth or None)
            return numba_backend.escape_counts_flat(
                *args, (carray(extra, (n_smooth,)), carray(r2, (n_smooth,)),
                        carray(z_y, (n_smooth,))))
        return numba_backend.escape_counts_flat(*args, None)

    return link_library({SYMBOL: kernel}, path,
                        f"@{LANES_SYMBOL} = constant i64 {numba_backend.LANES}\n")


def link_library(kernels: dict, path: Path, extra_ir: str = "", libm: bool = False) -> Path:
    """Link numba ``cfunc`` s into one shared library at ``path``, each under its symbol name
    (``{symbol: cfunc}``), with ``extra_ir`` (LLVM IR) added (module docstring); ``libm``:
    define numba's frexp/ldexp helpers (:data:`LIBM_SHIMS`) and link libm.

    Raises:
        RuntimeError: no linker, or linking failed.
    """
    import llvmlite.binding as llvm

    linker = _linker()
    module = None
    for symbol, kernel in kernels.items():
        part = llvm.parse_assembly(kernel.inspect_llvm())
        part.get_function(kernel.native_name).name = symbol
        if module is None:
            module = part
        else:
            module.link_in(part)
    if libm:
        extra_ir += LIBM_SHIMS
    if extra_ir:
        module.link_in(llvm.parse_assembly(extra_ir))
    module.link_in(llvm.parse_assembly(_trap_definitions(module)))
    module.verify()
    machine = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3,
        reloc="pic", codemodel="large")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        obj, library = Path(tmp) / "kernel.o", Path(tmp) / path.name
        obj.write_bytes(machine.emit_object(module))
        linked = subprocess.run([linker, "-shared", "-o", str(library), str(obj)]
                                + (["-lm"] if libm else []), capture_output=True, text=True)
        if linked.returncode:
            raise RuntimeError(f"linking the native kernel failed: {linked.stderr.strip()}")
        os.replace(library, path)
    return path

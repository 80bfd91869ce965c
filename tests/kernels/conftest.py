"""Fixtures shared by the kernel tests: the C reference, and every backend as it runs."""
import pytest

from mpi_render.kernels import dispatch, native
from mpi_render.kernels.creference import CReference


@pytest.fixture(scope="session")
def native_library_path(tmp_path_factory):
    """The numba kernel's native library, built once per session into a temporary directory."""
    return native.build(tmp_path_factory.mktemp("native") / "escape_counts.so")


@pytest.fixture(scope="module")
def cref():
    """The repository's exact scalar C reference (built with the machine's cc on first use)."""
    return CReference()


@pytest.fixture(scope="session")
def native_kernel(native_library_path):
    return native.open_library(native_library_path)


@pytest.fixture(params=["numpy", "numba-jit", "numba-native"])
def backend(request, monkeypatch):
    """A backend name for ``escape_counts`` and ``escape_data``; the two numba variants pin how
    numba runs."""
    if request.param == "numpy":
        return "numpy"
    if request.param == "numba-native":
        implementation = request.getfixturevalue("native_kernel")
    else:
        from mpi_render.kernels import numba_backend
        implementation = numba_backend
    real = dispatch._kernel
    monkeypatch.setattr(dispatch, "_kernel",
                        lambda name: implementation if name == "numba" else real(name))
    return "numba"


@pytest.fixture(scope="session")
def colour_library(tmp_path_factory):
    """The colour mapping's native library, built once per session into a temporary directory."""
    from mpi_render.kernels import colour_native

    return colour_native.build(tmp_path_factory.mktemp("colour-native") / "colour.so")


@pytest.fixture(params=["numba-jit", "numba-native"])
def compiled(request, monkeypatch):
    """The compiled colour mapping, as numba's JIT and as the prebuilt library; the tile
    pipeline (``palettes.smooth_indices``) runs it."""
    from mpi_render import palettes

    if request.param == "numba-native":
        from mpi_render.kernels import colour_native

        mapping = colour_native.open_library(request.getfixturevalue("colour_library"))
    else:
        from mpi_render.kernels.colour_numba import indices_flat as mapping
    monkeypatch.setattr(palettes, "compiled_mapping", lambda: mapping)
    return mapping

"""Fixtures of the deep-view tests: the numba kernels as the JIT and as the prebuilt library."""
import pytest

from mpi_render.deep import tiles


@pytest.fixture(scope="session")
def deep_library(tmp_path_factory):
    """The deep kernels' native library, built once per session into a temporary directory."""
    from mpi_render.deep import native

    return native.build(tmp_path_factory.mktemp("deep-native") / "deep.so")


@pytest.fixture(params=["numba-jit", "numba-native", "numpy"])
def fast_backend(request, monkeypatch):
    """A backend name for ``tile_escape``; the numba variants pin how numba runs."""
    if request.param == "numpy":
        return "numpy"
    if request.param == "numba-native":
        from mpi_render.deep import native

        kernels = native.open_library(request.getfixturevalue("deep_library"))
    else:
        from mpi_render.deep import numba_backend

        kernels = (numba_backend.tile_plain, numba_backend.tile_wide)
    monkeypatch.setattr(tiles, "_numba_kernels", lambda: kernels)
    return "numba"

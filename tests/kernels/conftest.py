"""Fixtures shared by the kernel tests."""
import pytest

from mpi_render.kernels import native


@pytest.fixture(scope="session")
def native_library_path(tmp_path_factory):
    """The numba kernel's native library, built once per session into a temporary directory."""
    return native.build(tmp_path_factory.mktemp("native") / "escape_counts.so")

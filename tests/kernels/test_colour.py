"""The compiled colour mapping (``mpi_render.kernels.colour_numba``, run by numba's JIT and from
its prebuilt library ``colour_native``): the numpy path's bytes and the plain-Python oracle's, bit
for bit, on the demanding inputs, on every kind of unusual value, and in whole tiles; no FMA in
its machine code; ranks use the library without importing numba."""
import hashlib
import re
import subprocess
from pathlib import Path

import colour_oracle
import numpy as np
import pytest
from colour_oracle import MAX_ITER, border_pixels, joined, oracle_inputs
from native_libraries import start_process, undefined_symbols

from mpi_render import palettes
from mpi_render.config import RenderConfig
from mpi_render.escape import SMOOTH_R2, Escape
from mpi_render.kernels import colour_native, colour_numba
from mpi_render.palettes import numpy_indices, smooth_indices
from mpi_render.tile import render_tile

LARGEST = np.finfo(np.float64).max
# Values an escaped pixel's r2 never has (a kernel reports r2 > 4 or inf) and at the edges of
# the range the one-pass loop takes (module docstring of colour_numba): the second pass colours
# tiles that hold one of them.
# 0.49 .. 0.06: log2 r2 just below -1, -2, -3, -4, whose own log2 sets the colour (for most
# r2 below 1 the value is clamped to 0 or huge, and its colour hardly depends on the details).
UNUSUAL_R2 = [np.inf, np.nan, 0.0, -0.0, 5e-324, 2.2e-308, 1e-300, 0.06, 0.12, 0.24, 0.49, 0.5,
              1.0, 1.5, np.nextafter(2.0, 0.0), -3.0, -1e300, -np.inf]
EDGE_R2 = [2.0, np.nextafter(2.0, np.inf), 4.0, np.nextafter(4.0, np.inf), SMOOTH_R2, LARGEST]


def ordinary(escape: Escape) -> Escape:
    """The pixels of a one-row Escape that the first pass colours alone: interior, or escaped
    with r2 in [2, largest double]."""
    keep = (escape.counts[0] >= MAX_ITER) | ((escape.r2[0] >= 2.0) & (escape.r2[0] <= LARGEST))
    return Escape(escape.counts[:, keep], escape.extra[:, keep], escape.r2[:, keep])


@pytest.fixture(scope="module")
def demanding():
    """The random pixels with every edge case and the pixels on colour borders
    (tests/colour_oracle.py)."""
    return joined(oracle_inputs(60_000, seed=7), border_pixels())


def assert_same_as_oracle_and_numpy(escape: Escape, max_iter: int = MAX_ITER) -> None:
    got = smooth_indices(escape, max_iter)
    want = colour_oracle.indices(escape, max_iter)
    mismatched = np.flatnonzero(got.ravel() != want.ravel())
    assert mismatched.size == 0, [(escape.counts.ravel()[i], escape.extra.ravel()[i],
                                   escape.r2.ravel()[i]) for i in mismatched[:5]]
    assert got.tobytes() == numpy_indices(escape, max_iter).tobytes()


@pytest.mark.parametrize("part", ["all", "ordinary"])
def test_compiled_mapping_is_the_oracle_and_numpy_bit_for_bit(compiled, demanding, part):
    """On 60,000 random pixels and the edge cases (inf among them: the second pass), and on
    the same without the pixels the first pass leaves to the second (the first pass alone), with
    the 1,600 pixels on colour borders in both."""
    escape = demanding if part == "all" else ordinary(demanding)
    assert escape.r2.size > 60_000
    assert np.isinf(escape.r2).any() == (part == "all")
    assert_same_as_oracle_and_numpy(escape)


@pytest.mark.parametrize("r2", UNUSUAL_R2 + EDGE_R2, ids=str)
def test_every_unusual_value_gets_its_exact_colour(compiled, r2):
    """Escaped pixels with one unusual r2 (or one at the edge of the first pass's range), with
    200 counts and extras (extra up to 255, counts up to 2^32 - 2), among ordinary pixels: the
    same bytes as numpy and the oracle, for them and for their neighbours."""
    rng = np.random.default_rng(8)
    counts = np.concatenate([[0, 1, 7, MAX_ITER - 1, 2**32 - 2], rng.integers(0, MAX_ITER, 195)])
    extra = np.concatenate([[0, 1, 64, 255, 3], rng.integers(0, 256, 195)])
    pixels = Escape(counts.astype(np.uint32)[None, :], extra.astype(np.uint8)[None, :],
                    np.full((1, counts.size), r2))
    assert_same_as_oracle_and_numpy(joined(ordinary(oracle_inputs(400, seed=8)), pixels))
    assert_same_as_oracle_and_numpy(pixels, max_iter=2**32 - 1)


def test_interior_pixels_are_black_whatever_their_r2(compiled):
    escape = Escape(np.array([[5, 5, 5, 9, 2**32 - 1]], np.uint32), np.zeros((1, 5), np.uint8),
                    np.array([[0.0, np.nan, -1.0, np.inf, 1e10]]))
    assert smooth_indices(escape, 5).tolist() == [[255] * 5]
    assert_same_as_oracle_and_numpy(escape, max_iter=5)


def test_compiled_mapping_in_any_layout(compiled):
    """Strided, transposed and empty Escapes, and sizes that leave a remainder after the vector
    loop: the same bytes as numpy."""
    source = ordinary(oracle_inputs(3_000, seed=9))
    escape = Escape(*(getattr(source, name)[:, :2_996].reshape(7, -1)
                      for name in ("counts", "extra", "r2")))
    for part in (escape, Escape(escape.counts.T, escape.extra.T, escape.r2.T),
                 Escape(escape.counts[:, 1::3], escape.extra[:, 1::3], escape.r2[:, 1::3]),
                 Escape(escape.counts[:, :0], escape.extra[:, :0], escape.r2[:, :0])):
        for width in (1, 7, 13, part.counts.shape[1]):
            cut = Escape(part.counts[:, :width], part.extra[:, :width], part.r2[:, :width])
            assert smooth_indices(cut, MAX_ITER).tobytes() == \
                numpy_indices(cut, MAX_ITER).tobytes()


def test_other_types_take_the_numpy_path(compiled):
    """Counts that are not uint32 (here int64, beyond 2^32) are coloured by numpy, which reads
    them as they are, instead of being cast."""
    escape = Escape(np.array([[2**32 + 5, 3]], np.int64), np.array([[1, 1]], np.uint8),
                    np.array([[1e6, 1e6]]))
    assert smooth_indices(escape, 2**33).tobytes() == numpy_indices(escape, 2**33).tobytes()
    assert smooth_indices(escape, 2**33)[0, 0] != smooth_indices(
        Escape(escape.counts.astype(np.uint32), escape.extra, escape.r2), 2**33)[0, 0]


TILES = [  # (config, tiles): the full view's edge (interior), the seahorse valley, a view
    # rendered by perturbation, and a view whose orbits overflow (r2 = inf: the second pass)
    (RenderConfig(grid=4, tile_px=64, max_iter=400), [(1, 1), (0, 2)]),
    (RenderConfig(grid=2, tile_px=96, max_iter=3000, center=(-0.745, 0.11), width=0.01),
     [(0, 0), (1, 1)]),
    (RenderConfig(grid=2, tile_px=48, max_iter=800, center=(-0.75, 0.1), width=1e-20),
     [(0, 1)]),
    (RenderConfig(grid=2, tile_px=32, max_iter=50, center=(0.0, 0.0), width=1e156), [(0, 0)]),
]


@pytest.mark.parametrize("config, tiles", TILES)
def test_tile_png_is_the_same_bytes_with_either_mapping(compiled, monkeypatch, config, tiles):
    for row, col in tiles:
        fast = render_tile(config, row, col)
        with monkeypatch.context() as patch:
            patch.setattr(palettes, "compiled_mapping", lambda: None)
            reference = render_tile(config, row, col)
        assert fast.png == reference.png, (config, row, col)


def fma_instructions(assembly: str) -> list[str]:
    return re.findall(r"\bv?f(?:n?m(?:add|sub)|maddsub|msubadd)\w*", assembly)


def test_the_machine_code_has_no_fma(colour_library):
    """This CPU has FMA (the library is built for it), and the code multiplies and adds, yet
    no multiply and add were fused: in the library and in numba's JIT code alike."""
    assert "fma" in Path("/proc/cpuinfo").read_text().split()
    library = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(colour_library)],
                             check=True, capture_output=True, text=True).stdout
    # the same function with the same options, compiled afresh (numba shows no machine code
    # of a function it loaded from its cache)
    jit = colour_numba.numba.jit(**colour_numba.indices_flat.targetoptions)(
        colour_numba.indices_flat.py_func)
    jit(*(np.zeros(1, t) for t in (np.uint32, np.uint8, np.float64)), 1, np.zeros(1, np.uint8))
    for code in (library, jit.inspect_asm(jit.signatures[0])):
        assert re.search(r"\bv?mul[sp]d", code) and re.search(r"\bv?add[sp]d", code)
        assert fma_instructions(code) == []
    assert fma_instructions("vfmadd231pd %zmm1, %zmm2, %zmm3") != []  # the pattern sees FMA


def test_library_needs_nothing_but_libc(colour_library):
    assert undefined_symbols(colour_library) == set()


def test_library_refuses_arrays_it_cannot_read(colour_library):
    mapping = colour_native.open_library(colour_library)
    r2 = np.ones((4, 4))
    with pytest.raises(ValueError, match="C-contiguous arrays of one size"):
        mapping(np.zeros(16, np.uint32), np.zeros(16, np.uint8), r2.T.reshape(-1)[::2], 5,
                np.empty(16, np.uint8))


def test_the_numba_cache_pin_matches_the_compiled_constants():
    """numba's cache watches only colour_numba.py: its pin must change with the modules whose
    constants are compiled into the mapping."""
    package = Path(colour_numba.__file__).parent.parent
    digest = hashlib.sha256()
    for name in ("exactlog.py", "palettes.py"):
        digest.update((package / name).read_bytes())
    assert colour_numba.PINNED_SOURCES == digest.hexdigest()[:16], (
        "update PINNED_SOURCES in kernels/colour_numba.py to " + digest.hexdigest()[:16])


START = ("import hashlib, sys; from mpi_render import palettes; from mpi_render.config import "
         "RenderConfig; from mpi_render.tile import render_tile, warm_up; warm_up(); "
         "tile = render_tile(RenderConfig(grid=4, tile_px=64, max_iter=400), 1, 1); "
         "print('numba' in sys.modules, type(palettes.compiled_mapping()).__name__, "
         "hashlib.sha256(tile.png).hexdigest())")


def test_a_rank_colours_with_the_library_without_numba(tmp_path, monkeypatch):
    """The first process colours on numba's JIT and builds the library (warm_up); the next one
    loads it and never imports numba; the tile is the same bytes either way, and the same as
    the numpy mapping's."""
    built = start_process(START, tmp_path)
    assert built[:2] == ["True", "CPUDispatcher"]
    assert [p.name for p in tmp_path.glob("colour-*.so")] != []
    again = start_process(START, tmp_path)
    assert again == ["False", "partial", built[2]]
    jit = start_process(START, tmp_path, MPI_RENDER_NATIVE_KERNEL="0")
    assert jit == ["True", "CPUDispatcher", built[2]]
    monkeypatch.setattr(palettes, "compiled_mapping", lambda: None)
    reference = render_tile(RenderConfig(grid=4, tile_px=64, max_iter=400), 1, 1)
    assert hashlib.sha256(reference.png).hexdigest() == built[2]

"""Palettes: the four named tables (smooth closed cycles), case-insensitive names, and the
smooth-value -> index mapping (continuous, interior black, a function of the pixel alone, the
same bits as its plain-Python oracle: the same bytes on every machine)."""
import doctest
import math

import colour_oracle
import numpy as np
import pytest
from colour_oracle import MAX_ITER, border_pixels, joined, oracle_inputs

from mpi_render import palettes
from mpi_render.escape import Escape
from mpi_render.kernels import escape_data
from mpi_render.palettes import (
    INTERIOR_INDEX,
    PALETTE_NAMES,
    check_palette_name,
    palette_bytes,
    palette_table,
    smooth_indices,
    smooth_values,
)


def escape_of_values(values, max_iter=10**9) -> Escape:
    """An Escape whose pixels have the smooth values ``values`` (>= 0; extra 3 and r2 = 2**32
    make ``nu = count + fraction`` with the fraction from r2)."""
    values = np.asarray(values, dtype=np.float64)
    counts = np.floor(values)
    # nu = count + 3 + 2 - log2(log2 r2): log2(log2 r2) = 5 - fraction
    r2 = 2.0 ** (2.0 ** (5.0 - (values - counts)))
    return Escape(counts.astype(np.uint32), np.full(values.shape, 3, np.uint8), r2)


def cycles_across(indices: np.ndarray) -> int:
    """How many times a sequence of indices along rising values wraps the colour cycle."""
    return int(np.count_nonzero(np.diff(indices.astype(int)) < -128))


def test_the_four_palettes_exist():
    assert PALETTE_NAMES == ("electric", "fire", "ocean", "cosmic")


@pytest.mark.parametrize("name", PALETTE_NAMES)
def test_palette_is_768_bytes_with_black_interior_entry(name):
    table = palette_bytes(name)
    assert len(table) == 768
    assert table[255 * 3:] == b"\0\0\0"


@pytest.mark.parametrize("name", PALETTE_NAMES)
def test_escaped_colours_are_never_black(name):
    """The interior (index 255) must stand out from every escaped colour."""
    assert palette_table(name)[:255].max(axis=1).min() >= 30


@pytest.mark.parametrize("name", PALETTE_NAMES)
def test_palette_is_a_smooth_closed_cycle(name):
    """Neighbouring entries are close, and so are the last and the first: no edge where the
    cycle wraps."""
    cycle = palette_table(name)[:255].astype(int)
    steps = np.abs(np.diff(np.vstack([cycle, cycle[:1]]), axis=0)).max(axis=1)
    assert steps.max() <= 8, steps.argmax()
    assert np.ptp(cycle, axis=0).min() >= 60  # and it is not one flat colour


def test_palettes_differ_from_each_other():
    assert len({palette_bytes(name) for name in PALETTE_NAMES}) == 4


@pytest.mark.parametrize("name", ["FIRE", "Ocean", " cosmic "])
def test_names_are_case_insensitive(name):
    assert palette_bytes(name) == palette_bytes(name.strip().lower())
    assert check_palette_name(name) == name.strip().lower()


@pytest.mark.parametrize("name", ["rainbow", "", "electric2"])
def test_unknown_name_lists_the_valid_ones(name):
    with pytest.raises(ValueError, match="valid palettes: electric, fire, ocean, cosmic"):
        palette_bytes(name)


def test_table_is_read_only():
    with pytest.raises(ValueError):
        palette_table("fire")[0, 0] = 1


def test_palette_doctests_pass():
    result = doctest.testmod(palettes)
    assert result.attempted >= 3 and result.failed == 0


def test_smooth_value_by_hand():
    # m = 4 + 3 = 7; r2 = 2**16 (|z| = 256): log2 log2 = 4: nu = 7 + 2 - 4 = 5
    escape = Escape(np.array([[4, 4, 30]], np.uint32), np.array([[3, 3, 0]], np.uint8),
                    np.array([[2.0**16, 2.0**32, 0.0]]))
    values = smooth_values(escape, 30)
    np.testing.assert_allclose(values[0, :2], [5.0, 4.0], rtol=0, atol=2e-14)
    assert np.isnan(values[0, 2])


def test_interior_is_black_and_nothing_else_is():
    escape = escape_data(-2.0, 1.25, 2.5 / 64, 2.5 / 64, 64, 64, 200, backend="numpy")
    indices = smooth_indices(escape, 200)
    inside = escape.counts >= 200
    assert inside.any() and (~inside).any()
    assert (indices[inside] == INTERIOR_INDEX).all() and (indices[~inside] < 255).all()


def test_overflowed_escapes_get_the_start_of_the_cycle():
    """|c| ~ 1e200: |z|^2 is inf at the escape; the value is clamped to 0, not nan."""
    escape = escape_data(-1e200, 1e200, 2e199, 2e199, 4, 4, 50, backend="numpy")
    assert np.isinf(escape.r2).any()
    assert (smooth_values(escape, 50) >= 0).all()
    assert (smooth_indices(escape, 50)[np.isinf(escape.r2)] == 0).all()


def test_colour_is_continuous_across_count_boundaries():
    """Along a fine line of pixels on the real axis right of the cusp (counts 35 down to 10)
    the count steps by one again and again; the smooth value and the colour do not jump."""
    pitch = 1.5e-6
    escape = escape_data(0.258, pitch / 2, pitch, pitch, 60000, 1, 10**4, backend="numpy")
    counts, values = escape.counts[0].astype(int), smooth_values(escape, 10**4)[0]
    edges = np.flatnonzero(np.diff(counts) != 0)
    assert edges.size >= 20 and np.ptp(counts) >= 20
    assert np.abs(np.diff(values)[edges]).max() < 0.05  # values just below / above an edge
    indices = smooth_indices(escape, 10**4)[0].astype(int)
    jumps = np.abs(np.diff(indices))
    assert np.minimum(jumps, 255 - jumps).max() <= 2  # 254 -> 0 is one step along the cycle
    table = palette_table("electric").astype(int)
    assert np.abs(np.diff(table[indices], axis=0)).max() <= 16  # neighbouring colours


def test_index_is_a_function_of_the_pixel_alone():
    """A pixel gets the same index wherever it sits and whatever the rest of its tile holds, so
    adjacent tiles agree at their edges."""
    escape = escape_data(-0.8, 0.2, 0.001, 0.001, 48, 40, 1000, backend="numpy")
    whole = smooth_indices(escape, 1000)
    left = Escape(escape.counts[:, :20], escape.extra[:, :20], escape.r2[:, :20])
    alone = Escape(escape.counts[7:8, 30:31], escape.extra[7:8, 30:31], escape.r2[7:8, 30:31])
    assert (smooth_indices(left, 1000) == whole[:, :20]).all()
    assert smooth_indices(alone, 1000)[0, 0] == whole[7, 30]
    flipped = Escape(escape.counts[::-1].copy(), escape.extra[::-1].copy(),
                     escape.r2[::-1].copy())
    assert (smooth_indices(flipped, 1000) == whole[::-1]).all()


def test_adjacent_tiles_colour_as_one_image():
    """Two adjacent tiles coloured apart give the same indices as the two coloured as one
    image: nothing of a tile's own range enters, so their edges match."""
    from mpi_render.tiling import tile_bounds
    escapes = []
    for col in (1, 2):
        b = tile_bounds(4, 32, (-0.75, 0.0), 3.0, 1, col)
        escapes.append(escape_data(b.xmin, b.ymax, b.dx, b.dy, 32, 32, 256, backend="numpy"))
    joined = Escape(*(np.hstack([getattr(e, name) for e in escapes])
                      for name in ("counts", "extra", "r2")))
    apart = np.hstack([smooth_indices(e, 256) for e in escapes])
    assert (smooth_indices(joined, 256) == apart).all()
    assert np.ptp(escapes[0].counts) != np.ptp(escapes[1].counts)  # different ranges


def test_mapping_is_deterministic():
    escape = escape_data(-0.75, 0.1, 0.01, 0.01, 40, 40, 500, backend="numpy")
    first = smooth_indices(escape, 500)
    assert first.dtype == np.uint8 and first.shape == (40, 40)
    assert smooth_indices(escape, 500).tobytes() == first.tobytes()


@pytest.mark.parametrize("base", [1e3, 4e4, 1e6, 1e8])
def test_deep_views_in_a_narrow_band_show_several_cycles(base):
    """Views whose values sit in a band far from 0 (the Flake: 35,000..50,000) show between
    5 and 40 colour cycles across a +40 % band at any depth: neither one flat colour nor
    noise."""
    values = np.linspace(base, 1.4 * base, 200001)
    cycles = cycles_across(smooth_indices(escape_of_values(values), 10**9))
    assert 5 <= cycles <= 40, cycles


def test_the_outside_of_the_full_view_is_one_gradient():
    """Values 0..20 (most of the full view) sweep less than one cycle; 0..256 a handful."""
    near = smooth_indices(escape_of_values(np.linspace(0, 20, 2001)), 10**9)
    assert cycles_across(near) == 0 and np.ptp(near) > 150
    assert 4 <= cycles_across(smooth_indices(escape_of_values(np.linspace(0, 256, 20001)),
                                             10**9)) <= 15


# the mapping in numpy (the reference) and the tile pipeline's (its compiled twin where numba runs)
MAPPINGS = pytest.mark.parametrize("mapping", [palettes.numpy_indices, smooth_indices],
                                   ids=["numpy", "pipeline"])


@pytest.fixture(scope="module")
def demanding():
    """60,000 random pixels with every edge case, and the pixels on colour borders, with the
    oracle's indices."""
    random, borders = oracle_inputs(60_000, seed=5), border_pixels()
    escape = joined(random, borders)
    return escape, colour_oracle.indices(escape, MAX_ITER), borders.r2.size


@MAPPINGS
def test_mapping_equals_the_python_oracle_bit_for_bit(mapping, demanding):
    """Every index is what the plain-Python evaluation of the same operations gives: the
    mapping is a fixed function of the Escape's bits on any IEEE-754 machine and numpy build
    (the whole point: sites on different CPUs store the same tile)."""
    escape, want, n_borders = demanding
    got = mapping(escape, MAX_ITER)
    assert got.dtype == np.uint8 and got.shape == escape.counts.shape
    mismatched = np.flatnonzero(got[0] != want[0])
    assert mismatched.size == 0, [(escape.counts[0, i], escape.extra[0, i], escape.r2[0, i])
                                  for i in mismatched[:5]]
    assert len(np.unique(want)) == 256  # every colour and the interior occur
    on_borders = want[0, -n_borders:].reshape(40, -1)
    assert (on_borders[:, 0] != on_borders[:, -1]).all()  # each sweep crosses its border


def test_smooth_values_equal_the_python_oracle_bit_for_bit(demanding):
    escape = demanding[0]
    pixels = zip(escape.counts[0].tolist(), escape.extra[0].tolist(), escape.r2[0].tolist())
    values = smooth_values(escape, MAX_ITER)[0]
    escaped = escape.counts[0] < MAX_ITER
    assert np.isnan(values[~escaped]).all()
    assert values[escaped].tolist() == [colour_oracle.smooth_value(c, x, v)
                                        for (c, x, v), e in zip(pixels, escaped) if e]


@MAPPINGS
def test_mapping_equals_the_oracle_on_a_rendered_tile_in_any_layout(mapping):
    """A real tile (interior, counts 1..1000), whole, transposed (strided), cut at odd widths
    and stacked taller than one band of BLOCK_PX pixels: numpy's vector loops and their scalar
    tails give the oracle's bits alike, band by band, and so does the compiled mapping."""
    escape = escape_data(-0.8, 0.2, 0.001, 0.001, 77, 61, 1000, backend="numpy")
    want = colour_oracle.indices(escape, 1000)
    assert (want == INTERIOR_INDEX).any() and (want != INTERIOR_INDEX).any()
    assert mapping(escape, 1000).tobytes() == want.tobytes()
    transposed = Escape(escape.counts.T, escape.extra.T, escape.r2.T)
    assert (mapping(transposed, 1000) == want.T).all()
    odd = Escape(escape.counts[3:, 1:30], escape.extra[3:, 1:30], escape.r2[3:, 1:30])
    assert (mapping(odd, 1000) == want[3:, 1:30]).all()
    tall = Escape(*(np.tile(getattr(escape, name), (30, 1)) for name in ("counts", "extra", "r2")))
    assert tall.r2.size > 2 * palettes.BLOCK_PX  # coloured in three bands
    assert (mapping(tall, 1000) == np.tile(want, (30, 1))).all()


def test_mapping_is_the_smooth_colour_within_its_error_bound():
    """The exact-operation mapping differs from the same formula with libm's logarithms by at
    most 3e-13 of a cycle (its docstring's bound), so the picture is the same: an index differs
    only where the true position is that close to the border between two colours."""
    escape = oracle_inputs(20_000, seed=6)
    a, b = palettes.COLOUR_STRETCH / palettes.COLOUR_PERIOD, palettes.COLOUR_STRETCH
    worst = 0.0
    for c, x, v in zip(escape.counts[0].tolist(), escape.extra[0].tolist(),
                       escape.r2[0].tolist()):
        if c >= MAX_ITER or math.isinf(v):
            continue
        value = max(c + x + 2 - math.log2(math.log2(v)), 0.0)
        worst = max(worst, abs(colour_oracle.cycles(c, x, v) - math.log1p(a * value) / b))
    assert 0 < worst <= 3e-13

"""Palettes: the four named tables (smooth closed cycles), case-insensitive names, and the
smooth-value -> index mapping (continuous, interior black, a function of the pixel alone, the
same bits as its plain-Python oracle: the same bytes on every machine)."""
import doctest
import math

import colour_oracle
import numpy as np
import pytest

from mpi_render import palettes
from mpi_render.escape import SMOOTH_MAX_EXTRA, SMOOTH_R2, Escape
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


MAX_ITER = 10**8  # the largest max_iter a run may ask for (DESIGN.md)


def oracle_inputs(n: int, seed: int) -> Escape:
    """A row of ``n`` random pixels and every edge case, as an Escape: counts from 0 to just
    below MAX_ITER (and the interior, count == MAX_ITER with r2 = 0), extra 0..64, r2 just
    above SMOOTH_R2, far above it, overflowed (inf), and between 4 and SMOOTH_R2 where the
    tail hit its cap."""
    rng = np.random.default_rng(seed)
    counts = np.concatenate([
        rng.integers(0, 64, n // 4), np.exp(rng.uniform(0, math.log(MAX_ITER), n // 2)),
        rng.integers(MAX_ITER - 1000, MAX_ITER, n // 4)]).astype(np.uint32)
    extra = rng.integers(0, SMOOTH_MAX_EXTRA + 1, counts.size).astype(np.uint8)
    r2 = np.exp(rng.uniform(math.log(SMOOTH_R2), math.log(SMOOTH_R2 ** 2), counts.size))
    above = np.nextafter(SMOOTH_R2, np.inf)
    edges = [  # (count, extra, r2)
        *[(c, x, v) for c in (0, 1, 2, 3, 7, 8, 24, 255, 10**6, MAX_ITER - 1)
          for x in (0, 1, SMOOTH_MAX_EXTRA)
          for v in (above, np.nextafter(above, np.inf), SMOOTH_R2 * 1.5, SMOOTH_R2 ** 2,
                    2.0**64, 1e100, 1e300, np.finfo(np.float64).max, np.inf)],
        *[(c, SMOOTH_MAX_EXTRA, v) for c in (1, 50, 99_999) for v in (4.000001, 17.0, SMOOTH_R2)],
        *[(MAX_ITER, 0, 0.0)] * 5, (MAX_ITER + 7, 0, 0.0)]
    counts = np.concatenate([counts, np.array([e[0] for e in edges], np.uint32)])
    extra = np.concatenate([extra, np.array([e[1] for e in edges], np.uint8)])
    r2 = np.concatenate([r2, [e[2] for e in edges]])
    return Escape(counts[None, :], extra[None, :], r2[None, :])


def border_pixels(values: int = 40, steps: int = 20) -> Escape:
    """Pixels on the borders between two colours: for smooth values from 3 to 9e7, the r2 where
    the oracle's index changes (bisection), and the r2 around it in steps that move the cycle
    position by about half a unit in its last place. An operation rounded otherwise than the
    oracle's moves that change to another pixel, which among random pixels would show in about
    one pixel of 1e12."""
    a, b = palettes.COLOUR_STRETCH / palettes.COLOUR_PERIOD, palettes.COLOUR_STRETCH
    rows = []
    for value in np.geomspace(3.0, 9e7, values).tolist():
        position = math.log1p(a * value) / b
        value = math.expm1((math.floor(position * 255) + 1) / 255 * b) / a  # a border's value
        count = math.floor(value) + 2  # extra 1: log2(log2 r2) = count + 3 - value, in (4, 5]
        r2 = 2.0 ** 2.0 ** (count + 3 - value)
        low, high = r2 * (1 - 1e-6), r2 * (1 + 1e-6)  # indices differ at the two ends
        for _ in range(80):
            middle = (low + high) / 2
            same = colour_oracle.index(count, 1, middle, MAX_ITER) == \
                colour_oracle.index(count, 1, low, MAX_ITER)
            low, high = (middle, high) if same else (low, middle)
        # r2 (1 + d) moves the position by d / (ln 2^2 log2 r2 PERIOD (1 + a value)) cycles
        ulps = 0.5 * position * math.log(2) ** 2 * math.log2(r2) * b * (1 + a * value) / a
        bits = np.float64(high).view(np.int64) + max(1, round(ulps)) * np.arange(-steps, steps)
        rows += [(count, 1, r) for r in bits.view(np.float64).tolist()]
    counts, extra, r2 = (np.array(column) for column in zip(*rows))
    return Escape(counts.astype(np.uint32)[None, :], extra.astype(np.uint8)[None, :],
                  r2[None, :])


def test_mapping_equals_the_python_oracle_bit_for_bit():
    """Every index, and every smooth value, is what the plain-Python evaluation of the same
    operations gives: the mapping is a fixed function of the Escape's bits on any IEEE-754
    machine and numpy build (the whole point: sites on different CPUs store the same tile)."""
    random, borders = oracle_inputs(60_000, seed=5), border_pixels()
    escape = Escape(*(np.hstack([getattr(random, name), getattr(borders, name)])
                      for name in ("counts", "extra", "r2")))
    pixels = list(zip(escape.counts[0].tolist(), escape.extra[0].tolist(),
                      escape.r2[0].tolist()))
    want = np.array([colour_oracle.index(c, x, v, MAX_ITER) for c, x, v in pixels], np.uint8)
    got = smooth_indices(escape, MAX_ITER)
    assert got.dtype == np.uint8 and got.shape == escape.counts.shape
    mismatched = np.flatnonzero(got[0] != want)
    assert mismatched.size == 0, [pixels[i] for i in mismatched[:5]]
    assert len(np.unique(want)) == 256  # every colour and the interior occur
    on_borders = want[-borders.r2.size:].reshape(40, -1)
    assert (on_borders[:, 0] != on_borders[:, -1]).all()  # each sweep crosses its border
    values = smooth_values(escape, MAX_ITER)[0]
    escaped = escape.counts[0] < MAX_ITER
    assert np.isnan(values[~escaped]).all()
    assert values[escaped].tolist() == [colour_oracle.smooth_value(c, x, v)
                                        for (c, x, v), e in zip(pixels, escaped) if e]


def test_mapping_equals_the_oracle_on_a_rendered_tile_in_any_layout():
    """A real tile (interior, counts 1..1000), whole, transposed (strided), cut at odd widths
    and stacked taller than one band of BLOCK_PX pixels: numpy's vector loops and their scalar
    tails give the oracle's bits alike, band by band."""
    escape = escape_data(-0.8, 0.2, 0.001, 0.001, 77, 61, 1000, backend="numpy")
    want = np.array([[colour_oracle.index(c, x, v, 1000) for c, x, v in zip(*row)]
                     for row in zip(escape.counts.tolist(), escape.extra.tolist(),
                                    escape.r2.tolist())], np.uint8)
    assert (want == INTERIOR_INDEX).any() and (want != INTERIOR_INDEX).any()
    assert smooth_indices(escape, 1000).tobytes() == want.tobytes()
    transposed = Escape(escape.counts.T, escape.extra.T, escape.r2.T)
    assert (smooth_indices(transposed, 1000) == want.T).all()
    odd = Escape(escape.counts[3:, 1:30], escape.extra[3:, 1:30], escape.r2[3:, 1:30])
    assert (smooth_indices(odd, 1000) == want[3:, 1:30]).all()
    tall = Escape(*(np.tile(getattr(escape, name), (30, 1)) for name in ("counts", "extra", "r2")))
    assert tall.r2.size > 2 * palettes.BLOCK_PX  # coloured in three bands
    assert (smooth_indices(tall, 1000) == np.tile(want, (30, 1))).all()


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

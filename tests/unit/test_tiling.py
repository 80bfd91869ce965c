"""The work split: every tile exactly once across all sites and ranks, whatever the sizes."""
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpi_render.tiling import (
    assign_tiles,
    rank_tiles,
    site_tiles,
    tile_bounds,
    tile_index,
    tile_position,
)

GRIDS = range(1, 65)
RANK_COUNTS = range(1, 9)


def site_names(count: int) -> list[str]:
    return [f"s{i}" for i in range(count)]


@st.composite
def weights(draw, count: int):
    """``count`` non-negative weights that sum to 1 within float rounding."""
    raw = draw(st.lists(st.integers(0, 1000), min_size=count, max_size=count)
               .filter(lambda v: sum(v) > 0))
    total = sum(raw)
    return [v / total for v in raw]


def assert_exactly_once(grid: int, per_site: dict[str, list[int]], ranks: list[int]) -> None:
    """Every index 0..grid^2-1 is rendered by exactly one (site, rank)."""
    rendered = []
    for site, count in zip(per_site, itertools.cycle(ranks)):
        for rank in range(count):
            rendered += rank_tiles(per_site[site], rank, count)
    assert sorted(rendered) == list(range(grid * grid))


@pytest.mark.parametrize("split", ["contiguous", "interleaved"])
@pytest.mark.parametrize("n_sites", [1, 2, 3])
def test_every_grid_and_rank_count_covers_each_tile_once(split, n_sites):
    sites = site_names(n_sites)
    for grid in GRIDS:
        per_site = assign_tiles(grid, sites, split)
        for ranks in itertools.product(RANK_COUNTS, repeat=min(n_sites, 2)):
            assert_exactly_once(grid, per_site, list(ranks))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), grid=st.integers(1, 64), n_sites=st.integers(1, 6),
       split=st.sampled_from(["contiguous", "interleaved"]))
def test_weighted_and_interleaved_splits_cover_each_tile_once(data, grid, n_sites, split):
    sites = site_names(n_sites)
    shares = data.draw(weights(n_sites)) if split == "contiguous" else None
    ranks = data.draw(st.lists(st.integers(1, 8), min_size=n_sites, max_size=n_sites))
    per_site = assign_tiles(grid, sites, split, shares)
    assert list(per_site) == sites
    assert_exactly_once(grid, per_site, ranks)
    for site in sites:
        assert site_tiles(grid, sites, site, split, shares) == per_site[site]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), grid=st.integers(1, 64), n_sites=st.integers(1, 6))
def test_contiguous_shares_follow_the_weights(data, grid, n_sites):
    shares = data.draw(weights(n_sites))
    per_site = assign_tiles(grid, site_names(n_sites), "contiguous", shares)
    total = grid * grid
    assert list(itertools.chain(*per_site.values())) == list(range(total))  # in site order
    for tiles, share in zip(per_site.values(), shares):
        # each boundary is rounded by at most half a tile, so a share is off by at most one
        assert abs(len(tiles) - total * share) <= 1 + 1e-9


def test_the_design_examples():
    assert assign_tiles(4, ["cloud", "onprem"]) == {"cloud": list(range(8)),
                                                    "onprem": list(range(8, 16))}
    assert assign_tiles(2, ["a", "b", "c"], "interleaved") == {"a": [0, 3], "b": [1], "c": [2]}
    assert assign_tiles(2, ["a", "b"], "contiguous", [0.25, 0.75]) == {"a": [0], "b": [1, 2, 3]}
    assert rank_tiles([4, 5, 6, 7, 8], 1, 2) == [5, 7]


def test_a_site_with_zero_weight_owns_nothing_and_a_rank_without_tiles_is_fine():
    per_site = assign_tiles(2, ["a", "b"], "contiguous", [0.0, 1.0])
    assert per_site == {"a": [], "b": [0, 1, 2, 3]}
    assert rank_tiles(per_site["a"], 3, 8) == []


@pytest.mark.parametrize("grid", [1, 3, 64])
def test_index_and_position_are_inverse(grid):
    for index in range(grid * grid):
        assert tile_index(grid, *tile_position(grid, index)) == index


def test_tile_bounds_follow_the_design_geometry():
    bounds = tile_bounds(4, 16, (-0.75, 0.0), 3.0, 1, 2)
    step = 3.0 / 64
    assert bounds.dx == bounds.dy == step
    assert bounds.xmin == -0.75 - 1.5 + 2 * 16 * step
    assert bounds.ymax == 1.5 - 1 * 16 * step


@pytest.mark.parametrize("call, message", [
    (lambda: assign_tiles(2, ["a", "a"]), "unique"),
    (lambda: assign_tiles(2, []), "at least one"),
    (lambda: assign_tiles(2, ["a"], "striped"), "split must be"),
    (lambda: assign_tiles(2, ["a", "b"], "contiguous", [0.5, 0.6]), "sum to 1"),
    (lambda: assign_tiles(2, ["a", "b"], "contiguous", [1.0]), "one value per site"),
    (lambda: site_tiles(2, ["a", "b"], "c"), "not in sites"),
    (lambda: rank_tiles([1, 2], 2, 2), "rank must be"),
    (lambda: tile_index(2, 2, 0), "outside"),
])
def test_bad_split_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()

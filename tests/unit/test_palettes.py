"""Palettes: the four named tables, case-insensitive names, and the count -> index mapping."""
import doctest

import numpy as np
import pytest

from mpi_render import palettes
from mpi_render.palettes import (
    INTERIOR_INDEX,
    PALETTE_NAMES,
    check_palette_name,
    palette_bytes,
    palette_indices,
    palette_table,
)


def test_the_four_palettes_exist():
    assert PALETTE_NAMES == ("electric", "fire", "ocean", "cosmic")


@pytest.mark.parametrize("name", PALETTE_NAMES)
def test_palette_is_768_bytes_with_black_interior_entry(name):
    table = palette_bytes(name)
    assert len(table) == 768
    assert table[255 * 3:] == b"\0\0\0"


@pytest.mark.parametrize("name", PALETTE_NAMES)
def test_escaped_colours_are_never_black(name):
    """The interior (index 255) must stand out from every escaped band."""
    assert palette_table(name)[:255].max(axis=1).min() > 0


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


def test_indices_band_escaped_counts_and_blacken_the_interior():
    counts = np.array([[0, 1, 2, 254], [255, 256, 509, 510], [600, 599, 1000, 2**32 - 1]],
                      dtype=np.uint32)
    expected = [[0, 1, 2, 254], [0, 1, 254, 0], [255, 89, 255, 255]]
    got = palette_indices(counts, 600)
    assert got.dtype == np.uint8 and got.tolist() == expected


def test_indices_keep_the_shape():
    assert palette_indices(np.zeros((3, 5), dtype=np.uint32), 10).shape == (3, 5)


def test_palette_doctests_pass():
    result = doctest.testmod(palettes)
    assert result.attempted >= 1 and result.failed == 0


def test_counts_above_max_iter_are_interior():
    counts = np.array([[0, 9, 10, 11, 4_000_000]], dtype=np.uint32)
    assert palette_indices(counts, 10).tolist() == [[0, 9, INTERIOR_INDEX, INTERIOR_INDEX,
                                                     INTERIOR_INDEX]]

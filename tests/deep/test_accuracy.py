"""The accuracy contract: counts equal the MPFR brute force on >= 99 % of sampled pixels at every
depth (DESIGN.md, "Deep views"), including views just below the double kernel's line.

Pixels are sampled uniformly (fixed seed) over a 1024-pixel image; each is rendered by the
default backend in its 16-pixel tile. The agreement is printed (pytest -s) for the notes.
"""
import numpy as np
import pytest
from deepviews import reference, view_of

from mpi_render import deep
from mpi_render.deep import brute, geometry
from mpi_render.view import View

GRID, TILE_PX = 64, 16
SAMPLES = 200


def sampled_pixels(seed: int, count: int = SAMPLES):
    rng = np.random.default_rng(seed)
    return [tuple(int(v) for v in (rng.integers(GRID), rng.integers(GRID),
                                   rng.integers(TILE_PX), rng.integers(TILE_PX)))
            for _ in range(count)]


def agreement(ref: deep.Reference, pixels) -> float:
    """Percentage of ``pixels`` whose count equals the MPFR brute force's."""
    view, max_iter = ref.view, ref.max_iter
    truth = brute.sample_counts(view, GRID, TILE_PX, max_iter, pixels)
    tiles = {}
    ours = []
    for row, col, i, j in pixels:
        if (row, col) not in tiles:
            tiles[row, col] = deep.tile_escape(ref, GRID, TILE_PX, row, col).counts
        ours.append(int(tiles[row, col][j, i]))
    return 100.0 * sum(a == b for a, b in zip(ours, truth)) / len(pixels)


@pytest.mark.parametrize("name, seed", [("e20", 1), ("flake", 2), ("spiral", 3), ("tripod", 4),
                                        ("minibrot", 5)])
def test_counts_agree_with_the_mpfr_brute_force(name, seed):
    ref = reference(name)
    percent = agreement(ref, sampled_pixels(seed))
    print(f"\n{name} (width {ref.view.width}, max_iter {ref.max_iter}): {percent:.1f} % of "
          f"{SAMPLES} sampled pixels equal the MPFR brute force")
    assert percent >= 99.0


def test_just_below_the_line_perturbation_is_chosen_and_meets_the_contract():
    view = View("-0.743643887037158704752191506114774", "0.131825904205311970493132056385139",
                "5e-5")  # pitch 4.9e-8 < 2**-24 = 6e-8
    assert deep.choose_kernel(view, GRID * TILE_PX) == "perturbation"
    percent = agreement(deep.prepare(view, GRID * TILE_PX, 20000), sampled_pixels(6))
    print(f"\njust below the line (width 5e-5): {percent:.1f} %")
    assert percent >= 99.0


def test_just_above_the_line_the_double_kernel_is_chosen_and_matches_its_brute_force():
    from mpi_render.kernels import reference as double_reference
    from mpi_render.kernels.dispatch import escape_counts, pixel_centres

    view = View("-0.743643887037158704752191506114774", "0.131825904205311970493132056385139",
                "7e-5")  # pitch 6.8e-8 > 2**-24
    assert not geometry.needs_perturbation(view, GRID * TILE_PX)
    assert deep.choose_kernel(view, GRID * TILE_PX) == "double"
    cx, cy, width = view.floats()
    step = width / (GRID * TILE_PX)
    args = (cx - width / 2 + 7 * TILE_PX * step, cy + width / 2 - 9 * TILE_PX * step, step, step,
            TILE_PX, TILE_PX, 20000)
    counts = escape_counts(*args)
    cr, ci = pixel_centres(*args[:6])
    assert counts.tolist() == double_reference.escape_counts(cr.tolist(), ci.tolist(), 20000)


def test_a_forced_kernel_wins_over_the_line():
    flake, _ = view_of("flake")
    assert deep.choose_kernel(flake, 1024, "double") == "double"
    assert deep.choose_kernel(View(-0.75, 0.0, 3.0), 1024, "perturbation") == "perturbation"
    with pytest.raises(ValueError, match="kernel must be one of auto, double, perturbation"):
        deep.choose_kernel(flake, 1024, "gpu")

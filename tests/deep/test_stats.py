"""The techniques are really taken: BLA and rebasing carry the work, the wide form runs only
below 1e-300, interior detection fires in a minibrot (a silent brute-force fallback fails here)."""
from deepviews import reference

from mpi_render import deep
from mpi_render.deep import stats as st


def tile_stats(name, row, col, grid=64, tile_px=16):
    counters = st.new()
    escape = deep.tile_escape(reference(name), grid, tile_px, row, col, stats=counters)
    return escape, st.as_dict(counters)


def test_bla_skips_most_iterations_of_the_flake_and_no_wide_step_runs():
    escape, stats = tile_stats("flake", 20, 40)
    total = int(escape.counts.sum())
    assert stats["bla_steps"] > 0 and stats["bla_skipped"] > 0.95 * total
    assert stats["perturbation_steps"] + stats["bla_skipped"] >= total
    assert stats["perturbation_steps"] < 0.05 * total
    assert stats["wide_steps"] == 0 and stats["interior_exits"] == 0
    assert not reference("flake").wide and not reference("flake").interior


def test_corner_pixels_rebase():
    _, stats = tile_stats("flake", 0, 0)
    assert stats["rebases"] > 0


def test_the_wide_form_runs_below_1e_300():
    for name in ("spiral", "tripod"):
        _, stats = tile_stats(name, 40, 10)
        assert reference(name).wide
        assert stats["wide_steps"] > 0 and stats["bla_steps"] > 0


def test_interior_detection_fires_in_the_minibrot():
    escape, stats = tile_stats("minibrot", 32, 32)
    inside = int((escape.counts == reference("minibrot").max_iter).sum())
    assert reference("minibrot").interior and inside > 0
    assert stats["interior_exits"] >= 0.9 * inside


def test_interior_detection_is_off_where_the_reference_escapes():
    assert not reference("spiral").interior and not reference("tripod").interior
    assert reference("minibrot", interior=False).checkpoints.size == 1


def test_interior_detection_needs_an_attracting_cycle_and_enough_periods():
    from mpi_render.view import View

    view = reference("minibrot").view
    assert deep.prepare(view, 64, 50000).interior  # 250 periods of 199
    assert not deep.prepare(view, 64, 20000).interior  # 100 periods: it would cost more
    assert not deep.prepare(View("0", "1", "1e-30"), 64, 100000).interior  # c = i: repelling

"""Claim-ahead sizing: every rank's queue covers a few seconds of work, never a lease's worth."""
from mpi_render.site.claims import START_TILES_PER_WORKER, ClaimSizer


class Clock:
    def __init__(self):
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def measured(ranks: int, tiles_per_s: float, lease_s: float = 30.0) -> ClaimSizer:
    clock = Clock()
    sizer = ClaimSizer(ranks, lease_s, clock)
    for _ in range(20):
        sizer.tile_done()
        clock.now_s += 1 / tiles_per_s
    return sizer


def test_before_any_tile_every_worker_gets_two_and_rank_0_only_the_one_it_renders():
    """A one-rank slow site must not hold a second tile for a whole first tile's time: at the
    end of a short run that tile is the run's last."""
    sizer = ClaimSizer(3)
    assert sizer.rate_per_rank() is None
    assert [sizer.target(rank) for rank in range(3)] == [1, 2, 2]
    assert START_TILES_PER_WORKER == 2


def test_the_rate_is_per_rank_over_the_last_tiles():
    assert abs(measured(4, 40.0).rate_per_rank() - 10.0) < 1e-9


def test_a_fast_worker_queues_two_seconds_and_rank_0_a_fifth_of_one():
    sizer = measured(2, 20.0)  # 10 tiles/s per rank
    assert sizer.target(1) == 1 + 20 and sizer.target(0) == 2


def test_a_slow_site_holds_one_tile_beyond_the_one_it_renders():
    sizer = measured(2, 0.5)  # a tile takes 4 s per rank
    assert sizer.target(1) == 2 and sizer.target(0) == 1


def test_a_short_lease_caps_the_queue_at_a_third_of_it():
    sizer = measured(2, 20.0, lease_s=1.5)  # 0.5 s of work queued, not 2 s
    assert sizer.target(1) == 1 + 5

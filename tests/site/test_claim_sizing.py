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


def test_a_fast_rank_is_refilled_by_halves_not_after_every_tile():
    """Each claim is a round trip rank 0 waits for: a queue is topped up to its target once
    half of it is used, not one tile per finished tile."""
    sizer = measured(1, 70.0)  # one fast rank: 14 tiles cover a fifth of a second
    assert sizer.target(0) == 14
    assert [sizer.wanted(0, held) for held in (14, 13, 8, 7, 1, 0)] == [0, 0, 0, 7, 13, 14]
    workers = measured(2, 20.0)  # 10 tiles/s per rank: a worker holds 1 + 20
    assert [workers.wanted(1, held) for held in (21, 12, 11, 1, 0)] == [0, 0, 10, 20, 21]


def test_small_targets_are_refilled_as_soon_as_a_tile_is_done():
    """A slow site's queue (target 1-3) still gets its next tile at once."""
    fresh = ClaimSizer(2)  # rank 0: 1, worker: 2
    assert [fresh.wanted(0, 0), fresh.wanted(0, 1)] == [1, 0]
    assert [fresh.wanted(1, held) for held in (2, 1, 0)] == [0, 1, 2]
    slow = measured(2, 2.0)  # 1 tile/s per rank: the worker's target 3
    assert slow.target(1) == 3
    assert [slow.wanted(1, held) for held in (3, 2, 1)] == [0, 1, 2]

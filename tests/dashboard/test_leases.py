"""``dashboard.leases.Leases`` alone, on a hand-moved clock: hand-out, expiry, release, timers."""
import pytest

from dashboard.leases import Lease, Leases


class Clock:
    def __init__(self):
        self.now = 50.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def leases(clock):
    return Leases(10, clock)


def test_claim_skips_live_leases_and_keeps_candidate_order(leases):
    assert leases.claim("r", "a", [4, 2, 7], 2) == [4, 2]
    assert leases.claim("r", "b", [4, 2, 7, 9], 5) == [7, 9]
    assert leases.claim("r", "a", [4, 2], 5) == []  # not even to the holder
    assert leases.claim("other", "a", [4], 1) == [4]  # runs do not share leases
    assert leases.live("r") == {4: Lease("a", 60.0), 2: Lease("a", 60.0),
                                7: Lease("b", 60.0), 9: Lease("b", 60.0)}


def test_an_expired_lease_can_be_claimed_again(leases, clock):
    leases.claim("r", "a", [1], 1)
    clock.now = 59.99
    assert leases.first_free("r", [1]) is None
    clock.now = 60.0
    assert leases.first_free("r", [1]) == 1 and leases.live("r") == {}
    assert leases.claim("r", "b", [1], 1) == [1]
    assert leases.live("r") == {1: Lease("b", 70.0)}


def test_release_and_drop_end_leases(leases):
    leases.claim("r", "a", range(4), 4)
    leases.release("r", [0, 3, 99])
    assert sorted(leases.live("r")) == [1, 2]
    leases.drop_run("r")
    assert leases.live("r") == {} and leases.next_expiry_s() is None
    leases.release("unknown", [1])  # harmless


def test_next_expiry_is_the_earliest_live_lease_and_prunes_expired_ones(leases, clock):
    assert leases.next_expiry_s() is None
    leases.claim("r", "a", [0], 1)
    clock.now = 55.0
    leases.claim("s", "b", [0], 1)
    assert leases.next_expiry_s() == pytest.approx(5.0)
    clock.now = 61.0  # r's lease is over: never a negative wait (a waiter would spin)
    assert leases.next_expiry_s() == pytest.approx(4.0)
    clock.now = 65.0
    assert leases.next_expiry_s() is None


@pytest.mark.parametrize("lease_s", [0, -1, float("nan"), float("inf"), "30", None])
def test_the_lease_length_must_be_a_positive_number(lease_s):
    with pytest.raises(ValueError, match="lease_s must be a positive number"):
        Leases(lease_s)


SPEEDS = {"fast": 0.5, "slow": 8.0}  # mean seconds per tile


def test_a_backup_goes_to_a_site_that_would_finish_first(leases, clock):
    leases.claim("r", "slow", [3, 5], 2)  # leased at 50, slow finishes them around 58
    clock.now = 52.0
    assert leases.claim_backups("r", "fast", [3, 5], 1, SPEEDS) == [3]  # oldest lease first
    assert leases.claim_backups("r", "fast", [3, 5], 5, SPEEDS) == [5]  # 3 has its backup
    assert leases.claim_backups("r", "other", [3, 5], 5, {**SPEEDS, "other": 0.1}) == []
    assert leases.live("r") == {3: Lease("slow", 60.0), 5: Lease("slow", 60.0)}  # no new lease


def test_no_backup_when_it_would_not_finish_first_or_speeds_are_unknown(leases, clock):
    similar = {"fast": 5.0, "slow": 8.0}  # less than twice as fast
    leases.claim("r", "slow", [3], 1)
    clock.now = 53.1  # fast would finish at 58.1, slow at 58.0
    assert not leases.has_backup("r", "fast", [3], similar)
    clock.now = 57.6  # past the slow site's mean: a heavy tile, but fast is not 2x faster
    assert not leases.has_backup("r", "fast", [3], similar)
    clock.now = 52.0
    assert leases.claim_backups("r", "slow", [3], 1, SPEEDS) == []  # never to the holder
    assert leases.claim_backups("r", "fast", [3], 1, {"slow": 8.0}) == []  # own speed unknown
    assert leases.claim_backups("r", "fast", [4], 1, SPEEDS) == []  # not leased: claim it instead
    assert leases.has_backup("r", "fast", [3], similar)


def test_a_tile_past_half_its_holders_mean_goes_to_a_site_more_than_twice_as_fast(leases, clock):
    """Tile costs vary tenfold: a tile the slow site has rendered for longer than its mean is
    a heavy one, and a much faster site finishes it first even so (bench_elastic's end game)."""
    leases.claim("r", "slow", [3, 5], 2)  # leased at 50; slow's mean says done at 58
    clock.now = 59.5  # still rendering, 1.5 s past its mean
    assert leases.claim_backups("r", "fast", [3, 5], 2, SPEEDS) == [3, 5]
    leases.claim("r", "slow", [7], 1)
    clock.now = 64.0  # tile 7 past half the slow site's mean
    assert leases.has_backup("r", "fast", [7], {"fast": 3.9, "slow": 8.0})  # 2.05x
    assert not leases.has_backup("r", "fast", [7], {"fast": 4.1, "slow": 8.0})  # 1.95x


def test_a_holder_that_stored_nothing_yet_is_backed_up(leases, clock):
    leases.claim("r", "slow", [3, 5], 2)  # the slow site's first tiles: it has no mean yet
    clock.now = 50.1
    assert leases.claim_backups("r", "fast", [3, 5], 2, {"fast": 0.5}) == [3, 5]


def test_a_backup_ends_with_its_tile_lease(leases, clock):
    leases.claim("r", "slow", [3, 5], 2)
    assert leases.claim_backups("r", "fast", [3, 5], 2, SPEEDS) == [3, 5]
    leases.release("r", [3])
    clock.now = 61.0  # 5's lease expired: 5 is claimable again, and backed up again later
    assert leases.next_expiry_s() is None
    assert leases.claim("r", "slow", [3, 5], 2) == [3, 5]
    assert leases.claim_backups("r", "fast", [3, 5], 2, SPEEDS) == [3, 5]
    leases.drop_run("r")
    assert leases.claim("r", "slow", [3], 1) == [3]
    assert leases.claim_backups("r", "fast", [3], 1, SPEEDS) == [3]

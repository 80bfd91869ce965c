"""The reference perturbation loop on tiny cases worked out by hand."""
from types import SimpleNamespace

import numpy as np

from mpi_render.deep import loop, tail
from mpi_render.deep import stats as st


def hand_reference(zx, zy, max_iter, length=None, interior=False):
    """A reference the loop accepts, with no BLA rows (every start has none)."""
    return SimpleNamespace(zx=zx, zy=zy, length=len(zx) - 1 if length is None else length,
                           max_iter=max_iter, cr=0.0, ci=0.0, starts=[0] * len(zx),
                           radius=[], coeffs=[], interior=interior, checkpoints=[1] * len(zx))


def test_a_pixel_off_a_reference_at_zero_escapes_like_the_double_loop():
    # reference C = 0 (Z = 0 forever), pixel c = 1 + i: z1 = 1+i, z2 = (1+i)^2 + 1+i = 1+3i,
    # |z2|^2 = 10 > 4: count 2; then -7+7i (98), 1-97i (9410), -9407-193i (> 65536): extra 3
    ref = hand_reference([0.0] * 60, [0.0] * 60, 50)
    counters = [0] * len(st.NAMES)
    count, extra, r2 = loop.pixel_plain(ref, 1.0, 1.0, counters)
    assert (count, extra, r2) == (2, 3, 9407.0**2 + 193.0**2)
    assert counters[st.PERTURBATION_STEPS] == 2 and counters[st.REBASES] == 0


def test_a_pixel_at_zero_beside_the_c_minus_2_reference_rebases_every_step():
    # reference C = -2: Z = 0, -2, 2, 2, ...; pixel dc = 2 (c = 0): z1 = 2, f1 = Z1 + z1 = 0,
    # |f|_1 < |z|_1: rebase to z = 0, m = 0; z = 0^2 + 2 = 2 at m = 1 again: forever
    zx = [0.0, -2.0] + [2.0] * 40
    ref = hand_reference(zx, [0.0] * len(zx), 30)
    counters = [0] * len(st.NAMES)
    assert loop.pixel_plain(ref, 2.0, 0.0, counters) == (30, 0, 0.0)
    assert counters[st.REBASES] == 29
    assert counters[st.PERTURBATION_STEPS] == 30


def test_the_end_of_a_short_reference_rebases():
    # reference C = 0 but only 3 iterations long; pixel c = -1 (0, -1, 0, -1, ...): at m = 3
    # the loop must restart the reference instead of reading past its end
    ref = hand_reference([0.0] * 4, [0.0] * 4, 20)
    counters = [0] * len(st.NAMES)
    assert loop.pixel_plain(ref, -1.0, 0.0, counters) == (20, 0, 0.0)
    assert counters[st.REBASES] >= 6


def test_the_count_is_max_iter_when_the_escape_comes_at_max_iter():
    ref = hand_reference([0.0] * 60, [0.0] * 60, 2)  # c = 1+i escapes at 2: count is max_iter
    assert loop.pixel_plain(ref, 1.0, 1.0, [0] * len(st.NAMES)) == (2, 0, 0.0)


def test_a_superattracting_pixel_is_found_interior_at_its_second_sample():
    # c = 0 next to the reference C = 0: f = 0 at every step, so the derivative is 0 after the
    # first step; samples at every index (checkpoints all 1): the first starts, the next decides
    ref = hand_reference([0.0] * 100, [0.0] * 100, 90, interior=True)
    counters = [0] * len(st.NAMES)
    assert loop.pixel_plain(ref, 0.0, 0.0, counters) == (90, 0, 0.0)
    assert counters[st.INTERIOR_EXITS] == 1
    assert counters[st.PERTURBATION_STEPS] < 5


def test_the_smooth_tail_follows_the_contract():
    # z = 3 at the escape, c = 0: z = 9 (|z|^2 81), 81 (6561), 6561 (43046721 > 65536): extra 3
    assert tail.smooth_tail(3.0, 0.0, 0.0, 0.0) == (3, 43046721.0)
    extra, r2 = tail.smooth_tail_array(np.array([3.0, 1.0]), np.zeros(2), np.zeros(2), np.zeros(2))
    assert extra.tolist() == [3, 64] and r2.tolist() == [43046721.0, 1.0]

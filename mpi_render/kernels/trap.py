"""The trap test: an exact proof that a pixel's float orbit never escapes (``docs/PERFORMANCE.md``).

Given a lane's current float state z0 and c, :func:`trapped` looks for a return of the orbit
to within ``NEAR_RETURN`` of z0 (a candidate period p), then checks with ball arithmetic that
the ball B0 = (z0, r) is mapped into itself by p float steps: the ball (m, r) goes to
(F(m), 2|m| r + r^2 + ``BALL_DELTA``) -- for every z in the ball, |f(z) - f(m)| <= 2|m| r + r^2,
and the float step F is within 3e-15 (26 units in the last place) of the exact f for |z| <= 2,
|c| <= 6 (here and for the centre: ``BALL_DELTA`` = 1e-13 covers both with room), radii rounded
up by a factor 1 + 1e-12.
If every ball stays inside |z| <= ``SAFE_RADIUS`` and the last lies inside B0, then by induction
every later float state lies in one of the p balls, so none passes the escape test
(fl(x^2) + fl(y^2) <= 1.99^2 (1 + 3u) < 4): the count is ``max_iter``, bit for bit what the brute
force gives. A search that comes back bit for bit (distance 0) is an exact cycle: periodic, and
every state of the cycle passed the escape test, so the same holds.
"""
from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from .lanes_ir import ESCAPE_R2, NEAR_RETURN

TRAP_MAX_STEPS = 256  # longest cycle a trap test follows
SAFE_RADIUS = 1.99  # balls inside |z| <= 1.99 never pass |z|^2 > 4, rounding included
BALL_DELTA = 1e-13  # bounds the rounding of one float step for |z| <= 2, |c| <= 6, twice
TRAP_RETRY = 64  # after a failed test, the next waits max(TRAP_RETRY, count / 4) iterations


@numba.njit(cache=True)
def trapped(x0, y0, cr, ci):
    """Is the float orbit from z0 = (x0, y0) proved never to escape (module docstring)?

    Finds the first return of the orbit to within ``NEAR_RETURN`` of z0 (at most
    ``max_steps`` steps: a candidate period p, d the distance), then follows the balls
    B0 = (z0, r0) for r0 = 4d, 64d, 1024d through p steps of ball arithmetic (centre: one
    float step; radius: 2|m| r + r^2 + ``BALL_DELTA``, rounded up). True when, for one r0,
    every ball stays inside ``SAFE_RADIUS`` and the last lies inside B0: then every later
    float state lies in one of the balls, and none passes the escape test.
    """
    x, y = x0, y0
    steps, d2 = 0, 0.0
    for k in range(1, TRAP_MAX_STEPS + 1):
        x2 = x * x
        y2 = y * y
        if not x2 + y2 <= ESCAPE_R2:
            return False
        t = x * y
        y = (t + t) + ci
        x = (x2 - y2) + cr
        d2 = (x - x0) * (x - x0) + (y - y0) * (y - y0)
        if d2 < NEAR_RETURN * NEAR_RETURN:
            steps = k
            break
    if steps == 0:
        return False
    if d2 == 0.0:  # back bit for bit: the orbit is periodic and passed every test of its cycle
        return True
    r0 = max(4.0 * np.sqrt(d2), 1e-12)
    ra, rb, rc = r0, 16.0 * r0, 256.0 * r0
    mx, my = x0, y0
    for _ in range(steps):
        m = np.sqrt(mx * mx + my * my)
        # a ball that leaves the safe disc fails for good (inf stays inf, nan compares false)
        ra = (2.0 * m * ra + ra * ra + BALL_DELTA) * (1.0 + 1e-12) if m + ra <= SAFE_RADIUS \
            else np.inf
        rb = (2.0 * m * rb + rb * rb + BALL_DELTA) * (1.0 + 1e-12) if m + rb <= SAFE_RADIUS \
            else np.inf
        rc = (2.0 * m * rc + rc * rc + BALL_DELTA) * (1.0 + 1e-12) if m + rc <= SAFE_RADIUS \
            else np.inf
        if ra == np.inf and rb == np.inf and rc == np.inf:
            return False
        x2 = mx * mx
        y2 = my * my
        t = mx * my
        my = (t + t) + ci
        mx = (x2 - y2) + cr
    back = np.sqrt((mx - x0) * (mx - x0) + (my - y0) * (my - y0)) * (1.0 + 1e-12)
    shrink = 1.0 - 1e-12
    return back + ra <= r0 * shrink or back + rb <= 16.0 * r0 * shrink \
        or back + rc <= 256.0 * r0 * shrink


@numba.njit(cache=True)
def trap_due(x, y, cr, ci, cnt, cert, near, max_iter, due):
    """Run the trap test on the lanes of bit mask ``due``; returns the mask of the trapped ones
    (their count becomes ``max_iter``, y nan). A failed lane's next test waits
    ``max(TRAP_RETRY, count / 4)`` iterations."""
    caught = 0
    while due:
        lane = trailing_zeros(due)
        due &= due - 1
        near[lane] = 0
        if trapped(x[lane], y[lane], cr[lane], ci[lane]):
            cnt[lane] = max_iter
            y[lane] = np.nan
            caught |= 1 << lane
        else:
            cert[lane] = cnt[lane] + max(TRAP_RETRY, cnt[lane] >> 2)
    return caught

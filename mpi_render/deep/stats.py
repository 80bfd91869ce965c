"""Counters the perturbation kernels keep, so tests can prove each technique is taken.

Every backend fills the same int64 vector (indices below) while it renders a tile; the values
are equal across backends (they follow the same steps). "A fallback that silently
brute-forces" shows up here as zero BLA steps or a perturbation step count near the sum of the
counts.
"""
from __future__ import annotations

import numpy as np

PERTURBATION_STEPS = 0  # iterations done one at a time by the perturbation formula
BLA_STEPS = 1  # BLA steps taken
BLA_SKIPPED = 2  # iterations those BLA steps covered
REBASES = 3  # rebases (|Z + z| < |z|, or the end of the reference reached)
WIDE_STEPS = 4  # steps (perturbation or BLA) done in the wide-exponent form
INTERIOR_EXITS = 5  # pixels given max_iter by interior detection
NAMES = ("perturbation_steps", "bla_steps", "bla_skipped", "rebases", "wide_steps",
         "interior_exits")


def new() -> np.ndarray:
    """A zeroed counter vector."""
    return np.zeros(len(NAMES), dtype=np.int64)


def as_dict(counters: np.ndarray) -> dict[str, int]:
    """``{name: value}`` of a counter vector."""
    return {name: int(value) for name, value in zip(NAMES, counters)}

"""The assignment MIP from arrays: a hand-checked optimum; a cut-off proves nothing is cheaper."""

from __future__ import annotations

import numpy as np

from allocator.solver.highs_assign import solve_assign_mip

# Two agents (capacity 5 and 4), three jobs; cost [[1, 4, 3], [2, 1, 5]], weight
# [[3, 2, 2], [2, 3, 3]]: jobs to agents (0, 1, 0) cost 1 + 1 + 3 = 5 with loads 5 and 3.
COST = np.array([[1.0, 4, 3], [2, 1, 5]])
WEIGHT = np.array([[3.0, 2, 2], [2, 3, 3]])
AGENT, JOB = (a.ravel() for a in np.indices(COST.shape))


def test_the_hand_checked_optimum() -> None:
    mip = solve_assign_mip(
        AGENT, JOB, COST.ravel(), WEIGHT.ravel(), np.array([5.0, 4.0]), jobs=3, time_limit=10
    )
    assert mip.proven and mip.chosen is not None
    assert sorted(zip(JOB[mip.chosen].tolist(), AGENT[mip.chosen].tolist(), strict=True)) == [
        (0, 0),
        (1, 1),
        (2, 0),
    ]


def test_a_cutoff_below_the_optimum_proves_there_is_nothing_cheaper() -> None:
    mip = solve_assign_mip(
        AGENT,
        JOB,
        COST.ravel(),
        WEIGHT.ravel(),
        np.array([5.0, 4.0]),
        jobs=3,
        time_limit=10,
        cutoff=4.5,
    )
    assert mip.chosen is None and mip.proven

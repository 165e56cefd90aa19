"""The assignment MIP from arrays: a hand-checked optimum; a cut-off proves nothing is cheaper."""

from __future__ import annotations

import numpy as np

from allocator.solver.highs_assign import misses_cutoff, solve_assign_mip

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


def test_an_answer_that_misses_the_cutoff_is_no_answer() -> None:
    cost = np.array([1.0, 4.0, 3.0, 1.0])
    chosen = np.array([True, False, False, True])  # costs 2
    assert misses_cutoff(cost, chosen, 2.0) and misses_cutoff(cost, chosen, 1.5)
    assert not misses_cutoff(cost, chosen, 2.5) and not misses_cutoff(cost, chosen, None)
    # and through the solver: the optimum (2) cannot beat a cut-off of 1.5
    agent, job = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    args = (agent, job, cost, np.ones(4), np.ones(2))
    assert solve_assign_mip(*args, jobs=2, time_limit=5, cutoff=2.5).chosen is not None
    missed = solve_assign_mip(*args, jobs=2, time_limit=5, cutoff=1.5)
    assert missed.chosen is None and missed.proven

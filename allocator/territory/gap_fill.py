"""Starts for tight GAPs: the agents fill their capacity one at a time, each by a knapsack.

At capacity prices ``u`` (agents,) the cost of any assignment splits exactly as

    cost = L(u) + sum_j p[a(j), j] + sum_a u[a] * slack[a],

with ``p = c + u w - min_a (c + u w)`` the reduced costs (>= 0) and ``L(u)`` the Lagrangian
bound of the relaxed capacities (Ross & Soland 1975, "A branch and bound algorithm for the
generalized assignment problem", Math. Programming 8:91-103). At the LP's prices ``L(u)`` is
the LP bound, and on the tight sets it is nearly the optimum: Yagiura's d60900 is best known
at 3 above it, d401600 and d801600 at 0 (``models/assignment.md``). A near-optimal answer
then puts nearly every job on an agent of (near) zero reduced cost *and* fills nearly every
capacity exactly: a packing problem, on which an LP-based MIP is weak (HiGHS over the arcs of
reduced cost <= 1 of d40400: +0.82% after 20 s) and a knapsack by dynamic programming is
exact.

:func:`fill_start` visits the agents in a random order; each takes, among the free jobs of
reduced cost at most ``tolerance`` on it, the subset that maximises ``u[a] w - p`` within its
capacity (:func:`~allocator.territory.gap_lagrange.knapsacks`), with a small preference for
jobs that few open agents can take at that tolerance. The last :data:`TAIL` of the agents and
the jobs still free are then assigned exactly in the room left
(:func:`~allocator.solver.highs_assign.solve_assign_mip`). :func:`best_start` repeats this
with fresh orders until its deadline and keeps the best after a descent
(:func:`~allocator.territory.gap_local.local_search`).
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt

from allocator.solver.deadline import call_limit, expired
from allocator.solver.highs_assign import assign_lp_prices
from allocator.solver.trace import note
from allocator.territory.gap_lagrange import CELLS, knapsacks, whole_weights
from allocator.territory.gap_local import TOL, GapArrays, complete, local_search

__all__ = ["best_start", "fill_start", "lp_prices"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Share of the agents (the last in the order) left to the exact sub-MIP with the free jobs.
TAIL = 0.25
#: Time cap (s) of that sub-MIP, and of the LP for the prices.
SUB_LIMIT, LP_LIMIT = 2.0, 5.0
#: Reduced-cost tolerance, as a share of the mean cost; each start draws a multiple in SPREAD.
TOLERANCE, SPREAD = 0.01, (0.4, 1.0)
#: Starts tried before giving up when none beats the given start (types a-c and e, where the
#: MIP's incumbent is already close to the optimum, lose only these).
PROBE = 2


def lp_prices(arrays: GapArrays, *, deadline: float | None) -> FloatArray | None:
    """The LP relaxation's capacity prices (agents,), or None when the LP did not end in time
    (at most :data:`LP_LIMIT` seconds)."""
    agent, job = np.nonzero(arrays.weight <= arrays.capacity[:, None] * (1 + TOL) + TOL)
    return assign_lp_prices(
        agent,
        job,
        arrays.cost[agent, job],
        arrays.weight[agent, job],
        arrays.capacity,
        jobs=arrays.cost.shape[1],
        time_limit=call_limit(deadline, LP_LIMIT),
    )


def fill_start(
    arrays: GapArrays,
    prices: FloatArray,
    rng: np.random.Generator,
    *,
    tolerance: float,
    deadline: float | None,
) -> IntArray | None:
    """One start (jobs,) filled agent by agent, or None when the tail sub-MIP finds nothing.

    ``prices`` (agents,) in cost units per capacity unit; ``tolerance`` in cost units. Needs
    integer weights (the knapsacks are solved over whole capacity units).
    """
    cost, weight, cap = arrays.cost, arrays.weight, arrays.capacity
    m, n = cost.shape
    lagrangian = cost + prices[:, None] * weight
    reduced = lagrangian - lagrangian.min(axis=0)
    near = reduced <= tolerance  # (agents, jobs)
    assign = np.full(n, -1)
    options = near.sum(axis=0).astype(float)
    order = rng.permutation(m)
    for a in order[: m - max(1, math.ceil(TAIL * m))]:
        if expired(deadline):
            return None
        cand = np.flatnonzero((assign < 0) & near[a])
        if len(cand):
            profit = prices[a] * weight[a, cand] - reduced[a, cand]
            profit += tolerance * (
                1.0 / np.maximum(options[cand], 1.0) + 0.2 * rng.random(len(cand))
            )
            _, take = knapsacks(profit[None, :], weight[a, cand][None, :], cap[a : a + 1])
            assign[cand[take[0]]] = a
        options -= near[a]
    limit = call_limit(deadline, SUB_LIMIT)
    if (assign < 0).any() and limit < 0.01:
        return None
    return complete(cost, weight, cap, assign, limit=limit)


def best_start(
    arrays: GapArrays,
    start: IntArray,
    *,
    deadline: float,
    seed: int = 0,
    tries: int | None = None,
) -> IntArray:
    """The best of ``start`` (jobs, feasible) and :func:`fill_start`'s starts until
    ``deadline`` (at most ``tries`` of them; None: no cap), each after a descent. Only the
    descended ``start`` when the LP prices are not found in time, the weights are not whole
    and non-negative, or one agent's knapsack table (jobs x capacity) would pass
    :data:`~allocator.territory.gap_lagrange.CELLS`. Gives up after :data:`PROBE` starts when
    none beats ``start``."""
    best = local_search(arrays, start, deadline=deadline)
    value = arrays.value(best)
    weight, cap = arrays.weight, arrays.capacity
    small = weight.shape[1] * (float(np.floor(cap.max(initial=0.0))) + 1) <= CELLS
    if not (whole_weights(weight) and small) or expired(deadline):
        return best
    prices = lp_prices(arrays, deadline=deadline)
    if prices is None:
        return best
    rng = np.random.default_rng(seed)
    scale = TOLERANCE * float(np.abs(arrays.cost).mean())
    count, won = 0, False
    while not expired(deadline) and (won or count < PROBE) and (tries is None or count < tries):
        began, count = time.monotonic(), count + 1
        made = fill_start(
            arrays, prices, rng, tolerance=scale * rng.uniform(*SPREAD), deadline=deadline
        )
        if made is None:
            continue
        made = local_search(arrays, made, deadline=deadline)
        if arrays.value(made) < value - 1e-9:
            best, value, won = made, arrays.value(made), True
            note(value, source="fill")
        if time.monotonic() + (time.monotonic() - began) > deadline:
            break
    return best

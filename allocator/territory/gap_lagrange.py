"""A Lagrangian heuristic for the GAP: a 0-1 knapsack per agent, and the conflicts re-solved.

Relaxing the *assignment* rows (each job once) with multipliers ``u`` (jobs,) leaves one 0-1
knapsack per agent, ``max sum_j (u_j - c[a, j]) x_j`` within the agent's capacity, and

    L(u) = sum_j u_j - sum_a knapsack_a(u)

bounds every assignment from below. Unlike the relaxation of the capacities, this one lacks
the integrality property, so its best bound is stronger than the LP's (Fisher, Jaikumar & Van
Wassenhove 1986, "A multiplier adjustment method for the generalized assignment problem",
Management Science 32(9):1095-1103): on gapd/d20100 6,176.0 against the LP's 6,142.5 (the
optimum is 6,185).

At good multipliers the knapsacks nearly partition the jobs: on d20100 about 65 of 100 jobs
are packed by exactly one agent. :func:`lagrangian_heuristic` keeps those, and re-solves the
others exactly (a small MIP over the agents' room left, cut off at the best cost found) and
descends (:func:`~allocator.territory.gap_local.local_search`): a Lagrangian heuristic in the
sense of Beasley (1993), "Lagrangean heuristics for location problems", EJOR 65(3):383-399,
whose fixings follow the dual instead of a neighbourhood of the incumbent. The multipliers move
by subgradient steps (Held, Wolfe & Crowder 1974, "Validation of subgradient optimization",
Math. Programming 6:62-88) towards the best cost found.

The knapsacks are solved exactly by dynamic programming over integer capacity, all agents at
once in numpy: :func:`applies` says when an instance has integer weights and a table small
enough for that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from allocator.solver import SolveReport, relative_gap
from allocator.solver.deadline import call_limit, expired
from allocator.solver.trace import note
from allocator.territory.gap_local import TOL, GapArrays, complete, local_search

__all__ = [
    "Lagrangian",
    "Multipliers",
    "applies",
    "knapsacks",
    "lagrangian_heuristic",
    "lagrangian_start",
    "whole_weights",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Largest dynamic-programming table (jobs x agents x (capacity + 1) cells) the method takes on.
CELLS = 20_000_000
#: Most agents, and fewest jobs per agent: with more agents the knapsacks conflict on many
#: jobs (d40400: 141 of 400 left to a re-solve that timed out; d20100: about 35 of 100).
AGENTS, JOBS_PER_AGENT = 20, 5
#: Subgradient steps before the first fixing, and steps between two fixings after that.
WARM, EVERY = 150, 5
#: Step factor of the subgradient (Polyak) steps: start, and halved after STALL steps without
#: a better bound, down to its floor.
STEP, STALL, STEP_FLOOR = 1.0, 20, 0.01
#: Time cap (seconds) of one re-solve of the conflicting jobs.
SUB_LIMIT = 0.3
#: Re-solves fill the caller's pool (uncut, slower) only while the best cost is more than this
#: share above the bound; closer, fast steps towards a proof matter more (gapb/b10200 was
#: proven optimal in 12 s with cut-off re-solves and not within 60 s with uncut ones).
POOL_GAP = 0.001


@dataclass
class Multipliers:
    """The subgradient walk's state between calls: ``u`` (jobs,), the step factor, steps
    without a better bound, steps taken and the best bound ``L(u)`` so far."""

    u: FloatArray
    step: float = STEP
    stall: int = 0
    steps: int = 0
    bound: float = -math.inf

    @classmethod
    def start(cls, cost: FloatArray) -> Multipliers:
        """Each job's second-cheapest cost (agents x jobs ``cost``)."""
        m = cost.shape[0]
        return cls(u=np.sort(cost, axis=0)[min(1, m - 1)].astype(float))


@dataclass(frozen=True)
class Lagrangian:
    """What :func:`lagrangian_heuristic` found: the best assignment (jobs,) or None, its cost
    (``inf`` without one), the best bound ``L(u)`` proven (``-inf`` before the first step)
    and the subgradient steps taken."""

    assign: IntArray | None
    objective: float
    bound: float
    steps: int


def whole_weights(weight: FloatArray) -> bool:
    """Whether every weight is a whole, non-negative number: what :func:`knapsacks` needs to
    be exact (its table is over whole capacity units)."""
    return bool(np.all(weight == np.round(weight)) and np.all(weight >= 0))


def applies(cost: FloatArray, weight: FloatArray, capacity: FloatArray) -> bool:
    """Whether the heuristic is exact and cheap here: integer weights, at most
    :data:`AGENTS` agents with at least :data:`JOBS_PER_AGENT` jobs each, and a table of at
    most :data:`CELLS` cells (arrays agents x jobs, capacity (agents,))."""
    m, n = cost.shape
    if not whole_weights(weight) or m > AGENTS or n < JOBS_PER_AGENT * m:
        return False
    return n * m * (float(np.floor(capacity.max(initial=0.0))) + 1) <= CELLS


def knapsacks(
    profit: FloatArray, weight: FloatArray, capacity: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Every agent's 0-1 knapsack, exactly: ``max sum_j profit[a, j] x_j`` subject to
    ``sum_j weight[a, j] x_j <= capacity[a]`` (arrays agents x jobs, integer weights;
    capacity (agents,), with the tolerance of
    :meth:`~allocator.territory.gap_local.GapArrays.feasible`, then rounded down).

    Returns (values (agents,), take (agents x jobs) bool). Dynamic programming over capacity
    (Bellman 1957), one job at a time for all agents at once; O(jobs x agents x capacity).
    """
    m, n = profit.shape
    # the loads feasible() accepts, so the bound holds for every assignment it accepts
    cap = np.maximum(np.floor(capacity * (1 + TOL) + TOL), 0).astype(np.int64)
    width = int(cap.max(initial=0)) + 1
    best = np.zeros((m, width))
    best[np.arange(width)[None, :] > cap[:, None]] = -np.inf  # beyond an agent's capacity
    keep = np.zeros((n, m, width), bool)
    cells = np.arange(width)[None, :]
    w = weight.astype(np.int64)
    rows = np.arange(m)[:, None]
    for j in range(n):
        useful = profit[:, j] > 0
        if not useful.any():
            continue
        source = cells - w[:, j][:, None]  # (m, width): the cell before taking job j
        fits = (source >= 0) & useful[:, None]
        cand = np.where(fits, best[rows, np.maximum(source, 0)] + profit[:, j][:, None], -np.inf)
        better = cand > best
        keep[j] = better
        best = np.where(better, cand, best)
    take = np.zeros((m, n), bool)
    at = cap.copy()
    for j in range(n - 1, -1, -1):
        chosen = keep[j, np.arange(m), at]
        take[chosen, j] = True
        at = at - np.where(chosen, w[:, j], 0)
    return best[np.arange(m), cap], take


def lagrangian_heuristic(
    cost: FloatArray,
    weight: FloatArray,
    capacity: FloatArray,
    *,
    deadline: float,
    record: float = math.inf,
    state: Multipliers | None = None,
    descend: Callable[[IntArray], IntArray] | None = None,
    collect: Callable[[IntArray], None] | None = None,
    steps: int | None = None,
) -> Lagrangian:
    """Subgradient steps on ``u`` and, every :data:`EVERY` steps after :data:`WARM`, an
    assignment from the knapsacks' choice (module docstring), until ``deadline``.

    Arrays are agents x jobs (``cost`` minimised); ``record`` is the best cost known (the
    re-solves are cut off below it and the steps aim at it); ``state`` carries the
    multipliers from call to call (updated in place; None: a fresh start); ``descend``
    (assignment -> feasible assignment, no costlier) polishes each assignment found. Each
    assignment cheaper than ``record`` is noted in the trace as ``"lagrange"``. With
    ``collect``, while the best cost is more than :data:`POOL_GAP` above the bound, the
    re-solves are not cut off and every (polished) assignment they find is passed to
    ``collect``: a pool for :func:`~allocator.territory.gap_relink.crossover` (measured in
    ``models/assignment.md``; not the assignment of a partition, which ends the walk). At
    most ``steps`` steps (None: until ``deadline``). The answer's
    bound is valid for any multipliers: weak duality (with the knapsacks solved exactly,
    which :func:`applies` checks).

    Raises
    ------
    ValueError
        When a weight is negative or not a whole number (the knapsacks would not be exact).
    """
    if not whole_weights(weight):
        raise ValueError("the Lagrangian heuristic needs whole, non-negative weights")
    n = cost.shape[1]
    below = 0.5 if np.all(cost == np.round(cost)) else None  # "cheaper" for whole costs
    walk = state if state is not None else Multipliers.start(cost)
    best, best_value = None, record
    taken = walk.steps
    while not expired(deadline) and (steps is None or walk.steps - taken < steps):
        values, take = knapsacks(walk.u[None, :] - cost, weight, capacity)
        bound = float(walk.u.sum() - values.sum())
        walk.steps += 1
        if bound > walk.bound + 1e-9:
            walk.bound, walk.stall = bound, 0
        else:
            walk.stall += 1
            if walk.stall >= STALL:
                walk.step, walk.stall = max(walk.step / 2, STEP_FLOOR), 0
        slack = 1.0 - take.sum(axis=0)  # the subgradient of L at u
        norm = float(slack @ slack)
        if norm == 0.0:  # the knapsacks partition the jobs: that assignment is optimal
            chosen = np.argmax(take, axis=0)
            value = float(cost[chosen, np.arange(n)].sum())
            if value < best_value - 1e-9:
                best, best_value = chosen, value
            break
        if walk.steps >= WARM and walk.steps % EVERY == 0:
            far = not math.isfinite(best_value) or (
                best_value - walk.bound > POOL_GAP * abs(best_value)
            )
            pooling = collect is not None and far
            cut = (math.inf if pooling else best_value, below)
            found = _fix_and_solve(cost, weight, capacity, take, cut, deadline)
            if found is not None and descend is not None:
                found = descend(found)
            if found is not None and pooling and collect is not None:
                collect(found)
            value = math.inf if found is None else float(cost[found, np.arange(n)].sum())
            if value < best_value - 1e-9:
                best, best_value = found, value
                note(value, walk.bound, "lagrange")
        target = best_value if math.isfinite(best_value) else bound + 0.01 * abs(bound) + 1.0
        walk.u = walk.u + walk.step * max(target - bound, 1e-6) / norm * slack
    objective = best_value if best is not None else math.inf
    return Lagrangian(best, objective, walk.bound, walk.steps)


def lagrangian_start(
    arrays: GapArrays,
    start: IntArray,
    report: SolveReport,
    until: float,
    collect: Callable[[IntArray], None] | None = None,
) -> tuple[IntArray, SolveReport, Multipliers | None]:
    """Where :func:`applies`, :func:`lagrangian_heuristic` from a feasible ``start`` (jobs,)
    until ``until`` (:func:`time.monotonic`): its answer when cheaper, the report with its
    bound (when higher) and that objective, and the multipliers to go on from. Elsewhere
    ``start`` and ``report`` as they are, and None. ``collect``: as for
    :func:`lagrangian_heuristic`."""
    if not applies(arrays.cost, arrays.weight, arrays.capacity):
        return start, report, None
    duals = Multipliers.start(arrays.cost)
    found = lagrangian_heuristic(
        arrays.cost,
        arrays.weight,
        arrays.capacity,
        deadline=until,
        record=arrays.value(start),
        state=duals,
        descend=lambda a: local_search(arrays, a, deadline=until),
        collect=collect,
    )
    better = report.bound is None or duals.bound > report.bound
    if math.isfinite(duals.bound) and better:
        report = replace(report, bound=duals.bound)
    if found.assign is not None:
        start = found.assign
        report = replace(report, objective=arrays.value(start))
    return start, replace(report, gap=relative_gap(report.objective, report.bound)), duals


def _fix_and_solve(
    cost: FloatArray,
    weight: FloatArray,
    capacity: FloatArray,
    take: BoolArray,
    cut: tuple[float, float | None],
    deadline: float | None,
) -> IntArray | None:
    """Keep the jobs one knapsack took, re-solve the others exactly in the room left, cut off
    below ``cut`` = (the best cost, by this margin: None for a relative 1e-7); the
    assignment (jobs,) or None."""
    record, below = cut
    once = take.sum(axis=0) == 1
    partial = np.where(once, np.argmax(take, axis=0), -1)
    below = 1e-7 * max(1.0, abs(record)) if below is None else below
    limit = call_limit(deadline, SUB_LIMIT)
    if limit < 0.01 and not once.all():
        return None
    cutoff = record - below if math.isfinite(record) else None
    return complete(cost, weight, capacity, partial, limit=limit, cutoff=cutoff)

"""Repair a complete plan that breaks rows: the ascent's first plan at scale (issue 19).

At 250,000 x 2,000 the Lagrangian choice (each account's cheapest rep at the ascent's
multipliers) breaks about a thousand capacity and balance rows, each by a little, and every
LP or MIP over the items it would take to repair them all at once ran past the run's time
(session 25). The repair is local instead, in two steps:

1. Moves (:func:`~allocator.territory.moves.shift`): for each broken rep, most broken first,
   the cheapest move (in reduced costs) that lowers the total excess of the rows it touches:
   an item leaving the rep, one joining it, else a swap. At 250,000 x 2,000 about 27,000
   moves in a minute repair every row (``benchmarks/profile_scale.md``, session 26).
2. Windows, for what single moves and swaps cannot repair: the reps around the most broken
   one (breadth first over the candidate graph, whose edges join an item's rep and the reps
   of its candidate arcs) and their items; the MIP over those items only (every other item
   fixed, :func:`~allocator.territory.fixed.fix_items`), between the window's reps, with a
   slack on every soft row at ``penalty`` per unit (an *elastic* MIP). The plan is feasible
   for it and is its warm start, so a window never makes the plan break rows more; one that
   repairs nothing grows (longer chains of moves) the next time its rep is the seed.

This is the Lagrangian heuristic's local repair (Fisher 1981, Management Science 27(1))
with MIP neighbourhoods over an elastic model (Chinneck 2008, *Feasibility and
Infeasibility in Optimization*, ch. 6). :func:`window_mip` is also the ascent plan's
improvement step (hard rows, no slack).
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from allocator.io.settings import SolverSettings
from allocator.solver.deadline import call_limit
from allocator.territory.arc_mip import elastic_mip, solve_arc_mip
from allocator.territory.core import ArcProblem, broken, objective
from allocator.territory.fixed import fix_items, to_part
from allocator.territory.moves import MOVES, excess, shift
from allocator.territory.pairs import at

__all__ = ["excess", "repair", "window_mip"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Items in a window at first; a window that repairs nothing doubles the next time.
WINDOW = 1000

#: Largest window, in items.
WINDOW_MAX = 24_000

#: Cost of a unit of slack (a whole row's right-hand side) in a window's elastic MIP, in mean
#: costs of a rep's territory: a row broken by 1% costs as much as the territory moving a
#: whole rep's cost, so a window repairs wherever moves can.
PENALTY = 100.0

#: Seconds a window's MIP may take.
WINDOW_LIMIT = 10.0

#: Relative gap at which a window's MIP stops (the penalty dominates its objective: the run's
#: ``solver.gap`` would stop it with rows still broken).
WINDOW_GAP = 1e-4


def repair(
    problem: ArcProblem,
    plan: IntArray,
    short: IntArray,
    solver: SolverSettings,
    deadline: float,
    cost: object = None,
    *,
    moves: int = MOVES,
) -> IntArray | None:
    """A plan that meets every row, from ``plan`` (rep per item, every arc eligible): at most
    ``moves`` moves and swaps (:func:`~allocator.territory.moves.shift`, cheapest by
    ``cost``, lazy or (n, m); None: the problem's), then elastic MIP windows in the true
    costs (a window is kept only when it lowers the total excess), along the candidate arcs
    ``short`` (sorted flat ids; each item's own arc is added in the windows). None when rows
    are still broken at ``deadline`` (absolute :func:`time.monotonic`) or when a seed's
    largest window repairs nothing."""
    m = problem.shape[1]
    cost = problem.cost if cost is None else cost
    plan = shift(problem, plan, short, cost, moves=moves, deadline=deadline)
    penalty = PENALTY * max(abs(objective(problem, plan)), 1.0) / m
    size = np.full(m, WINDOW)
    per_rep, single = excess(problem, plan)
    rounds = 0
    while per_rep.sum() + single > 0:
        if call_limit(deadline) <= 1.0:
            log.info("repair: %d windows, rows still broken at the deadline", rounds)
            return None
        seed = _seed(problem, plan, per_rep)
        reps = _bfs_window(short, plan, seed, int(size[seed]), m)
        new = window_mip(problem, plan, reps, short, solver, deadline, penalty=penalty)
        rounds += 1
        before = per_rep.sum() + single
        after = excess(problem, new) if new is not None else (per_rep, single)
        if after[0].sum() + after[1] < before - 1e-9:  # kept only when it repairs
            plan, (per_rep, single) = new, after
        else:
            if size[seed] >= WINDOW_MAX:  # the largest window repaired nothing either
                log.info("repair: the window of rep %d repairs nothing at its largest", seed)
                return None
            size[seed] = min(2 * size[seed], WINDOW_MAX)
        log.info(
            "repair window %d: seed rep %d, %d reps, excess %.4g -> %.4g",
            rounds,
            seed,
            int(reps.sum()),
            before,
            per_rep.sum() + single,
        )
    return plan


def _seed(problem: ArcProblem, plan: IntArray, per_rep: FloatArray) -> int:
    """The most broken rep; with only single rows broken, the rep whose items count most in
    them (e.g. the most moved-in items for ``max_moved``)."""
    if per_rep.max() > 0:
        return int(np.argmax(per_rep))
    n, m = problem.shape
    weight = np.zeros(n)
    for family in problem.families:
        if (
            family.axis == "one"
            and family.deviation is None
            and broken(problem, family, plan).any()
        ):
            weight += np.abs(np.asarray(at(family.coef, (n, m), np.arange(n), plan), float))
    return int(np.argmax(np.bincount(plan, weights=weight, minlength=m)))


def _bfs_window(short: IntArray, plan: IntArray, seed: int, size: int, m: int) -> BoolArray:
    """Reps breadth first from ``seed`` over the candidate graph (an item's rep to the reps of
    its arcs in ``short``, both ways) while their items number at most ``size`` (the seed and
    its first neighbour at least)."""
    si, sr = short // m, short % m
    a, b = plan[si], sr
    graph = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m)).tocsr()
    order = breadth_first_order(graph, seed, directed=False, return_predecessors=False)
    counts = np.bincount(plan, minlength=m)[order]
    take = max(int(np.searchsorted(np.cumsum(counts), size, side="right")), min(2, len(order)))
    reps = np.zeros(m, bool)
    reps[order[:take]] = True
    return reps


def window_mip(
    problem: ArcProblem,
    plan: IntArray,
    reps: BoolArray,
    short: IntArray,
    solver: SolverSettings,
    deadline: float,
    *,
    penalty: float | None = None,
    time_limit: float = WINDOW_LIMIT,
) -> IntArray | None:
    """The MIP over the items of ``reps`` (m,) in ``plan`` (rep per item), each between the
    window's reps only (its arcs in ``short`` there, and its own), every other item fixed;
    hard rows, or with ``penalty`` elastic (:func:`elastic_mip`). Warm-started from the plan,
    at most ``time_limit`` s and what ``deadline`` (absolute :func:`time.monotonic`) leaves.
    The whole plan with the window's answer, or None without one."""
    limit = min(time_limit, call_limit(deadline))
    if limit <= 0.5:
        return None
    m = problem.shape[1]
    free = reps[plan]
    si, sr = short // m, short % m
    own = np.flatnonzero(free) * m + plan[free]
    arcs = np.union1d(short[free[si] & reps[sr]], own)
    sub = fix_items(problem, free, plan)
    part = np.sort(to_part(arcs, free, m))
    if penalty is None:
        _, found = solve_arc_mip(
            sub, part, solver, start=plan[free], time_limit=limit, deadline=deadline
        )
    else:
        tight = solver.model_copy(update={"gap": WINDOW_GAP})
        found = elastic_mip(sub, part, plan[free], tight, penalty, limit)
    if found is None:
        return None
    out = plan.copy()
    out[free] = found
    return out

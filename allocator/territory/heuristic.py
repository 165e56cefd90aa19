"""A feasible start for the MIP, from the LP relaxation (``models/assignment.md``, "Warm start").

:func:`round_lp`: items whose LP value is (nearly) integral keep their rep; the others, largest
first, go to the candidate with the largest LP value that still has room in every upper-bound row
(capacity, max_accounts, balance_hi, max_moved), else to the cheapest eligible rep with room.
:func:`neighbourhood_search`: the integral items are fixed and a small MIP places the
fractional ones (this also meets lower-bound rows such as ``balance_lo``, which greedy placing
cannot promise); the neighbourhood grows when that fails or is not good enough. The contiguity
rounds reuse it to repair the previous round's territories. Results are returned only when they
satisfy every row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, solve
from allocator.solver.trace import traced_as
from allocator.territory.arc_mip import solve_arc_mip, use_arrays
from allocator.territory.contiguity import Cut
from allocator.territory.core import (
    ArcProblem,
    RowFamily,
    build_model,
    read_assignment,
    start_values,
    tolerance,
    violations,
)
from allocator.territory.pairs import at, block_rows, rows_of

__all__ = ["lp_base", "neighbourhood_search", "regret", "round_lp", "solve_part"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def round_lp(problem: ArcProblem, arcs: IntArray, values: FloatArray) -> IntArray | None:
    """A complete feasible assignment (rep per item) near the LP solution, or None."""
    n, m = problem.shape
    ii, rr = arcs // m, arcs % m
    order = np.lexsort((-values, ii))
    first = order[np.r_[True, ii[order][1:] != ii[order][:-1]]] if len(order) else order
    assign = np.full(n, -1, np.int64)
    sure = values[first] >= 0.99
    assign[ii[first][sure]] = rr[first][sure]
    uppers = [f for f in problem.families if f.sense == "<=" and f.axis != "item"]
    rooms = [_room(problem, f, assign) for f in uppers]
    for i in _largest_first(problem, uppers, np.flatnonzero(assign < 0)):
        mine = np.flatnonzero(ii == i)
        lp_order = rr[mine[np.argsort(-values[mine], kind="stable")]]
        by_cost = np.argsort(np.where(problem.eligible[i], problem.cost[i], np.inf), kind="stable")
        for r in [*lp_order.tolist(), *by_cost[problem.eligible[i, by_cost]].tolist()]:
            if _fits(problem, uppers, rooms, i, r):
                assign[i] = r
                _take(problem, uppers, rooms, i, r)
                break
        else:
            return None
    return assign if not violations(problem, assign) else None


def _room(problem: ArcProblem, family: RowFamily, assign: IntArray) -> FloatArray:
    """Each row's room left by the placed items (``assign >= 0``), with the row tolerance."""
    m = len(problem.reps)
    done = np.flatnonzero(assign >= 0)
    values = np.zeros(len(assign))  # 0 for the items not placed yet
    values[done] = at(family.coef, problem.shape, done, assign[done])
    partial = np.where(assign >= 0, assign, 0)
    used = (
        np.bincount(partial, weights=values, minlength=m).astype(float)
        if family.axis == "rep"
        else np.array([values.sum()])
    )
    return family.rhs - used + tolerance(family.rhs)


def _largest_first(problem: ArcProblem, uppers: list[RowFamily], items: IntArray) -> list[int]:
    if not uppers or not len(items):
        return items.tolist()
    step = block_rows(problem.shape[1])  # in row blocks: no (items, reps) temporary at scale
    size = np.concatenate(
        [
            rows_of(uppers[0].coef, problem.shape, items[lo : lo + step]).max(axis=1)
            for lo in range(0, len(items), step)
        ]
    )
    return items[np.argsort(-size, kind="stable")].tolist()


def _fits(
    problem: ArcProblem, uppers: list[RowFamily], rooms: list[FloatArray], i: int, r: int
) -> bool:
    for family, room in zip(uppers, rooms, strict=True):
        j = r if family.axis == "rep" else 0
        if at(family.coef, problem.shape, np.array([i]), np.array([r]))[0] > room[j]:
            return False
    return True


def _take(
    problem: ArcProblem, uppers: list[RowFamily], rooms: list[FloatArray], i: int, r: int
) -> None:
    for family, room in zip(uppers, rooms, strict=True):
        coef = at(family.coef, problem.shape, np.array([i]), np.array([r]))[0]
        room[r if family.axis == "rep" else 0] -= coef


def lp_base(problem: ArcProblem, arcs: IntArray, values: FloatArray) -> IntArray:
    """Rep per item where the LP is integral, -1 for the fractional items."""
    n, m = problem.shape
    base = np.full(n, -1, np.int64)
    sure = values >= 1 - 1e-6
    base[arcs[sure] // m] = arcs[sure] % m
    return base


def regret(problem: ArcProblem, arcs: IntArray, base: IntArray) -> FloatArray:
    """Per item: cost of its cheapest other candidate arc minus the cost of its ``base`` arc."""
    n, m = problem.shape
    ii, rr = arcs // m, arcs % m
    other = np.full(n, np.inf)
    mine = rr == base[ii]
    np.minimum.at(other, ii[~mine], problem.cost[ii[~mine], rr[~mine]])
    rows = np.arange(n)
    here = np.where(base >= 0, problem.cost[rows, np.maximum(base, 0)], -np.inf)
    return other - here


def neighbourhood_search(
    problem: ArcProblem,
    arcs: IntArray,
    base: IntArray,
    solver: SolverSettings,
    *,
    time_limit: float,
    cuts: Sequence[Cut] | None = None,
    bound: float | None = None,
) -> IntArray | None:
    """Keep ``base`` (rep per item, -1 = free) fixed and solve the small MIP over the free items.

    When that finds nothing, more items are freed, the smallest :func:`regret` first (2%, 10%,
    then a third of the items); after a solution, larger neighbourhoods (warm-started) improve it
    until it is within ``solver.gap`` of ``bound``. Returns a complete assignment that satisfies
    every row of the model (``cuts`` included), or None.
    """
    n, m = problem.shape
    ii, rr = arcs // m, arcs % m
    free = base < 0
    order = np.argsort(regret(problem, arcs, base), kind="stable")
    deadline = time.perf_counter() + time_limit
    best: IntArray | None = None
    for share in (0.0, 0.02, 0.1, 0.33):
        free[order[: int(share * n)]] = True
        left = max(deadline - time.perf_counter(), 0.1)
        # its incumbents are whole solutions; its bound holds only for the fixed neighbourhood
        with traced_as("neighbourhood", bound=False):
            report, found = solve_part(
                problem, arcs[free[ii] | (rr == base[ii])], best, solver, cuts, left / 2
            )
        if report.has_solution:
            best = base = found
            if (
                bound is None
                or report.objective is None
                or _close(report.objective, bound, solver.gap)
            ):
                break
        if time.perf_counter() >= deadline:
            break
    return best if best is not None and not violations(problem, best) else None


def solve_part(
    problem: ArcProblem,
    arcs: IntArray,
    start: IntArray | None,
    solver: SolverSettings,
    cuts: Sequence[Cut] | None,
    time_limit: float,
    *,
    deadline: float | None = None,
) -> tuple[SolveReport, IntArray | None]:
    """The MIP over ``arcs`` warm-started from ``start`` (a rep per item): from arrays at scale
    (capped by ``deadline``, absolute :func:`time.monotonic`; None: the run's), else PuLP.
    Returns the report and the rep per item (None without a solution)."""
    if use_arrays(problem, arcs, solver, cuts):
        return solve_arc_mip(
            problem, arcs, solver, start=start, time_limit=time_limit, deadline=deadline
        )
    n, m = problem.shape
    model = build_model(problem, arcs, integer=True, cuts=cuts)
    warm = start_values(model, problem, start) if start is not None else None
    report = solve(model.prob, solver, warm_start=warm, time_limit=time_limit)
    return report, read_assignment(model, n, m) if report.has_solution else None


def _close(objective: float, bound: float, gap: float) -> bool:
    return objective - bound <= gap * max(1.0, abs(objective))

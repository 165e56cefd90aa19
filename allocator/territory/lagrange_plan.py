"""A plan from the Lagrangian ascent's multipliers, without the first LP (issue 19).

Above :data:`ASCENT_FROM` pairs on the sparse path, :func:`solve_by_ascent` replaces pricing's
LP: :func:`allocator.territory.lagrange.ascend` proves a bound over all eligible pairs from zero
multipliers, until its bound stalls (:data:`STALL`); at its multipliers each item's cheapest
candidate by reduced cost is nearly a plan (the Lagrangian heuristic, Fisher 1981,
Management Science 27(1); for assignment rows Jörnsten & Näsberg 1986, EJOR 27(3)). The rows
that choice breaks are repaired by moves, swaps and elastic MIP windows
(:func:`allocator.territory.repair.repair`); a second ascent towards the plan tightens the
bound, and MIP windows (the items of a few neighbouring reps, re-solved over their
candidates, warm-started) improve the plan until it is within ``solver.gap`` of the bound or
the deadline (``models/assignment.md``, "A plan from the ascent").
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt

from allocator.exceptions import NoSolutionInTimeError
from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, relative_gap
from allocator.solver.deadline import resolve_deadline, time_left
from allocator.solver.trace import note, traced_as
from allocator.territory.arc_mip import PRESOLVE_UP_TO, presolve_up_to
from allocator.territory.core import (
    ArcProblem,
    objective,
    reduced_costs,
    violations,
)
from allocator.territory.lagrange import Ascent, ascend, gather
from allocator.territory.moves import improve
from allocator.territory.nearest import incumbent_arcs
from allocator.territory.pricing import initial_arcs
from allocator.territory.repair import repair, window_mip
from allocator.territory.solve_arcs import ArcSolution, CoreOptions, best_start

__all__ = ["ASCENT_FROM", "ascent_path", "solve_by_ascent"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Pairs (items x reps) from which the sparse path plans from the ascent instead of the LP:
#: above 50,000 x 500 (2.5e7 pairs, where the LP path gives 0.17% in 14 s); at 100,000 x
#: 1,000 (1e8; 99,999 items in the benchmark) this path gave a plan 0.21% from its bound in
#: 47 s and the LP path 0.24% in 98 s (session 26, 180 s, gap 0.01); at 250,000 x 2,000
#: (5e8) the first LP does not finish in 600 s (``benchmarks/profile_scale.md``).
ASCENT_FROM = 50_000_000

#: Share of the time the ascent gets before the first plan is built.
ASCENT_SHARE = 0.25

#: The first ascent stops before its share of the time when its bound rose by less than this
#: share of ``solver.gap`` over its last passes (``lagrange.STALL_PASSES``): the time then
#: follows the ascent's convergence, not ``solver.time_limit``.
STALL = 0.07

#: A first plan farther than this share of ``solver.gap`` from the bound sends the ascent on
#: (:func:`_again`) with a stall :data:`AGAIN` times tighter, and the choice is repaired again.
RETRY, AGAIN = 0.5, 0.3

#: Arcs per item in the improvement windows (its best by reduced cost; its own too).
SHORT = 5

#: Share of the time left the first plan (the repair) may use.
FIRST_SHARE = 0.85

#: Share of the time left after the first plan that the second ascent (towards it) gets: at
#: 250,000 x 2,000 the first plan was 1.6% above the bound and 24 windows improved nothing,
#: while 10 s of this ascent raised the bound by 0.55%: the bound is what needs the time.
REASCENT_SHARE = 0.8

#: Items per improvement window (the items of a few neighbouring reps).
WINDOW = 4000

#: Seconds kept free of solver calls at the end of the run.
MARGIN = 2.0


def ascent_path(problem: ArcProblem, options: CoreOptions) -> bool:
    """Whether :func:`solve_by_ascent` solves ``problem``: the sparse path (lazy pair data, no
    contiguity, no ``goal_balance`` cap), pricing on, and at least :data:`ASCENT_FROM` pairs."""
    n, m = problem.shape
    return (
        problem.lazy
        and problem.contiguity is None
        and problem.balance_cap is None
        and options.price_out
        and options.nearest is not None
        and n * m >= ASCENT_FROM
    )


def solve_by_ascent(
    problem: ArcProblem,
    options: CoreOptions,
    solver: SolverSettings,
    *,
    start: IntArray | None = None,
    deadline: float | None = None,
) -> ArcSolution:
    """A plan (rep per item) and a bound proven over every eligible pair, by the ascent.

    ``start`` (a rep per item) joins the candidates and is kept when better; ``deadline``
    (absolute :func:`time.monotonic`; None: the run's, else ``solver.time_limit`` from now)
    bounds everything. The report's status is optimal when the plan is within ``solver.gap``
    of the ascent's bound, else time limit (with the plan); ``exact`` is False.

    MIPs over :data:`~allocator.territory.arc_mip.PRESOLVE_UP_TO` arcs run without HiGHS's
    presolve (it can overrun its limit by minutes at this size).

    Raises
    ------
    NoSolutionInTimeError
        No plan satisfying every row was found in time (not a proof that none exists).
    """
    with presolve_up_to(PRESOLVE_UP_TO):
        return _solve_by_ascent(problem, options, solver, start=start, deadline=deadline)


def _solve_by_ascent(
    problem: ArcProblem,
    options: CoreOptions,
    solver: SolverSettings,
    *,
    start: IntArray | None,
    deadline: float | None,
) -> ArcSolution:
    began = time.monotonic()
    deadline = resolve_deadline(deadline, solver.time_limit)
    n, m = problem.shape
    first = options.first_nearest(n)
    per_rep = -(-2 * n // m) if first != options.nearest else 0
    arcs = initial_arcs(problem, first, within=options.within, per_rep=per_rep)
    if start is not None:
        arcs = np.union1d(arcs, np.arange(n) * m + start)
    until = began + ASCENT_SHARE * (deadline - began)
    asc = ascend(problem, arcs, None, deadline=until, stall=STALL * solver.gap)
    prices = _prices(problem, asc)
    placed = _first_plan(problem, asc.arcs, prices, solver, deadline)
    plan = best_start(problem, [placed, start])
    if plan is None:
        raise NoSolutionInTimeError(
            f"{problem.name}: no plan from the Lagrangian ascent within the run's time budget "
            f"(solver.time_limit {solver.time_limit:g} s); not a proof that none exists: "
            "raise solver.time_limit"
        )
    value = objective(problem, plan)
    note(value, asc.bound, "ascent")
    if not _close(value, asc.bound, RETRY * solver.gap) and time_left(deadline) > 8 * MARGIN:
        until = min(deadline, time.monotonic() + ASCENT_SHARE * (deadline - began))
        asc, (plan, value), prices = _again(
            problem, (asc, prices), (plan, value), solver, deadline, until
        )
    if not _close(value, asc.bound, solver.gap) and time_left(deadline) > 8 * MARGIN:
        until = time.monotonic() + REASCENT_SHARE * time_left(deadline)
        again = ascend(
            problem, asc.arcs, asc.duals, deadline=until, upper=value, target_gap=solver.gap
        )
        if again.bound is not None and (asc.bound is None or again.bound > asc.bound):
            asc, prices = again, _prices(problem, again)
            note(value, asc.bound, "ascent")
    short = _short_list(asc.arcs, prices[1], n, m)
    plan, value = _improve(problem, (plan, value), short, prices, solver, deadline, asc.bound)
    return _solution(problem, plan, value, asc.bound, solver, len(asc.arcs), began)


def _again(
    problem: ArcProblem,
    first: tuple[Ascent, tuple[object, FloatArray, IntArray]],
    found: tuple[IntArray, float],
    solver: SolverSettings,
    deadline: float,
    until: float,
) -> tuple[Ascent, tuple[IntArray, float], tuple[object, FloatArray, IntArray]]:
    """The first plan ``found`` (plan, objective) is more than :data:`RETRY` x ``solver.gap``
    from the bound: the ascent stalled before its multipliers were good enough for the
    Lagrangian choice (its rise is slow and steady at 100,000 x 1,000: one benchmark run
    stalled at 27.365 million and gave 0.988%). The ascent goes on from its multipliers
    until ``until`` with a :data:`AGAIN` times tighter stall; the plan from its choice
    replaces ``found`` when better. ``first`` is the first ascent and its :func:`_prices`.
    Returns the ascent, the plan and the prices."""
    asc = first[0]
    more = ascend(problem, asc.arcs, asc.duals, deadline=until, stall=AGAIN * STALL * solver.gap)
    if more.bound is None or (asc.bound is not None and more.bound < asc.bound):
        return asc, found, first[1]
    prices = _prices(problem, more)
    placed = _first_plan(problem, more.arcs, prices, solver, deadline)
    plan, value = found
    if placed is not None and (other := objective(problem, placed)) < value:
        plan, value = placed, other
    log.info("ascent again: bound %.10g, plan %.10g", more.bound, value)
    note(value, more.bound, "ascent")
    return more, (plan, value), prices


def _prices(problem: ArcProblem, asc: Ascent) -> tuple[object, FloatArray, IntArray]:
    """At the ascent's multipliers: the reduced costs (lazy pairs), those of its candidate arcs
    and each item's cheapest candidate rep (its Lagrangian choice)."""
    m = problem.shape[1]
    reduced = reduced_costs(problem, asc.duals)
    rc = gather(reduced, problem.shape, asc.arcs // m, asc.arcs % m)
    order, rank = _by_item(asc.arcs // m, rc)
    return reduced, rc, (asc.arcs[order[rank == 0]] % m).astype(np.int64)


def _short_list(arcs: IntArray, rc: FloatArray, n: int, m: int) -> IntArray:
    """Each item's :data:`SHORT` cheapest arcs by reduced cost ``rc`` (sorted flat ids)."""
    order, rank = _by_item(arcs // m, rc)
    return np.sort(arcs[order[rank < SHORT]])


def _by_item(items: IntArray, rc: FloatArray) -> tuple[IntArray, IntArray]:
    """The arcs ordered by item, then reduced cost ``rc``; each one's rank within its item."""
    order = np.lexsort((rc, items))
    rank = np.arange(len(order)) - np.searchsorted(items[order], items[order], side="left")
    return order, rank


def _first_plan(
    problem: ArcProblem,
    arcs: IntArray,
    prices: tuple[object, FloatArray, IntArray],
    solver: SolverSettings,
    deadline: float,
) -> IntArray | None:
    """The Lagrangian choice, repaired (:func:`allocator.territory.repair.repair`: moves and
    swaps cheapest in reduced costs, then elastic MIP windows) and improved by moves in the
    true costs (:func:`allocator.territory.moves.improve`), along the candidate ``arcs`` and
    each item's incumbent arc; None when rows are still broken when its share of the time
    (:data:`FIRST_SHARE`) is spent."""
    reduced, _, best = prices
    budget = time.monotonic() + FIRST_SHARE * max(time_left(deadline) - MARGIN, 0.0)
    incumbent = incumbent_arcs(problem)
    along = arcs if incumbent is None else np.union1d(arcs, incumbent)
    plan = repair(problem, best, along, solver, budget, cost=reduced)
    return None if plan is None else improve(problem, plan, along, deadline=budget)


def _close(value: float, bound: float | None, gap: float) -> bool:
    return bound is not None and value - bound <= gap * max(1.0, abs(value))


def _gain_window(
    short: IntArray, plan: IntArray, gain: FloatArray, m: int, taken: BoolArray
) -> BoolArray:
    """A few neighbouring reps (m,): seeds are reps of largest reduced-cost ``gain`` not yet
    ``taken``; a seed's neighbours are the reps its items' short lists reach."""
    si, sr = short // m, short % m
    by_rep = np.bincount(plan, weights=gain, minlength=m)
    by_rep[taken] = -np.inf
    counts = np.bincount(plan, minlength=m)
    reps = np.zeros(m, bool)
    for seed in np.argsort(-by_rep, kind="stable")[: max(1, m // 4)].tolist():
        if reps[seed] or counts[reps].sum() >= WINDOW:
            continue
        near = np.unique(sr[plan[si] == seed])
        reps[near] = True
        reps[seed] = taken[seed] = True
    return reps


def _improve(
    problem: ArcProblem,
    found: tuple[IntArray, float],
    short: IntArray,
    prices: tuple[object, FloatArray, IntArray],
    solver: SolverSettings,
    deadline: float,
    bound: float | None,
) -> tuple[IntArray, float]:
    """MIP windows (:func:`_gain_window`) re-solved over the short lists, warm-started from
    the plan, while the plan is not within ``solver.gap`` of ``bound`` and time is left
    (``prices`` as :func:`_prices` gives them)."""
    plan, value = found
    reduced, _, best = prices
    n, m = problem.shape
    taken = np.zeros(m, bool)
    floor = gather(reduced, problem.shape, np.arange(n), best)
    while not _close(value, bound, solver.gap) and time_left(deadline) > 4 * MARGIN:
        gain = np.maximum(gather(reduced, problem.shape, np.arange(n), plan) - floor, 0.0)
        if taken.all():
            taken[:] = False
        reps = _gain_window(short, plan, gain, m, taken)
        limit = min(60.0, 0.25 * time_left(deadline))
        with traced_as("ascent-window", bound=False):
            new = window_mip(
                problem, plan, reps, short, solver, deadline - MARGIN, time_limit=limit
            )
        if new is not None and not violations(problem, new):
            other = objective(problem, new)
            if other < value - 1e-9:
                plan, value = new, other
            note(value, bound, "ascent")
    return plan, value


def _solution(
    problem: ArcProblem,
    plan: IntArray,
    value: float,
    bound: float | None,
    solver: SolverSettings,
    arcs: int,
    began: float,
) -> ArcSolution:
    """The answer: optimal when within ``solver.gap`` of the proven bound, else time limit."""
    within = _close(value, bound, solver.gap)
    report = SolveReport(
        status=Status.OPTIMAL if within else Status.TIME_LIMIT,
        solver=solver.name,
        objective=value,
        bound=bound,
        gap=relative_gap(value, bound),
        seconds=time.monotonic() - began,
        has_solution=True,
        message="plan from the Lagrangian ascent; bound over every eligible pair",
    )
    return ArcSolution(plan, report, None, bound, arcs, 0, 0, False, ())

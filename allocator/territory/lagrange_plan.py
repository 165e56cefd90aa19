"""A plan from the Lagrangian ascent's multipliers, without the first LP (issue 19).

Above :data:`ASCENT_FROM` pairs on the sparse path, :func:`solve_by_ascent` replaces pricing's
LP: :func:`allocator.territory.lagrange.ascend` proves a bound over all eligible pairs from zero
multipliers; at its multipliers each item's cheapest candidate by reduced cost is nearly a plan
(the Lagrangian heuristic, Fisher 1981, Management Science 27(1); for assignment rows
Jörnsten & Näsberg 1986, EJOR 27(3)). Items whose choice is clear (a large reduced-cost margin
to their second-best arc) on reps that break no row keep it; the rest are placed by the
*placing LP* (the free items only, the others fixed, in reduced costs: :func:`_placing_lp`)
and its fractional items by the neighbourhood MIP
(:func:`allocator.territory.heuristic.neighbourhood_search`). MIP
windows (the items of a few neighbouring reps, re-solved over their candidates, warm-started)
improve the plan until it is within ``solver.gap`` of the bound or the deadline
(``models/assignment.md``, "A plan from the ascent").
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt

from allocator.exceptions import NoSolutionInTimeError
from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, relative_gap
from allocator.solver.deadline import call_limit, resolve_deadline, time_left
from allocator.solver.trace import note, traced_as
from allocator.territory.arc_mip import PRESOLVE_UP_TO, presolve_up_to
from allocator.territory.core import (
    ArcProblem,
    activities,
    objective_terms,
    reduced_costs,
    violations,
)
from allocator.territory.fixed import fix_items, to_part, to_whole
from allocator.territory.heuristic import lp_base, neighbourhood_search, round_lp, solve_part
from allocator.territory.lagrange import Ascent, ascend, gather
from allocator.territory.pairs import at
from allocator.territory.pricing import initial_arcs, price_arcs
from allocator.territory.solve_arcs import ArcSolution, CoreOptions, best_start

__all__ = ["ASCENT_FROM", "ascent_path", "solve_by_ascent"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Pairs (items x reps) from which the sparse path plans from the ascent instead of the LP:
#: above 100,000 x 1,000 (1e8 pairs), where today's path gives a plan 0.24% from its bound in
#: 98 s and this one gave none in 180 s; at 250,000 x 2,000 (5e8) the first LP does not finish
#: in 600 s (``benchmarks/profile_scale.md``, session 24).
ASCENT_FROM = 200_000_000

#: Share of the time the ascent gets before the first plan is built.
ASCENT_SHARE = 0.25

#: Arcs per free item in the placing MIPs (its best by reduced cost; the current one too).
SHORT = 5

#: Shares of the items freed as near ties (smallest margins) in the first plan's attempts.
TIE_SHARES = (0.04, 0.15)

#: Most items for the last resort, the greedy placing (:func:`heuristic.round_lp`).
GREEDY_MAX = 20_000

#: Share of the time left the first plan may use.
FIRST_SHARE = 0.85

#: Share of the time left after the first plan that the second ascent (towards it) gets: at
#: 250,000 x 2,000 the first plan was 1.6% above the bound and 24 windows improved nothing,
#: while 10 s of this ascent raised the bound by 0.55%: the bound is what needs the time.
REASCENT_SHARE = 0.8

#: Items per improvement window (the items of a few neighbouring reps).
WINDOW = 4000

#: Slack of the repair: a broken row frees items worth this many times its excess.
COVER = 1.5

#: Items freed on each rep next to a freeing one, per item freed there (:func:`_chains`).
CHAIN = 0.5

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
    asc = ascend(problem, arcs, None, deadline=began + ASCENT_SHARE * (deadline - began))
    prices = _prices(problem, asc)
    placed = _first_plan(problem, asc.arcs, prices, solver, deadline, asc.bound)
    plan = best_start(problem, [placed, start])
    if plan is None:
        raise NoSolutionInTimeError(
            f"{problem.name}: no plan from the Lagrangian ascent within the run's time budget "
            f"(solver.time_limit {solver.time_limit:g} s); not a proof that none exists: "
            "raise solver.time_limit"
        )
    value = _value(problem, plan)
    note(value, asc.bound, "ascent")
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


def _prices(problem: ArcProblem, asc: Ascent) -> tuple[object, FloatArray, IntArray, FloatArray]:
    """At the ascent's multipliers: the reduced costs (lazy pairs), those of its candidate arcs,
    each item's cheapest candidate rep (its Lagrangian choice) and its margin (second-cheapest
    minus cheapest; inf with one candidate)."""
    n, m = problem.shape
    reduced = reduced_costs(problem, asc.duals)
    rc = gather(reduced, problem.shape, asc.arcs // m, asc.arcs % m)
    items = asc.arcs // m
    order, rank = _by_item(items, rc)
    head, two = order[rank == 0], order[rank == 1]
    second = np.full(n, np.inf)
    second[items[two]] = rc[two]
    return reduced, rc, (asc.arcs[head] % m).astype(np.int64), second - rc[head]


def _short_list(arcs: IntArray, rc: FloatArray, n: int, m: int) -> IntArray:
    """Each item's :data:`SHORT` cheapest arcs by reduced cost ``rc`` (sorted flat ids)."""
    order, rank = _by_item(arcs // m, rc)
    return np.sort(arcs[order[rank < SHORT]])


def _by_item(items: IntArray, rc: FloatArray) -> tuple[IntArray, IntArray]:
    """The arcs ordered by item, then reduced cost ``rc``; each one's rank within its item."""
    order = np.lexsort((rc, items))
    rank = np.arange(len(order)) - np.searchsorted(items[order], items[order], side="left")
    return order, rank


def _cover(groups: IntArray, key: FloatArray, weight: FloatArray, need: FloatArray) -> BoolArray:
    """Per group (a rep), the entries of smallest ``key`` whose ``weight`` sums to ``need[g]``:
    a mask of the chosen entries (none where ``need <= 0``)."""
    order = np.lexsort((key, groups))
    g, w = groups[order], weight[order]
    total = np.cumsum(w)
    before = total - w - np.r_[0.0, total][np.searchsorted(g, g, side="left")]
    chosen = np.zeros(len(groups), bool)
    chosen[order] = before < need[g]
    return chosen


def _repair_set(
    problem: ArcProblem, best: IntArray, margin: FloatArray, short: IntArray
) -> BoolArray:
    """The items to free so that the rows the Lagrangian choice ``best`` breaks can be met:
    on a rep over an upper row, its items of smallest margin worth :data:`COVER` times the
    excess; for a rep under a lower row, items whose short list reaches it, likewise; for a
    single row (``max_moved``), items of smallest margin over the whole plan."""
    n, m = problem.shape
    free = np.zeros(n, bool)
    items = np.arange(n)
    si, sr = short // m, short % m
    for family in problem.families:
        if family.axis == "item" or family.deviation is not None:  # deviation rows: d+ - d-
            continue
        act = activities(problem, family, best)
        over = act - family.rhs if family.sense != ">=" else family.rhs - act
        if not (over > 1e-6 * np.maximum(1.0, np.abs(family.rhs))).any():
            continue
        if family.sense == ">=":  # items that could move in: their short-list arcs there
            weight = np.abs(np.asarray(at(family.coef, problem.shape, si, sr), float))
            group = sr if family.axis == "rep" else np.zeros_like(sr)
            pick = _cover(group, margin[si], weight, COVER * np.maximum(over, 0.0))
            free[si[pick]] = True
            continue
        weight = np.abs(np.asarray(at(family.coef, problem.shape, items, best), float))
        group = best if family.axis == "rep" else np.zeros_like(best)
        free |= _cover(group, margin, weight, COVER * np.maximum(over, 0.0))
    return free | _chains(best, margin, free, si, sr, m)


def _chains(
    best: IntArray, margin: FloatArray, free: BoolArray, si: IntArray, sr: IntArray, m: int
) -> BoolArray:
    """Room for the freed items to move: on every rep next to one that frees ``k`` items (a
    candidate arc ``(si, sr)`` joins the reps ``best[si]`` and ``sr``), its :data:`CHAIN`
    x ``k`` items of smallest margin. The reps next to a broken one are often full
    themselves: fixed, they cut the chain of moves the repair needs (at 250,000 x 2,000 the
    placing LP over the repair set alone was infeasible)."""
    count = np.bincount(best[free], minlength=m).astype(float)
    need = np.zeros(m)
    np.maximum.at(need, sr, count[best[si]])
    np.maximum.at(need, best[si], count[sr])
    return _cover(best, margin, np.ones(len(best)), CHAIN * need)


def _first_plan(
    problem: ArcProblem,
    arcs: IntArray,
    prices: tuple[object, FloatArray, IntArray, FloatArray],
    solver: SolverSettings,
    deadline: float,
    bound: float | None,
) -> IntArray | None:
    """The Lagrangian choice with the repair set and the near ties freed; the free items placed
    as in "Warm start": the LP over their candidate ``arcs`` (the kept items one arc each), its
    integral values kept and a MIP over the rest (:func:`neighbourhood_search`). More ties are
    freed (:data:`TIE_SHARES`) while that finds nothing; a greedy placing comes last."""
    n, m = problem.shape
    reduced, _, best, margin = prices
    repair = _repair_set(problem, best, margin, arcs)
    order = np.argsort(margin, kind="stable")
    budget = time.monotonic() + FIRST_SHARE * max(time_left(deadline) - MARGIN, 0.0)
    for share in TIE_SHARES:
        free = repair.copy()
        free[order[: int(share * n)]] = True
        log.info("ascent plan: %d of %d items free", int(free.sum()), n)
        placed = _placing_lp(problem, arcs, free, best, reduced, solver, budget - MARGIN)
        if placed is None:
            continue
        # no bound: stop at the first plan (at 250k the larger neighbourhoods that chased
        # the ascent's bound took 63 s, 25 s past a limit, and improved nothing)
        base = lp_base(problem, *placed)  # kept items too: they are integral
        every = np.union1d(arcs, placed[0])  # so that the search can free kept items as well
        with traced_as("ascent-plan", bound=False):
            plan = neighbourhood_search(
                problem, every, base, solver, time_limit=time_left(budget), bound=None
            )
        if plan is not None and not violations(problem, plan):
            return plan
    if n > GREEDY_MAX:  # item by item in Python: longer than the run has at scale
        return None
    chosen = np.arange(n) * m + best
    values = np.isin(arcs, chosen[margin > np.median(margin)]).astype(float)
    return round_lp(problem, arcs, values)


def _placing_lp(
    problem: ArcProblem,
    arcs: IntArray,
    free: BoolArray,
    best: IntArray,
    reduced: object,
    solver: SolverSettings,
    deadline: float,
) -> tuple[IntArray, FloatArray] | None:
    """The LP over the ``free`` items' candidate ``arcs``, every other item fixed at its
    Lagrangian choice ``best`` (:func:`~allocator.territory.fixed.fix_items`), in the
    ``reduced`` costs at the ascent's multipliers: the Lagrangian choice is then the dual
    feasible crash basis of :meth:`ArcLp.crash <allocator.territory.arc_lp.ArcLp.crash>`, so
    the dual simplex starts from it. Its solutions meet every row; the neighbourhood search
    that rounds it and the windows after it work in the true costs. (arcs, values) over the
    whole problem (the fixed items at value 1), sorted by arc; None when the LP did not finish
    or is infeasible."""
    m = problem.shape[1]
    sub = fix_items(problem, free, best, cost=reduced)
    own = np.sort(to_part(arcs[free[arcs // m]], free, m))
    lp = price_arcs(sub, own, solver, deadline=deadline, price=False)
    if not lp.feasible or lp.bound is None:
        return None
    kept = np.flatnonzero(~free)
    whole = np.concatenate([to_whole(lp.arcs, free, m), kept * m + best[kept]])
    order = np.argsort(whole)
    return whole[order], np.concatenate([lp.values, np.ones(len(kept))])[order]


def _value(problem: ArcProblem, assign: IntArray) -> float:
    return float(sum(objective_terms(problem, assign).values()))


def _close(value: float, bound: float | None, gap: float) -> bool:
    return bound is not None and value - bound <= gap * max(1.0, abs(value))


def _window(
    short: IntArray, plan: IntArray, gain: FloatArray, m: int, taken: BoolArray
) -> BoolArray:
    """Items of a few neighbouring reps: seeds are reps of largest reduced-cost ``gain`` not yet
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
    return reps[plan]


def _improve(
    problem: ArcProblem,
    found: tuple[IntArray, float],
    short: IntArray,
    prices: tuple[object, FloatArray, IntArray, FloatArray],
    solver: SolverSettings,
    deadline: float,
    bound: float | None,
) -> tuple[IntArray, float]:
    """MIP windows (:func:`_window`) re-solved over the short lists, warm-started from the plan,
    while the plan is not within ``solver.gap`` of ``bound`` and time is left (``prices`` as
    :func:`_prices` gives them)."""
    plan, value = found
    reduced, _, best, _ = prices
    n, m = problem.shape
    taken = np.zeros(m, bool)
    floor = gather(reduced, problem.shape, np.arange(n), best)
    while not _close(value, bound, solver.gap) and time_left(deadline) > 4 * MARGIN:
        here = np.arange(n) * m + plan
        gain = np.maximum(gather(reduced, problem.shape, np.arange(n), plan) - floor, 0.0)
        if taken.all():
            taken[:] = False
        free = _window(short, plan, gain, m, taken)
        arcs = np.union1d(short[free[short // m]], here)
        limit = min(60.0, 0.25 * time_left(deadline))
        with traced_as("ascent-window", bound=False):
            new = _solve_window(problem, arcs, plan, solver, limit, deadline)
        if new is not None and not violations(problem, new) and _value(problem, new) < value - 1e-9:
            plan, value = new, _value(problem, new)
            note(value, bound, "ascent")
    return plan, value


def _solve_window(
    problem: ArcProblem,
    arcs: IntArray,
    start: IntArray | None,
    solver: SolverSettings,
    time_limit: float,
    deadline: float,
) -> IntArray | None:
    """The MIP over ``arcs`` warm-started from ``start`` (from arrays at scale, else PuLP),
    given at most ``time_limit`` and what ``deadline`` leaves less :data:`MARGIN`."""
    limit = min(time_limit, call_limit(deadline - MARGIN))
    if limit <= 0.5:
        return None
    report, assign = solve_part(
        problem, arcs, start, solver, None, limit, deadline=deadline - MARGIN
    )
    return assign if report.has_solution else None


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

"""The solve loop of the arc-level core: candidates, pricing, warm start, MIP, cuts, exactness.

:func:`solve_arcs` is the one function the territory model and the GAP benchmark both call. It
reads as the method of ``models/assignment.md``: initial candidate arcs, LP pricing, a rounded
warm start, the MIP (with contiguity cut rounds when the problem has a region graph), the
reduced-cost augmentation that makes pruning exact, and the elastic diagnosis on infeasibility.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import NoReturn

import numpy as np
import numpy.typing as npt

from allocator.exceptions import InfeasibleError, NoSolutionInTimeError, SolverError
from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, relative_gap, solve
from allocator.solver.deadline import expired, resolve_deadline, time_left
from allocator.solver.trace import note
from allocator.territory.arc_mip import ARRAYS_FROM, solve_arc_mip, use_arrays
from allocator.territory.contiguity import Cut, disconnected_reps, find_cuts
from allocator.territory.core import (
    ArcModel,
    ArcProblem,
    activities,
    build_model,
    objective,
    read_assignment,
    start_values,
    violations,
)
from allocator.territory.diagnose import elastic_diagnosis
from allocator.territory.heuristic import lp_base, neighbourhood_search, round_lp
from allocator.territory.pricing import Pricing, augment_arcs, initial_arcs, price_arcs

__all__ = ["ArcSolution", "CoreOptions", "best_start", "solve_arcs"]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Share of the remaining time a warm-start search may use before a MIP solve.
START_SHARE = 0.25

#: Share of the time limit pricing may use; the rest is kept for the warm start and the MIP.
PRICING_SHARE = 0.6

#: Share of the remaining time the first warm start may use when pricing ran out of time on a
#: large model (from ``ARRAYS_FROM`` arcs): a MIP that size finds nothing in what is left
#: without a start, so the start's neighbourhoods get most of it.
LATE_START_SHARE = 0.8

#: Fewest nearest arcs per item the first LP starts from at scale (``CoreOptions.initial_arcs``).
MIN_NEAREST = 6


@dataclass(frozen=True)
class CoreOptions:
    """How to pick arcs: ``nearest`` per item first (None: every eligible arc), then pricing.

    ``initial_arcs``: when ``nearest`` per item would exceed it, the first LP starts from fewer
    (never under ``MIN_NEAREST`` per item) and pricing adds the arcs it needs, so the answer
    stays exact while the first LP, which dominates large runs, stays small.
    """

    nearest: int | None = None
    price_out: bool = True
    within: BoolArray | None = None
    max_arcs: int = 200_000
    initial_arcs: int = 300_000

    def first_nearest(self, items: int) -> int | None:
        """The nearest arcs per item of the first LP for ``items`` items."""
        if self.nearest is None or not self.price_out or items * self.nearest <= self.initial_arcs:
            return self.nearest
        return max(min(MIN_NEAREST, self.nearest), self.initial_arcs // max(items, 1))


@dataclass(frozen=True)
class ArcSolution:
    """The MIP answer: rep per item, the final solve report and model, and how it was reached.

    ``model`` is None when no MIP was needed (the warm start was within the gap of the bound)
    or when the MIP was built from arrays (:mod:`allocator.territory.arc_mip`).
    """

    assign: IntArray
    report: SolveReport
    model: ArcModel | None
    lp_bound: float | None
    arcs: int
    priced: int
    rounds: int
    exact: bool
    cuts: tuple[Cut, ...]


def solve_arcs(
    problem: ArcProblem,
    options: CoreOptions,
    solver: SolverSettings,
    *,
    start: IntArray | None = None,
    deadline: float | None = None,
) -> ArcSolution:
    """Solve the arc problem to (proven, when ``exact``) optimality over all eligible arcs.

    ``start`` (a rep per item) is a known solution: its arcs join the candidates and it is the
    warm start when it is feasible and better than the rounded LP. ``deadline`` (absolute
    ``time.monotonic()``; None: the run's, else ``solver.time_limit`` from now) bounds the
    whole loop: pricing gets a share of it, each solver call what is left
    (:mod:`allocator.solver.deadline`).

    Raises
    ------
    InfeasibleError
        No assignment satisfies every row; the diagnosis names the rows and the slack they need.
    NoSolutionInTimeError
        The deadline passed before the MIP found any solution.
    SolverError
        The solver failed, or contiguity did not converge.
    """
    began = time.monotonic()
    deadline = resolve_deadline(deadline, solver.time_limit)
    from allocator.territory import lagrange_plan as lp  # it imports this module's types

    if lp.ascent_path(problem, options):  # large sparse path: a plan without the first LP
        return lp.solve_by_ascent(problem, options, solver, start=start, deadline=deadline)
    n, m = problem.shape
    first = options.first_nearest(n)
    per_rep = -(-2 * n // m) if first != options.nearest else 0  # twice a fair count per rep
    arcs = initial_arcs(problem, first, within=options.within, per_rep=per_rep)
    if start is not None:
        arcs = np.union1d(arcs, np.arange(len(start)) * len(problem.reps) + start)
    pruned = len(arcs) < problem.n_arcs
    priced_by = began + PRICING_SHARE * (deadline - began)
    pricing = price_arcs(
        problem, arcs, solver, deadline=priced_by, price=options.price_out and pruned
    )
    full_bound = pricing.bound if pricing.priced or not pruned else None
    if not pricing.feasible and (pricing.priced or not pruned):
        _raise_infeasible(problem, pricing.arcs, solver, deadline)
    arcs = pricing.arcs
    if pricing.feasible:
        late = expired(priced_by) and len(pricing.arcs) >= ARRAYS_FROM
        share = LATE_START_SHARE if late else START_SHARE
        start = _first_start(problem, pricing, start, solver, deadline, share=share)
        if start is not None:
            note(objective(problem, start), full_bound, "start")
    found = _start_within_gap(problem, start, full_bound, solver)
    if found is None:
        found = _mip_rounds(problem, arcs, (), start, solver, deadline, bound=pricing.bound)
    if found is None and len(arcs) < problem.n_arcs and problem.lazy:  # all pairs: no memory
        raise NoSolutionInTimeError(
            f"{problem.name}: no plan over the {len(arcs):,} candidate arcs in the time budget "
            f"(solver.time_limit {solver.time_limit:g} s), and all {problem.n_arcs:,} pairs are "
            "too many for one MIP; not a proof that none exists: raise solver.time_limit"
        )
    if found is None and len(arcs) < problem.n_arcs:
        log.info("the MIP over %d candidate arcs is infeasible: retrying with all arcs", len(arcs))
        arcs = problem.all_arcs
        found = _mip_rounds(problem, arcs, (), None, solver, deadline, bound=pricing.bound)
        pruned = False
    if found is None:
        _raise_infeasible(problem, arcs, solver, deadline)
    exact = not pruned
    if pruned and pricing.priced:
        found, arcs, exact = _augment(problem, arcs, pricing, found, options, solver, deadline)
    report = _whole_report(
        found.report, pruned=pruned, exact=exact, lp_bound=full_bound, gap=solver.gap
    )
    return ArcSolution(
        assign=found.assign,
        report=replace(report, seconds=time.monotonic() - began),
        model=found.model,
        lp_bound=full_bound,
        arcs=len(arcs),
        priced=pricing.added,
        rounds=found.rounds,
        exact=exact,
        cuts=found.cuts,
    )


def _whole_report(
    report: SolveReport, *, pruned: bool, exact: bool, lp_bound: float | None, gap: float
) -> SolveReport:
    """The report with a bound valid for all eligible arcs, not only for the pruned model.

    A pruned MIP's own bound may exceed the full optimum. When pruning is exact, no full solution
    beats ``z - gap |z|`` outside the final arcs, so ``min(own bound, z - gap |z|)`` is valid; the
    priced LP bound always is. Without a valid bound the report has none.
    """
    if not pruned or report.objective is None:
        return report
    z = report.objective
    bound = lp_bound
    if exact and report.bound is not None:
        inside = min(report.bound, z - gap * max(1.0, abs(z)))
        bound = inside if bound is None else max(bound, inside)
    return replace(report, bound=bound, gap=relative_gap(z, bound))


def _first_start(
    problem: ArcProblem,
    pricing: Pricing,
    given: IntArray | None,
    solver: SolverSettings,
    deadline: float,
    *,
    share: float = START_SHARE,
) -> IntArray | None:
    """The MIP's warm start: the LP fixed where integral, the rest by neighbourhood search."""
    arcs, values = pricing.arcs, pricing.values
    if not pricing.priced and pricing.bound is None and len(arcs) >= ARRAYS_FROM:
        # no LP finished: a neighbourhood search would free every item (a MIP as large as
        # the whole problem); place the items greedily by cost instead
        return best_start(problem, [round_lp(problem, arcs, values), given])
    budget = share * time_left(deadline)
    base = lp_base(problem, arcs, values)
    found = neighbourhood_search(
        problem, arcs, base, solver, time_limit=budget, bound=pricing.bound
    )
    if found is None:
        found = round_lp(problem, arcs, values)
    return best_start(problem, [found, given])


def _repair(
    problem: ArcProblem,
    arcs: IntArray,
    assign: IntArray,
    cuts: tuple[tuple[Cut, ...], list[Cut]],
    solver: SolverSettings,
    deadline: float,
    bound: float | None,
) -> IntArray | None:
    """A start for the next cut round: free the territories the new cuts split, keep the rest."""
    every, new = cuts
    base = assign.copy()
    base[np.isin(assign, [cut.rep for cut in new])] = -1
    budget = START_SHARE * time_left(deadline)
    return neighbourhood_search(
        problem, arcs, base, solver, time_limit=budget, cuts=every, bound=bound
    )


def best_start(problem: ArcProblem, starts: list[IntArray | None]) -> IntArray | None:
    """The cheapest feasible of the given complete assignments, or None."""
    feasible = [s for s in starts if s is not None and not violations(problem, s)]
    if not feasible:
        return None
    return min(feasible, key=lambda s: objective(problem, s))


@dataclass(frozen=True)
class _Found:
    assign: IntArray
    report: SolveReport
    model: ArcModel | None
    rounds: int
    cuts: tuple[Cut, ...]


def _augment(
    problem: ArcProblem,
    arcs: IntArray,
    pricing: Pricing,
    found: _Found,
    options: CoreOptions,
    solver: SolverSettings,
    deadline: float,
) -> tuple[_Found, IntArray, bool]:
    """Step 5 of the method: add the arcs a better solution could use and re-solve."""
    if found.report.status is not Status.OPTIMAL or found.report.objective is None:
        return found, arcs, False
    room = max(options.max_arcs - len(arcs), 0)
    extra = augment_arcs(problem, arcs, pricing, found.report.objective, gap=solver.gap, limit=room)
    if not len(extra):
        return found, arcs, True
    if len(arcs) + len(extra) > options.max_arcs:
        log.warning("pruning not proven exact: %d more arcs would be needed", len(extra))
        return found, arcs, False
    log.info("reduced-cost check: %d arcs could improve the MIP; re-solving with them", len(extra))
    arcs = np.union1d(arcs, extra)
    again = _mip_rounds(
        problem, arcs, found.cuts, found.assign, solver, deadline, bound=pricing.bound
    )
    if again is None:  # cannot happen with more arcs; keep the known solution
        return found, arcs, False
    return again, arcs, again.report.status is Status.OPTIMAL


def _mip_rounds(
    problem: ArcProblem,
    arcs: IntArray,
    cuts: tuple[Cut, ...],
    start: IntArray | None,
    solver: SolverSettings,
    deadline: float,
    *,
    bound: float | None,
) -> _Found | None:
    """Solve the MIP, add violated contiguity cuts, repeat; None when infeasible.

    When the MIP finds nothing in its time, the (complete, connected) warm start is kept.

    ``bound`` (a lower bound, the LP's) tells the repair search of later rounds when its start
    is good enough.
    """
    m = len(problem.reps)
    contiguity = problem.contiguity
    rounds = 0
    while True:
        rounds += 1
        model, report, assign = _solve_mip(problem, arcs, cuts, start, solver, deadline)
        if report.status is Status.INFEASIBLE:
            return None
        kept = _kept_start(problem, start, report)
        if kept is not None:
            assert start is not None
            return _Found(start, kept, model, rounds, cuts)
        if report.status is Status.TIME_LIMIT and not report.has_solution:
            raise NoSolutionInTimeError(
                f"{problem.name}: no plan found within the run's time budget "
                f"(solver.time_limit {solver.time_limit:g} s); not a proof that none exists: "
                "raise solver.time_limit"
            )
        if not report.is_ok:
            raise SolverError(
                f"{problem.name}: the solver failed ({report.status.value}: {report.message})"
            )
        assert assign is not None
        if contiguity is None:
            return _Found(assign, report, model, rounds, cuts)
        new = find_cuts(contiguity, assign, m, first=len(cuts))
        if not new:
            return _Found(assign, report, model, rounds, cuts)
        if rounds >= contiguity.max_rounds or expired(deadline):
            reps = [problem.reps[r] for r in disconnected_reps(contiguity, assign, m)]
            raise SolverError(
                f"contiguity: the territories of {', '.join(reps[:5])} are still disconnected "
                f"after {rounds} cut rounds; raise contiguity.max_rounds or solver.time_limit"
            )
        log.info("contiguity round %d: %d cuts", rounds, len(new))
        cuts = (*cuts, *new)
        start = _repair(problem, arcs, assign, (cuts, new), solver, deadline, bound)


def _solve_mip(
    problem: ArcProblem,
    arcs: IntArray,
    cuts: tuple[Cut, ...],
    start: IntArray | None,
    solver: SolverSettings,
    deadline: float,
) -> tuple[ArcModel | None, SolveReport, IntArray | None]:
    """One MIP solve: from numpy arrays straight into HiGHS at scale (no model object), else
    through PuLP. Returns the PuLP model (None from arrays), the report and the rep per item."""
    if use_arrays(problem, arcs, solver, cuts):
        report, assign = solve_arc_mip(problem, arcs, solver, start=start, deadline=deadline)
        return None, report, assign
    n, m = problem.shape
    model = build_model(problem, arcs, integer=True, cuts=cuts if problem.contiguity else None)
    warm = start_values(model, problem, start) if start is not None else None
    report = solve(model.prob, solver, warm_start=warm, deadline=deadline)
    return model, report, read_assignment(model, n, m) if report.has_solution else None


def _start_within_gap(
    problem: ArcProblem, start: IntArray | None, bound: float | None, solver: SolverSettings
) -> _Found | None:
    """The warm start as the answer when it is already within ``solver.gap`` of a bound valid
    for all eligible arcs (no contiguity): the MIP could not prove more. None otherwise."""
    if start is None or bound is None or problem.contiguity is not None:
        return None
    if not _complete(problem, start):
        return None
    value = objective(problem, start)
    if value - bound > solver.gap * max(1.0, abs(value)):
        return None
    log.info("%s: the warm start is within the gap of the LP bound; no MIP needed", problem.name)
    report = SolveReport(
        status=Status.OPTIMAL,
        solver=solver.name,
        objective=value,
        bound=bound,
        gap=relative_gap(value, bound),
        seconds=0.0,
        has_solution=True,
        message="warm start within solver.gap of the LP bound",
    )
    return _Found(start, report, None, 0, ())


def _complete(problem: ArcProblem, start: IntArray | None) -> bool:
    """True when ``start`` satisfies every row, the ``goal_balance`` cap included."""
    if start is None or violations(problem, start):
        return False
    if problem.balance_cap is None:
        return True
    spread = sum(
        float((f.deviation * np.abs(activities(problem, f, start) - f.rhs)).sum())
        for f in problem.families
        if f.deviation is not None
    )
    return spread <= problem.balance_cap + 1e-6 * max(1.0, abs(problem.balance_cap))


def _kept_start(
    problem: ArcProblem, start: IntArray | None, report: SolveReport
) -> SolveReport | None:
    """When the MIP found nothing in time: the report of its feasible warm start (no bound).

    None when the MIP has a solution, ended otherwise, or there is no complete start.

    Raises
    ------
    SolverError
        The start is not connected (contiguity): no answer to keep.
    """
    if report.is_ok or report.status is not Status.TIME_LIMIT or not _complete(problem, start):
        return None
    assert start is not None
    contiguity = problem.contiguity
    if contiguity is not None and disconnected_reps(contiguity, start, len(problem.reps)):
        raise SolverError(
            f"{problem.name}: the solver found no connected solution in time; raise "
            "solver.time_limit"
        )
    log.warning("%s: the MIP found nothing in time; keeping the warm start", problem.name)
    value = objective(problem, start)
    return replace(report, objective=value, bound=None, gap=None, has_solution=True)


def _raise_infeasible(
    problem: ArcProblem, arcs: IntArray, solver: SolverSettings, deadline: float
) -> NoReturn:
    diagnosis = elastic_diagnosis(problem, arcs, solver, deadline=deadline)
    raise InfeasibleError(
        f"{problem.name}: no assignment satisfies every hard constraint (proven); what would "
        "make one possible:",
        diagnosis=diagnosis,
    )

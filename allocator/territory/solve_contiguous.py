"""Contiguous territories within a time budget: construction, searches, then the exact model.

:func:`solve_contiguous` reads as the method of ``models/assignment.md`` ("Contiguity"):
decide what the graph and the numbers decide up front (:mod:`allocator.territory.graph_check`),
grow a connected plan from the home bases, improve it by a connected local search and by exact
re-optimisation of neighbouring reps (flow model), then solve the whole flow model warm-started
with that plan for the time left (it improves the plan and proves the bound). The outcome is
one of three: a contiguous plan with its proven gap; :class:`InfeasibleError` with why and the
smallest balance tolerance that works (or bounds on it); :class:`NoContiguousPlan` carrying the
best plan found when time ran out first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import numpy.typing as npt

from allocator.exceptions import AllocatorError, InfeasibleError
from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, relative_gap, solve
from allocator.territory.contiguity import disconnected_reps, split_districts
from allocator.territory.core import (
    ArcProblem,
    build_model,
    objective,
    read_assignment,
    violations,
)
from allocator.territory.diagnose import elastic_diagnosis
from allocator.territory.flow import build_flow, flow_start, read_flow, tolerance_of
from allocator.territory.graph_check import explain_tolerance, graph_findings
from allocator.territory.grow import (
    Graph,
    PlanState,
    Rows,
    connected_part,
    grow,
)
from allocator.territory.guided import bridge, guided_graph
from allocator.territory.local_search import better, improve, neighbourhood
from allocator.territory.pricing import Pricing, initial_arcs, price_arcs
from allocator.territory.search_inputs import search_inputs
from allocator.territory.solve_arcs import ArcSolution

__all__ = ["NoContiguousPlan", "solve_contiguous"]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]

#: Shares of the remaining time for the local search and the neighbourhood search.
SEARCH_SHARE, NEIGHBOURHOOD_SHARE = 0.05, 0.5
#: Share of the remaining time for the relaxed MIP (bound and second start).
RELAXED_SHARE = 0.2
#: Above this many arcs the relaxed bound is the priced LP's (from ``NEAREST`` arcs per item),
#: not the MIP's: at 12,000 accounts x 36 reps the MIP had no bound within its share.
LARGE_ARCS, NEAREST = 100_000, 12
#: Large maps (:func:`_guided_search`): most of the time left for the priced LP (it returns
#: when done; cut short, its bound is a weaker Lagrangian one), the share of the rest for the
#: flow model over the LP-guided arcs, and their reduced-cost threshold in units of the LP
#: bound per item (0.25: about 1.4 arcs per account on TX counties, K=36).
LP_SHARE, GUIDED_SHARE, GUIDE = 0.6, 0.6, 0.25
#: The same threshold for the neighbourhood search's small models (pairs, triples).
WIDER = 1.0
#: Longest single neighbourhood sub-problem solve (seconds).
GROUP_SECONDS = 10.0
#: Largest whole flow model (columns) worth building; beyond it only the relaxed bound is used.
MAX_FLOW_COLUMNS = 120_000
#: Seconds kept back from every solver call: HiGHS can overrun its time limit a little.
MARGIN = 0.5
#: Total relative row violation still counted as feasible (HiGHS's tolerances; the checker
#: allows 1e-6 relative per row).
ROW_TOL = 1e-6
#: Share of the whole budget kept back for overruns, building the result and the checker.
SAFETY = 0.08


class NoContiguousPlan(AllocatorError, RuntimeError):
    """Time ran out before a plan met every hard rule; ``assign`` is the best plan found
    (connected territories, some balance or capacity row violated), ``why`` says which."""

    def __init__(self, message: str, assign: IntArray, why: tuple[str, ...]) -> None:
        self.assign, self.why = assign, why
        super().__init__(message)


@dataclass(frozen=True)
class _Best:
    assign: IntArray
    violation: float
    objective: float


def solve_contiguous(
    problem: ArcProblem, solver: SolverSettings, *, deadline: float | None
) -> ArcSolution:
    """The best contiguous plan within ``deadline`` (absolute ``time.monotonic()``; None: the
    solver's time limit from now), with the best proven bound.

    Raises
    ------
    InfeasibleError
        Proven: by the graph analysis, by a unit above its band, or by the exact model.
    NoContiguousPlan
        Time ran out first; carries the best plan found.
    """
    began = time.monotonic()
    deadline = began + solver.time_limit if deadline is None else deadline
    deadline -= SAFETY * (deadline - began)  # HiGHS and the final check may overrun a little
    contiguity = problem.contiguity
    assert contiguity is not None
    graph, rows = search_inputs(problem, contiguity)
    graph_findings(problem, contiguity, graph, rows)  # raises InfeasibleError when proven
    best, bound = _search(problem, graph, rows, solver, deadline)
    report = None
    if _columns(graph) <= MAX_FLOW_COLUMNS and _left(deadline) > 1.0:
        best, report = _whole_model(problem, graph, rows, best, solver, deadline)
    if report is not None and report.bound is not None:
        bound = report.bound if bound is None else max(bound, report.bound)
    split = _broken(problem, graph, best.assign)
    if best.violation > ROW_TOL or violations(problem, best.assign) or split:
        _no_plan(problem, graph, rows, best, report, solver, began, deadline)
    return _solution(problem, best, bound, solver, time.monotonic() - began)


def _broken(problem: ArcProblem, graph: Graph, assign: IntArray) -> list[int]:
    """:func:`_broken_reps`, and the reps of a manager whose territories together are split
    (district_contiguity)."""
    assert problem.contiguity is not None
    out = set(_broken_reps(problem, graph, assign))
    split = set(split_districts(problem.contiguity, assign, problem.shape[1]))
    for manager, members in problem.contiguity.districts:
        if manager in split:
            out.update(members)
    return sorted(out)


def _broken_reps(problem: ArcProblem, graph: Graph, assign: IntArray) -> list[int]:
    """Reps whose territory is split or misses their home region (rules contiguity, home)."""
    assert problem.contiguity is not None
    out = set(disconnected_reps(problem.contiguity, assign, problem.shape[1]))
    for r, root in enumerate(graph.root.tolist()):
        if root >= 0 and not (assign[list(graph.items_in[root])] == r).any():
            out.add(r)
    return sorted(out)


def _left(deadline: float) -> float:
    return deadline - time.monotonic() - MARGIN


def _search(
    problem: ArcProblem, graph: Graph, rows: Rows, solver: SolverSettings, deadline: float
) -> tuple[_Best, float | None]:
    """Two connected starts (grown; the relaxed optimum repaired), the local search on each,
    then the neighbourhood search on the better; returns it with the relaxed bound. Beyond
    ``LARGE_ARCS`` arcs: :func:`_guided_search`."""
    if len(problem.all_arcs) > LARGE_ARCS:
        return _guided_search(problem, graph, rows, solver, deadline)
    rng = np.random.default_rng(0)
    best = _polish(graph, rows, _complete(graph, grow(graph, rows, rng)), deadline)
    bound, relaxed = _relaxed(problem, graph, solver, deadline)
    if relaxed is not None:
        start = grow(graph, rows, rng, start=connected_part(graph, relaxed))
        repaired = _polish(graph, rows, _complete(graph, start), deadline)
        if better((repaired.violation, repaired.objective), (best.violation, best.objective)):
            best = repaired
    log.info("contiguity: start %.4g violation, objective %.6g", best.violation, best.objective)
    share = NEIGHBOURHOOD_SHARE if _columns(graph) <= MAX_FLOW_COLUMNS else 1.0
    more = neighbourhood(
        graph,
        rows,
        best.assign,
        deadline=time.monotonic() + share * _left(deadline),
        solve_group=partial(_solve_group, graph, rows),
    )
    return _Best(more.assign, more.violation, more.objective), bound


def _complete(graph: Graph, assign: IntArray) -> IntArray:
    """Items growth could not reach (cut off by the home rule or eligibility) go to their
    cheapest eligible rep, so every plan is complete; such a plan is split and stays marked."""
    free = np.flatnonzero(assign < 0)
    if not len(free):
        return assign
    out = assign.copy()
    cost = np.where(graph.eligible[free], graph.cost[free], np.inf)
    out[free] = np.argmin(cost, axis=1)
    return out


def _polish(graph: Graph, rows: Rows, start: IntArray, deadline: float) -> _Best:
    found = improve(
        graph, rows, start, deadline=time.monotonic() + SEARCH_SHARE * _left(deadline), stall=10
    )
    return _Best(found.assign, found.violation, found.objective)


def _solve_group(
    graph: Graph,
    rows: Rows,
    assign: IntArray,
    reps: tuple[int, ...],
    penalty: float | None,
    seconds: float,
) -> IntArray | None:
    """The flow model of ``reps`` alone (the others keep their items), warm-started."""
    model = build_flow(graph, rows, assign, reps, penalty=penalty)
    warm = flow_start(model, graph, rows, assign)
    settings = SolverSettings(time_limit=max(seconds, 0.1), gap=1e-6, threads=1)
    report = solve(model.prob, settings, warm_start=warm, time_limit=min(seconds, GROUP_SECONDS))
    return read_flow(model, assign) if report.has_solution else None


def _columns(graph: Graph) -> int:
    arcs = int(graph.eligible.sum())
    degree = sum(len(n) for n in graph.neighbours) / max(len(graph.neighbours), 1)
    return int(arcs * (2 + degree))


def _relaxed(
    problem: ArcProblem, graph: Graph, solver: SolverSettings, deadline: float
) -> tuple[float | None, IntArray | None]:
    """Rows (1)-(7) with the home rule and without contiguity: its MIP bound is a bound of the
    contiguous problem, its plan (usually split) a start to repair."""
    relaxed = replace(problem, contiguity=None, eligible=graph.eligible, balance_cap=None)
    limit = max(RELAXED_SHARE * _left(deadline), 0.1)
    model = build_model(relaxed, relaxed.all_arcs, integer=True)
    report = solve(model.prob, solver, time_limit=limit)
    if report.status is Status.INFEASIBLE:
        on_perf_clock = deadline - time.monotonic() + time.perf_counter()  # diagnose's clock
        diagnosis = elastic_diagnosis(relaxed, relaxed.all_arcs, solver, deadline=on_perf_clock)
        raise InfeasibleError(
            f"{problem.name}: no assignment meets every hard rule even without contiguity; the "
            "elastic re-solve found:",
            diagnosis=diagnosis,
        )
    assign = read_assignment(model, *problem.shape) if report.has_solution else None
    if assign is not None and (assign < 0).any():
        assign = None
    return report.bound, assign


def _guided_search(
    problem: ArcProblem, graph: Graph, rows: Rows, solver: SolverSettings, deadline: float
) -> tuple[_Best, float | None]:
    """Large maps: the priced LP of rows (1)-(7) first (the bound, exact over all arcs; its
    plan; its reduced costs), its plan bridged (:func:`bridge`) and repaired, then the flow
    model of every rep over the LP-guided arcs (:func:`guided_graph`) warm-started with it,
    then the neighbourhood search over wider guided arcs (``WIDER``) for the time left."""
    relaxed = replace(problem, contiguity=None, eligible=graph.eligible, balance_cap=None)
    arcs = initial_arcs(relaxed, NEAREST)
    limit = time.perf_counter() + max(LP_SHARE * _left(deadline), 0.1)
    pricing = price_arcs(relaxed, arcs, solver, deadline=limit)
    bound = pricing.bound if pricing.priced else None
    plan = _lp_plan(problem, pricing)
    rng = np.random.default_rng(0)
    start = graph.first if plan is None else connected_part(graph, bridge(graph, rows, plan))
    start = _complete(graph, grow(graph, rows, rng, start=start))
    soon = _share(SEARCH_SHARE, deadline)
    found = improve(graph, rows, start, deadline=soon, pull=False, stall=0)
    best = _Best(found.assign, found.violation, found.objective)
    if best.violation > ROW_TOL:
        best = _polish(graph, rows, best.assign, deadline)
    log.info("contiguity: LP plan bridged, %.4g violation, %.6g", best.violation, best.objective)
    per_item = (bound if bound is not None else best.objective) / max(len(graph.region), 1)
    plans = [best.assign] + ([plan] if plan is not None else [])
    guided = guided_graph(graph, pricing.reduced, plans, GUIDE * per_item)
    best, _ = _whole_model(problem, guided, rows, best, solver, _share(GUIDED_SHARE, deadline))
    wider = guided_graph(graph, pricing.reduced, [best.assign, *plans], WIDER * per_item)
    more = neighbourhood(
        graph,
        rows,
        best.assign,
        deadline=deadline,
        solve_group=partial(_solve_group, wider, rows),
    )
    return _Best(more.assign, more.violation, more.objective), bound


def _share(share: float, deadline: float) -> float:
    return time.monotonic() + share * _left(deadline)


def _lp_plan(problem: ArcProblem, pricing: Pricing) -> IntArray | None:
    """Each item to the arc with its largest LP value (a split plan to repair), or None."""
    if not len(pricing.values):
        return None
    n, m = problem.shape
    items, reps = pricing.arcs // m, pricing.arcs % m
    order = np.lexsort((-pricing.values, items))
    first = order[np.r_[True, items[order][1:] != items[order][:-1]]]
    assign = np.full(n, -1, np.int64)
    assign[items[first]] = reps[first]
    return None if (assign < 0).any() else assign


def _whole_model(
    problem: ArcProblem,
    graph: Graph,
    rows: Rows,
    best: _Best,
    solver: SolverSettings,
    deadline: float,
) -> tuple[_Best, SolveReport]:
    """The flow model of every rep, warm-started with ``best`` when it meets every row."""
    reps = tuple(range(problem.shape[1]))
    assert problem.contiguity is not None
    split = _broken(problem, graph, best.assign)
    feasible = best.violation <= ROW_TOL and not split
    model = build_flow(graph, rows, best.assign, reps)
    warm = flow_start(model, graph, rows, best.assign) if feasible else None
    report = solve(model.prob, solver, warm_start=warm, time_limit=max(_left(deadline), 0.1))
    log.info(
        "contiguity: whole flow model %s, objective %s, bound %s",
        report.status.value,
        report.objective,
        report.bound,
    )
    if report.status is Status.INFEASIBLE:
        return best, report
    if report.has_solution:
        assign = read_flow(model, best.assign)
        v, z = PlanState(graph, rows, assign).totals()
        if v <= ROW_TOL and (not feasible or z < best.objective - 1e-9):
            best = _Best(assign, v, z)
    return best, report


def _no_plan(
    problem: ArcProblem,
    graph: Graph,
    rows: Rows,
    best: _Best,
    report: SolveReport | None,
    solver: SolverSettings,
    began: float,
    deadline: float,
) -> None:
    """Raise InfeasibleError when the exact model proved it, else NoContiguousPlan."""
    contiguity = problem.contiguity
    assert contiguity is not None
    split = [problem.reps[r] for r in _broken_reps(problem, graph, best.assign)]
    districts = split_districts(contiguity, best.assign, problem.shape[1])
    why = tuple(violations(problem, best.assign)) + tuple(f"contiguity[{r}]" for r in split)
    why += tuple(f"district_contiguity[{m}]" for m in districts)
    if report is not None and report.status is Status.INFEASIBLE:
        raise explain_tolerance(problem, graph, rows, best.assign, solver, deadline)
    seconds = time.monotonic() - began
    tol = (
        f"; it balances within +-{tolerance_of(rows, best.assign):.1%}" if any(rows.spread) else ""
    )
    raise NoContiguousPlan(
        f"{problem.name}: no plan with connected territories met every hard rule within "
        f"{seconds:.0f} s (not a proof: none was found in time); the best plan found breaks "
        f"{', '.join(why[:5])}{' ...' if len(why) > 5 else ''}{tol}. It is written, marked "
        "'time_limit_infeasible'; give solver.time_limit more time or widen the tolerance",
        best.assign,
        why,
    )


def _solution(
    problem: ArcProblem, best: _Best, bound: float | None, solver: SolverSettings, seconds: float
) -> ArcSolution:
    contiguity = problem.contiguity
    assert contiguity is not None
    assert not disconnected_reps(contiguity, best.assign, problem.shape[1])  # _broken saw to it
    value = objective(problem, best.assign)
    if bound is not None:
        bound = min(bound, value)
    gap = relative_gap(value, bound)
    proven = gap is not None and gap <= solver.gap + 1e-12
    report = SolveReport(
        status=Status.OPTIMAL if proven else Status.TIME_LIMIT,
        solver=solver.name,
        objective=value,
        bound=bound,
        gap=gap,
        seconds=seconds,
        has_solution=True,
        message="contiguous plan (construction, searches, flow model)",
    )
    return ArcSolution(
        assign=best.assign,
        report=report,
        model=None,
        lp_bound=bound,
        arcs=int(problem.eligible.sum()),
        priced=0,
        rounds=0,
        exact=True,
        cuts=(),
    )

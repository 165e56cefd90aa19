"""The dense arc model in OR-Tools CP-SAT, one worker: the constraint-programming peer.

CP-SAT needs integer coefficients. GAP data is integer, so its model is exact. Territory
data is not: every row family is scaled so that its largest coefficient is about
:data:`ROW_RESOLUTION`, and rounded *conservatively* (``<=`` rows: coefficients up, limit down;
``>=`` rows: the reverse), so every CP-SAT answer meets the original rows (the benchmark
re-checks it with the territory checker anyway). Costs are scaled to about
:data:`COST_RESOLUTION` and rounded; the objective a row reports is recomputed from the raw data
by the checker, never CP-SAT's rounded one. The trace's objectives are CP-SAT's, scaled back
(approximate for territory, exact for GAP).

Needs ``ortools`` (``pip install -e ".[bench]"``). Source: the CP-SAT primer (Krupke) and
OR-Tools' ``cp_model`` reference; ``num_workers=1`` is one search thread.
"""

from __future__ import annotations

import time

import numpy as np

from allocator.territory.core import ArcProblem, RowFamily
from benchmarks.naive import DenseRun

__all__ = ["solve_cpsat"]

#: Largest scaled row coefficient and largest scaled arc cost (integers CP-SAT can hold).
ROW_RESOLUTION, COST_RESOLUTION = 1e5, 1e7


def _integral(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) <= 1e-9))


def _scale(values: np.ndarray, resolution: float) -> float:
    """1 when ``values`` are integers already, else the factor that makes the largest one
    about ``resolution``."""
    top = float(np.max(np.abs(values))) if len(values) else 0.0
    return 1.0 if _integral(values) or top == 0 else resolution / top


def _rows(model, x, family: RowFamily, problem: ArcProblem, ii, rr, weights: list) -> None:
    """Add one family's rows; deviation rows get integer d+/d- whose weights go to ``weights``."""
    from ortools.sat.python import cp_model

    n, m = problem.shape
    coef = np.broadcast_to(family.coef, (n, m))[ii, rr].astype(float)
    rhs = family.rhs.astype(float)
    s = min(_scale(coef, ROW_RESOLUTION), _scale(rhs, ROW_RESOLUTION * 10))
    if _integral(coef) and _integral(rhs):
        s = 1.0
    up = family.sense == "<="
    scaled = np.ceil(coef * s - 1e-9) if up else np.floor(coef * s + 1e-9)
    limit = np.floor(rhs * s + 1e-9) if up else np.ceil(rhs * s - 1e-9)
    if family.sense == "==" or family.deviation is not None:
        scaled, limit = np.round(coef * s), np.round(rhs * s)
    row_of = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis]
    order = np.argsort(row_of, kind="stable")
    bounds = np.searchsorted(row_of[order], np.arange(len(rhs) + 1))
    for j in range(len(rhs)):
        members = order[bounds[j] : bounds[j + 1]]
        keep = members[scaled[members] != 0]
        expr = cp_model.LinearExpr.weighted_sum([x[k] for k in keep], scaled[keep].astype(int))
        if family.deviation is not None:
            big = int(np.abs(scaled).sum() + abs(limit[j])) + 1
            plus, minus = model.new_int_var(0, big, ""), model.new_int_var(0, big, "")
            expr = expr - plus + minus
            weight = float(family.deviation[j]) * problem.balance_weight / s
            weights += [(plus, weight), (minus, weight)]
        if family.sense == "<=":
            model.add(expr <= int(limit[j]))
        elif family.sense == ">=":
            model.add(expr >= int(limit[j]))
        else:
            model.add(expr == int(limit[j]))


def build_cpsat(problem: ArcProblem):
    """The CP-SAT model, its arc variables, the arcs, and the cost scale."""
    from ortools.sat.python import cp_model

    if problem.balance_cap is not None or problem.contiguity is not None:
        raise ValueError("CP-SAT peer: balance_cap and contiguity are not modelled")
    n, m = problem.shape
    arcs = problem.all_arcs
    ii, rr = arcs // m, arcs % m
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(len(arcs))]
    starts = np.searchsorted(ii, np.arange(n + 1))  # all_arcs is sorted by item
    for i in range(n):
        model.add_exactly_one(x[starts[i] : starts[i + 1]])
    weights: list = []
    for family in problem.families:
        _rows(model, x, family, problem, ii, rr, weights)
    cost = problem.cost[ii, rr]
    scale = _scale(np.concatenate([cost, [w for _, w in weights]]), COST_RESOLUTION)
    terms = [*x, *(v for v, _ in weights)]
    coefs = np.round(np.concatenate([cost, [w for _, w in weights]]) * scale).astype(int)
    model.minimize(cp_model.LinearExpr.weighted_sum(terms, coefs.tolist()))
    return model, x, arcs, scale


def solve_cpsat(problem: ArcProblem, *, time_limit: float, gap: float, threads: int) -> DenseRun:
    """Build the model and solve it with CP-SAT (``num_workers=threads``, relative gap ``gap``).

    ``time_limit`` is the wall time from the start of building; the solver gets what is left.
    """
    from ortools.sat.python import cp_model

    began = time.perf_counter()
    model, x, arcs, scale = build_cpsat(problem)
    built = time.perf_counter()
    trace: list[tuple[float, float]] = []

    class Incumbents(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            trace.append((time.perf_counter() - began, self.objective_value / scale))

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = int(threads)
    solver.parameters.max_time_in_seconds = max(time_limit - (built - began), 1.0)
    solver.parameters.relative_gap_limit = float(gap)
    status = solver.solve(model, Incumbents())
    solved = time.perf_counter()
    n, m = problem.shape
    assign = np.full(n, -1, np.int64)
    has = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if has:
        values = np.array([solver.boolean_value(v) for v in x])
        pick = arcs[values]
        assign[pick // m] = pick % m
    exact = scale == 1.0 and all(
        _integral(np.asarray(f.coef, float)) and _integral(f.rhs.astype(float))
        for f in problem.families
    )
    return DenseRun(
        assign=assign,
        objective=solver.objective_value / scale if has else None,
        bound=solver.best_objective_bound / scale if has and exact else None,
        status=solver.status_name(status),
        build_seconds=built - began,
        solve_seconds=solved - built,
        variables=len(arcs),
        trace=tuple(trace),
    )

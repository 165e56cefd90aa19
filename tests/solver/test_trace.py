"""The run's solution trace: solver incumbents and heuristic starts, into the plan's metrics."""

from __future__ import annotations

import json
import math

import pulp
import pytest

from allocator.io.settings import SolverSettings
from allocator.plan import Plan
from allocator.report.output import plan_metrics_json
from allocator.solver import solve
from allocator.solver.trace import note, run_trace, traced_as

BACKENDS = ["highs", "cbc"]


def knapsack() -> pulp.LpProblem:
    """max sum v x s.t. sum w x <= 20, x binary: a MIP with a known optimum of 42 (items 1-4)."""
    values, weights = [10, 13, 7, 12, 8, 1], [5, 6, 4, 5, 9, 8]
    prob = pulp.LpProblem("knapsack", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{i}", cat=pulp.LpBinary) for i in range(len(values))]
    prob += pulp.lpSum(v * xi for v, xi in zip(values, x, strict=True))
    prob += pulp.lpSum(w * xi for w, xi in zip(weights, x, strict=True)) <= 20, "room"
    return prob


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_mip_notes_its_incumbents_and_ends_on_the_reported_one(backend: str) -> None:
    settings = SolverSettings(name=backend, time_limit=10, gap=0.0, threads=1)
    with run_trace() as trace:
        report = solve(knapsack(), settings)
    points = trace.as_list()
    assert report.objective == pytest.approx(42)
    assert points, "no incumbent noted"
    assert {p["source"] for p in points} == {backend}
    assert points[-1]["objective"] == pytest.approx(report.objective, rel=1e-9)
    seconds = [p["seconds"] for p in points]
    assert seconds == sorted(seconds)


def test_nothing_is_noted_outside_a_trace_or_inside_a_muted_block() -> None:
    settings = SolverSettings(time_limit=10, gap=0.0, threads=1)
    solve(knapsack(), settings)  # no trace open: must not fail
    note(1.0, 0.5, "start")
    with run_trace() as trace:
        with traced_as(None):
            solve(knapsack(), settings)
        with traced_as("neighbourhood", bound=False):
            solve(knapsack(), settings)
    assert trace.points, "the labelled solve noted nothing"
    assert {p.source for p in trace.points} == {"neighbourhood"}
    assert all(p.bound is None for p in trace.points)


def test_an_lp_is_not_traced() -> None:
    prob = pulp.LpProblem("lp", pulp.LpMinimize)
    x = pulp.LpVariable("x", 0)
    prob += x
    prob += x >= 1, "c"
    with run_trace() as trace:
        solve(prob, SolverSettings(time_limit=10, threads=1))
    assert trace.points == []


def test_a_plan_trace_ends_on_the_plans_objective(small_plan: Plan) -> None:
    """Every point is a whole solution: none beats the answer, and the last one is it."""
    assert small_plan.assignment is not None
    reported = small_plan.assignment.report.objective
    assert reported is not None
    metrics = json.loads(json.dumps(plan_metrics_json(small_plan), default=str))
    trace = metrics["trace"]
    assert trace, "the plan's run noted no incumbent"
    assert {"seconds", "objective", "bound", "source"} <= set(trace[0])
    assert trace[-1]["objective"] == pytest.approx(reported, rel=1e-9)
    tol = 1e-6 * max(1.0, abs(reported))
    assert min(p["objective"] for p in trace) >= reported - tol
    assert all(0 <= p["seconds"] <= small_plan.seconds + 1 for p in trace)
    bounds = [p["bound"] for p in trace if p["bound"] is not None]
    assert all(b <= reported + tol for b in bounds if math.isfinite(b))

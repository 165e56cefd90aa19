"""The solver layer: one status enum, bound and gap after a time limit, duals with one sign."""

from __future__ import annotations

import random

import pulp
import pytest

from allocator.settings import SolverSettings
from allocator.solve import Status, relative_gap, solve

BACKENDS = ["highs", "cbc"]


def tiny_lp(sense: int) -> pulp.LpProblem:
    """max 3x + 2y s.t. x + 3y <= 6 (c2), x <= 3 (c3): optimum x=3, y=1, objective 11.

    Raising c2's right-hand side by one lets y grow by 1/3: the objective grows by 2/3.
    Raising c3's by one: x + 1, y - 1/3, the objective grows by 3 - 2/3 = 7/3.
    The minimisation variant negates the objective, so its duals are the negatives.
    """
    prob = pulp.LpProblem("tiny", sense)
    x, y = pulp.LpVariable("x", 0), pulp.LpVariable("y", 0)
    sign = 1 if sense == pulp.LpMaximize else -1
    prob += sign * (3 * x + 2 * y)
    prob += x + 3 * y <= 6, "c2"
    prob += x <= 3, "c3"
    prob += x + y <= 10, "slack_row"
    return prob


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sense", [pulp.LpMaximize, pulp.LpMinimize])
def test_duals_are_objective_change_per_unit_of_rhs(backend: str, sense: int) -> None:
    prob = tiny_lp(sense)
    report = solve(prob, SolverSettings(name=backend))
    sign = 1 if sense == pulp.LpMaximize else -1
    assert report.status is Status.OPTIMAL
    assert report.objective == pytest.approx(11 * sign)
    assert report.duals["c2"] == pytest.approx(sign * 2 / 3, abs=1e-6)
    assert report.duals["c3"] == pytest.approx(sign * 7 / 3, abs=1e-6)
    assert report.duals["slack_row"] == pytest.approx(0, abs=1e-9)
    # the dual predicts the re-solved objective when the rhs moves a little
    bumped = tiny_lp(sense)
    bumped.get_constraint_by_name("c2").constant -= 0.3  # rhs + 0.3
    again = solve(bumped, SolverSettings(name=backend))
    assert again.objective == pytest.approx(report.objective + 0.3 * report.duals["c2"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_is_reported_as_infeasible(backend: str) -> None:
    prob = pulp.LpProblem("bad", pulp.LpMinimize)
    x = pulp.LpVariable("x", 0, 1, cat="Integer")
    prob += x
    prob += x >= 2, "impossible"
    report = solve(prob, SolverSettings(name=backend))
    assert report.status is Status.INFEASIBLE
    assert not report.is_ok and report.objective is None


def hard_gap(n: int = 120, m: int = 6, seed: int = 3) -> pulp.LpProblem:
    """A tight random generalized assignment: not provable in a fraction of a second."""
    rng = random.Random(seed)
    prob = pulp.LpProblem("hard", pulp.LpMinimize)
    x = {(i, j): pulp.LpVariable(f"x_{i}_{j}", cat="Binary") for i in range(n) for j in range(m)}
    w = {k: rng.randint(5, 25) for k in x}
    prob += pulp.lpSum(rng.randint(10, 50) * v for v in x.values())
    for i in range(n):
        prob += pulp.lpSum(x[i, j] for j in range(m)) == 1, f"once_{i}"
    cap = 0.85 * sum(w.values()) / m / m
    for j in range(m):
        prob += pulp.lpSum(w[i, j] * x[i, j] for i in range(n)) <= cap, f"cap_{j}"
    return prob


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit_is_not_called_optimal(backend: str) -> None:
    prob = hard_gap()
    report = solve(prob, SolverSettings(name=backend, time_limit=0.5, gap=0.0))
    if report.status is Status.OPTIMAL:  # a fast machine proved it: then the bound must match
        assert report.gap == pytest.approx(0, abs=1e-4)
        return
    assert report.status is Status.TIME_LIMIT
    if report.has_solution:
        assert report.bound is not None and report.bound <= report.objective + 1e-6
        assert report.gap == pytest.approx(relative_gap(report.objective, report.bound))


def test_warm_start_is_accepted_and_kept_as_upper_bound() -> None:
    prob = hard_gap(n=60, m=5)
    first = solve(prob, SolverSettings(time_limit=5))
    assert first.has_solution
    start = {v.name: v.varValue for v in prob.variables()}
    again = solve(prob, SolverSettings(time_limit=0.2), warm_start=start)
    assert again.has_solution
    assert again.objective <= first.objective + 1e-6


def test_relative_gap() -> None:
    assert relative_gap(110.0, 100.0) == pytest.approx(10 / 110)
    assert relative_gap(None, 1.0) is None
    assert relative_gap(0.5, 0.0) == pytest.approx(0.5)


def test_changing_thread_count_between_solves_works() -> None:
    # HiGHS keeps one thread pool per process; a new count must not break the next solve
    for threads in (None, 1, 2, 1):
        prob = hard_gap(n=20, m=3)
        report = solve(prob, SolverSettings(threads=threads, time_limit=5))
        assert report.status is Status.OPTIMAL, (threads, report.message)

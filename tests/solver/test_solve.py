"""The solver layer: one status enum, bound and gap after a time limit, duals with one sign."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import numpy as np
import pulp
import pytest

from allocator.io.settings import SolverSettings
from allocator.solver import Status, relative_gap, solve
from allocator.territory.gap import GapInstance

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


# ---------------------------------------------------------------- the LP session from arrays


def test_array_session_duals_and_warm_added_columns() -> None:
    """min -3x - 2y (tiny_lp as arrays), then a column z (cost -4, 1 in c2) is added.

    Before: x=3, y=1, objective -11, duals of c2 and c3 -2/3 and -7/3 (as ``tiny_lp``).
    After: z earns 4 per unit of c2, more than x (3, and x also needs c3) or y (2/3): x=y=0,
    z=6, objective -24; the dual of c2 is -4, of c3 0.
    """
    from allocator.solver import ArrayColumns, HighsLpSession

    inf = float("inf")
    session = HighsLpSession(
        np.array([-inf, -inf, -inf]),
        np.array([6.0, 3.0, 10.0]),
        ["c2", "c3", "slack_row"],
        SolverSettings(threads=1),
    )
    cols = ArrayColumns(
        cost=np.array([-3.0, -2.0]),
        lower=np.zeros(2),
        upper=np.full(2, inf),
        starts=np.array([0, 3, 5]),
        index=np.array([0, 1, 2, 0, 2]),
        values=np.array([1.0, 1.0, 1.0, 3.0, 1.0]),
    )
    session.add_columns(cols)
    report, values, _ = session.run(10.0)
    assert report.status is Status.OPTIMAL
    assert report.objective == pytest.approx(-11.0)
    assert values == pytest.approx([3.0, 1.0])
    assert report.duals["c2"] == pytest.approx(-2 / 3)
    assert report.duals["c3"] == pytest.approx(-7 / 3)
    z = ArrayColumns(
        np.array([-4.0]),
        np.zeros(1),
        np.full(1, inf),
        np.array([0, 1]),
        np.array([0]),
        np.array([1.0]),
    )
    session.add_columns(z)
    report, values, _ = session.run(10.0)
    assert report.objective == pytest.approx(-24.0)
    assert values == pytest.approx([0.0, 0.0, 6.0])
    assert report.duals["c2"] == pytest.approx(-4.0)
    assert report.duals["c3"] == pytest.approx(0.0)


# ---------------------------------------------------------------- pricing out of time


def small_gap() -> tuple[GapInstance, float]:
    """3 agents x 8 jobs, seeded; the optimum by brute force over all 3^8 assignments."""
    rng = np.random.default_rng(9)
    cost = rng.integers(5, 40, size=(3, 8)).astype(float)
    weight = rng.integers(3, 12, size=(3, 8)).astype(float)
    capacity = np.array([26.0, 26.0, 26.0])
    instance = GapInstance("small", cost, weight, capacity)
    best = math.inf
    for combo in itertools.product(range(3), repeat=8):
        agent = np.array(combo)
        load = np.bincount(agent, weights=weight[agent, np.arange(8)], minlength=3)
        if (load <= capacity).all():
            best = min(best, float(cost[agent, np.arange(8)].sum()))
    return instance, best


@pytest.mark.parametrize("timeout_round", [1, 2])
def test_pricing_out_of_time_keeps_going_with_an_honest_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, timeout_round: int
) -> None:
    """The LP of round ``timeout_round`` 'runs out of time' (patched, so deterministic).

    Round 1: no LP finished, so no bound over all arcs is known: the answer is feasible, its
    bound None. Round 2: the Lagrangian bound of round 1 is kept (<= the optimum), and the
    reduced-cost check against it still makes the pruning exact: the optimum, 151.
    """
    from allocator.territory import pricing
    from allocator.territory.gap import check_gap, gap_problem
    from allocator.territory.solve_arcs import CoreOptions, solve_arcs

    instance, optimum = small_gap()
    calls = {"n": 0}
    run = pricing.ArcLp.run

    def timed_out(self: pricing.ArcLp, time_limit: float):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        report, values = run(self, time_limit)
        if calls["n"] >= timeout_round:
            return replace(report, status=Status.TIME_LIMIT, duals={}), values
        return report, values

    monkeypatch.setattr(pricing.ArcLp, "run", timed_out)
    solver = SolverSettings(threads=1, time_limit=10, gap=0.0)
    problem = gap_problem(instance, maximize=False)
    solution = solve_arcs(problem, CoreOptions(nearest=2), solver)
    assert calls["n"] == timeout_round  # the patched time-out happened, and pricing stopped there
    said = "no bound is known" if timeout_round == 1 else "pricing ran out of time"
    assert said in caplog.text
    problems, objective = check_gap(instance, solution.assign)
    assert not problems
    assert objective == pytest.approx(solution.report.objective)
    assert objective >= optimum - 1e-9
    if timeout_round == 1:
        assert solution.lp_bound is None
        assert solution.report.bound is None
    else:
        assert solution.lp_bound is not None
        assert solution.lp_bound <= optimum + 1e-6
        assert solution.report.bound is not None
        assert solution.report.bound <= optimum + 1e-6
        assert solution.exact
        assert objective == pytest.approx(optimum)


def test_mip_out_of_time_keeps_the_warm_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full MIP 'finds nothing' in its time (patched): the feasible warm start is the answer,
    reported as time_limit with the LP bound (<= the brute-force optimum 151) as its bound."""
    from allocator.solver import SolveReport
    from allocator.territory import solve_arcs as arcsolve
    from allocator.territory.gap import check_gap, gap_problem
    from allocator.territory.solve_arcs import CoreOptions, solve_arcs

    instance, optimum = small_gap()
    nothing = SolveReport(Status.TIME_LIMIT, "highs", None, None, None, 0.0, False)
    calls = {"n": 0}

    def out_of_time(*args: object, **kwargs: object) -> SolveReport:
        calls["n"] += 1
        return nothing

    monkeypatch.setattr(arcsolve, "solve", out_of_time)
    solver = SolverSettings(threads=1, time_limit=10, gap=0.0)
    solution = solve_arcs(gap_problem(instance, maximize=False), CoreOptions(nearest=2), solver)
    assert calls["n"] == 1
    problems, objective = check_gap(instance, solution.assign)
    assert not problems
    assert solution.report.status is Status.TIME_LIMIT
    assert objective == pytest.approx(solution.report.objective)
    assert objective >= optimum
    assert solution.report.bound is not None
    assert solution.report.bound <= optimum + 1e-6
    assert not solution.exact

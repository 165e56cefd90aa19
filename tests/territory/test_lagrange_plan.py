"""The plan from the Lagrangian ascent (:mod:`allocator.territory.lagrange_plan`), forced on
small sparse-path instances (``pairs.SPARSE_FROM`` and ``ASCENT_FROM`` set to 0).

The plan must satisfy every row (the public solve runs the independent checker), its bound
must be a true lower bound (at most the exact optimum of today's path), and the reported gap
must be the plan's distance to that bound. The Lagrangian choice at zero multipliers (each
account to its cheapest rep) overloads reps in the demo; the plan must still be feasible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.solver import Status
from allocator.territory import lagrange_plan, pairs
from allocator.territory.assignment import solve_assignment
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import activities, objective, violations
from allocator.territory.lagrange import ascend
from allocator.territory.pricing import initial_arcs
from allocator.territory.solve_arcs import CoreOptions, solve_arcs

EXACT = SolverSettings(threads=1, time_limit=60, gap=0.0)
PLAN = SolverSettings(threads=1, time_limit=8, gap=0.002)


def _company(seed: int = 5):
    tables = generate_company(accounts=400, reps=10, regions=12, products=2, seed=seed)
    block = demo_settings(tables)["assignment"]
    block["constraints"]["candidates"]["nearest"] = 4  # few candidates: the ascent adds arcs
    return tables, AssignmentSettings.model_validate(block)


def _problem(tables, settings, monkeypatch):
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    problem = territory_problem(tables, settings, build_territory(tables, settings))
    assert problem.lazy
    c = settings.constraints.candidates
    return problem, CoreOptions(nearest=c.nearest, price_out=c.price_out)


def _exact(problem, options) -> float:
    """Today's path (the threshold not reached): the proven optimum."""
    assert not lagrange_plan.ascent_path(problem, options)
    solution = solve_arcs(problem, options, EXACT)
    assert solution.exact and solution.report.status is Status.OPTIMAL
    assert "ascent" not in solution.report.message
    return float(solution.report.objective)


@pytest.mark.parametrize("seed", [5, 11])
def test_plan_is_feasible_and_its_bound_is_below_the_exact_optimum(monkeypatch, seed) -> None:
    tables, settings = _company(seed)
    problem, options = _problem(tables, settings, monkeypatch)
    optimum = _exact(problem, options)
    monkeypatch.setattr(lagrange_plan, "ASCENT_FROM", 0)
    assert lagrange_plan.ascent_path(problem, options)
    found = solve_arcs(problem, options, PLAN)
    report = found.report
    assert "ascent" in report.message and not found.exact
    assert violations(problem, found.assign) == []
    assert report.bound is not None and report.objective is not None
    assert report.bound <= optimum + 1e-6 * abs(optimum)
    assert report.objective >= optimum - 1e-6 * abs(optimum)
    assert report.gap == pytest.approx((report.objective - report.bound) / report.objective)
    within = report.objective - report.bound <= PLAN.gap * report.objective
    assert report.status is (Status.OPTIMAL if within else Status.TIME_LIMIT)
    # the public solve: the independent checker verifies every row and the objective
    result = solve_assignment(tables, settings, PLAN)
    assert result.report.objective == pytest.approx(report.objective, rel=0.02)
    assert result.report.bound <= optimum + 1e-6 * abs(optimum)


def test_an_overloading_lagrangian_choice_still_gives_a_feasible_plan(monkeypatch) -> None:
    tables, settings = _company()
    problem, options = _problem(tables, settings, monkeypatch)
    monkeypatch.setattr(lagrange_plan, "ASCENT_FROM", 0)
    stopped = []

    def at_zero(problem, arcs, duals, **kw):  # no step: the multipliers stay 0
        stopped.append(ascend(problem, arcs, duals, deadline=kw["deadline"], steps=0))
        return stopped[-1]

    monkeypatch.setattr(lagrange_plan, "ascend", at_zero)
    found = solve_arcs(problem, options, PLAN)
    assert stopped and not any(stopped[0].duals.values())
    n = problem.shape[0]
    cheapest = np.array(
        [int(np.argmin(np.where(problem.eligible[i], problem.cost[i], np.inf))) for i in range(n)]
    )
    capacity = next(f for f in problem.families if f.key == "capacity")
    assert (activities(problem, capacity, cheapest) > capacity.rhs).any()  # it overloads
    assert violations(problem, found.assign) == []
    assert found.report.bound == pytest.approx(stopped[0].bound)
    assert found.report.objective >= found.report.bound


def test_nothing_in_time_is_a_clear_error(monkeypatch) -> None:
    from allocator.exceptions import NoSolutionInTimeError

    tables, settings = _company()
    problem, options = _problem(tables, settings, monkeypatch)
    monkeypatch.setattr(lagrange_plan, "ASCENT_FROM", 0)
    monkeypatch.setattr(lagrange_plan, "_first_plan", lambda *a, **k: None)
    with pytest.raises(NoSolutionInTimeError, match="Lagrangian ascent"):
        solve_arcs(problem, options, PLAN)


def test_a_choice_that_breaks_no_hard_row_is_kept_as_it_is(monkeypatch) -> None:
    """Deviation rows are met by their deviation columns whatever the plan: a choice off the
    balance targets but within every hard row needs no repair (a repair that read the
    deviation family as an upper row once freed, at 20,000 x 200, 4,545 of its 4,723 items)."""
    from allocator.territory import repair

    tables, settings = _company(5)
    problem, options = _problem(tables, settings, monkeypatch)
    plan = solve_arcs(problem, options, EXACT).assign
    assert not violations(problem, plan)
    deviation = next(f for f in problem.families if f.deviation is not None)
    assert (activities(problem, deviation, plan) > deviation.rhs + 1e-6).any(), "off target"
    assert not repair.excess(problem, plan)[0].any()
    n, m = problem.shape
    arcs = np.union1d(initial_arcs(problem, 4), np.arange(n) * m + plan)
    kept = repair.repair(problem, plan, arcs, PLAN, math.inf)
    np.testing.assert_array_equal(kept, plan)


def test_the_first_ascent_stops_on_its_stall_not_only_at_its_share(monkeypatch) -> None:
    """The first ascent gets ``stall = STALL x solver.gap``, so it ends when its bound stops
    rising instead of always spending ASCENT_SHARE of the time limit; a later ascent (towards
    the plan) has a target instead."""
    tables, settings = _company()
    problem, options = _problem(tables, settings, monkeypatch)
    monkeypatch.setattr(lagrange_plan, "ASCENT_FROM", 0)
    calls = []

    def recorded(problem, arcs, duals, **kw):
        calls.append(kw)
        return ascend(problem, arcs, duals, **kw)

    monkeypatch.setattr(lagrange_plan, "ascend", recorded)
    found = solve_arcs(problem, options, PLAN)
    assert violations(problem, found.assign) == []
    assert calls[0]["stall"] == pytest.approx(lagrange_plan.STALL * PLAN.gap)
    assert all("stall" not in kw for kw in calls[1:])


def test_a_first_plan_far_from_its_bound_sends_the_ascent_on_and_keeps_the_better_plan(
    monkeypatch,
) -> None:
    """RETRY 0: any first plan above its bound is far; the ascent goes on from the first
    ascent's multipliers with a tighter stall, the choice is repaired again, and the answer is
    no worse than the first plan, feasible, with a bound at least the first ascent's."""
    tables, settings = _company()
    problem, options = _problem(tables, settings, monkeypatch)
    monkeypatch.setattr(lagrange_plan, "ASCENT_FROM", 0)
    monkeypatch.setattr(lagrange_plan, "RETRY", 0.0)
    calls, plans = [], []

    def recorded(problem, arcs, duals, **kw):
        calls.append((duals, kw, ascend(problem, arcs, duals, **kw)))
        return calls[-1][2]

    real_first = lagrange_plan._first_plan

    def first_plan(*args, **kw):
        plans.append(real_first(*args, **kw))
        return plans[-1]

    monkeypatch.setattr(lagrange_plan, "ascend", recorded)
    monkeypatch.setattr(lagrange_plan, "_first_plan", first_plan)
    roomy = SolverSettings(threads=1, time_limit=60, gap=PLAN.gap)  # time for the retry
    found = solve_arcs(problem, options, roomy)
    assert len(calls) >= 2 and len(plans) == 2
    duals, kw, _ = calls[1]
    assert duals == calls[0][2].duals
    assert kw["stall"] == pytest.approx(lagrange_plan.AGAIN * lagrange_plan.STALL * roomy.gap)
    assert violations(problem, found.assign) == []
    first_value = objective(problem, plans[0])
    assert found.report.objective <= first_value + 1e-6
    assert found.report.bound >= calls[0][2].bound - 1e-6

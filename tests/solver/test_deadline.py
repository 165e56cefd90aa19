"""The run's time budget: one deadline, each solver call gets what is left (issue 14).

No assertion here is about how long anything takes: the tests check which limits the calls were
given, against the deadline they were given under.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pulp
import pytest

import allocator.solver as solver_layer
from allocator.io.scenario import load_scenario
from allocator.io.settings import SolverSettings
from allocator.plan import solve_scenario
from allocator.solver import LP_FLOOR, SolveReport, Status, solve
from allocator.solver.deadline import (
    MAX_MARGIN_SHARE,
    MIN_MARGIN,
    Overruns,
    call_limit,
    current_deadline,
    deadline_after,
    run_deadline,
    time_left,
)
from allocator.solver.highs import HighsLpSession


def _mip() -> pulp.LpProblem:
    prob = pulp.LpProblem("tiny", pulp.LpMinimize)
    x = [prob.add_variable(f"x{i}", 0, 1, pulp.LpInteger) for i in range(3)]
    prob += pulp.lpSum(x) >= 2, "two"
    prob.setObjective(pulp.lpSum((i + 1) * v for i, v in enumerate(x)))
    return prob


def _lp() -> pulp.LpProblem:
    prob = pulp.LpProblem("tiny_lp", pulp.LpMinimize)
    x = prob.add_variable("x", 0, 10)
    prob += x >= 3, "floor"
    prob.setObjective(pulp.LpAffineExpression([(x, 1.0)]))
    return prob


def test_call_limit_is_what_is_left_less_the_margin() -> None:
    assert call_limit(None) == math.inf
    assert call_limit(None, cap=5.0) == 5.0
    deadline = deadline_after(100.0)
    limit = call_limit(deadline)
    assert 100.0 - MAX_MARGIN_SHARE * 100.0 <= limit <= 100.0 - MIN_MARGIN
    assert call_limit(deadline, cap=3.0) == 3.0
    assert call_limit(time.monotonic() - 1.0) == 0.0
    assert time_left(None) == math.inf and deadline_after(None) is None


def test_the_margin_grows_with_the_worst_overrun_and_stays_bounded() -> None:
    runs = Overruns()
    assert runs.margin(100.0) == MIN_MARGIN
    assert runs.record(limit=2.0, seconds=1.5) == 0.0
    assert runs.record(limit=2.0, seconds=5.0) == 3.0
    assert runs.margin(100.0) == 3.0  # the worst overrun seen
    assert runs.margin(5.0) == MAX_MARGIN_SHARE * 5.0  # never more than a share of what is left
    assert runs.snapshot() == {"calls": 2, "overran": 1, "worst_s": 3.0, "total_s": 3.0}


def test_run_deadlines_nest_and_the_earlier_one_wins() -> None:
    assert current_deadline() is None
    with run_deadline(100.0):
        assert current_deadline() == 100.0
        with run_deadline(200.0):
            assert current_deadline() == 100.0
        with run_deadline(50.0):
            assert current_deadline() == 50.0
        assert current_deadline() == 100.0
    assert current_deadline() is None


def test_a_spent_budget_skips_a_mip_but_an_lp_still_gets_its_floor() -> None:
    settings = SolverSettings(threads=1)
    spent = time.monotonic() - 1.0
    report = solve(_mip(), settings, deadline=spent)
    assert report.status is Status.TIME_LIMIT and not report.has_solution
    assert report.time_limit == 0.0
    lp = _lp()
    report = solve(lp, settings, deadline=spent)
    assert report.status is Status.OPTIMAL and report.objective == pytest.approx(3.0)
    assert report.time_limit == LP_FLOOR


def test_a_report_records_its_limit_and_overrun() -> None:
    report = solve(_mip(), SolverSettings(threads=1, time_limit=7.0))
    assert report.status is Status.OPTIMAL and report.objective == pytest.approx(3.0)
    assert report.time_limit == 7.0
    assert report.overrun == max(0.0, report.seconds - 7.0)


def test_inside_a_run_a_call_gets_what_is_left_not_the_whole_limit() -> None:
    with run_deadline(deadline_after(30.0)):
        time.sleep(0.05)
        report = solve(_mip(), SolverSettings(threads=1, time_limit=30.0))
    assert report.time_limit is not None and report.time_limit < 30.0 - MIN_MARGIN


def test_every_solver_call_of_a_run_fits_in_its_deadline(
    small_company: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old code gave each call the whole solver.time_limit; now no call may end past the
    run's deadline (LPs may take their floor)."""
    calls: list[tuple[float, float, float | None, bool]] = []
    solve_highs, session_run = solver_layer.solve_highs, HighsLpSession.run

    def record(prob: pulp.LpProblem, settings: Any, warm: Any, limit: float) -> SolveReport:
        calls.append((time.monotonic(), limit, current_deadline(), solver_layer._is_lp(prob)))
        return solve_highs(prob, settings, warm, limit)

    def record_session(self: HighsLpSession, time_limit: float) -> Any:
        calls.append((time.monotonic(), time_limit, current_deadline(), True))
        return session_run(self, time_limit)

    monkeypatch.setattr(solver_layer, "solve_highs", record)
    monkeypatch.setattr(HighsLpSession, "run", record_session)
    scenario = load_scenario(small_company).replace({"solver.time_limit": 40, "solver.threads": 1})
    plan = solve_scenario(scenario)
    assert plan.quotas is not None and len(calls) >= 3
    deadlines = {d for *_, d, _ in calls}
    assert len(deadlines) == 1 and None not in deadlines  # one deadline for the whole run
    (deadline,) = deadlines
    for now, limit, _, is_lp in calls:
        allowed = max(deadline - now, LP_FLOOR) if is_lp else deadline - now
        assert limit <= allowed + 1e-9
    budget = plan.metrics()["time_budget"]
    assert budget["limit_s"] == 40 and budget["used_s"] == round(plan.seconds, 3)
    assert set(budget["solver_calls_in_process"]) == {"calls", "overran", "worst_s", "total_s"}

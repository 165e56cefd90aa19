"""The repair of a plan that breaks rows (:mod:`allocator.territory.repair`): the ascent's
first plan at scale. Every repaired plan is checked row by row (``violations``) and its
objective recomputed from the raw terms; the excess is checked against a hand computation."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.territory import moves, pairs, repair
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import (
    ArcProblem,
    RowFamily,
    activities,
    objective_terms,
    violations,
)
from allocator.territory.lagrange import ascend
from allocator.territory.lagrange_plan import _prices
from allocator.territory.pricing import initial_arcs

SOLVER = SolverSettings(threads=1, time_limit=30, gap=0.002)


def _problem(monkeypatch, accounts=2000, reps=40, seed=1):
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    tables = generate_company(accounts=accounts, reps=reps, regions=40, products=2, seed=seed)
    block = demo_settings(tables)["assignment"]
    block["constraints"]["candidates"]["nearest"] = 4
    settings = AssignmentSettings.model_validate(block)
    problem = territory_problem(tables, settings, build_territory(tables, settings))
    assert problem.lazy
    return problem


def _choice(problem, steps=20):
    """The Lagrangian choice after ``steps`` ascent steps, its reduced costs and arcs."""
    n, m = problem.shape
    arcs = initial_arcs(problem, 4, per_rep=-(-2 * n // m))
    asc = ascend(problem, arcs, None, deadline=math.inf, steps=steps)
    reduced, _, best, _ = _prices(problem, asc)
    return best, reduced, asc.arcs


def _value(problem, plan) -> float:
    return sum(objective_terms(problem, plan).values())


def test_excess_is_each_rows_overshoot_in_units_of_its_limit(monkeypatch) -> None:
    problem = _problem(monkeypatch)
    best, _, _ = _choice(problem)
    per_rep, single = repair.excess(problem, best)
    m = problem.shape[1]
    expected, one = np.zeros(m), 0.0
    for family in problem.families:
        if family.deviation is not None:
            continue
        act = activities(problem, family, best)
        over = act - family.rhs if family.sense == "<=" else family.rhs - act
        over = np.maximum(over, 0.0) / np.maximum(np.abs(family.rhs), 1.0)
        if family.axis == "rep":
            expected += over
        else:
            one += float(over.sum())
    np.testing.assert_allclose(per_rep, expected, atol=1e-9)
    assert single == pytest.approx(one, abs=1e-9)
    names = [
        v.split("[")[1].rstrip("]").split(",")[0] for v in violations(problem, best) if "[" in v
    ]
    broken = set(names)
    assert broken, "the choice after 20 steps breaks rows"
    assert {problem.reps[r] for r in np.flatnonzero(per_rep > 0)} == broken


def test_shift_repairs_the_lagrangian_choice_by_single_moves_and_swaps(monkeypatch) -> None:
    problem = _problem(monkeypatch)
    best, reduced, arcs = _choice(problem)
    before = sum(repair.excess(problem, best)[0])
    fixed = moves.shift(problem, best, arcs, reduced)
    assert before > 0 and violations(problem, fixed) == []
    n, m = problem.shape
    assert np.isin(np.arange(n) * m + fixed, arcs).all(), "moves along candidate arcs only"
    assert (fixed != best).sum() < 0.1 * n, "a repair, not a new plan"


def test_each_move_lowers_the_excess(monkeypatch) -> None:
    """Cut off after k moves, the excess never grows with k."""
    problem = _problem(monkeypatch)
    best, reduced, arcs = _choice(problem)
    seen = []
    for k in (0, 1, 2, 4, 8, 16, 32):
        plan = moves.shift(problem, best, arcs, reduced, moves=k)
        seen.append(sum(repair.excess(problem, plan)[0]) + repair.excess(problem, plan)[1])
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(seen))
    assert seen[-1] < seen[0]


def test_windows_repair_what_no_move_is_allowed_to(monkeypatch) -> None:
    """With the moves switched off, the elastic MIP windows alone give a plan meeting every
    row; the seed's window grows when it repairs nothing."""
    problem = _problem(monkeypatch)
    best, reduced, arcs = _choice(problem)
    monkeypatch.setattr(repair, "WINDOW", 300)
    plan = repair.repair(problem, best, arcs, SOLVER, math.inf, cost=reduced, moves=0)
    assert plan is not None and violations(problem, plan) == []
    n, m = problem.shape
    assert np.isin(np.arange(n) * m + plan, arcs).all()


def test_the_elastic_mip_never_ends_worse_than_its_start(monkeypatch) -> None:
    """Its start (broken rows and all) is feasible for it: HiGHS's answer costs at most as
    much, slack penalty included, and its plan breaks the rows less."""
    problem = _problem(monkeypatch, accounts=400, reps=10, seed=5)
    best, _, arcs = _choice(problem, steps=0)
    assert sum(repair.excess(problem, best)[0]) > 0
    penalty = repair.PENALTY * _value(problem, best) / problem.shape[1]
    plan = repair.elastic_mip(problem, arcs, best, SOLVER, penalty, 10.0)
    assert plan is not None

    def merit(p):
        per_rep, single = repair.excess(problem, p)
        return _value(problem, p) + penalty * (per_rep.sum() + single)

    assert merit(plan) <= merit(best) + 1e-6 * abs(merit(best))
    assert sum(repair.excess(problem, plan)[0]) < sum(repair.excess(problem, best)[0])


def _two_reps(capacity=(10.0, 10.0), cost=None) -> ArcProblem:
    """Rep 0 holds items of weight 6 and 5 (capacity 10: one over); rep 1 holds 4 and 5 (one
    under). Each single move overloads the other rep; swapping the 5 for the 4 fits both."""
    weight = np.array([[6.0, 6.0], [5.0, 5.0], [4.0, 4.0], [5.0, 5.0]])
    capacity = RowFamily(
        "capacity", "capacity", "rep", weight, "<=", np.array(capacity), ("a", "b"), True
    )
    cost = np.ones((4, 2)) if cost is None else cost
    return ArcProblem(
        items=("i0", "i1", "i2", "i3"),
        reps=("a", "b"),
        eligible=np.ones((4, 2), bool),
        terms={"cost": cost},
        families=(capacity,),
        rank=cost,
        keep=np.zeros((4, 2), bool),
    )


def test_a_swap_repairs_what_no_single_move_can() -> None:
    problem = _two_reps()
    plan = np.array([0, 0, 1, 1])
    assert violations(problem, plan) == ["capacity[a]"]
    fixed = moves.shift(problem, plan, np.arange(8), problem.cost)
    assert violations(problem, fixed) == []
    assert sorted(np.flatnonzero(fixed != plan) // 2) == [0, 1], "one item each way"


def test_windows_give_up_when_none_repairs_anything(monkeypatch) -> None:
    """No window finds anything (the MIP patched out): the repair says so at the largest
    window instead of trying forever."""
    problem = _two_reps()
    monkeypatch.setattr(repair, "elastic_mip", lambda *a, **k: None)
    plan = np.array([0, 0, 1, 1])
    assert repair.repair(problem, plan, np.arange(8), SOLVER, math.inf, moves=0) is None


def test_no_time_left_is_none(monkeypatch) -> None:
    problem = _problem(monkeypatch)
    best, reduced, arcs = _choice(problem)
    assert repair.repair(problem, best, arcs, SOLVER, 0.0, cost=reduced, moves=0) is None


def test_improve_ends_at_a_plan_no_single_move_improves(monkeypatch) -> None:
    """From the repaired choice, the improvement keeps every row and lowers the objective,
    and ends where no move of one item along the arcs (checked by brute force, objective
    recomputed from the raw terms and deviation rows) lowers it and keeps every row."""
    problem = _problem(monkeypatch, accounts=400, reps=10, seed=5)
    best, reduced, arcs = _choice(problem)
    start = repair.repair(problem, best, arcs, SOLVER, math.inf, cost=reduced)
    assert start is not None and violations(problem, start) == []
    plan = moves.improve(problem, start, arcs)
    assert violations(problem, plan) == []
    assert _value(problem, plan) < _value(problem, start) - 1.0
    m = problem.shape[1]
    value = _value(problem, plan)
    for arc in arcs.tolist():
        i, r = divmod(arc, m)
        if plan[i] == r:
            continue
        other = plan.copy()
        other[i] = r
        if not violations(problem, other):
            assert _value(problem, other) >= value - 1e-6 * abs(value), (i, r)


def test_improve_moves_an_item_only_where_it_fits() -> None:
    """Items i0 and i2 (weights 6 and 4) are both cheaper at rep b, which has room 4: i2
    moves there, i0 would overload it and stays."""
    cost = np.array([[5.0, 1.0], [1.0, 1.0], [5.0, 1.0], [1.0, 1.0]])
    problem = _two_reps(capacity=(10.0, 14.0), cost=cost)
    start = np.array([0, 1, 0, 1])  # a: 6 + 4 = 10, b: 5 + 5 = 10
    assert violations(problem, start) == []
    plan = moves.improve(problem, start, np.arange(8))
    np.testing.assert_array_equal(plan, [0, 1, 1, 1])
    full = _two_reps(capacity=(10.0, 10.0), cost=cost)  # no room at b: nothing moves
    np.testing.assert_array_equal(moves.improve(full, start, np.arange(8)), start)
    moved = (np.arange(2)[None, :] != start[:, None]).astype(float)  # 1 off the start's rep
    limit = RowFamily("max_moved", "max_moved", "one", moved, "<=", np.array([0.0]), ("",), True)
    frozen = replace(problem, families=(*problem.families, limit))  # no move allowed at all
    np.testing.assert_array_equal(moves.improve(frozen, start, np.arange(8)), start)

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
    objective,
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
    reduced, _, best = _prices(problem, asc)
    return best, reduced, asc.arcs


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
    penalty = repair.PENALTY * objective(problem, best) / problem.shape[1]
    plan = repair.elastic_mip(problem, arcs, best, SOLVER, penalty, 10.0)
    assert plan is not None

    def merit(p):
        per_rep, single = repair.excess(problem, p)
        return objective(problem, p) + penalty * (per_rep.sum() + single)

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


def test_windows_grow_then_give_up_when_none_repairs_anything(monkeypatch) -> None:
    """No window finds anything (the MIP patched out): the seed's window doubles up to its
    largest, and then the repair says so instead of trying forever."""
    problem = _two_reps()
    monkeypatch.setattr(repair, "elastic_mip", lambda *a, **k: None)
    sizes = []
    window = repair._bfs_window
    monkeypatch.setattr(repair, "_bfs_window", lambda *a: sizes.append(a[3]) or window(*a))
    plan = np.array([0, 0, 1, 1])
    assert repair.repair(problem, plan, np.arange(8), SOLVER, math.inf, moves=0) is None
    assert sizes == [1000, 2000, 4000, 8000, 16000, 24000]


def test_no_time_left_is_none(monkeypatch) -> None:
    """``solver.time_limit`` bounds the whole run: past the deadline the moves stop too."""
    problem = _problem(monkeypatch)
    best, reduced, arcs = _choice(problem)
    np.testing.assert_array_equal(moves.shift(problem, best, arcs, reduced, deadline=0.0), best)
    assert repair.repair(problem, best, arcs, SOLVER, 0.0, cost=reduced) is None
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
    assert objective(problem, plan) < objective(problem, start) - 1.0
    m = problem.shape[1]
    value = objective(problem, plan)
    for arc in arcs.tolist():
        i, r = divmod(arc, m)
        if plan[i] == r:
            continue
        other = plan.copy()
        other[i] = r
        if not violations(problem, other):
            assert objective(problem, other) >= value - 1e-6 * abs(value), (i, r)


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


def _toy(seed: int = 3):
    """30 items, 4 reps, weights that depend on the rep (as in GAP), a capacity and a floor
    per rep, and a ``max_moved`` row over every arc; a random plan that breaks them."""
    rng = np.random.default_rng(seed)
    n, m = 30, 4
    weight = rng.uniform(1, 10, (n, m))
    share = weight.mean() * n / m
    reps = tuple("abcd")
    cap = RowFamily(
        "capacity", "capacity", "rep", weight, "<=", np.full(m, 0.95 * share), reps, True
    )
    floor = RowFamily("floor", "floor", "rep", weight, ">=", np.full(m, 0.7 * share), reps, True)
    incumbent = rng.integers(0, m, n)
    moved = (np.arange(m)[None, :] != incumbent[:, None]).astype(float)
    limit = RowFamily("max_moved", "max_moved", "one", moved, "<=", np.array([8.0]), ("",), True)
    cost = rng.uniform(0, 5, (n, m))
    problem = ArcProblem(
        items=tuple(f"i{i}" for i in range(n)),
        reps=reps,
        eligible=np.ones((n, m), bool),
        terms={"cost": cost},
        families=(cap, floor, limit),
        rank=cost,
        keep=np.zeros((n, m), bool),
    )
    return problem, rng.integers(0, m, n), rng


def _total(problem, plan) -> float:
    per_rep, single = repair.excess(problem, plan)
    return float(per_rep.sum() + single)


def test_excess_of_a_single_row_is_its_overshoot_in_units_of_its_limit() -> None:
    problem, plan, _ = _toy()
    limit = problem.families[2]
    over = activities(problem, limit, plan)[0] - 8.0
    assert over > 0, "the random plan moves more than 8 items"
    assert repair.excess(problem, plan)[1] == pytest.approx(over / 8.0)


def test_delta_of_a_batch_of_moves_is_the_recounted_change_of_the_excess() -> None:
    """Moves of three items at once (two changes may hit one rep) against a recount."""
    problem, plan, rng = _toy()
    rows = moves._Rows(problem, plan)
    items = rng.choice(30, (200, 3))
    items = items[[len(set(r)) == 3 for r in items]]
    dest = rng.integers(0, 4, items.shape)
    changes = []
    for j in range(3):
        src = plan[items[:, j]]
        changes.append((src, [-c for c in rows.coef(items[:, j], src)]))
        changes.append((dest[:, j], rows.coef(items[:, j], dest[:, j])))
    predicted = rows.delta(changes)
    for k in range(len(items)):
        after = plan.copy()
        after[items[k]] = dest[k]
        assert predicted[k] == pytest.approx(
            _total(problem, after) - _total(problem, plan), abs=1e-12
        )


def test_moves_keep_activities_costs_and_coefficients_in_step() -> None:
    """300 random moves (items moving more than once): every array :func:`shift` keeps
    equals a recount from the plan."""
    problem, plan, rng = _toy()
    arcs = np.arange(30 * 4)
    state = moves._Moves(problem, plan, arcs, problem.cost)
    for k in rng.integers(0, len(arcs), 300).tolist():
        if state.rr[k] != state.src[k]:
            state.make(k)
    here = state.plan[state.ii]
    np.testing.assert_array_equal(state.src, here)
    np.testing.assert_allclose(state.here_cost, problem.cost[state.ii, here])
    for q, family in enumerate(state.rows.fams):
        np.testing.assert_allclose(state.rows.act[q], activities(problem, family, state.plan))
        np.testing.assert_allclose(state.from_coef[q], family.coef[state.ii, here])


def test_shift_makes_the_cheapest_repairing_move() -> None:
    """Rep a is one over; moving i0 (6) or i1 (5) to b repairs it; i1's move costs less."""
    cost = np.array([[1.0, 4.0], [1.0, 3.0], [1.0, 1.0], [1.0, 1.0]])
    problem = _two_reps(capacity=(10.0, 20.0), cost=cost)
    fixed = moves.shift(problem, np.array([0, 0, 1, 1]), np.arange(8), problem.cost)
    np.testing.assert_array_equal(fixed, [0, 1, 1, 1])


def test_the_elastic_start_meets_every_row_and_costs_its_excess() -> None:
    """The warm start of the elastic MIP is feasible for it, and its objective is the plan's
    cost plus the penalty times its excess (the slacks are the rows' overshoots)."""
    import scipy.sparse as sp

    from allocator.territory import arc_mip

    problem, plan, _ = _toy()
    arcs = np.arange(30 * 4)
    h, first = arc_mip._build(problem, arcs, SOLVER, 5.0, 7.0)
    x = np.array(arc_mip._start(problem, arcs, plan, first, elastic=True).col_value)
    lp = h.getLp()
    a = lp.a_matrix_
    shape = (lp.num_row_, lp.num_col_)
    act = sp.csc_matrix((a.value_, a.index_, a.start_), shape=shape) @ x
    assert (act >= np.array(lp.row_lower_) - 1e-9).all()
    assert (act <= np.array(lp.row_upper_) + 1e-9).all()
    expected = objective(problem, plan) + 7.0 * _total(problem, plan)
    assert float(np.dot(lp.col_cost_, x)) == pytest.approx(expected)


def test_a_window_that_breaks_rows_more_is_not_kept(monkeypatch) -> None:
    """A window's answer replaces the plan only when the total excess falls."""
    problem = _two_reps()
    start = np.array([0, 0, 1, 1])
    fixed = np.array([0, 1, 0, 1])
    calls = []

    def window(problem, plan, *a, **k):
        calls.append(plan.copy())
        if len(calls) == 1:
            return np.array([0, 0, 0, 1])  # rep a 15 over 10: worse
        return fixed if (plan == start).all() else None

    monkeypatch.setattr(repair, "window_mip", window)
    plan = repair.repair(problem, start, np.arange(8), SOLVER, math.inf, moves=0)
    np.testing.assert_array_equal(plan, fixed)
    np.testing.assert_array_equal(calls[1], start)


def test_a_soft_equality_row_is_refused_because_its_slack_would_be_one_way() -> None:
    with pytest.raises(ValueError, match="one-way slack"):
        RowFamily("x", "x", "one", np.ones(1), "==", np.ones(1), ("",), soft=True)

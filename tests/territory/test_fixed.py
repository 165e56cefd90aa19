"""The problem over some items with the others fixed (:mod:`allocator.territory.fixed`): every
row of it, with the fixed items added back, is the whole problem's row; its costs are the
whole problem's (or the ones given); and fixing items at an optimal plan leaves the rest of
that plan optimal, on the dense and the sparse path."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.solver import Status
from allocator.territory import pairs
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import activities, objective_terms
from allocator.territory.fixed import fix_items, to_part, to_whole
from allocator.territory.solve_arcs import CoreOptions, solve_arcs

EXACT = SolverSettings(threads=1, time_limit=60, gap=0.0)


def _problem(seed: int, sparse: bool, monkeypatch):
    tables = generate_company(accounts=300, reps=8, regions=10, products=2, seed=seed)
    settings = AssignmentSettings.model_validate(demo_settings(tables)["assignment"])
    if sparse:
        monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    return territory_problem(tables, settings, build_territory(tables, settings))


def _eligible_plan(problem, rng) -> np.ndarray:
    """A random rep per item among its eligible ones (rows may break: they are compared)."""
    n = problem.shape[0]
    ok = np.asarray(problem.eligible[np.arange(n)], bool)
    return np.array([rng.choice(np.flatnonzero(row)) for row in ok])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("seed", [1, 2])
def test_rows_and_costs_are_the_whole_problems_with_the_fixed_items_added_back(
    seed, sparse, monkeypatch
) -> None:
    problem = _problem(seed, sparse, monkeypatch)
    n, m = problem.shape
    rng = np.random.default_rng(seed)
    free = rng.random(n) < 0.3
    fixed_at, plan = _eligible_plan(problem, rng), _eligible_plan(problem, rng)
    sub = fix_items(problem, free, fixed_at)
    whole = np.where(free, plan, fixed_at)
    assert sub.shape == (int(free.sum()), m)
    for part, family in zip(sub.families, problem.families, strict=True):
        assert [part.pulp_name(j) for j in range(len(part.rhs))] == [
            family.pulp_name(j) for j in range(len(family.rhs))
        ]
        slack_sub = part.rhs - activities(sub, part, plan[free])
        slack_whole = family.rhs - activities(problem, family, whole)
        np.testing.assert_allclose(slack_sub, slack_whole, rtol=1e-9, atol=1e-6)
    items = np.flatnonzero(free)
    rr = rng.integers(0, m, len(items))
    np.testing.assert_allclose(
        np.asarray(sub.cost[np.arange(len(items)), rr], float),
        np.asarray(problem.cost[items, rr], float),
    )
    arcs = np.arange(len(items)) * m + rr
    np.testing.assert_array_equal(to_whole(arcs, free, m), items * m + rr)
    np.testing.assert_array_equal(to_part(items * m + rr, free, m), arcs)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_fixing_items_at_an_optimal_plan_leaves_the_rest_of_it_optimal(sparse, monkeypatch) -> None:
    """The sub-problem's optimum plus the fixed items' costs is the whole optimum (same
    objective terms, balance included), and the plan of the free items is feasible."""
    problem = _problem(3, sparse, monkeypatch)
    n = problem.shape[0]
    options = CoreOptions(nearest=None, price_out=False)
    whole = solve_arcs(problem, options, EXACT)
    assert whole.report.status is Status.OPTIMAL
    optimum = sum(objective_terms(problem, whole.assign).values())
    free = np.random.default_rng(3).random(n) < 0.4
    sub = fix_items(problem, free, whole.assign)
    part = solve_arcs(sub, options, EXACT)
    assert part.report.status is Status.OPTIMAL
    plan = whole.assign.copy()
    plan[free] = part.assign
    kept = np.flatnonzero(~free)
    fixed_cost = sum(float(np.asarray(v[kept, plan[kept]]).sum()) for v in problem.terms.values())
    sub_terms = objective_terms(sub, part.assign)
    assert sum(sub_terms.values()) + fixed_cost == pytest.approx(optimum, rel=1e-9)
    assert sum(objective_terms(problem, plan).values()) == pytest.approx(optimum, rel=1e-9)


def test_item_rows_are_refused(monkeypatch) -> None:
    from dataclasses import replace

    problem = _problem(1, False, monkeypatch)
    bad = replace(problem, families=(replace(problem.families[0], axis="item"),))
    with pytest.raises(ValueError, match="cannot keep"):
        fix_items(bad, np.ones(problem.shape[0], bool), np.zeros(problem.shape[0], int))

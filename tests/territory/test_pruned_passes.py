"""The pruned passes of the sparse path (k-d trees, :mod:`allocator.territory.pruned`) against
the full passes over every pair, on small instances forced down the sparse path.

Each pruned pass must give exactly what the full pass gives (the same entering arcs, per-item
minima, bound, nearest arcs, augmentation), for multipliers of the right signs (where pruning
engages) and of any sign (where it may fall back), with eligibility rules, incumbents, locks
and travel hours in the capacity.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.territory import diagnose, nearby, nearest, pairs, pruned
from allocator.territory.assignment import solve_assignment
from allocator.territory.bound import dual_bound, dual_bound_value
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import reduced_costs
from allocator.territory.pricing import Pricing, augment_arcs, initial_arcs, smallest

EXACT = SolverSettings(threads=1, time_limit=60, gap=0.0)


def _settings(tables, hours: float = 0.0, nearest_k: int | None = None) -> AssignmentSettings:
    block = demo_settings(tables)["assignment"]
    block["constraints"]["capacity"]["travel_hours_per_km"] = hours
    if nearest_k is not None:
        block["constraints"]["candidates"]["nearest"] = nearest_k
    return AssignmentSettings.model_validate(block)


def _both(tables, settings, monkeypatch):
    dense = territory_problem(tables, settings, build_territory(tables, settings))
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    t = build_territory(tables, settings)
    return dense, t, territory_problem(tables, settings, t)


@pytest.fixture(params=[0.0, 0.02], ids=["no-travel-hours", "travel-hours"])
def case(request, monkeypatch):
    tables = generate_company(accounts=400, reps=12, regions=10, products=2, seed=5)
    settings = _settings(tables, hours=request.param)
    dense, t, lazy = _both(tables, settings, monkeypatch)
    assert lazy.near is not None, "the sparse path lost its k-d tree data"
    assert len(lazy.near.table) > 1 and lazy.near.locked.any() and (lazy.near.incumbent >= 0).any()
    return dense, t, lazy


def _duals(problem, seed: int, *, signed: bool, scale: float = 1.0) -> dict[str, float]:
    """Random multipliers; ``signed``: of the signs a valid LP dual has (<= rows: <= 0, ...),
    and ``assign_once`` large enough that many arcs price out."""
    rng = np.random.default_rng(seed)
    n = len(problem.items)
    duals = {f"assign_once_{i}": float(v) for i, v in enumerate(rng.uniform(0, 3000, n))}
    for f in problem.families:
        pi = rng.normal(size=len(f.rhs)) * scale
        if signed and f.sense == "<=":
            pi = -np.abs(pi)
        if signed and f.sense == ">=":
            pi = np.abs(pi)
        duals.update({f.pulp_name(j): float(v) for j, v in enumerate(pi)})
    return duals


@pytest.mark.parametrize("seed", range(4))
def test_row_minimum_entering_arcs_and_bound_equal_the_full_pass(case, seed) -> None:
    dense, _, lazy = case
    n, m = dense.shape
    duals = _duals(dense, seed, signed=True)
    rc = reduced_costs(lazy, duals)
    full = reduced_costs(dense, duals)
    want = np.where(dense.eligible, full, np.inf).min(axis=1)
    scanned = pruned.scan(lazy, rc, want)
    assert scanned is not None
    assert len(np.unique(scanned[0] * m + scanned[1])) < 0.6 * n * m, "pruning did not engage"
    np.testing.assert_array_equal(pruned.row_min(lazy, rc), want)
    cheapest = np.argmin(np.where(dense.eligible, full, np.inf), axis=1)
    np.testing.assert_array_equal(pruned.row_argmin(lazy, rc), cheapest)
    arcs = np.sort(np.random.default_rng(seed).choice(n * m, 600, replace=False))
    outside = dense.eligible.copy()
    outside.ravel()[arcs] = False
    rows, cols, value = smallest(full, outside, 3)
    take = value < -1e-7
    got = pruned.entering(lazy, arcs, rc, 1e-7, 3)
    assert got is not None and len(got) > 0
    np.testing.assert_array_equal(got, np.sort(rows[take] * m + cols[take]))
    bound_lazy, bound_dense = dual_bound(lazy, duals), dual_bound(dense, duals)
    assert bound_lazy is not None and bound_dense is not None
    assert bound_lazy[0] == bound_dense[0]
    np.testing.assert_array_equal(bound_lazy[2], bound_dense[2])
    assert dual_bound_value(lazy, duals) == dual_bound_value(dense, duals)


@pytest.mark.parametrize("seed", range(3))
def test_any_multipliers_give_the_full_pass_answer(case, seed) -> None:
    """Multipliers of any sign (a slope may be negative: the pass falls back where needed)."""
    dense, _, lazy = case
    duals = _duals(dense, seed, signed=False, scale=50.0)
    rc, full = reduced_costs(lazy, duals), reduced_costs(dense, duals)
    best = pruned.row_min(lazy, rc)
    if best is not None:
        np.testing.assert_array_equal(best, np.where(dense.eligible, full, np.inf).min(axis=1))
    want = dual_bound(dense, duals)
    got = dual_bound(lazy, duals)
    assert want is not None and got is not None and got[0] == want[0]


def test_augmentation_equals_the_full_pass(case) -> None:
    dense, _, lazy = case
    n, m = dense.shape
    duals = _duals(dense, 7, signed=True)
    arcs = initial_arcs(dense, 3)
    for problem in (dense, lazy):
        found = dual_bound(problem, duals)
        assert found is not None
        pricing = Pricing(arcs, np.zeros(len(arcs)), found[0], found[1], True, True, 0, 1)
        incumbent = found[0] + 2000.0  # a threshold that admits some arcs, not all
        if problem is dense:
            want = augment_arcs(problem, arcs, pricing, incumbent)
        else:
            got = augment_arcs(problem, arcs, pricing, incumbent)
    assert 0 < len(want) < n * m - len(arcs)
    np.testing.assert_array_equal(np.sort(got), want)
    assert pruned.augment(lazy, arcs, found[1], 2000.0 - 1e-6 * (found[0] + 2000.0)) is not None


def test_nearest_arcs_counts_and_precheck_values_equal_the_full_pass(case) -> None:
    dense, t, lazy = case
    n, m = dense.shape
    for k in (1, 3, 5, m):
        got = nearest.nearest_reps(lazy, k)
        want = smallest(dense.rank, dense.eligible, k)
        finite = np.isfinite(want[2])
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b[finite])
    for k in (1, 2, 5, 10, 40, 200):
        got = nearest.nearest_items(lazy, k)
        want = smallest(dense.rank.T, dense.eligible.T, k)
        finite = np.isfinite(want[2])
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b[finite])
    np.testing.assert_array_equal(
        initial_arcs(lazy, 3, per_rep=40), initial_arcs(dense, 3, per_rep=40)
    )
    assert lazy.n_arcs == int(dense.eligible.sum())
    np.testing.assert_array_equal(
        pruned.row_argmin(lazy, reduced_costs(lazy, {})),
        np.argmin(np.where(dense.eligible, dense.cost, np.inf), axis=1),
    )
    assert lazy.largest_cost == float(np.abs(dense.cost[dense.eligible]).max())
    np.testing.assert_array_equal(
        nearest.incumbent_arcs(lazy), np.flatnonzero((dense.keep & dense.eligible).ravel())
    )
    load = np.asarray(t.load[0:n])
    np.testing.assert_array_equal(
        diagnose._min_load(t), np.where(dense.eligible, load, np.inf).min(axis=1)
    )
    limit = np.linspace(1.0, 5.0, m)
    np.testing.assert_array_equal(
        diagnose._row_max(t, limit), np.where(dense.eligible, limit[None, :], 0.0).max(axis=1)
    )


def test_a_form_that_does_not_match_the_pair_data_is_never_used(monkeypatch) -> None:
    tables = generate_company(accounts=200, reps=8, regions=6, products=2, seed=3)
    settings = _settings(tables, hours=0.01)
    real = nearby.Form

    def wrong(dist=None, const=None, moved=None, rep=None):  # capacity without its travel hours
        return real(None if const is not None else dist, const, moved, rep)

    monkeypatch.setattr(nearby, "Form", wrong)
    _, _, lazy = _both(tables, settings, monkeypatch)
    assert lazy.near is None  # the self-check refused it: every pass evaluates all pairs


def test_pruned_solve_finds_the_dense_optimum(monkeypatch) -> None:
    tables = generate_company(accounts=300, reps=9, regions=10, products=2, seed=5)
    settings = _settings(tables, hours=0.001, nearest_k=2)
    dense_result = solve_assignment(tables, settings, EXACT)
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    calls = []
    real = pruned.scan
    monkeypatch.setattr(pruned, "scan", lambda *a: calls.append(1) or real(*a))
    result = solve_assignment(tables, settings, EXACT)  # the checker runs inside
    assert calls, "the pruned passes did not run"
    assert result.priced_arcs > 0
    assert result.report.objective == pytest.approx(dense_result.report.objective, rel=1e-9)


def test_nearest_accounts_per_rep_with_many_visit_counts(monkeypatch) -> None:
    """More distinct visit counts than classes: geometric classes, where the bound on the
    accounts not fetched decides whether a rep's answer is final."""
    tables = generate_company(accounts=3000, reps=10, regions=8, products=2, seed=2)
    rng = np.random.default_rng(0)
    tables.accounts["visits"] = rng.uniform(0.5, 60.0, len(tables.accounts)).round(2)
    block = demo_settings(tables)["assignment"]
    del block["constraints"]["experience"], block["constraints"]["skills"]  # one group
    settings = AssignmentSettings.model_validate(block)
    dense, _, lazy = _both(tables, settings, monkeypatch)
    assert lazy.near is not None and len(lazy.near.table) == 1
    for k in (1, 3, 8, 30):
        got = nearest.nearest_items(lazy, k)
        want = smallest(dense.rank.T, dense.eligible.T, k)
        finite = np.isfinite(want[2])
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b[finite])


def test_precheck_names_the_same_accounts_on_both_paths(monkeypatch) -> None:
    """The pre-solve check reads eligibility per group on the sparse path: an account nobody
    may serve, and one whose locked incumbent lacks its skill, are named as on the dense path."""
    tables = generate_company(accounts=200, reps=8, regions=6, products=2, seed=3)
    accounts = tables.accounts
    accounts.loc[accounts.index[5], "required_skills"] = "nobody_has_this"
    settings = _settings(tables)
    messages = []
    for threshold in (pairs.SPARSE_FROM, 0):
        monkeypatch.setattr(pairs, "SPARSE_FROM", threshold)
        t = build_territory(tables, settings)
        assert (t.near is not None) == (threshold == 0)
        with pytest.raises(diagnose.InfeasibleError) as caught:
            diagnose.precheck(t, settings)
        messages.append(caught.value.diagnosis)
    assert messages[0] == messages[1] and "no rep has all their required skills" in messages[0][0]

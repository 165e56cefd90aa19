"""The sparse path of large territories (:mod:`allocator.territory.pairs`), forced on small ones.

Above ``pairs.SPARSE_FROM`` (accounts x reps) pairs the territory's pair data is computed on
demand, block by block. Setting the threshold to 0 sends a small instance down that path; it
must give the same numbers as the dense arrays, the same optimum, and a bound that is never
above the dense LP optimum over all eligible arcs (weak duality over every pair).
"""

from __future__ import annotations

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.solver import Status
from allocator.territory import pairs
from allocator.territory.arc_lp import ArcLp
from allocator.territory.assignment import solve_assignment
from allocator.territory.bound import dual_bound, dual_bound_value
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import reduced_costs
from allocator.territory.pairs import Pairs, by_rows, nonzero_arcs, without
from allocator.territory.pricing import initial_arcs, smallest

EXACT = SolverSettings(threads=1, time_limit=60, gap=0.0)


def _company(nearest: int | None = None):
    tables = generate_company(accounts=300, reps=9, regions=10, products=2, seed=5)
    block = demo_settings(tables)["assignment"]
    if nearest is not None:  # few candidates: pricing must add arcs
        block["constraints"]["candidates"]["nearest"] = nearest
    return tables, AssignmentSettings.model_validate(block)


def _both(tables, settings, monkeypatch):
    dense_t = build_territory(tables, settings)
    dense = territory_problem(tables, settings, dense_t)
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    lazy_t = build_territory(tables, settings)
    lazy = territory_problem(tables, settings, lazy_t)
    return (dense_t, dense), (lazy_t, lazy)


def _dense(values, shape):
    return values[0 : shape[0]] if isinstance(values, Pairs) else np.broadcast_to(values, shape)


def test_lazy_pair_data_equals_the_dense_arrays(monkeypatch) -> None:
    tables, settings = _company()
    (dt, dense), (lt, lazy) = _both(tables, settings, monkeypatch)
    assert not dense.lazy and lazy.lazy
    assert isinstance(lt.km, Pairs) and not isinstance(dt.km, Pairs)
    shape = dense.shape
    for name in ("km", "load", "experience_ok", "skills_ok", "lock_ok", "eligible"):
        np.testing.assert_array_equal(_dense(getattr(lt, name), shape), getattr(dt, name))
    np.testing.assert_array_equal(_dense(lazy.eligible, shape), dense.eligible)
    np.testing.assert_array_equal(_dense(lazy.keep, shape), dense.keep)
    np.testing.assert_array_equal(_dense(lazy.cost, shape), dense.cost)
    for key, values in dense.terms.items():
        np.testing.assert_array_equal(_dense(lazy.terms[key], shape), values)
    for d, s in zip(dense.families, lazy.families, strict=True):
        np.testing.assert_array_equal(_dense(s.coef, shape), np.broadcast_to(d.coef, shape))
    rng = np.random.default_rng(1)
    ii, rr = rng.integers(0, shape[0], 50), rng.integers(0, shape[1], 50)
    np.testing.assert_array_equal(lazy.cost[ii, rr], dense.cost[ii, rr])  # gathers
    np.testing.assert_array_equal(lazy.eligible[7], dense.eligible[7])  # one row
    np.testing.assert_array_equal(lazy.rank.T[0:3], dense.rank.T[0:3])  # transposed blocks
    assert lazy.n_arcs == len(dense.all_arcs)
    np.testing.assert_array_equal(lazy.all_arcs, dense.all_arcs)
    assert lazy.largest_cost == pytest.approx(float(np.abs(dense.cost[dense.eligible]).max()))


def test_block_helpers_equal_their_dense_versions(monkeypatch) -> None:
    tables, settings = _company()
    (_, dense), (_, lazy) = _both(tables, settings, monkeypatch)
    monkeypatch.setattr(pairs, "BLOCK_ENTRIES", 40)  # many small blocks
    arcs = initial_arcs(dense, 3, per_rep=20)
    np.testing.assert_array_equal(initial_arcs(lazy, 3, per_rep=20), arcs)
    np.testing.assert_array_equal(
        _dense(without(lazy.eligible, arcs), dense.shape), without(dense.eligible, arcs)
    )
    mins = by_rows(lambda ok, c: np.where(ok, c, np.inf).min(axis=1), lazy.eligible, lazy.cost)
    np.testing.assert_array_equal(mins, np.where(dense.eligible, dense.cost, np.inf).min(axis=1))
    mask = dense.cost < np.median(dense.cost)
    np.testing.assert_array_equal(
        nonzero_arcs(lazy.cost < np.median(dense.cost)), nonzero_arcs(mask)
    )
    full = nonzero_arcs(lazy.cost < np.median(dense.cost))
    cut = nonzero_arcs(lazy.cost < np.median(dense.cost), limit=5)  # stops early: "too many"
    assert 5 < len(cut) < len(full) and (cut == full[: len(cut)]).all()
    for got, want in zip(
        smallest(lazy.rank, lazy.eligible, 4), smallest(dense.rank, dense.eligible, 4), strict=True
    ):
        np.testing.assert_array_equal(got, want)


def _random_duals(problem, scale, seed):
    rng = np.random.default_rng(seed)
    names = [f"assign_once_{i}" for i in range(len(problem.items))]
    names += [f.pulp_name(j) for f in problem.families for j in range(len(f.rhs))]
    return dict(zip(names, (rng.normal(size=len(names)) * scale).tolist(), strict=True))


def test_block_wise_bound_and_reduced_costs_equal_the_dense_ones(monkeypatch) -> None:
    tables, settings = _company()
    (_, dense), (_, lazy) = _both(tables, settings, monkeypatch)
    for seed in range(5):
        duals = _random_duals(dense, 1000.0, seed)
        rc = reduced_costs(lazy, duals)
        assert isinstance(rc, Pairs)  # never an (items, reps) array on the sparse path
        np.testing.assert_allclose(rc[0 : dense.shape[0]], reduced_costs(dense, duals), rtol=1e-12)
        ii, rr = np.arange(10), np.arange(10) % dense.shape[1]
        np.testing.assert_allclose(rc[ii, rr], reduced_costs(dense, duals)[ii, rr], rtol=1e-12)
        want, got = dual_bound(dense, duals), dual_bound(lazy, duals)
        assert want is not None and got is not None
        assert got[0] == pytest.approx(want[0], rel=1e-12)
        np.testing.assert_allclose(got[1][0 : dense.shape[0]], want[1], rtol=1e-9, atol=1e-6)
        assert dual_bound_value(lazy, duals) == pytest.approx(want[0], rel=1e-12)


def test_sparse_path_finds_the_dense_optimum_with_a_valid_bound(monkeypatch) -> None:
    """Few candidates (pricing adds arcs): the same optimum, and every bound the sparse path
    reports is below the LP optimum over all eligible pairs (so below the true optimum)."""
    tables, settings = _company(nearest=2)
    dense_result = solve_assignment(tables, settings, EXACT)
    (_, dense), _ = _both(tables, settings, monkeypatch)  # leaves SPARSE_FROM at 0
    lp, _ = ArcLp(dense, dense.all_arcs, EXACT, elastic=False).run(60)
    assert lp.status is Status.OPTIMAL and lp.objective is not None
    result = solve_assignment(tables, settings, EXACT)  # the checker runs inside
    assert result.priced_arcs > 0, "pricing did not run: the test would prove nothing"
    assert result.report.objective == pytest.approx(dense_result.report.objective, rel=1e-9)
    assert result.lp_bound is not None and result.lp_bound <= lp.objective + 1e-6 * lp.objective
    assert result.report.bound is not None
    assert result.report.bound <= result.report.objective + 1e-6
    assert (result.assignments["reason"] == dense_result.assignments["reason"]).all()

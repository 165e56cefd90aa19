"""The paths used at scale, checked against the small-model paths on small instances.

- :func:`allocator.territory.arc_mip.solve_arc_mip` (the MIP from numpy arrays straight into
  HiGHS) must reach the same optimum as the PuLP model of ``core.build_model``, with a plan that
  breaks no row and whose recomputed objective is the reported one; the whole
  ``solve_assignment`` forced onto it must pass the independent checker.
- :func:`allocator.territory.bound.dual_bound` must never exceed the optimum, whatever the
  multipliers (weak duality), and must equal the LP optimum at the LP's own duals.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.demo.examples import EXAMPLES, example
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.solver import Status, solve
from allocator.territory import arc_mip, pairs
from allocator.territory.arc_lp import ArcLp
from allocator.territory.assignment import solve_assignment
from allocator.territory.bound import dual_bound
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import build_model, objective_terms, read_assignment, violations
from tests.territory.test_assignment_helpers import brute_force, owners, solved

EXACT = SolverSettings(threads=1, time_limit=60, gap=0.0)


@pytest.fixture(scope="module")
def company():
    tables = generate_company(accounts=240, reps=8, regions=10, products=2, seed=3)
    settings = AssignmentSettings.model_validate(demo_settings(tables)["assignment"])
    problem = territory_problem(tables, settings, build_territory(tables, settings))
    return tables, settings, problem


def _pulp_optimum(problem, arcs):
    model = build_model(problem, arcs, integer=True)
    report = solve(model.prob, EXACT)
    return report, read_assignment(model, *problem.shape)


@pytest.mark.parametrize("presolve", [True, False], ids=["presolve", "no-presolve"])
def test_arrays_mip_reaches_the_pulp_optimum(company, presolve) -> None:
    """Both builds of the same MIP stop within a 1e-4 gap, and each one's answer lies within
    the other's proven bound: they are the same model (a gap of 0 takes a minute on 2 cores).
    Large MIPs of the ascent's plan run without HiGHS's presolve: the same holds there."""
    _, _, problem = company
    arcs = problem.all_arcs
    near = SolverSettings(threads=1, time_limit=120, gap=1e-4)
    model = build_model(problem, arcs, integer=True)
    expected = solve(model.prob, near)
    with arc_mip.presolve_up_to(len(arcs) if presolve else 0):
        report, assign = arc_mip.solve_arc_mip(problem, arcs, near)
    assert report.status is Status.OPTIMAL and expected.status is Status.OPTIMAL
    assert assign is not None and (assign >= 0).all()
    assert violations(problem, assign) == []
    recomputed = sum(objective_terms(problem, assign).values())
    assert recomputed == pytest.approx(report.objective, rel=1e-6)
    assert report.bound is not None and expected.bound is not None
    assert expected.bound <= report.objective + 1e-6  # minimisation: bound below every answer
    assert report.bound <= expected.objective + 1e-6
    assert report.objective == pytest.approx(expected.objective, rel=2e-4)


def test_arrays_mip_keeps_a_warm_start_it_cannot_beat(company) -> None:
    """The start's deviations are set right: HiGHS accepts it as an incumbent."""
    _, _, problem = company
    _, best = _pulp_optimum(problem, problem.all_arcs)
    tight = SolverSettings(threads=1, time_limit=60, gap=0.05)
    report, assign = arc_mip.solve_arc_mip(problem, problem.all_arcs, tight, start=best)
    assert assign is not None and violations(problem, assign) == []
    optimum = sum(objective_terms(problem, best).values())
    assert report.objective == pytest.approx(optimum, rel=0.05)


def test_solve_assignment_on_the_arrays_path_passes_the_checker(company, monkeypatch) -> None:
    tables, settings, _ = company
    pulp_result = solve_assignment(tables, settings, EXACT)
    calls = []
    original = arc_mip.solve_arc_mip

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(arc_mip, "ARRAYS_FROM", 0)
    for module in ("allocator.territory.solve_arcs", "allocator.territory.heuristic"):
        monkeypatch.setattr(f"{module}.solve_arc_mip", counted)
    result = solve_assignment(tables, settings, EXACT)  # verify_assignment runs the checker
    assert calls, "the arrays path was not taken"
    assert result.report.objective == pytest.approx(pulp_result.report.objective, rel=1e-6)


@pytest.mark.parametrize("path", ["arrays", "sparse"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_on_the_scale_paths(name: str, path: str, monkeypatch) -> None:
    """The hand-computed examples (known optimum and owners) forced onto the MIP from arrays,
    or onto the sparse (lazy pair data) path of :mod:`allocator.territory.pairs`."""
    if path == "arrays":
        monkeypatch.setattr(arc_mip, "ARRAYS_FROM", 0)
    else:
        monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    ex = example(name)
    result = solved(ex.tables, ex.settings)
    assert result.report.objective == pytest.approx(ex.objective, rel=1e-9)
    assert owners(result) == dict(ex.owners)


def test_dual_bound_equals_the_lp_at_its_duals(company) -> None:
    _, _, problem = company
    lp = ArcLp(problem, problem.all_arcs, EXACT, elastic=False)
    report, _ = lp.run(60)
    assert report.status is Status.OPTIMAL
    found = dual_bound(problem, report.duals)
    assert found is not None
    bound, reduced, best = found
    assert bound == pytest.approx(report.objective, rel=1e-7)
    assert (best <= 1e-6).all()  # at the LP optimum every item has an arc of reduced cost 0
    assert reduced.shape == problem.shape and (reduced[problem.eligible] >= 0).all()


@pytest.mark.parametrize("name", EXAMPLES)
def test_dual_bound_never_exceeds_the_optimum(name: str) -> None:
    """Weak duality for arbitrary multipliers, against the brute-force optimum."""
    ex = example(name)
    problem = territory_problem(ex.tables, ex.settings, build_territory(ex.tables, ex.settings))
    optimum, _ = brute_force(ex.tables, ex.settings)
    rng = np.random.default_rng(7)
    names = [f"assign_once_{i}" for i in range(len(problem.items))]
    names += [f.pulp_name(j) for f in problem.families for j in range(len(f.rhs))]
    scale = max(1.0, abs(optimum))
    for _ in range(50):
        duals = dict(zip(names, (rng.normal(size=len(names)) * scale).tolist(), strict=True))
        found = dual_bound(problem, duals)
        assert found is not None
        assert found[0] <= optimum + 1e-6 * scale


@pytest.mark.parametrize("k", [1, 3, 7])
def test_smallest_is_a_stable_argsort_in_blocks(k: int, monkeypatch) -> None:
    """Ties (rounded values), masked entries and more rows than one block."""
    from allocator.territory import pricing

    monkeypatch.setattr(pricing, "CHUNK", 5)
    rng = np.random.default_rng(k)
    values = np.round(rng.normal(size=(23, 6)), 0)
    mask = rng.random((23, 6)) > 0.3
    rows, cols, value = pricing.smallest(values, mask, k)
    v = np.where(mask, values, np.inf)
    order = np.argsort(v, axis=1, kind="stable")[:, : min(k, 6)]
    assert rows.tolist() == np.repeat(np.arange(23), min(k, 6)).tolist()
    assert cols.tolist() == order.ravel().tolist()
    assert np.array_equal(value, np.take_along_axis(v, order, axis=1).ravel())


def test_dual_bound_value_in_blocks_equals_the_whole(company, monkeypatch) -> None:
    from allocator.territory import bound as bound_mod

    _, _, problem = company
    lp = ArcLp(problem, problem.all_arcs, EXACT, elastic=False)
    report, _ = lp.run(60)
    monkeypatch.setattr(bound_mod, "BLOCK", 7)  # many blocks, a short last one
    whole = dual_bound(problem, report.duals)
    assert whole is not None
    assert bound_mod.dual_bound_value(problem, report.duals) == pytest.approx(whole[0], rel=1e-12)

"""The LP path of large territories (``models/assignment.md``, "The first LP at scale").

- The balance band folded into the deviation row is the same LP: same optimum, and the duals
  given back for the three rows are optimal (the Lagrangian bound at them equals the LP).
- The crash basis (each item's cheapest arc) reaches the same optimum.
- An LP stopped before its optimum still proves a bound over every eligible arc, never above
  the exact optimum, and a solve whose first LP stops keeps that bound and a checked plan.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.solver import HighsLpSession, Status, solve
from allocator.territory import arc_lp, pricing
from allocator.territory.arc_lp import ArcLp, merged_bands
from allocator.territory.bound import dual_bound_value
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import build_model, reduced_costs
from allocator.territory.pricing import initial_arcs
from tests.territory.test_assignment_helpers import solved

EXACT = SolverSettings(threads=1, time_limit=60, gap=0.0)


@pytest.fixture(scope="module")
def company():
    tables = generate_company(accounts=160, reps=16, regions=12, products=2, seed=5)
    settings = AssignmentSettings.model_validate(demo_settings(tables)["assignment"])
    problem = territory_problem(tables, settings, build_territory(tables, settings))
    return tables, settings, problem


@pytest.fixture(scope="module")
def optimum(company) -> float:
    """The MIP optimum over every eligible arc (PuLP model, HiGHS, gap 0)."""
    _, _, problem = company
    report = solve(build_model(problem, problem.all_arcs, integer=True).prob, EXACT)
    assert report.status is Status.OPTIMAL and report.objective is not None
    return report.objective


def _restricted(problem, nearest: int):
    """The first LP's arcs as at scale: ``nearest`` per item and twice a fair count per rep."""
    n, m = problem.shape
    return initial_arcs(problem, nearest, per_rep=2 * n // m)


def _lp(problem, arcs, merge: bool):
    lp = ArcLp(problem, arcs, EXACT, elastic=False, merge=merge)
    report, values = lp.run(60)
    assert report.status is Status.OPTIMAL
    return lp, report, values


def test_folded_lp_is_the_same_lp(company) -> None:
    _, _, problem = company
    merged = merged_bands(problem, elastic=False)
    assert merged  # the demo has a balance band and a balance term: something to fold
    for arcs in (_restricted(problem, 3), problem.all_arcs):
        plain_lp, plain, _ = _lp(problem, arcs, merge=False)
        lp, folded, values = _lp(problem, arcs, merge=True)
        assert lp.session.highs.getNumRow() < plain_lp.session.highs.getNumRow()
        assert folded.objective == pytest.approx(plain.objective, rel=1e-9)
        assert set(folded.duals) == set(plain.duals)
        assert (values >= -1e-9).all() and (values <= 1 + 1e-9).all()
        for dev, (lo, hi) in merged.items():  # valid signs: lo >= 0, hi <= 0, |eta| <= w
            fam = problem.families
            w = fam[dev].deviation * problem.balance_weight
            d = np.array([folded.duals[fam[dev].pulp_name(j)] for j in range(len(w))])
            low = np.array([folded.duals[fam[lo].pulp_name(j)] for j in range(len(w))])
            high = np.array([folded.duals[fam[hi].pulp_name(j)] for j in range(len(w))])
            assert (np.abs(d) <= w + 1e-9).all() and (low >= 0).all() and (high <= 0).all()
    bound = dual_bound_value(problem, folded.duals)  # over all arcs: the LP optimum itself
    assert bound == pytest.approx(folded.objective, rel=1e-7)


def test_crash_basis_is_accepted_and_reaches_the_optimum(company) -> None:
    _, _, problem = company
    arcs = _restricted(problem, 4)
    lp = ArcLp(problem, arcs, EXACT, elastic=False, merge=False)
    assert lp.crash()
    report, _ = lp.run(60)
    _, plain, _ = _lp(problem, arcs, merge=False)
    assert report.status is Status.OPTIMAL
    assert report.objective == pytest.approx(plain.objective, rel=1e-9)


def test_unfinished_lp_still_proves_a_bound(company, optimum) -> None:
    _, _, problem = company
    _, exact, _ = _lp(problem, problem.all_arcs, merge=True)
    for limit in (0, 5, 40):
        lp = ArcLp(problem, problem.all_arcs, EXACT, elastic=False, merge=True)
        lp.session.highs.setOptionValue("simplex_iteration_limit", limit)
        report, values = lp.run(60)
        assert report.status is not Status.OPTIMAL and report.duals
        assert (values >= 0).all() and (values <= 1).all()
        bound = dual_bound_value(problem, report.duals)
        assert bound is not None
        assert bound <= exact.objective + 1e-7 * abs(exact.objective) <= optimum + 1e-6 * optimum


class _Stopped(HighsLpSession):
    """The first LP of a run stops after a few dual simplex iterations, as at a time limit."""

    runs = 0

    def run(self, time_limit):
        _Stopped.runs += 1
        if _Stopped.runs == 1:
            self.highs.setOptionValue("simplex_iteration_limit", 30)
            report, values, duals = super().run(time_limit)
            self.highs.setOptionValue("simplex_iteration_limit", 2**31 - 1)
            return (
                report.__class__(**{**report.__dict__, "status": Status.TIME_LIMIT}),
                values,
                duals,
            )
        return super().run(time_limit)


def test_solve_whose_first_lp_stops_keeps_a_proven_bound(company, optimum, monkeypatch) -> None:
    tables, settings, _ = company
    monkeypatch.setattr(arc_lp, "MERGE_FROM", 0)  # the large path: folded rows, crash basis
    monkeypatch.setattr(arc_lp, "HighsLpSession", _Stopped)
    calls = []
    original = pricing._unfinished
    monkeypatch.setattr(pricing, "_unfinished", lambda *a: calls.append(1) or original(*a))
    _Stopped.runs = 0
    result = solved(tables, settings, SolverSettings(threads=1, time_limit=60, gap=0.01))
    assert calls  # the bound came from the stopped LP's duals
    assert result.report.bound is not None
    assert result.report.bound <= optimum + 1e-6 * abs(optimum)
    assert result.report.objective >= optimum - 1e-6 * abs(optimum)


@pytest.mark.parametrize("share", [0.02, 0.25])
def test_lazy_max_moved_row_enters_when_binding(company, share: float) -> None:
    """max_moved waits outside the large LP; when the optimum breaks it, it is added and the
    LP re-solved: the same optimum as the LP that has it from the start."""
    tables, _, _ = company
    block = demo_settings(tables)["assignment"]
    block["constraints"]["continuity"]["max_moved_share"] = share
    settings = AssignmentSettings.model_validate(block)
    problem = territory_problem(tables, settings, build_territory(tables, settings))
    arcs = _restricted(problem, 4)
    _, plain, _ = _lp(problem, arcs, merge=False)
    lp, large, _ = _lp(problem, arcs, merge=True)
    assert large.objective == pytest.approx(plain.objective, rel=1e-9)
    binding = abs(plain.duals["max_moved_0"]) > 1e-9
    assert binding == (share < 0.1)  # 2% of the accounts: too few moves for the best LP
    assert (not lp.lazy) == binding  # added exactly when it binds
    assert large.duals["max_moved_0"] == pytest.approx(plain.duals["max_moved_0"], abs=1e-6)
    assert dual_bound_value(problem, large.duals) <= large.objective * (1 + 1e-9)


def test_sparse_path_never_retries_a_mip_over_all_pairs(company, monkeypatch) -> None:
    """When the MIP over the candidate arcs finds nothing on the sparse path, the run says so
    (no plan in time) instead of building a MIP over every pair (5e8 at 250,000 x 2,000)."""
    from allocator.exceptions import NoSolutionInTimeError
    from allocator.territory import pairs, solve_arcs

    tables, settings, _ = company
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    problem = territory_problem(tables, settings, build_territory(tables, settings))
    assert problem.lazy
    sizes = []
    monkeypatch.setattr(solve_arcs, "_first_start", lambda *a, **k: None)
    monkeypatch.setattr(solve_arcs, "_mip_rounds", lambda p, arcs, *a, **k: sizes.append(len(arcs)))
    options = solve_arcs.CoreOptions(nearest=4)
    with pytest.raises(NoSolutionInTimeError, match="too many for one MIP"):
        solve_arcs.solve_arcs(problem, options, SolverSettings(threads=1, time_limit=60))
    assert sizes and max(sizes) < problem.n_arcs  # no MIP over all pairs was attempted


def test_a_kept_lp_gets_its_whole_limit_on_every_run(company) -> None:
    """HiGHS measures time_limit against its run time summed over every run() of the object:
    the second pricing round must get the seconds it is given, not what the first LP left."""
    _, _, problem = company
    n, m = problem.shape
    lp = ArcLp(problem, initial_arcs(problem, 2, per_rep=n // m), EXACT, elastic=False)
    first, _ = lp.run(60)
    spent = lp.session.highs.getRunTime()
    assert spent > 0
    new = pricing._entering(problem, lp.arcs, reduced_costs(problem, first.duals), phase=2)
    assert len(new)
    lp.add(new)
    report, _, _ = lp.session.run(30.0)
    # the limit HiGHS compares with its summed run time is the seconds asked plus the run time
    # so far (before the fix: 30 s, of which the first LP had already used ``spent``)
    _, limit = lp.session.highs.getOptionValue("time_limit")
    assert limit == pytest.approx(30.0 + spent, rel=1e-9, abs=0.0)
    assert report.status is Status.OPTIMAL

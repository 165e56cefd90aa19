"""Infeasible territories: the error names the rule and the numbers that make it impossible."""

from __future__ import annotations

import re
from typing import Any

import pytest

from allocator.demo.examples import TWO_REPS, company, example
from allocator.exceptions import (
    InfeasibleError,
    InputError,
    NoSolutionInTimeError,
    ScenarioError,
)
from allocator.io.settings import AssignmentSettings
from allocator.io.tables import Tables
from allocator.territory.assignment import solve_assignment
from tests.territory.test_assignment_helpers import SOLVER


def settings(**constraints: object) -> AssignmentSettings:
    return AssignmentSettings.model_validate({"constraints": constraints})


def accounts(*workloads: float, **common: object) -> list[dict[str, object]]:
    return [
        {"account_id": f"A{k}", "lon": float(k), "workload": w} | common
        for k, w in enumerate(workloads, start=1)
    ]


def diagnosis(tables: Tables, rules: AssignmentSettings) -> str:
    with pytest.raises(InfeasibleError) as info:
        solve_assignment(tables, rules, SOLVER)
    return "\n".join(info.value.diagnosis)


def test_total_capacity_too_small_names_both_totals() -> None:
    reps = [rep | {"capacity": 10.0} for rep in TWO_REPS]
    text = diagnosis(company(reps, accounts(10, 10, 10)), settings(capacity={}))
    assert "need at least 30 hours" in text and "have 20 hours" in text
    assert "`assignment.constraints.capacity.tolerance` >= 0.5 at the very least (now 0)" in text
    # 0.5 is necessary; the exact least is 1: one of the two reps must take 20 hours
    assert "`assignment.constraints.capacity.tolerance` >= 1 (now 0) is the least value" in text
    assert re.search(r"capacity of R[12] >= 20 hours \(now 10\)", text)


def test_an_account_no_rep_may_serve_is_listed_by_id() -> None:
    rows = accounts(10, 10)
    rows[1]["required_skills"] = "P9"
    text = diagnosis(company(TWO_REPS, rows), settings(skills={}))
    assert "skills" in text and "A2" in text and "A1" not in text


def test_experienced_capacity_is_compared_with_the_accounts_that_need_it() -> None:
    reps = [
        TWO_REPS[0] | {"experience": 1, "capacity": 100.0},
        TWO_REPS[1] | {"experience": 9, "capacity": 15.0},
    ]
    text = diagnosis(
        company(reps, accounts(10, 10, segment="A")), settings(capacity={}, experience={"A": 5})
    )
    assert "segment(s) A need 20 hours" in text and "experience >= 5 have 15 hours" in text


def test_a_locked_account_of_an_inactive_rep_is_named() -> None:
    reps = [TWO_REPS[0], TWO_REPS[1] | {"active": False}]
    rows = accounts(10, 10, incumbent_rep_id="R2")
    rows[0]["locked"] = True
    text = diagnosis(company(reps, rows), settings(continuity={}))
    assert "locked" in text and "A1" in text


def test_forced_moves_above_the_moved_share_are_counted() -> None:
    reps = [TWO_REPS[0], TWO_REPS[1] | {"active": False}]
    rows = accounts(10, 10, 10, 10, incumbent_rep_id="R2")
    text = diagnosis(company(reps, rows), settings(continuity={"max_moved_share": 0.5}))
    assert "max_moved: 4 account(s) must move" in text and "above the 2 allowed" in text
    assert "`assignment.constraints.continuity.max_moved_share` >= 1 at the very least" in text


def test_bin_packing_conflict_names_the_least_capacity_tolerance() -> None:
    """18 hours fit in 2 x 10 in total, but three 6-hour accounts cannot: one rep needs 12."""
    reps = [rep | {"capacity": 10.0} for rep in TWO_REPS]
    text = diagnosis(company(reps, accounts(6, 6, 6)), settings(capacity={}))
    assert "`assignment.constraints.capacity.tolerance` >= 0.2 (now 0) is the least value" in text
    assert re.search(r"capacity of R[12] >= 12 hours \(now 10\)", text)
    assert "needs -" not in text and "balance" not in text


def test_too_tight_balance_band_names_the_least_tolerance() -> None:
    """Three accounts of 100, two reps: shares of 150 +-10% cannot be met (0, 100, 200, 300)."""
    text = diagnosis(company(TWO_REPS, accounts(10, 10, 10)), settings(balance={"tolerance": 0.1}))
    assert "`assignment.constraints.balance.tolerance` >= 0.334 (now 0.1)" in text
    assert "capacity" not in text and "time_limit" not in text


def _least(text: str, key: str) -> float:
    found = re.search(rf"`{re.escape(key)}` >= ([0-9.,]+)", text)
    assert found, text
    return float(found.group(1).replace(",", ""))


@pytest.mark.parametrize("potentials", [(100, 100, 100), (70, 130, 40, 90), (10, 250, 60)])
def test_the_balance_tolerance_given_is_least_and_works(potentials: tuple[int, ...]) -> None:
    """The value the diagnosis names solves; 0.002 less does not (it is computed, not guessed)."""
    rows = [
        {"account_id": f"A{k}", "lon": float(k), "workload": 1.0, "potential": float(p)}
        for k, p in enumerate(potentials, start=1)
    ]
    tables = company(TWO_REPS, rows)
    key = "assignment.constraints.balance.tolerance"
    least = _least(diagnosis(tables, settings(balance={"tolerance": 0.01})), key)
    solve_assignment(tables, settings(balance={"tolerance": least}), SOLVER)
    with pytest.raises(InfeasibleError):
        solve_assignment(tables, settings(balance={"tolerance": least - 0.002}), SOLVER)


def test_the_capacity_and_balance_together_are_named_when_neither_suffices() -> None:
    reps = [rep | {"capacity": 10.0} for rep in TWO_REPS]
    text = diagnosis(
        company(reps, accounts(6, 6, 6)), settings(capacity={}, balance={"tolerance": 0.1})
    )
    assert "`assignment.constraints.balance.tolerance` alone cannot make a plan possible" in text
    assert "together: " in text
    assert "even with every soft constraint relaxed" not in text
    capacity = _least(text, "assignment.constraints.capacity.tolerance")
    balance = _least(text, "assignment.constraints.balance.tolerance")
    both = settings(capacity={"tolerance": capacity}, balance={"tolerance": balance})
    solve_assignment(company(reps, accounts(6, 6, 6)), both, SOLVER)


def test_max_accounts_least_limit_is_whole() -> None:
    rows = accounts(1, 1, 1, 1, 1)
    rows[0]["required_skills"] = ""
    text = diagnosis(company(TWO_REPS, rows), settings(max_accounts={"limit": 2}))
    assert "`assignment.constraints.max_accounts.limit` >= 3 at the very least (now 2)" in text


def test_contiguity_needs_an_adjacency_table() -> None:
    ex = example("capacity_move")
    rules = ex.settings.model_copy(
        update={
            "constraints": ex.settings.constraints.model_copy(
                update={"contiguity": settings(contiguity={}).constraints.contiguity}
            )
        }
    )
    with pytest.raises(ScenarioError, match="adjacency"):
        solve_assignment(ex.tables, rules, SOLVER)


def test_no_active_rep_is_an_input_error() -> None:
    tables = company([rep | {"active": False} for rep in TWO_REPS], accounts(10))
    with pytest.raises(InputError, match="reps: no active row"):
        solve_assignment(tables, settings(capacity={}), SOLVER)


def test_out_of_time_is_never_called_infeasible(
    monkeypatch: pytest.MonkeyPatch, small_company: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MIP that stops at the deadline with no plan (and no warm start to keep) is exit 4,
    'not a proof', never exit 1 with a diagnosis."""
    import allocator.territory.solve_arcs as loop
    from allocator.cli import main
    from allocator.solver import spent_report

    monkeypatch.setattr(loop, "solve", lambda *a, **k: spent_report("highs"))
    monkeypatch.setattr(loop, "neighbourhood_search", lambda *a, **k: None)
    monkeypatch.setattr(loop, "round_lp", lambda *a, **k: None)
    tables = company(TWO_REPS, accounts(10, 10, 10))
    with pytest.raises(NoSolutionInTimeError, match="not a proof that none exists"):
        solve_assignment(tables, settings(capacity={}), SOLVER)
    assert main(["-q", "solve", str(small_company), "--out", str(small_company.parent / "o")]) == 4
    err = capsys.readouterr().err
    assert "infeasible" not in err and "no plan found within the run's time budget" in err


def test_the_cli_names_the_key_and_leaves_the_inputs_alone(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from allocator.cli import main
    from allocator.demo import write_company
    from allocator.io.files import sha256

    rules = {"assignment": {"constraints": {"balance": {"tolerance": 0.1}}}}
    scenario = write_company(
        company(TWO_REPS, accounts(10, 10, 10)), tmp_path, scenario_name="tight", settings=rules
    )
    before = {p.name: sha256(p) for p in tmp_path.iterdir()}
    assert main(["-q", "solve", str(scenario), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "`assignment.constraints.balance.tolerance` >= 0.334 (now 0.1)" in err
    assert "balance_lo" not in err and "needs -" not in err and "time_limit" not in err
    assert {p.name: sha256(p) for p in tmp_path.iterdir() if p.is_file()} == before


def test_a_large_model_is_diagnosed_over_its_candidate_arcs_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import allocator.territory.diagnose as diagnose

    monkeypatch.setattr(diagnose, "MAX_DIAGNOSIS_ARCS", 0)
    text = diagnosis(company(TWO_REPS, accounts(10, 10, 10)), settings(balance={"tolerance": 0.1}))
    assert "`assignment.constraints.balance.tolerance` >= 0.334 (now 0.1) makes a plan" in text
    assert "computed over the candidate arcs: a smaller value may work too" in text

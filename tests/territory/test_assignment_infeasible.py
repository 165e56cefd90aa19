"""Infeasible territories: the error names the rule and the numbers that make it impossible."""

from __future__ import annotations

import pytest

from allocator.demo.examples import TWO_REPS, company, example
from allocator.exceptions import InfeasibleError, InputError, ScenarioError
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


def test_bin_packing_conflict_is_diagnosed_by_the_elastic_re_solve() -> None:
    """18 hours fit in 2 x 10 in total, but three 6-hour accounts cannot: one rep needs +2 hours."""
    reps = [rep | {"capacity": 10.0} for rep in TWO_REPS]
    text = diagnosis(company(reps, accounts(6, 6, 6)), settings(capacity={}))
    assert "capacity[R" in text and "needs +2 hours (limit 10)" in text


def test_too_tight_balance_band_is_named_by_the_elastic_re_solve() -> None:
    """Three accounts of 100, two reps: shares of 150 +-10% cannot be met (0, 100, 200, 300)."""
    text = diagnosis(company(TWO_REPS, accounts(10, 10, 10)), settings(balance={"tolerance": 0.1}))
    assert "balance_" in text and "potential" in text
    assert "capacity" not in text


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

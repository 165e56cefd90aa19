"""The independent checker: it accepts the known optima and names every kind of violation."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.demo.examples import KM_PER_DEGREE, Example, example
from allocator.io.settings import AssignmentSettings
from allocator.territory.check import CheckResult, check_assignment


def table(owners: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"account_id": list(owners), "rep_id": list(owners.values())})


def check(
    ex: Example, owners: dict[str, str], settings: AssignmentSettings | None = None
) -> CheckResult:
    return check_assignment(ex.tables, settings or ex.settings, table(owners))


@pytest.mark.parametrize(
    "name",
    [
        "capacity_move",
        "balance_move",
        "experience",
        "skills",
        "max_accounts",
        "continuity",
        "contiguity",
        "region_level",
    ],
)
def test_the_known_optimum_passes_with_its_objective(name: str) -> None:
    ex = example(name)
    result = check(ex, dict(ex.owners))
    assert result.ok, result.violations
    assert result.objective == pytest.approx(ex.objective, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("capacity_move", {"A3": "R1"}, "capacity[R1]: 30.0000 hours > 20.0000"),
        ("balance_move", {"A3": "R1"}, "balance_hi[R1,potential]: 300.0000 > 220.0000"),
        ("balance_move", {"A3": "R1"}, "balance_lo[R2,potential]: 100.0000 < 180.0000"),
        ("experience", {"A1": "R1"}, "experience[A1]: R1 has 2 < 5"),
        ("skills", {"A1": "R1"}, "skills[A1]: R1 lacks P1"),
        ("max_accounts", {"A3": "R1"}, "max_accounts[R1]: 3 accounts > 2"),
        ("continuity", {"A1": "R1"}, "locked[A1]: with R1, not its incumbent R2"),
        ("continuity", {"A4": "R1"}, "max_moved: 3.0000 accounts moved > 2.0000"),
        (
            "contiguity",
            {"A2": "R2", "A3": "R1"},
            "contiguity[R1]: its regions ['G1', 'G3'] are not connected",
        ),
        ("region_level", {"A2": "R2"}, "region[G1]: split across 2 reps"),
        ("capacity_move", {"A3": "R9"}, "assign_once[A3]: R9 is not an active rep"),
    ],
)
def test_each_violation_is_named_like_the_model_row(
    name: str, change: dict[str, str], expected: str
) -> None:
    ex = example(name)
    result = check(ex, dict(ex.owners) | change)
    assert not result.ok
    assert expected in result.violations


def test_missing_and_duplicate_accounts_break_assign_once() -> None:
    ex = example("capacity_move")
    rows = pd.concat([table({"A1": "R1", "A2": "R1"}), table({"A1": "R2", "A9": "R2"})])
    result = check_assignment(ex.tables, ex.settings, rows)
    assert "assign_once[A1]: assigned 2 times" in result.violations
    assert "assign_once[A3]: assigned 0 times" in result.violations
    assert "assign_once[A9]: not an active account" in result.violations


def test_objective_terms_are_recomputed_with_their_weights() -> None:
    """continuity's optimum: 20 degrees of travel, 2 accounts of 1,000 moved (weight 1 per 1,000).

    With balance weight 3 as well: R1 holds 2,000 and R2 2,000 of a fair 2,000 each: 0 points.
    Moving A4 to R1 as well: R1 3,000 (+50%), R2 1,000 (-50%): 100 points x 3.
    """
    ex = example("continuity")
    result = check(ex, dict(ex.owners))
    assert result.terms == pytest.approx(
        {"travel": 20 * KM_PER_DEGREE, "balance": 0.0, "disruption": 2.0}
    )
    weighted = ex.settings.model_copy(
        update={"objective": ex.settings.objective.model_copy(update={"balance": 3})}
    )
    other = check(ex, dict(ex.owners) | {"A4": "R1"}, weighted)
    assert other.terms["balance"] == pytest.approx(300.0)
    assert other.terms["disruption"] == pytest.approx(3.0)
    assert other.objective == pytest.approx(sum(other.terms.values()))


def test_lexicographic_objective_is_the_last_goal() -> None:
    ex = example("balance_move")
    settings = AssignmentSettings.model_validate(
        {
            "constraints": {"capacity": {}},
            "objective": {"mode": "lexicographic", "order": ["travel", "balance"]},
        }
    )
    result = check(ex, dict(ex.owners), settings)
    assert result.objective == result.terms["balance"] == pytest.approx(0.0)
    assert result.terms["travel"] == pytest.approx(10 * KM_PER_DEGREE)


def test_inactive_accounts_need_no_owner() -> None:
    ex = example("capacity_move")
    accounts = ex.tables.accounts.assign(active=[True, True, False])
    result = check_assignment(
        ex.tables.replace(accounts=accounts), ex.settings, table({"A1": "R1", "A2": "R1"})
    )
    assert result.ok, result.violations
    assert result.objective == pytest.approx(3 * KM_PER_DEGREE)

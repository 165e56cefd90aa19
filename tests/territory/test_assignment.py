"""The territory model on the tiny named instances of ``allocator.demo.examples``.

Each example's optimum is computed by hand in its docstring; here it is asserted exactly, checked
again by brute force over every assignment, and the solution is re-verified by the independent
checker (``solved``).
"""

from __future__ import annotations

import pytest

from allocator.demo.examples import EXAMPLES, KM_PER_DEGREE, TWO_REPS, company, example
from allocator.io.settings import AssignmentSettings
from allocator.solver import Status
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import build_model
from allocator.territory.result import ASSIGNMENT_COLUMNS, REP_COLUMNS
from tests.territory.test_assignment_helpers import SOLVER, brute_force, owners, solved


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_reaches_its_hand_computed_optimum(name: str) -> None:
    ex = example(name)
    result = solved(ex.tables, ex.settings)
    assert result.report.status is Status.OPTIMAL
    assert result.report.objective == pytest.approx(ex.objective, rel=1e-9)
    assert owners(result) == dict(ex.owners)
    assert result.pruning_exact


@pytest.mark.parametrize("name", EXAMPLES)
def test_brute_force_confirms_the_hand_computed_optimum(name: str) -> None:
    ex = example(name)
    best, ties = brute_force(ex.tables, ex.settings)
    assert best == pytest.approx(ex.objective, rel=1e-9)
    assert ties == [dict(ex.owners)]  # the optimum is unique


@pytest.mark.parametrize(
    ("name", "without", "degrees"),
    [
        ("capacity_move", {"capacity": None}, 6),  # all three to R1: 1 + 2 + 3
        ("balance_move", {"balance": None}, 8),  # 1 + 2 + 4 + 1
        ("max_accounts", {"max_accounts": None}, 10),  # 1 + 2 + 3 + 4
        ("contiguity", {"contiguity": None}, 4),  # R1 {A1, A3}, R2 {A2}
    ],
)
def test_the_rule_is_what_moves_the_account(name: str, without: dict, degrees: int) -> None:
    ex = example(name)
    constraints = ex.settings.constraints.model_copy(update=without)
    settings = ex.settings.model_copy(update={"constraints": constraints})
    result = solved(ex.tables, settings)
    assert result.report.objective == pytest.approx(degrees * KM_PER_DEGREE, rel=1e-9)


@pytest.mark.parametrize("name", ["capacity_move", "continuity", "contiguity", "region_level"])
def test_cbc_reaches_the_same_optimum(name: str) -> None:
    ex = example(name)
    result = solved(ex.tables, ex.settings, SOLVER.model_copy(update={"name": "cbc"}))
    assert result.report.solver == "cbc"
    assert result.report.objective == pytest.approx(ex.objective, rel=1e-9)
    assert owners(result) == dict(ex.owners)


def test_result_tables_follow_the_output_contract() -> None:
    ex = example("capacity_move")
    result = solved(ex.tables, ex.settings)
    assert list(result.assignments.columns) == ASSIGNMENT_COLUMNS
    assert list(result.reps.columns) == REP_COLUMNS
    assert list(result.assignments["account_id"]) == ["A1", "A2", "A3"]
    assert list(result.assignments["moved"]) == [False, False, True]
    assert result.assignments["travel_km"].tolist() == pytest.approx(
        [k * KM_PER_DEGREE for k in (1, 2, 7)]
    )
    reps = result.reps.set_index("rep_id")
    assert reps.loc["R1", "accounts"] == 2 and reps.loc["R1", "utilization"] == pytest.approx(1.0)
    assert result.terms == pytest.approx(
        {"travel": 10 * KM_PER_DEGREE, "balance": 0.0, "disruption": 0.0, "penalty": 0.0}
    )
    assert result.is_feasible()
    assert "capacity[R1]" in result.summary()


def test_constraint_rows_carry_the_document_names() -> None:
    ex = example("capacity_move")
    territory = build_territory(ex.tables, ex.settings)
    problem = territory_problem(ex.tables, ex.settings, territory)
    model = build_model(problem, problem.all_arcs, integer=True)
    assert model.doc_name("capacity_0") == "capacity[R1]"
    assert model.doc_name("assign_once_2") == "assign_once[A3]"
    result = solved(ex.tables, ex.settings)
    table = result.constraints.set_index("name")
    assert table.loc["capacity[R1]", "binding"]
    assert table.loc["capacity[R1]", "slack"] == pytest.approx(0.0)
    assert not table.loc["capacity[R2]", "binding"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("capacity_move", ["incumbent kept", "incumbent kept", "moved for capacity"]),
        (
            "balance_move",
            ["no incumbent: nearest eligible"] * 2
            + ["no incumbent: balance"]
            + ["no incumbent: nearest eligible"],
        ),
        (
            "max_accounts",
            ["no incumbent: nearest eligible"] * 2 + ["no incumbent: max_accounts"] * 2,
        ),
        (
            "continuity",
            ["locked", "moved to a nearer rep", "moved to a nearer rep", "incumbent kept"],
        ),
        ("contiguity", ["no incumbent: nearest eligible"] * 2 + ["no incumbent: contiguity"]),
    ],
)
def test_reasons_name_the_rule_that_decided(name: str, expected: list[str]) -> None:
    ex = example(name)
    assert solved(ex.tables, ex.settings).assignments["reason"].tolist() == expected


def test_an_ineligible_incumbent_moves_for_experience() -> None:
    ex = example("experience")
    accounts = ex.tables.accounts.assign(incumbent_rep_id=["R1", "R1", "R2"])
    result = solved(ex.tables.replace(accounts=accounts), ex.settings)
    assert owners(result) == dict(ex.owners)
    assert result.assignments["reason"].tolist() == [
        "moved for experience",
        "incumbent kept",
        "incumbent kept",
    ]


def test_travel_time_uses_capacity() -> None:
    """R1 (lon 0, 23 h) and R2 (lon 10); A1, A2 at lon 1, 2, 10 h each, 0.01 h per km.

    A1 costs R1 10 + 1.11 h, A2 10 + 2.22 h: together 23.34 h > 23, so A2 moves to R2
    (8 degrees): 1 + 8 = 9 degrees. Without travel time both would fit (20 h).
    """
    reps = [TWO_REPS[0] | {"capacity": 23.0}, TWO_REPS[1]]
    tables = company(reps, [{"account_id": "A1", "lon": 1.0}, {"account_id": "A2", "lon": 2.0}])
    settings = AssignmentSettings.model_validate(
        {"constraints": {"capacity": {"travel_hours_per_km": 0.01}}}
    )
    result = solved(tables, settings)
    assert owners(result) == {"A1": "R1", "A2": "R2"}
    assert result.report.objective == pytest.approx(9 * KM_PER_DEGREE, rel=1e-9)
    assert brute_force(tables, settings)[0] == pytest.approx(9 * KM_PER_DEGREE, rel=1e-9)


def test_balance_in_the_objective_is_counted_in_percentage_points() -> None:
    """balance_move without the band but with balance weight 10 per point.

    Nearest (R1: 300, R2: 100 of a fair 200 each) deviates 50 + 50 = 100 points: 8 degrees +
    1,000. The 2-2 split costs 10 degrees (+2 x 111.19 km) and 0 points: it wins.
    """
    ex = example("balance_move")
    settings = AssignmentSettings.model_validate(
        {"constraints": {"capacity": {}}, "objective": {"balance": 10}}
    )
    result = solved(ex.tables, settings)
    assert result.report.objective == pytest.approx(10 * KM_PER_DEGREE, rel=1e-9)
    assert result.terms["balance"] == pytest.approx(0.0, abs=1e-6)
    heavy = settings.model_copy(
        update={"objective": settings.objective.model_copy(update={"balance": 1.0})}
    )
    result = solved(ex.tables, heavy)  # 1 per point: 100 < 222.4 km, nearest wins
    assert result.report.objective == pytest.approx(8 * KM_PER_DEGREE + 100.0, rel=1e-9)
    assert result.terms["balance"] == pytest.approx(100.0)


def test_a_ramping_rep_gets_half_a_share() -> None:
    """R1 at ramp 0.5 and R2 at 1: fair shares 1/3 and 2/3 of 600 = 200 and 400 (+-10%)."""
    reps = [TWO_REPS[0] | {"ramp": 0.5}, TWO_REPS[1]]
    tables = company(reps, [{"account_id": f"A{k}", "lon": float(k)} for k in range(1, 7)])
    settings = AssignmentSettings.model_validate({"constraints": {"balance": {"tolerance": 0.1}}})
    result = solved(tables, settings)
    assert result.reps.set_index("rep_id")["potential"].to_dict() == {"R1": 200.0, "R2": 400.0}
    assert result.report.objective == pytest.approx(brute_force(tables, settings)[0], rel=1e-9)


@pytest.mark.parametrize(
    ("order", "goal"), [(("travel", "balance"), 100.0), (("balance", "travel"), None)]
)
def test_lexicographic_goals_one_at_a_time(order: tuple[str, ...], goal: float | None) -> None:
    """balance_move without the band. Travel first: the 8-degree nearest split is the only one
    within 1% of it and deviates 100 points (the objective is the last goal). Balance first: the
    2-2 splits deviate 0 and the cheapest of them travels 10 degrees."""
    ex = example("balance_move")
    settings = AssignmentSettings.model_validate(
        {
            "constraints": {"capacity": {}},
            "objective": {"mode": "lexicographic", "order": list(order)},
        }
    )
    result = solved(ex.tables, settings)
    expected = goal if goal is not None else 10 * KM_PER_DEGREE
    assert result.report.objective == pytest.approx(expected, rel=1e-9)

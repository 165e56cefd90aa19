"""Constraints per manager: each district's and region's potential within a band of its reps'
fair shares (allocator/territory/build.py ``manager_lo/hi``, models/organisation.md)."""

from __future__ import annotations

import pytest

from allocator.demo import demo_settings, generate_company
from allocator.io.scenario import scenario_from_dict
from allocator.plan import Plan, solve_scenario, territory_tables
from allocator.report.rollup import rollup
from allocator.territory.check import check_assignment

TOLERANCE = 0.03


@pytest.fixture(scope="module")
def plan() -> Plan:
    tables = generate_company(accounts=160, reps=16, regions=8, seed=2)  # districts D01, D02
    raw = {**demo_settings(tables), "name": "districts"}
    raw["solver"] = {"threads": 1, "time_limit": 60}
    raw["assignment"]["constraints"]["managers"] = {"tolerance": TOLERANCE}
    return solve_scenario(scenario_from_dict(raw), tables=tables)


def test_every_manager_holds_its_fair_share_within_the_band(plan: Plan) -> None:
    assert plan.assignment is not None
    names = set(plan.assignment.constraints["name"])
    assert {"manager_lo[D01]", "manager_hi[D02]", "manager_lo[V1]"} <= names
    table = rollup(plan)
    assert table is not None and set(table["manager_id"]) == {"D01", "D02", "V1", "V2"}
    ratio = table["potential"] / table["fair_share"]
    assert ratio.between(1 - TOLERANCE - 1e-9, 1 + TOLERANCE + 1e-9).all()


def test_the_checker_names_a_broken_manager_band(plan: Plan) -> None:
    assert plan.assignment is not None
    tables = territory_tables(plan.scenario, plan.tables)
    pairs = plan.assignment.assignments[["account_id", "rep_id"]]
    assert check_assignment(tables, plan.scenario.assignment, pairs).ok
    reps = tables.reps.set_index("rep_id")["manager_id"]
    d01 = reps[reps == "D01"].index
    moved = pairs.assign(rep_id=pairs["rep_id"].where(pairs["rep_id"].map(reps) == "D01", d01[0]))
    found = check_assignment(tables, plan.scenario.assignment, moved).violations
    assert any(v.startswith("manager_hi[D01]") for v in found)
    assert any(v.startswith("manager_lo[D02]") for v in found)

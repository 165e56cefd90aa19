"""The hierarchy roll-up: rollup.csv and the report's district roll-up
(allocator/report/rollup.py, models/organisation.md "Hierarchy")."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from allocator.plan import Plan
from allocator.report.output import plan_tables
from allocator.report.plan_report import plan_sections
from allocator.report.rollup import rollup


def test_every_level_sums_the_reps_below(small_plan: Plan) -> None:
    table = rollup(small_plan)
    assert table is not None
    reps = small_plan.reps_frame()
    managers = small_plan.tables.reps.set_index("rep_id")["manager_id"]
    assert table["level"].tolist() == ["region", "district"]  # top level first
    for row in table.itertuples(index=False):
        below = reps[reps["rep_id"].map(managers) == row.manager_id]
        if row.level == "region":  # a region holds its districts' reps
            districts = set(table.loc[table["parent_id"] == row.manager_id, "manager_id"])
            below = reps[reps["rep_id"].map(managers).isin(districts)]
        assert row.reps == len(below)
        for column in ("accounts", "potential", "workload", "capacity", "quota"):
            assert getattr(row, column) == pytest.approx(below[column].sum())
        assert row.utilization == pytest.approx(below["workload"].sum() / below["capacity"].sum())
    assert table["quota_share"].max() == pytest.approx(1.0)


def test_rollup_is_an_output_and_a_report_section(small_plan: Plan) -> None:
    assert "rollup" in plan_tables(small_plan)
    titles = [s.title for s in plan_sections(small_plan)]
    assert "District roll-up" in titles


def test_no_managers_no_rollup(small_plan: Plan) -> None:
    reps = small_plan.tables.reps.assign(manager_id="")
    plan = Plan(**{**small_plan.__dict__, "tables": small_plan.tables.replace(reps=reps)})
    assert rollup(plan) is None
    assert "rollup" not in plan_tables(plan)


def test_managers_without_a_managers_table_are_districts(small_plan: Plan) -> None:
    reps = small_plan.tables.reps.copy()
    reps["manager_id"] = ["M1", "M2"] * (len(reps) // 2) + ["M1"] * (len(reps) % 2)
    tables = small_plan.tables.replace(reps=reps, managers=None)
    table = rollup(Plan(**{**small_plan.__dict__, "tables": tables}))
    assert table is not None
    assert table["manager_id"].tolist() == ["M1", "M2"]
    assert (table["level"] == "district").all()
    assert table["reps"].sum() == len(reps)
    assert isinstance(table, pd.DataFrame)


def test_rollup_shows_each_given_target_and_the_gap(small_plan: Plan) -> None:
    before = rollup(small_plan)
    assert before is not None and before["given_target"].isna().all()
    manager, quota = before["manager_id"].iloc[0], float(before["quota"].iloc[0])
    given = pd.DataFrame({"manager_id": [manager], "target": [quota + 5]})
    assert small_plan.target is not None
    target = dataclasses.replace(small_plan.target, by_manager=given)
    table = rollup(Plan(**{**small_plan.__dict__, "target": target}))
    assert table is not None
    rows = table.set_index("manager_id")
    assert rows.at[manager, "given_target"] == quota + 5
    assert rows.at[manager, "target_gap"] == -5
    assert rows.drop(index=manager)["given_target"].isna().all()

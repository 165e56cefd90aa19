"""Organisation inputs: dated staffing, leaves, splits, managers and units
(allocator/io/staffing.py, allocator/io/organisation.py, models/organisation.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.io.data import make_tables
from allocator.io.settings import CalendarSettings, StaffingSettings
from allocator.io.staffing import (
    build_staffing,
    effective_reps,
    horizon_capacity,
    parse_schedule,
    unit_warnings,
)
from allocator.io.tables import Tables

YEAR = [f"2027-{m:02d}" for m in range(1, 13)]


def _tables(**reps_columns: list[object]) -> Tables:
    n = len(next(iter(reps_columns.values()))) if reps_columns else 2
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{k + 1}" for k in range(n)],
            "name": "r",
            "lat": 50.0,
            "lon": 8.0,
            "region_id": "G",
            "experience": 3.0,
            "capacity": 1200.0,
            **reps_columns,
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "name": "a",
            "lat": 50.0,
            "lon": 8.0,
            "region_id": "G",
            "segment": "B",
            "potential": 10.0,
            "workload": 100.0,
            "incumbent_rep_id": ["R1", "R2"][: max(1, min(2, n))] + [""] * (2 - min(2, n)),
        }
    )
    return make_tables(reps=reps, accounts=accounts)


def test_start_schedule_end_and_ramp_multiply() -> None:
    tables = _tables(
        start=["", "2027-04", "2026-11"],
        end=["2027-06", "", ""],
        ramp_schedule=["", "25/50/75/100", "0.25;0.5;0.75;1"],
        ramp=[1.0, 0.5, 1.0],
    )
    share = build_staffing(tables, YEAR).share
    assert share.loc["R1"].tolist() == [1.0] * 6 + [0.0] * 6
    assert share.loc["R2"].tolist() == [0, 0, 0, 0.125, 0.25, 0.375] + [0.5] * 6
    # started in November 2026: January is the schedule's third month
    assert share.loc["R3"].tolist() == [0.75] + [1.0] * 11


def test_a_leave_counts_working_days() -> None:
    tables = _tables(start=["", ""])
    leaves = pd.DataFrame({"rep_id": ["R1"], "from": ["2027-03-01"], "to": ["2027-03-12"]})
    staffing = build_staffing(tables.replace(leaves=leaves), YEAR)
    # March 2027 has 23 weekdays; 1-12 March holds 10 of them
    assert staffing.present.at["R1", "2027-03"] == pytest.approx(13 / 23)
    assert len(staffing.off) == 10 and staffing.dated
    holiday = CalendarSettings(holidays=(pd.Timestamp("2027-03-15").date(),))
    with_holiday = build_staffing(tables.replace(leaves=leaves), YEAR, holiday)
    assert with_holiday.present.at["R1", "2027-03"] == pytest.approx(12 / 22)


def test_capacity_follows_presence_and_the_capacity_period() -> None:
    tables = _tables(start=["", "2027-07"])
    staffing = build_staffing(tables, YEAR)
    yearly = horizon_capacity(tables.reps, staffing, "year")
    assert yearly.tolist() == [1200.0, 600.0]
    monthly = horizon_capacity(tables.reps, staffing, "month")
    assert monthly.tolist() == [1200.0 * 12, 1200.0 * 6]
    reps = effective_reps(tables.reps, staffing)
    assert reps["ramp"].tolist() == [1.0, 0.5] and reps["capacity"].tolist() == [1200.0, 600.0]


def test_schedules_parse_and_unknown_names_are_named() -> None:
    assert parse_schedule("25/50/75/100") == (0.25, 0.5, 0.75, 1.0)
    assert parse_schedule("0.5, 1") == (0.5, 1.0)
    with pytest.raises(ValueError):
        parse_schedule("50/150")
    tables = _tables(ramp_schedule=["fast", ""])
    with pytest.raises(InputError, match=r"rep R1: column 'ramp_schedule': 'fast'"):
        build_staffing(tables, YEAR)
    settings = StaffingSettings(ramp_schedules={"fast": (0.5, 1.0)})
    assert build_staffing(tables, YEAR, None, settings).share.at["R1", "2027-01"] == 0.5


def test_bad_organisation_rows_are_reported_with_their_rows() -> None:
    tables = _tables()
    managers = pd.DataFrame(
        {"manager_id": ["M1", "M2"], "name": ["a", "b"], "parent_id": ["M2", "M1"]}
    )
    reps = tables.reps.assign(
        manager_id=["M1", "M9"], start=["2027-05", "13/2027"], end=["2027-04", ""]
    )
    with pytest.raises(InputError) as err:
        make_tables(reps=reps, accounts=tables.accounts, managers=managers)
    text = str(err.value)
    assert "column 'end': '2027-04': expected a date on or after start" in text
    assert "column 'start': '13/2027': expected a date YYYY-MM-DD or a month YYYY-MM" in text
    assert "column 'manager_id': 'M9': expected one of the manager_ids" in text
    assert "column 'parent_id': 'M2': expected a manager above, not a cycle" in text


def test_unit_warning_for_monthly_capacity(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    tables = _tables(start=["", ""])
    assert unit_warnings(tables) == []  # 100 hours a year each against 1,200
    monthly = tables.replace(reps=tables.reps.assign(capacity=60.0))
    (warning,) = unit_warnings(monthly)
    assert "2 of 2 reps have more yearly workload than capacity" in warning
    assert unit_warnings(monthly, "month") == []  # 60 x 12 = 720 hours a year each
    monthly.reps.to_csv(tmp_path / "reps.csv", index=False)
    monthly.accounts.to_csv(tmp_path / "accounts.csv", index=False)
    scenario = tmp_path / "s.yaml"
    scenario.write_text("data: {reps: reps.csv, accounts: accounts.csv}\n")
    assert cli_main(["validate", str(scenario)]) == 0
    assert "staffing.capacity_period: month" in capsys.readouterr().err
    scenario.write_text(
        "data: {reps: reps.csv, accounts: accounts.csv}\nstaffing: {capacity_period: month}\n"
    )
    assert cli_main(["validate", str(scenario)]) == 0
    assert "warning" not in capsys.readouterr().err

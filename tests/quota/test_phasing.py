"""Whole-unit rounding with exact sums, and the working-day calendar
(allocator/quota/phasing.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import ScenarioError
from allocator.io.settings import CalendarSettings
from allocator.quota.phasing import (
    month_periods,
    parse_month,
    round_groups,
    round_matrix,
    round_to_total,
    spread_over_accounts,
    spread_over_days,
    spread_over_months,
    weeks_from_days,
    working_days,
)

# ---------------------------------------------------------------- largest remainder


def test_round_to_total_by_hand() -> None:
    # 10/3 each: floors 3,3,3 leave one unit; equal fractions -> the earlier item gets it
    assert round_to_total(np.array([1.0, 1.0, 1.0]), 10).tolist() == [4, 3, 3]
    # 2.6, 4.3, 3.1 -> floors 2,4,3 (9), one unit to the largest fraction (0.6)
    assert round_to_total(np.array([2.6, 4.3, 3.1]), 10).tolist() == [3, 4, 3]
    # values are scaled to the total first: 1:3 of 200 is 50/150 exactly
    assert round_to_total(np.array([100.0, 300.0]), 200).tolist() == [50, 150]


def test_round_to_total_zero_weights_share_equally_and_zero_stays_zero() -> None:
    assert round_to_total(np.zeros(3), 5).tolist() == [2, 2, 1]
    # an item of weight 0 never receives a unit while others have fractions
    assert round_to_total(np.array([0.0, 1.0, 1.0]), 3).tolist() == [0, 2, 1]


def test_round_groups_property_sums_exact_and_within_one() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n, g = int(rng.integers(1, 60)), int(rng.integers(1, 8))
        groups = rng.integers(0, g, n)
        values = rng.random(n) * 1000
        totals = np.array([np.rint(values[groups == k].sum()) for k in range(g)])
        out = round_groups(values, groups, totals)
        sums = np.bincount(groups, weights=out, minlength=g)
        assert np.array_equal(sums, totals)
        scaled = np.concatenate([values[groups == k] for k in range(g)])
        assert (
            np.abs(np.concatenate([out[groups == k] for k in range(g)]) - scaled) < 1 + 1e-9
        ).all()


# ---------------------------------------------------------------- controlled rounding


def test_round_matrix_by_hand() -> None:
    # rows 5 and 5, columns 3, 3, 4: the cells are 1.5, 1.5, 2 on both rows
    rows, cols = np.array([5, 5]), np.array([3, 3, 4])
    out = round_matrix(np.outer(rows, cols) / 10, rows, cols)
    assert out.sum(axis=1).tolist() == [5, 5]
    assert out.sum(axis=0).tolist() == [3, 3, 4]
    assert out[:, 2].tolist() == [2, 2]  # integral cells stay put
    assert sorted(out[:, 0].tolist()) == [1, 2]  # 1.5 goes once up, once down


def test_round_matrix_property_margins_exact_and_floor_or_ceiling() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        r, m = int(rng.integers(1, 30)), int(rng.integers(1, 13))
        rows = rng.integers(0, 1000, r)
        cols = round_to_total(rng.random(m), rows.sum())
        x = np.outer(rows, cols) / max(rows.sum(), 1)
        out = round_matrix(x, rows, cols)
        assert np.array_equal(out.sum(axis=1), rows)
        assert np.array_equal(out.sum(axis=0), cols)
        assert ((out == np.floor(x + 1e-9)) | (out == np.ceil(x - 1e-9))).all()


# ---------------------------------------------------------------- calendar


def test_months_and_bad_month() -> None:
    assert month_periods("2027-11", 3) == ["2027-11", "2027-12", "2028-01"]
    with pytest.raises(
        ScenarioError, match=r"target.start: expected a month YYYY-MM, got '2027-13'"
    ):
        parse_month("2027-13")
    with pytest.raises(ScenarioError, match="YYYY-MM"):
        parse_month("2027-1")


def test_working_days_january_2027() -> None:
    days = working_days(["2027-01"], CalendarSettings(holidays=(date(2027, 1, 1),)))
    # January 2027 has 21 weekdays; New Year's Day (a Friday) is a holiday
    assert len(days) == 20
    assert days["date"].iloc[0] == pd.Timestamp("2027-01-04")
    assert days["week"].iloc[0] == "2027-W01"
    plain = working_days(["2027-01"], CalendarSettings())
    # 1 January 2027 belongs to ISO week 53 of 2026
    assert plain["week"].iloc[0] == "2026-W53" and len(plain) == 21


def test_month_without_working_day_is_an_error() -> None:
    with pytest.raises(ScenarioError, match=r"month\(s\) 2027-02 have no working day"):
        feb = pd.date_range("2027-02-01", "2027-02-28", freq="D")
        working_days(["2027-01", "2027-02"], CalendarSettings(holidays=tuple(feb.date)))
    with pytest.raises(ScenarioError, match="no working day"):
        working_days(["2027-01"], CalendarSettings(weekend=(0, 1, 2, 3, 4, 5, 6)))


def test_days_sum_to_months_and_weeks_straddle_months() -> None:
    days = working_days(["2027-01", "2027-02"], CalendarSettings())
    monthly = pd.DataFrame(
        {"rep_id": ["R1", "R1"], "period": ["2027-01", "2027-02"], "target": [100, 7]}
    )
    spread = spread_over_days(monthly, days, ["rep_id"])
    assert spread.groupby("period")["target"].sum().tolist() == [100, 7]
    jan = spread[spread["period"] == "2027-01"]["target"].tolist()
    # 100 over 21 days: 4 each (84) and the 16 remaining units go to the first 16 days
    assert jan == [5] * 16 + [4] * 5
    weeks = weeks_from_days(spread, ["rep_id"])
    # ISO week 2027-W05 runs Mon 1 Feb .. Fri 5 Feb; W04 is all January
    assert weeks.groupby("period")["target"].sum().tolist() == [100, 7]
    assert (weeks["week"] == "2026-W53").sum() == 1


def test_spread_over_months_and_accounts() -> None:
    by_product = pd.DataFrame(
        {"period": ["2027-01", "2027-02"], "product_id": ["P1", "P1"], "target": [60, 140]}
    )
    rep_product = pd.DataFrame({"rep_id": ["R1", "R2"], "product_id": "P1", "quota": [50, 150]})
    months = spread_over_months(rep_product, by_product)
    # each rep follows the product's profile 30% / 70%; R1: 15 / 35, R2: 45 / 105
    assert months["target"].tolist() == [15, 35, 45, 105]
    owned = pd.DataFrame(
        {"P1": [25.0, 75.0, 300.0], "rep_id": ["R1", "R1", "R2"]},
        index=pd.Index(["A1", "A2", "A3"], name="account_id"),
    )
    accounts = spread_over_accounts(months, owned)
    r1 = accounts[accounts["rep_id"] == "R1"].set_index(["account_id", "period"])["target"]
    # R1's 15 in January split 1:3 -> 3.75 / 11.25 -> 4 / 11
    assert r1.to_dict() == {
        ("A1", "2027-01"): 4,
        ("A2", "2027-01"): 11,
        ("A1", "2027-02"): 9,
        ("A2", "2027-02"): 26,
    }
    assert accounts.groupby(["rep_id", "period"])["target"].sum().tolist() == [15, 35, 45, 105]

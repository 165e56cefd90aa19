"""Quotas that follow dated staffing: start, ramp schedule, leaves and relief
(allocator/quota/availability.py, models/organisation.md).

``cases/new_hire`` is ../shared/cases/new-hire-start-month with R04's start (2027-04) and ramp
schedule (25/50/75/100) written in reps.csv, as the case's README asks. Every plan here also
passes the independent quota checker inside ``allocate_quotas``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InfeasibleError
from allocator.io.scenario import load_scenario
from allocator.io.settings import QuotaSettings, StaffingSettings
from allocator.io.staffing import build_staffing
from allocator.plan import Plan, solve_scenario
from allocator.quota.allocate import allocate_quotas
from allocator.quota.availability import fit_months
from allocator.quota.check import check_quotas
from allocator.report.headline import plan_warnings

CASE = Path(__file__).parent / "cases" / "new_hire" / "scenario.yaml"
SCHEDULE = {"2027-04": 0.25, "2027-05": 0.5, "2027-06": 0.75}


@pytest.fixture(scope="module")
def new_hire() -> Plan:
    return solve_scenario(load_scenario(CASE))


def _monthly(plan: Plan) -> pd.DataFrame:
    assert plan.quotas is not None
    return plan.quotas.quotas.pivot(index="rep_id", columns="period", values="target")


def test_new_hire_has_no_quota_before_the_start(new_hire: Plan) -> None:
    assert new_hire.quotas is not None
    q = new_hire.quotas.quotas
    early = q[(q["rep_id"] == "R04") & (q["period"] < "2027-04")]
    assert len(early) == 3
    assert (early[["base", "target", "stretch"]] == 0).all().all()
    days = new_hire.quotas.days
    live = days[(days["rep_id"] == "R04") & (days["target"] > 0)]
    first_day = pd.to_datetime(live["date"]).min()
    assert first_day >= pd.Timestamp("2027-04-01")


def test_new_hire_follows_schedule_times_fair_share(new_hire: Plan) -> None:
    assert new_hire.quotas is not None and new_hire.target is not None
    monthly = _monthly(new_hire)
    potential = new_hire.quotas.rep_product.set_index("rep_id")["potential"]
    month_target = new_hire.target.by_product.set_index("period")["target"]
    for period in monthly.columns:
        share = pd.Series(1.0, index=potential.index)
        share["R04"] = 0.0 if period < "2027-04" else SCHEDULE.get(period, 1.0)
        fair = month_target[period] * share * potential / (share * potential).sum()
        # the LP returns the fair quotas here (no bounds bind): each month is within a unit
        assert np.abs(monthly[period] - fair).max() <= 1.0, period


def test_totals_still_equal_the_target_exactly(new_hire: Plan) -> None:
    assert new_hire.quotas is not None and new_hire.target is not None
    q = new_hire.quotas.quotas
    assert q["target"].sum() == new_hire.target.by_product["target"].sum()
    by_month = q.groupby("period")["target"].sum()
    expected = new_hire.target.by_product.set_index("period")["target"]
    assert (by_month == expected.reindex(by_month.index)).all()


def test_capacity_and_balance_follow_the_available_months(new_hire: Plan) -> None:
    assert new_hire.assignment is not None
    reps = new_hire.assignment.reps.set_index("rep_id")
    assert reps.at["R04", "capacity"] == pytest.approx(300 * 9 / 12)
    # fair share weight: (0.25 + 0.5 + 0.75 + 6 x 1) / 12 = 0.625 against 1 for the others
    assert reps.at["R04", "fair_share"] / reps.at["R01", "fair_share"] == pytest.approx(0.625)


def test_a_leave_moves_quota_to_the_others_and_is_reported(new_hire: Plan) -> None:
    tables = new_hire.tables
    leaves = pd.DataFrame({"rep_id": ["R01"], "from": ["2027-07-01"], "to": ["2027-08-31"]})
    tables = tables.replace(leaves=leaves)
    assert new_hire.target is not None
    result = allocate_quotas(tables, new_hire.owners, new_hire.target, QuotaSettings())
    q = result.quotas
    away = q[(q["rep_id"] == "R01") & q["period"].isin(["2027-07", "2027-08"])]
    assert (away["target"] == 0).all()
    r01 = result.days[(result.days["rep_id"] == "R01") & (result.days["target"] > 0)]
    days = pd.to_datetime(r01["date"])
    assert not days.between("2027-07-01", "2027-08-31").any()
    relief = result.relief
    assert relief is not None and set(relief["to_rep_id"]) == {"R02", "R03", "R04"}
    before = new_hire.quotas.rep_product.set_index("rep_id")["fair"]  # type: ignore[union-attr]
    after = result.rep_product.set_index("rep_id")["fair"]
    assert relief["amount"].sum() == pytest.approx(before["R01"] - after["R01"], abs=0.05)
    assert (relief["rep_id"] == "R01").all() and (relief["from"] == "2027-07-01").all()


def test_the_checker_rejects_quota_in_a_month_before_the_start(new_hire: Plan) -> None:
    assert new_hire.quotas is not None and new_hire.target is not None
    quotas = new_hire.quotas.quotas.copy()
    jan_r04 = (quotas["rep_id"] == "R04") & (quotas["period"] == "2027-01")
    jan_r01 = (quotas["rep_id"] == "R01") & (quotas["period"] == "2027-01")
    quotas.loc[jan_r04, "target"] += 10
    quotas.loc[jan_r01, "target"] -= 10
    broken = new_hire.quotas.__class__(**{**new_hire.quotas.__dict__, "quotas": quotas})
    check = check_quotas(new_hire.tables, new_hire.owners, new_hire.target, QuotaSettings(), broken)
    assert any("not available" in v and "R04" in v for v in check.violations)


def test_a_month_nobody_can_sell_is_reported_infeasible(new_hire: Plan) -> None:
    assert new_hire.target is not None
    reps = new_hire.tables.reps.assign(start="2027-03")
    tables = new_hire.tables.replace(reps=reps)
    with pytest.raises(InfeasibleError, match="no rep is available"):
        allocate_quotas(tables, new_hire.owners, new_hire.target, QuotaSettings())


def test_named_schedule_and_default_schedule(new_hire: Plan) -> None:
    reps = new_hire.tables.reps.assign(ramp_schedule="")
    tables = new_hire.tables.replace(reps=reps)
    settings = StaffingSettings(ramp_schedules={"hire": (0.5,)}, default_schedule="hire")
    staffing = build_staffing(tables, [f"2027-{m:02d}" for m in range(1, 13)], None, settings)
    assert staffing.share.loc["R04"].tolist() == [0, 0, 0, 0.5] + [1.0] * 8
    assert staffing.share.loc["R01"].tolist() == [1.0] * 12  # no start: no default schedule


def test_fit_months_keeps_zeros_and_both_margins() -> None:
    seed = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    x = fit_months(seed, np.array([30.0, 30.0]), np.array([10.0, 25.0, 25.0]), ["a", "b"])
    assert x[0, 0] == 0.0
    assert np.allclose(x.sum(axis=1), [30, 30]) and np.allclose(x.sum(axis=0), [10, 25, 25])
    with pytest.raises(InfeasibleError):  # rep a's 30 cannot fit into one month of 10
        fit_months(
            np.array([[1.0, 0.0], [1.0, 1.0]]),
            np.array([30.0, 0.0]),
            np.array([10.0, 20.0]),
            ["a", "b"],
        )


def test_the_headline_names_the_dated_new_hire_as_ramping(new_hire: Plan) -> None:
    ramping = [w for w in plan_warnings(new_hire) if "ramping up" in w]
    assert ramping, plan_warnings(new_hire)
    assert "R04 from 2027-04 on 25/50/75/100" in ramping[0]

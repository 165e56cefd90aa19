"""Activity plans: quota through the sales funnel to weekly activities
(allocator/track/activities.py).

``tiny``: one rep, February 2027 (20 working days = 4 weeks), a quota of 60,000 on a segment A
account and 16,000 on a segment B account. With A: deal 20,000, win rate 0.3, 4 meetings per
deal, 3 calls per meeting and B: deal 8,000, win rate 0.5, 2 meetings, 1 call, the funnel by hand
is A: 10 opportunities, 40 meetings, 120 calls; B: 4 opportunities, 8 meetings, 8 calls.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from allocator.demo import generate_company, write_company
from allocator.exceptions import ScenarioError
from allocator.io.data import make_tables
from allocator.io.scenario import load_scenario, scenario_from_dict
from allocator.io.settings import ActivitySettings, CalendarSettings
from allocator.plan import solve_scenario
from allocator.quota.phasing import spread_over_accounts, working_days
from allocator.track.activities import activities_for, plan_activities, write_activities
from allocator.track.attainment import TrackedPlan

FUNNELS = {
    "A": {"deal_size": 20000, "win_rate": 0.3, "meetings_per_deal": 4, "calls_per_meeting": 3},
    "B": {"deal_size": 8000, "win_rate": 0.5, "meetings_per_deal": 2, "calls_per_meeting": 1},
}


def tiny_plan(capacity: float = 1200.0) -> TrackedPlan:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "name": ["Ann"],
            "lat": 50.0,
            "lon": 8.0,
            "region_id": "N",
            "experience": 3,
            "capacity": capacity,
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "name": ["a1", "a2"],
            "lat": 50.0,
            "lon": 8.0,
            "region_id": "N",
            "segment": ["A", "B"],
            "potential": [60000.0, 16000.0],
            "workload": 10.0,
            "incumbent_rep_id": "R1",
        }
    )
    tables = make_tables(reps=reps, accounts=accounts)
    owners = pd.Series(["R1", "R1"], index=pd.Index(["A1", "A2"], name="account_id"))
    months = pd.DataFrame(
        {"rep_id": ["R1"], "product_id": "ALL", "period": "2027-02", "target": [76000]}
    )
    owned = pd.DataFrame({"ALL": [60000.0, 16000.0], "rep_id": "R1"}, index=owners.index)
    accounts_quota = spread_over_accounts(months, owned)
    calendar = working_days(["2027-02"], CalendarSettings())
    scenario = scenario_from_dict({"name": "tiny", "activities": {"segments": FUNNELS}})
    return TrackedPlan(scenario, tables, owners, None, months, None, accounts_quota, calendar)


def test_the_funnel_by_hand() -> None:
    plan = tiny_plan()
    result = activities_for(plan)
    rows = result.activities.set_index("segment")
    assert rows["quota"].to_dict() == {"A": 60000, "B": 16000}
    assert rows["opportunities"].to_dict() == pytest.approx({"A": 10.0, "B": 4.0})
    assert rows["deals"].to_dict() == pytest.approx({"A": 3.0, "B": 2.0})
    assert rows["meetings"].to_dict() == pytest.approx({"A": 40.0, "B": 8.0})
    assert rows["calls"].to_dict() == pytest.approx({"A": 120.0, "B": 8.0})
    # hours: 1.5 per meeting, 0.25 per call (the defaults)
    assert rows["hours"].to_dict() == pytest.approx({"A": 40 * 1.5 + 30.0, "B": 8 * 1.5 + 2.0})
    assert rows["weeks"].tolist() == [4.0, 4.0]
    assert rows["meetings_per_week"].to_dict() == pytest.approx({"A": 10.0, "B": 2.0})
    assert rows["calls_per_week"].to_dict() == pytest.approx({"A": 30.0, "B": 2.0})


def test_capacity_check_flags_plans_that_do_not_fit() -> None:
    # one month of a one-month plan: all of the capacity is available; 104 hours are needed
    fits = activities_for(tiny_plan(capacity=104.0)).reps.iloc[0]
    assert fits["hours"] == pytest.approx(104.0) and fits["available_hours"] == 104.0
    assert fits["fits"]
    settings = ActivitySettings.model_validate({"segments": FUNNELS, "capacity_share": 0.5})
    tight = activities_for(tiny_plan(capacity=200.0), settings)
    row = tight.reps.iloc[0]
    assert row["available_hours"] == 100.0 and not row["fits"]
    assert row["utilization"] == pytest.approx(1.04)
    assert "1 of 1 reps do not fit" in tight.summary()


def test_a_segment_without_funnel_is_an_error_unless_a_default_is_given() -> None:
    only_a = ActivitySettings.model_validate({"segments": {"A": FUNNELS["A"]}})
    with pytest.raises(
        ScenarioError, match=r"activities\.segments: no funnel for segment\(s\) 'B'"
    ):
        activities_for(tiny_plan(), only_a)
    with_default = ActivitySettings.model_validate(
        {"segments": {"A": FUNNELS["A"]}, "default": FUNNELS["B"]}
    )
    rows = activities_for(tiny_plan(), with_default).activities.set_index("segment")
    assert rows.loc["B", "opportunities"] == pytest.approx(4.0)


def test_no_activities_block_is_an_error() -> None:
    plan = tiny_plan()
    bare = TrackedPlan(
        scenario_from_dict({"name": "bare"}),
        plan.tables,
        plan.owners,
        None,
        plan.months,
        None,
        plan.accounts,
        plan.calendar,
    )
    with pytest.raises(ScenarioError, match="activities: missing"):
        activities_for(bare)


def test_activities_add_up_to_the_quota_through_the_funnel(tmp_path: Path) -> None:
    tables = generate_company(accounts=150, reps=6, regions=6, seed=1)
    path = write_company(tables, tmp_path, scenario_name="small")
    plan = solve_scenario(load_scenario(path))
    tracked = TrackedPlan.from_plan(plan)
    settings = ActivitySettings.model_validate(
        {
            "segments": FUNNELS,
            "default": {
                "deal_size": 3000,
                "win_rate": 0.4,
                "meetings_per_deal": 2,
                "calls_per_meeting": 2,
            },
        }
    )
    result = plan_activities(tracked.accounts, tracked.tables, tracked.calendar, settings)
    a = result.activities
    for row in a.itertuples():
        assert math.isclose(
            row.opportunities * row.win_rate * row.deal_size, row.quota, rel_tol=1e-12
        )
        assert math.isclose(row.meetings, row.opportunities * row.meetings_per_deal, rel_tol=1e-12)
        assert math.isclose(row.calls, row.meetings * row.calls_per_meeting, rel_tol=1e-12)
    # the segments of a rep-month add up to the rep's quota of the month, all to the target
    months = plan.quotas.quotas.groupby(["rep_id", "period"])["target"].sum()
    assert a.groupby(["rep_id", "period"])["quota"].sum().equals(months)
    assert a["quota"].sum() == plan.target.total
    # weeks are working days / 5 (Monday to Friday)
    days = tracked.calendar.groupby("period").size()
    assert (a["weeks"] == a["period"].map(days) / 5).all()
    written = write_activities(result, tmp_path / "out")
    back = pd.read_csv(written[0], dtype={"rep_id": str, "segment": str, "period": str})
    assert back["opportunities"].sum() == pytest.approx(a["opportunities"].sum())
    assert len(pd.read_csv(written[1])) == len(result.reps) == 6 * 12


def test_activities_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from allocator import cli
    from allocator.cli.track import add_track_parsers
    from allocator.demo import demo_settings

    original = cli.build_parser

    def build() -> object:  # the command, until cli.py adds it
        parser = original()
        sub = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
        if "activities" not in sub.choices:
            add_track_parsers(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    tables = generate_company(accounts=150, reps=6, regions=6, seed=1)
    default = {"deal_size": 3000, "win_rate": 0.4, "meetings_per_deal": 2, "calls_per_meeting": 2}
    settings = {**demo_settings(tables), "activities": {"segments": FUNNELS, "default": default}}
    path = write_company(tables, tmp_path, scenario_name="small", settings=settings)
    assert cli.main(["activities", str(path), "--out", str(tmp_path / "act")]) == 0
    frame = pd.read_csv(tmp_path / "act" / "activities.csv")
    funnel = frame["opportunities"] * frame["win_rate"] * frame["deal_size"]
    assert ((funnel - frame["quota"]).abs() <= 1e-9 * frame["quota"]).all()
    plan = pd.read_csv(tmp_path / "output" / "quotas.csv")
    assert frame["quota"].sum() == plan["target"].sum()

"""Tracking: actuals, attainment, pace, re-phasing and the ``track`` command
(allocator/track/attainment.py).

``tiny`` is a plan a person can check by hand: February 2027 (20 working days, Mon 1st to
Fri 26th), rep R1 with quota 2,000 (100 a working day) and rep R2 with 1,000 (50 a day), one
product. The small generated company checks the same rules on a solved plan, recomputing every
number from the plan's days and the actuals.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InputError, ScenarioError
from allocator.io.data import load_inputs, make_tables
from allocator.io.scenario import load_scenario, scenario_from_dict
from allocator.io.settings import CalendarSettings, TrackSettings
from allocator.io.staffing import build_staffing
from allocator.plan import Plan
from allocator.quota.phasing import spread_over_accounts, spread_over_days, working_days
from allocator.report.output import write_plan
from allocator.track.attainment import (
    TrackedPlan,
    check_actuals,
    generate_actuals,
    load_actuals,
    rephase,
    track_attainment,
)

BROKEN = Path(__file__).resolve().parent / "broken_track"
KEYS = ["rep_id", "product_id"]


# ---------------------------------------------------------------- the tiny plan


def tiny_plan() -> TrackedPlan:
    """R1 (region N) owns A1 with a February quota of 2,000; R2 (team East) owns A2 with 1,000."""
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "name": ["Ann", "Bob"],
            "lat": [50.0, 51.0],
            "lon": [8.0, 9.0],
            "region_id": ["N", "S"],
            "experience": [3, 3],
            "capacity": [100.0, 100.0],
            "team": ["", "East"],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "name": ["a1", "a2"],
            "lat": [50.0, 51.0],
            "lon": [8.0, 9.0],
            "region_id": ["N", "S"],
            "segment": ["A", "B"],
            "potential": [1000.0, 500.0],
            "workload": [10.0, 10.0],
            "incumbent_rep_id": ["R1", "R2"],
        }
    )
    tables = make_tables(reps=reps, accounts=accounts)
    owners = pd.Series(["R1", "R2"], index=pd.Index(["A1", "A2"], name="account_id"))
    months = pd.DataFrame(
        {"rep_id": ["R1", "R2"], "product_id": "ALL", "period": "2027-02", "target": [2000, 1000]}
    )
    calendar = working_days(["2027-02"], CalendarSettings())
    days = spread_over_days(months, calendar, KEYS)[[*KEYS, "date", "target"]]
    owned = pd.DataFrame({"ALL": [1000.0, 500.0], "rep_id": ["R1", "R2"]}, index=owners.index)
    accounts_quota = spread_over_accounts(months, owned)
    scenario = scenario_from_dict({"name": "tiny"})
    return TrackedPlan(scenario, tables, owners, None, months, days, accounts_quota, calendar)


def tiny_actuals(plan: TrackedPlan) -> pd.DataFrame:
    """R1 sells 900 by the 10th (and 1,000 on the 15th); R2 100 on Saturday 6th and 100 on 10th."""
    frame = pd.DataFrame(
        {
            "account_id": ["A1", "A1", "A1", "", ""],
            "rep_id": ["", "", "", "R2", "R2"],
            "date": ["2027-02-03", "2027-02-09", "2027-02-15", "2027-02-06", "2027-02-10"],
            "sales": ["500", "400", "1000", "100", "100"],
        }
    )
    return check_actuals(frame, plan)


def test_the_tiny_calendar_is_what_the_docstring_says() -> None:
    plan = tiny_plan()
    assert len(plan.calendar) == 20
    assert set(plan.days.groupby("rep_id")["target"].unique().map(tuple)) == {(100,), (50,)}


def test_attainment_and_pace_by_hand() -> None:
    plan = tiny_plan()
    result = track_attainment(
        plan, tiny_actuals(plan), "2027-02-10", settings=TrackSettings(behind_margin=0.1)
    )
    # 8 working days to Wed 10th: 1-5 and 8-10; the sale of the 15th is after the as-of date
    assert (result.days_elapsed, result.days_total, result.ignored_rows) == (8, 20, 1)
    reps = result.reps.set_index("rep_id")
    assert reps.loc["R1", ["quota", "quota_to_date", "actual_to_date"]].tolist() == [2000, 800, 900]
    assert reps.loc["R2", ["quota", "quota_to_date", "actual_to_date"]].tolist() == [1000, 400, 200]
    assert reps.loc["R1", "attainment"] == pytest.approx(900 / 800)
    assert reps.loc["R2", "attainment"] == pytest.approx(200 / 400)
    assert reps.loc["R1", "pace"] == pytest.approx(900 / 8 * 20)  # 2,250
    assert reps.loc["R2", "pace"] == pytest.approx(200 / 8 * 20)  # 500
    assert reps.loc["R2", "pace_attainment"] == pytest.approx(0.5)
    assert reps["behind"].to_dict() == {"R1": False, "R2": True}
    assert reps["team"].to_dict() == {"R1": "N", "R2": "East"}  # team column, else region
    assert reps.loc["R1", "gap_to_date"] == 100


def test_behind_uses_the_margin() -> None:
    plan = tiny_plan()
    actuals = tiny_actuals(plan)
    # R2's pace is 50% of quota: behind with margin 0.4, not with margin 0.5
    assert track_attainment(
        plan, actuals, "2027-02-10", settings=TrackSettings(behind_margin=0.4)
    ).reps["behind"].tolist() == [False, True]
    assert (
        not track_attainment(plan, actuals, "2027-02-10", settings=TrackSettings(behind_margin=0.5))
        .reps["behind"]
        .any()
    )


def test_burnup_is_cumulative_quota_and_actual_per_team() -> None:
    plan = tiny_plan()
    result = track_attainment(plan, tiny_actuals(plan), "2027-02-10")
    burnup = result.burnup.set_index(["team", "date"])
    assert sorted(result.burnup["team"].unique()) == ["East", "N", "all"]
    day = pd.Timestamp("2027-02-10")
    assert burnup.loc[("all", day), "quota_cum"] == 1200
    assert burnup.loc[("all", day), "actual_cum"] == 1100
    assert burnup.loc[("East", pd.Timestamp("2027-02-06")), "actual_cum"] == 100  # a Saturday sale
    assert np.isnan(burnup.loc[("N", pd.Timestamp("2027-02-11")), "actual_cum"])
    # the projection ends at the pace: 900 / 8 x 20 for R1's team
    assert burnup.loc[("N", pd.Timestamp("2027-02-28")), "projected_cum"] == pytest.approx(2250)
    assert burnup.loc[("N", pd.Timestamp("2027-02-28")), "quota_cum"] == 2000


def test_rephase_keeps_totals_and_spreads_by_largest_remainder() -> None:
    plan = tiny_plan()
    result = rephase(plan, tiny_actuals(plan), "2027-02-10")
    pairs = result.pairs.set_index("rep_id")
    assert pairs["remaining"].to_dict() == {"R1": 1100, "R2": 800}
    assert pairs["plan_remaining"].to_dict() == {"R1": 1200, "R2": 600}
    assert pairs["new_total"].to_dict() == {"R1": 2000, "R2": 1000}
    days = result.days
    assert days["date"].min() == pd.Timestamp("2027-02-11") and days["date"].nunique() == 12
    # 1,100 / 12 = 91.67: the first 8 days get 92, the last 4 get 91 (ties to the earlier day)
    r1 = days[days["rep_id"] == "R1"].sort_values("date")["target"].tolist()
    assert r1 == [92] * 8 + [91] * 4
    r2 = days[days["rep_id"] == "R2"].sort_values("date")["target"].tolist()
    assert r2 == [67] * 8 + [66] * 4
    assert result.months.set_index("rep_id")["target"].to_dict() == {"R1": 1100, "R2": 800}


def test_rephase_of_a_rep_above_quota_leaves_nothing() -> None:
    plan = tiny_plan()
    frame = pd.DataFrame({"rep_id": ["R2"], "date": ["2027-02-02"], "sales": [1500.0]})
    result = rephase(plan, check_actuals(frame, plan), "2027-02-10")
    pairs = result.pairs.set_index("rep_id")
    assert pairs.loc["R2", "remaining"] == 0 and pairs.loc["R2", "new_total"] == 1500
    assert set(result.days["rep_id"]) == {"R1"}


def test_rephase_needs_a_working_day_left() -> None:
    plan = tiny_plan()
    with pytest.raises(ScenarioError, match="no working day of the plan is left"):
        rephase(plan, tiny_actuals(plan), "2027-02-27")


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2027-01-31", r"as-of date 2027-01-31 is before the plan starts \(2027-02-01\)"),
        ("2027-03-01", r"as-of date 2027-03-01 is after the plan ends \(2027-02-28\)"),
        ("31.01.2027", r"as-of date: expected a date YYYY-MM-DD, got '31.01.2027'"),
    ],
)
def test_as_of_outside_the_plan_is_an_error(as_of: str, message: str) -> None:
    plan = tiny_plan()
    with pytest.raises(ScenarioError, match=message):
        track_attainment(plan, tiny_actuals(plan), as_of)


#: broken actuals file -> regex of the message (file, row, column, value, what was expected)
BROKEN_ACTUALS = {
    "actuals_unknown_account.csv": r"actuals_unknown_account\.csv: row 3: column 'account_id': "
    r"'A9': expected an account of the plan",
    "actuals_date_outside_plan.csv": r"actuals_date_outside_plan\.csv: row 3: column 'date': "
    r"'2027-03-01': expected a date within the plan \(2027-02-01 to 2027-02-28\)",
    "actuals_sales_text.csv": r"actuals_sales_text\.csv: row 2: column 'sales': 'lots': "
    r"expected a number",
    "actuals_date_format.csv": r"actuals_date_format\.csv: row 2: column 'date': '03/02/2027': "
    r"expected a date YYYY-MM-DD",
    "actuals_no_account_or_rep.csv": r"actuals_no_account_or_rep\.csv: needs an 'account_id' "
    r"or a 'rep_id' column",
    "actuals_row_without_id.csv": r"actuals_row_without_id\.csv: row 3: expected an account_id "
    r"or a rep_id",
    "actuals_unknown_product.csv": r"actuals_unknown_product\.csv: row 2: column 'product_id': "
    r"'P9': expected a product of the plan \(ALL\)",
    "actuals_unknown_rep.csv": r"actuals_unknown_rep\.csv: row 2: column 'rep_id': 'R7': "
    r"expected an active rep of the plan",
}


@pytest.mark.parametrize("name", sorted(BROKEN_ACTUALS))
def test_broken_actuals_name_file_row_and_column(name: str) -> None:
    with pytest.raises(InputError, match=BROKEN_ACTUALS[name]):
        load_actuals(BROKEN / name, tiny_plan())


def test_every_broken_actuals_file_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.glob("actuals_*")) == sorted(BROKEN_ACTUALS)


def test_actuals_files_that_are_not_tables(tmp_path: Path) -> None:
    plan = tiny_plan()
    with pytest.raises(InputError, match=r"missing\.csv: file not found"):
        load_actuals(tmp_path / "missing.csv", plan)
    (tmp_path / "actuals.txt").write_text("x")
    with pytest.raises(InputError, match=r"unsupported file type '\.txt'"):
        load_actuals(tmp_path / "actuals.txt", plan)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        load_actuals(tmp_path / "empty.csv", plan)


def test_a_plan_without_quotas_cannot_be_tracked() -> None:
    plan = tiny_plan()
    bare = TrackedPlan(plan.scenario, plan.tables, plan.owners)
    with pytest.raises(ScenarioError, match="tracking needs quotas; add a target: block"):
        track_attainment(bare, pd.DataFrame(), "2027-02-10")


# ---------------------------------------------------------------- a solved small company


@pytest.fixture(scope="module")
def company(small_solved: tuple[Path, Plan]) -> tuple[Path, Plan]:
    """The small company's scenario, and its plan written to ``<dir>/output`` beside it."""
    path, plan = small_solved
    write_plan(plan, path.parent / "output", force=True)
    return path, plan


def test_a_folder_gives_the_same_tracked_plan_as_the_plan(company: tuple[Path, Plan]) -> None:
    path, plan = company
    scenario = load_scenario(path)
    direct = TrackedPlan.from_plan(plan)
    folder = TrackedPlan.from_folder(path.parent / "output", scenario, tables=load_inputs(scenario))
    assert folder.owners.sort_index().equals(direct.owners.sort_index())
    for name in ("months", "days", "accounts", "calendar"):
        a, b = getattr(direct, name), getattr(folder, name)
        order = [c for c in a.columns if c != "target"]
        a = a.sort_values(order).reset_index(drop=True)
        b = b.sort_values(order).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)


def test_generated_actuals_follow_the_performance_factors(company: tuple[Path, Plan]) -> None:
    _, plan = company
    tracked = TrackedPlan.from_plan(plan)
    raw = generate_actuals(plan, through="2027-03-31", seed=5, performance={"R003": 0.5}, noise=0)
    actuals = check_actuals(raw, tracked)
    # every sale is booked on an account its rep owns, and credited back to that rep
    booked = raw[raw["account_id"] != ""]
    assert (booked["account_id"].map(tracked.owners) == actuals.loc[booked.index, "rep_id"]).all()
    result = track_attainment(tracked, actuals, "2027-03-31")
    reps = result.reps.set_index("rep_id")
    days = tracked.days[tracked.days["date"] <= "2027-03-31"]
    # without noise each day's sale is the day's quota x factor, rounded: within 0.5 a day
    for rep, factor in {"R003": 0.5, "R001": 1.0}.items():
        quota = days.loc[days["rep_id"] == rep, "target"]
        assert abs(reps.loc[rep, "actual_to_date"] - factor * quota.sum()) <= 0.5 * len(quota)
    assert reps["behind"].to_dict() == {r: r == "R003" for r in reps.index}


def test_attainment_recomputed_from_the_days_and_actuals(company: tuple[Path, Plan]) -> None:
    _, plan = company
    tracked = TrackedPlan.from_plan(plan)
    actuals = check_actuals(generate_actuals(plan, through="2027-05-31", seed=2), tracked)
    as_of = pd.Timestamp("2027-04-15")
    result = track_attainment(tracked, actuals, as_of)
    days, calendar = tracked.days, tracked.calendar
    elapsed = int((calendar["date"] <= as_of).sum())
    for row in result.rep_product.itertuples():
        mine = (days["rep_id"] == row.rep_id) & (days["product_id"] == row.product_id)
        sold = (actuals["rep_id"] == row.rep_id) & (actuals["product_id"] == row.product_id)
        actual = actuals.loc[sold & (actuals["date"] <= as_of), "sales"].sum()
        assert row.quota == days.loc[mine, "target"].sum()
        assert row.quota_to_date == days.loc[mine & (days["date"] <= as_of), "target"].sum()
        assert row.actual_to_date == pytest.approx(actual)
        assert row.pace == pytest.approx(actual / elapsed * len(calendar))
    totals = result.reps[["quota", "quota_to_date", "actual_to_date"]].sum()
    assert totals["quota"] == plan.quotas.rep_product["quota"].sum()
    assert totals["actual_to_date"] == pytest.approx(
        actuals.loc[actuals["date"] <= as_of, "sales"].sum()
    )


def _check_spread(result, tracked: TrackedPlan, as_of: pd.Timestamp) -> None:
    days = result.days
    ahead = set(tracked.calendar.loc[tracked.calendar["date"] > as_of, "date"])
    assert set(days["date"]) <= ahead
    assert (days["target"] >= 0).all() and days["target"].dtype.kind == "i"
    spread = days.groupby(KEYS)["target"].sum()
    wanted = result.pairs.set_index(KEYS)["remaining"]
    assert spread.reindex(wanted.index, fill_value=0).equals(wanted)
    assert (
        result.months.groupby(KEYS)["target"]
        .sum()
        .reindex(wanted.index, fill_value=0)
        .equals(wanted)
    )


def test_rephase_keeping_totals_on_the_company(company: tuple[Path, Plan]) -> None:
    _, plan = company
    tracked = TrackedPlan.from_plan(plan)
    actuals = check_actuals(generate_actuals(plan, through="2027-03-31", seed=3), tracked)
    as_of = pd.Timestamp("2027-03-31")
    result = rephase(tracked, actuals, as_of)
    _check_spread(result, tracked, as_of)
    pairs = result.pairs
    expected = (pairs["quota"] - pairs["actual_to_date"]).round().clip(lower=0)
    assert (pairs["remaining"] == expected).all()
    under = pairs["actual_to_date"] <= pairs["quota"]
    assert (pairs.loc[under, "new_total"] == pairs.loc[under, "quota"]).all()


def test_rephase_reallocating_the_remaining_target(company: tuple[Path, Plan]) -> None:
    _, plan = company
    tracked = TrackedPlan.from_plan(plan)
    actuals = check_actuals(
        generate_actuals(plan, through="2027-03-31", seed=3, performance={"R003": 0.6}), tracked
    )
    as_of = pd.Timestamp("2027-03-31")
    result = rephase(tracked, actuals, as_of, reallocate=True)
    assert result.method == "reallocate" and result.report is not None
    _check_spread(result, tracked, as_of)
    # each product's remaining target (target - all actuals to date) is allocated exactly
    totals = plan.target.product_totals()
    sold = actuals[actuals["date"] <= as_of].groupby("product_id")["sales"].sum()
    rest = (totals - sold.reindex(totals.index, fill_value=0)).round().clip(lower=0)
    assert (
        result.pairs.groupby("product_id")["remaining"]
        .sum()
        .reindex(rest.index)
        .equals(rest.astype("int64"))
    )
    # the LP splits the rest by available potential within the fairness band, whatever was
    # sold: each remaining month's target (shaped like the plan's) by potential x availability
    # (start dates, ramp schedules, leaves: models/organisation.md)
    band = plan.scenario.quota.fairness.band
    reps = plan.tables.reps.set_index("rep_id")
    potential = plan.quotas.rep_product.set_index(KEYS)["potential"]
    pairs = result.pairs.set_index(KEYS)
    months = [f"2027-{m:02d}" for m in range(4, 13)]
    calendar = plan.scenario.quota.calendar
    share = build_staffing(plan.tables, months, calendar, plan.scenario.staffing).share
    q = plan.quotas.quotas
    profile = q[q["period"].isin(months)].groupby(["product_id", "period"])["target"].sum()
    for product, total in rest.items():
        rows = pairs.xs(product, level="product_id")
        skilled = reps["skills"].reindex(rows.index).map(lambda s, p=product: p in s.split(";"))
        weight = potential.xs(product, level="product_id").reindex(rows.index) * skilled
        month_target = profile.xs(product) / profile.xs(product).sum() * total
        fair = sum(
            month_target[m]
            * weight
            * share[m].reindex(rows.index)
            / (weight * share[m].reindex(rows.index)).sum()
            for m in months
        )
        live = fair > 0
        slack = len(months)  # the months' targets are whole units: within one a month
        assert (rows.loc[~live, "remaining"] == 0).all()
        assert (rows.loc[live, "remaining"] >= (1 - band) * fair[live] - slack).all()
        assert (rows.loc[live, "remaining"] <= (1 + band) * fair[live] + slack).all()


# ---------------------------------------------------------------- the command


def test_track_command_writes_tables_report_and_chart(
    company: tuple[Path, Plan],
    cli_main: Callable[[list[str]], int],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, plan = company
    out = tmp_path / "track"
    with caplog.at_level(logging.INFO, logger="allocator"):
        code = cli_main(
            ["track", str(path), "--simulate", "--as-of", "2027-03-31", "--out", str(out)]
        )
    assert code == 0
    assert "reusing the plan" in caplog.text  # the folder's manifest matches: no new solve
    for name in ("attainment", "attainment_reps", "burnup", "rephase", "rephased_days", "actuals"):
        assert (out / f"{name}.csv").is_file(), name
    html = (out / "track.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "Burn-up per team" in html
    assert (out / "track_burnup.png").stat().st_size > 10_000
    # the written actuals give back the written attainment
    tracked = TrackedPlan.from_plan(plan)
    actuals = load_actuals(out / "actuals.csv", tracked)
    again = track_attainment(tracked, actuals, "2027-03-31").reps
    written = pd.read_csv(out / "attainment_reps.csv", dtype={"rep_id": str})
    assert np.allclose(written["actual_to_date"], again["actual_to_date"])
    assert written["behind"].tolist() == again["behind"].tolist()


def test_track_command_bad_input_exits_2(
    company: tuple[Path, Plan],
    cli_main: Callable[[list[str]], int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = company
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(
        "account_id,product_id,date,sales\nA0001,P1,2027-01-04,10\nA9999,P1,2027-01-05,1\n"
    )
    assert cli_main(["track", str(path), "--actuals", str(actuals), "--as-of", "2027-03-31"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"actuals\.csv: row 3: column 'account_id': 'A9999'", err)
    assert "Traceback" not in err
    actuals.write_text("account_id,product_id,date,sales\nA0001,P1,2027-01-04,10\n")
    args = ["track", str(path), "--actuals", str(actuals), "--as-of", "2026-12-31"]
    assert cli_main(args) == 2
    assert "as-of date 2026-12-31 is before the plan starts (2027-01-01)" in capsys.readouterr().err


def test_track_command_on_an_output_folder(
    company: tuple[Path, Plan],
    cli_main: Callable[[list[str]], int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, plan = company
    out = tmp_path / "track"
    args = ["track", str(path.parent / "output"), "--simulate", "--as-of", "2027-02-15"]
    assert cli_main([*args, "--seed", "4", "--out", str(out)]) == 0
    written = pd.read_csv(out / "attainment.csv", dtype={"rep_id": str})
    expected = plan.quotas.rep_product[plan.quotas.rep_product["quota"] > 0]
    assert written["quota"].sum() == expected["quota"].sum()
    assert len(written) == len(expected)
    assert cli_main(["track", str(tmp_path), "--simulate", "--as-of", "2027-02-15"]) == 2
    assert "not an allocator output folder" in capsys.readouterr().err

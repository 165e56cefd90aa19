"""Shared accounts: a 60/40 split counted by share in capacity, balance and quota, verified by
the checkers (allocator/territory/splits.py, models/organisation.md).

``cases/split_account`` is ../shared/cases/split-account: its accounts.csv listed A0001 twice
(``data/accounts_duplicate.csv``, still rejected, now with a hint); ``scenario.yaml`` lists it
once and splits it 60/40 between R01 and R02 in ``data/account_splits.csv``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.io.data import load_inputs
from allocator.io.scenario import load_scenario
from allocator.plan import Plan, solve_scenario
from allocator.territory.check import check_assignment

CASE = Path(__file__).parent / "cases" / "split_account"
ACCOUNT, POTENTIAL, WORKLOAD = "A0001", 11119.0, 10.9


@pytest.fixture(scope="module")
def plan() -> Plan:
    return solve_scenario(load_scenario(CASE / "scenario.yaml"))


def test_the_split_account_is_one_row_naming_both_reps(plan: Plan) -> None:
    assert plan.assignment is not None
    rows = plan.assignment.assignments
    row = rows[rows["account_id"] == ACCOUNT]
    assert len(row) == 1 and len(rows) == 20
    assert row["rep_id"].iloc[0] == "R01"
    assert row["reason"].iloc[0] == "split: R01 60% / R02 40%"


def test_balance_and_capacity_count_the_shares(plan: Plan) -> None:
    assert plan.assignment is not None
    rows = plan.assignment.assignments
    whole = rows[rows["account_id"] != ACCOUNT].groupby("rep_id")[["potential", "workload"]].sum()
    reps = plan.assignment.reps.set_index("rep_id")
    for rep, share in (("R01", 0.6), ("R02", 0.4)):
        assert reps.at[rep, "potential"] == pytest.approx(
            whole.at[rep, "potential"] + share * POTENTIAL
        )
        assert reps.at[rep, "workload"] == pytest.approx(
            whole.at[rep, "workload"] + share * WORKLOAD
        )
    assert reps["potential"].sum() == pytest.approx(plan.tables.accounts["potential"].sum())


def test_the_split_appears_in_both_reps_quotas_by_share(plan: Plan) -> None:
    assert plan.quotas is not None
    rp = plan.quotas.rep_product.set_index("rep_id")
    assert rp["potential"].sum() == pytest.approx(plan.tables.accounts["potential"].sum())
    acc = plan.quotas.accounts
    split = acc[acc["account_id"] == ACCOUNT].groupby("rep_id")["target"].sum()
    assert set(split.index) == {"R01", "R02"} and (split > 0).all()
    # each rep's account quota follows the potential credited to it: 60% vs 40% of A0001
    for rep, share in (("R01", 0.6), ("R02", 0.4)):
        mine = acc[acc["rep_id"] == rep].groupby("account_id")["target"].sum()
        expected = mine.sum() * share * POTENTIAL / rp.at[rep, "potential"]
        assert split[rep] == pytest.approx(expected, abs=12)  # whole units over 12 months


def test_the_checker_verifies_the_shares(plan: Plan) -> None:
    assert plan.assignment is not None
    pairs = plan.assignment.assignments[["account_id", "rep_id"]]
    settings = plan.scenario.assignment
    assert check_assignment(plan.tables, settings, pairs).ok
    bad = pd.DataFrame({"account_id": [ACCOUNT] * 2, "rep_id": ["R01", "R02"], "share": [0.6, 0.3]})
    found = check_assignment(plan.tables.replace(account_splits=bad), settings, pairs)
    assert any("split[A0001]: shares sum to 0.9" in v for v in found.violations)
    elsewhere = bad.assign(rep_id=["R03", "R04"], share=[0.6, 0.4])
    found = check_assignment(plan.tables.replace(account_splits=elsewhere), settings, pairs)
    assert any("shown with R01, not one of its split reps" in v for v in found.violations)


def test_the_checker_counts_the_share_in_capacity(plan: Plan) -> None:
    assert plan.assignment is not None
    pairs = plan.assignment.assignments[["account_id", "rep_id"]]
    load = plan.assignment.reps.set_index("rep_id").at["R02", "load"]
    settings = plan.scenario.assignment

    def with_capacity(hours: float) -> pd.DataFrame:
        reps = plan.tables.reps.copy()
        reps.loc[reps["rep_id"] == "R02", "capacity"] = hours
        return check_assignment(plan.tables.replace(reps=reps), settings, pairs).violations

    # R02's load includes 40% of A0001's 10.9 hours: 4.36 hours below it is a violation
    assert not [v for v in with_capacity(load + 0.01) if v.startswith("capacity[R02]")]
    assert [v for v in with_capacity(load - 0.4 * WORKLOAD + 0.01) if v.startswith("capacity[R02]")]


def test_listing_an_account_twice_is_refused_with_a_hint(
    cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["validate", str(CASE / "duplicate.yaml")]) == 2
    err = capsys.readouterr().err
    assert "row 22: column 'account_id': 'A0001'" in err and "data.account_splits" in err


def test_shares_that_do_not_sum_to_one_are_refused(tmp_path: Path) -> None:
    scenario = load_scenario(CASE / "scenario.yaml")
    (tmp_path / "splits.csv").write_text("account_id,rep_id,share\nA0001,R01,0.6\nA0001,R02,0.3\n")
    broken = scenario.replace({"data.account_splits": str(tmp_path / "splits.csv")})
    with pytest.raises(InputError, match="shares of account A0001 summing to 1"):
        load_inputs(broken)

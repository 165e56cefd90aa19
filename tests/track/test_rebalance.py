"""Rebalancing after staff changes (allocator/track/rebalance.py, models/rebalance.md).

``tiny`` is small enough to enumerate: three reps in a row along latitude 50 (R1 at 8°E, R2 at
10°E, R3 at 12°E), two accounts each. R3 leaves, R2's capacity drops from 100 to 60 hours and
R4 joins at 11°E with 60 hours. R2 holds 70 hours of work, so it must give up one account; the
cheapest to move is A4 (potential 60,000). Every assignment of the six accounts to the three
remaining reps is enumerated to confirm the optimum. The small generated company checks the
rules on a real instance: every move is vacated by a departing rep or forced by a constraint
that is recomputed here from the tables.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.demo import write_company
from allocator.exceptions import InfeasibleError, InputError
from allocator.io.data import make_tables
from allocator.io.scenario import scenario_from_dict
from allocator.io.settings import RebalanceSettings
from allocator.plan import Plan
from allocator.track.attainment import TrackedPlan
from allocator.track.rebalance import (
    MOVE_COLUMNS,
    apply_changes,
    check_changes,
    load_changes,
    rebalance,
)

BROKEN = Path(__file__).resolve().parent / "broken_track"
FAST = RebalanceSettings(gap=1e-3)  # 1e-3 of the objective is below the cheapest move here


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle km on a sphere of radius 6371 km, written out again for the check."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def tiny_plan() -> TrackedPlan:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "name": ["Ann", "Bob", "Cem"],
            "lat": 50.0,
            "lon": [8.0, 10.0, 12.0],
            "region_id": "N",
            "experience": 3,
            "capacity": 100.0,
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(1, 7)],
            "name": [f"a{i}" for i in range(1, 7)],
            "lat": 50.0,
            "lon": [8.1, 8.5, 10.1, 10.5, 11.9, 11.5],
            "region_id": "N",
            "segment": "A",
            "potential": [100e3, 50e3, 100e3, 60e3, 100e3, 100e3],
            "workload": [40.0, 40.0, 40.0, 30.0, 30.0, 20.0],
            "incumbent_rep_id": ["R1", "R1", "R2", "R2", "R3", "R3"],
            "locked": [False] * 5 + [True],
        }
    )
    tables = make_tables(reps=reps, accounts=accounts)
    owners = tables.accounts.set_index("account_id")["incumbent_rep_id"].rename("rep_id")
    return TrackedPlan(scenario_from_dict({"name": "tiny"}), tables, owners)


TINY_CHANGES = pd.DataFrame(
    {
        "rep_id": ["R3", "R2", "R4"],
        "change": ["leave", "capacity", "join"],
        "name": ["", "", "Dana"],
        "lat": [None, None, "50.0"],
        "lon": [None, None, "11.0"],
        "region_id": ["", "", "N"],
        "experience": [None, None, "1"],
        "capacity": [None, "60", "60"],
    }
)


def brute_force(plan: TrackedPlan, tables: pd.DataFrame) -> tuple[float, dict[str, str]]:
    """Optimum of travel + moved potential (x 1,000 per 1,000) over every assignment."""
    reps = tables.reps[tables.reps["active"]].set_index("rep_id")
    acc = tables.accounts.set_index("account_id")
    best: tuple[float, dict[str, str]] = (math.inf, {})
    for choice in itertools.product(reps.index, repeat=len(acc)):
        owner = dict(zip(acc.index, choice, strict=True))
        load = pd.Series(acc["workload"].to_numpy(), index=list(choice)).groupby(level=0).sum()
        if (load > reps["capacity"].reindex(load.index)).any():
            continue
        cost = 0.0
        for a, r in owner.items():
            cost += acc.at[a, "visits"] * km(
                acc.at[a, "lat"], acc.at[a, "lon"], reps.at[r, "lat"], reps.at[r, "lon"]
            )
            incumbent = acc.at[a, "incumbent_rep_id"]
            if incumbent and incumbent != r:
                cost += 1000 * acc.at[a, "potential"] / 1000
        if cost < best[0]:
            best = (cost, owner)
    return best


def test_tiny_rebalance_is_the_enumerated_optimum() -> None:
    plan = tiny_plan()
    changes = check_changes(TINY_CHANGES, plan.tables)
    result = rebalance(plan, changes, settings=FAST)
    tables = apply_changes(plan.tables, plan.owners, changes)
    cost, owner = brute_force(plan, tables)
    assert result.owners.to_dict() == owner
    assert result.assignment.report.objective == pytest.approx(cost, rel=1e-6)
    moves = result.moves.set_index("account_id")
    assert list(result.moves.columns) == MOVE_COLUMNS
    assert moves[["from_rep", "to_rep"]].to_dict("index") == {
        "A4": {"from_rep": "R2", "to_rep": "R4"},
        "A5": {"from_rep": "R3", "to_rep": "R4"},
        "A6": {"from_rep": "R3", "to_rep": "R2"},
    }
    assert moves.loc["A5", "reason"] == "vacated: R3 left"
    assert moves.loc["A6", "reason"] == "vacated: R3 left"  # its lock went with its rep
    # back at R2, A4 would make 40 (A3) + 20 (A6) + 30 = 90 hours of a 60-hour capacity
    assert moves.loc["A4", "reason"] == "capacity[R2]: taking it back makes 90.0 > 60.0"


def test_tiny_rep_table_before_and_after() -> None:
    plan = tiny_plan()
    result = rebalance(plan, check_changes(TINY_CHANGES, plan.tables), settings=FAST)
    reps = result.reps.set_index("rep_id")
    assert reps["change"].to_dict() == {"R1": "", "R2": "capacity", "R3": "leave", "R4": "join"}
    assert reps["accounts_before"].to_dict() == {"R1": 2, "R2": 2, "R3": 2, "R4": 0}
    assert reps["accounts_after"].to_dict() == {"R1": 2, "R2": 2, "R3": 0, "R4": 2}
    assert reps["gained"].to_dict() == {"R1": 0, "R2": 1, "R3": 0, "R4": 2}
    assert reps["lost"].to_dict() == {"R1": 0, "R2": 1, "R3": 2, "R4": 0}
    assert reps["workload_after"].to_dict() == {"R1": 80.0, "R2": 60.0, "R3": 0.0, "R4": 60.0}
    assert reps["capacity_after"].to_dict() == {"R1": 100.0, "R2": 60.0, "R3": 0.0, "R4": 60.0}
    assert reps["potential_after"].sum() == reps["potential_before"].sum() == 510e3
    assert reps["quota_after"].isna().all()  # no target: no quotas
    joined = result.tables.reps.set_index("rep_id").loc["R4"]
    assert joined["ramp"] == 0.5 and joined["active"]  # new_hire_ramp by default


def test_losing_too_much_capacity_is_infeasible() -> None:
    plan = tiny_plan()
    changes = pd.DataFrame({"rep_id": ["R1", "R2"], "change": ["leave", "leave"]})
    with pytest.raises(InfeasibleError, match="capacity"):
        rebalance(plan, check_changes(changes, plan.tables), settings=FAST)


def test_yaml_and_csv_changes_are_the_same(tmp_path: Path) -> None:
    plan = tiny_plan()
    csv = tmp_path / "changes.csv"
    TINY_CHANGES.to_csv(csv, index=False)
    yaml_list = tmp_path / "changes.yaml"
    yaml_list.write_text(
        "- {rep_id: R3, change: leave}\n"
        "- {rep_id: R2, change: capacity, capacity: 60}\n"
        "- {rep_id: R4, change: join, name: Dana, lat: 50.0, lon: 11.0, region_id: N,"
        " experience: 1, capacity: 60}\n"
    )
    keyed = tmp_path / "changes.yml"
    keyed.write_text(
        "changes:\n" + "".join("  " + line + "\n" for line in yaml_list.read_text().splitlines())
    )
    columns = ["rep_id", "change", "lat", "lon", "capacity"]
    expected = load_changes(csv, plan.tables)[columns]
    for path in (yaml_list, keyed):
        got = load_changes(path, plan.tables)[columns]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


#: broken changes file -> regex of the message
BROKEN_CHANGES = {
    "changes_unknown_rep.csv": r"changes_unknown_rep\.csv: row 3: column 'rep_id': 'R7': "
    r"expected an active rep",
    "changes_bad_kind.csv": r"changes_bad_kind\.csv: row 2: column 'change': 'retire': "
    r"expected one of leave, join, capacity",
    "changes_join_missing_capacity.csv": r"changes_join_missing_capacity\.csv: missing column "
    r"'capacity' \(a 'join' row needs it\)",
    "changes_join_lat_out_of_range.csv": r"changes_join_lat_out_of_range\.csv: row 2: column "
    r"'lat': '95\.0': expected a number in \[-90, 90\]",
    "changes_join_existing_rep.csv": r"changes_join_existing_rep\.csv: row 2: column 'rep_id': "
    r"'R1': expected a new rep id \(it is already a rep\)",
    "changes_twice.yaml": r"changes_twice\.yaml: item 2: column 'rep_id': 'R1': expected a rep "
    r"changed once \(first on item 1\)",
    "changes_not_a_list.yaml": r"changes_not_a_list\.yaml: expected a list of changes",
    "changes_misspelt_column.yaml": r"changes_misspelt_column\.yaml: column 'capasity': unknown "
    r"column, did you mean 'capacity'\?",
    "changes_capacity_zero.csv": r"changes_capacity_zero\.csv: row 2: column 'capacity': '0': "
    r"expected a number > 0",
    "changes_everyone_leaves.csv": r"changes_everyone_leaves\.csv: every active rep leaves and "
    r"nobody joins",
}


@pytest.mark.parametrize("name", sorted(BROKEN_CHANGES))
def test_broken_changes_name_file_row_and_column(name: str) -> None:
    tables = tiny_plan().tables.replace(
        reps=tiny_plan().tables.reps[lambda r: r["rep_id"] != "R3"].reset_index(drop=True)
    )
    with pytest.raises(InputError, match=BROKEN_CHANGES[name]):
        load_changes(BROKEN / name, tables)


def test_every_broken_changes_file_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.glob("changes_*")) == sorted(BROKEN_CHANGES)


# ---------------------------------------------------------------- the small company


@pytest.fixture(scope="module")
def two_leave_one_joins(small_plan: Plan) -> tuple[TrackedPlan, object]:
    tracked = TrackedPlan.from_plan(small_plan)
    changes = pd.DataFrame(
        {
            "rep_id": ["R002", "R004", "R900"],
            "change": ["leave", "leave", "join"],
            "name": ["", "", "New Hire"],
            "lat": ["", "", "51.9"],
            "lon": ["", "", "13.5"],
            "region_id": ["", "", "G04"],
            "experience": ["", "", "1"],
            "capacity": ["", "", "1400"],
            "skills": ["", "", "P1;P2;P3;P4"],
        }
    )
    return tracked, rebalance(tracked, check_changes(changes, tracked.tables), settings=FAST)


def test_only_vacated_or_forced_moves(two_leave_one_joins: tuple[TrackedPlan, object]) -> None:
    tracked, result = two_leave_one_joins
    tables, owners = result.tables, result.owners
    # the moves are exactly the accounts whose owner changed
    old = tracked.owners.reindex(owners.index)
    assert set(result.moves["account_id"]) == set(owners.index[old != owners])
    acc = tables.accounts.set_index("account_id")
    reps = tables.active_reps.set_index("rep_id")
    settings = tracked.scenario.assignment.constraints
    workload = acc["workload"].groupby(owners).sum()
    potential = acc["potential"].groupby(owners).sum()
    fair = reps["ramp"] / reps["ramp"].sum() * acc.loc[owners.index, "potential"].sum()
    tol = settings.balance.tolerance
    kinds = set()
    for move in result.moves.itertuples():
        assert move.to_rep in reps.index
        if move.from_rep in ("R002", "R004"):
            assert move.reason == f"vacated: {move.from_rep} left"
            continue
        name = re.match(r"(\w+)\[", move.reason)
        assert name is not None, move.reason
        kinds.add(name[1])
        a = acc.loc[move.account_id]
        # taking the account back to its former rep breaks the named constraint
        if name[1] == "capacity":
            limit = (1 + settings.capacity.tolerance) * reps.at[move.from_rep, "capacity"]
            assert workload[move.from_rep] + a["workload"] > limit
        elif name[1] == "balance_hi":
            assert potential[move.from_rep] + a["potential"] > (1 + tol) * fair[move.from_rep]
        else:
            assert name[1] == "balance_lo"
            assert potential[move.to_rep] - a["potential"] < (1 - tol) * fair[move.to_rep]
    assert kinds  # two of six reps leaving forces moves among the others


def test_reps_before_and_after_add_up(two_leave_one_joins: tuple[TrackedPlan, object]) -> None:
    tracked, result = two_leave_one_joins
    reps = result.reps.set_index("rep_id")
    counts = result.owners.value_counts()
    assert reps["accounts_after"].to_dict() == counts.reindex(reps.index, fill_value=0).to_dict()
    balance = reps["accounts_before"] + reps["gained"] - reps["lost"]
    assert balance.equals(reps["accounts_after"])
    assert reps.loc[["R002", "R004"], "accounts_after"].eq(0).all()
    acc = result.tables.accounts.set_index("account_id")
    sums = acc.loc[result.owners.index, "potential"].groupby(result.owners).sum()
    assert np.allclose(reps.loc[sums.index, "potential_after"], sums)
    # the same company target, now over the new team; the new hire's quota is ramped
    total = tracked.target.product_totals().sum()
    assert reps["quota_before"].sum() == reps["quota_after"].sum() == total
    new_quota = result.quotas.rep_product.groupby("rep_id")["quota"].sum()
    assert reps.loc[new_quota.index, "quota_after"].tolist() == new_quota.tolist()
    assert result.tables.reps.set_index("rep_id").at["R900", "ramp"] == 0.5
    # every moved account's yearly quota before is the plan's quota of that account
    plan_quota = tracked.accounts.groupby("account_id")["target"].sum()
    moves = result.moves.set_index("account_id")
    assert moves["quota_before"].equals(plan_quota.reindex(moves.index).astype(float))


# ---------------------------------------------------------------- the command


def test_rebalance_command_writes_the_moves(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {"assignment": {"enabled": False}, "output": {"dir": "plan"}}
    path = write_company(tiny_plan().tables, tmp_path, scenario_name="tiny", settings=settings)
    changes = tmp_path / "changes.csv"
    TINY_CHANGES.to_csv(changes, index=False)
    assert cli_main(["rebalance", str(path), "--changes", str(changes)]) == 0
    out = tmp_path / "plan" / "rebalance"
    moves = pd.read_csv(out / "rebalance.csv")
    assert sorted(moves["account_id"]) == ["A4", "A5", "A6"]
    assert (out / "rebalance.html").is_file() and (out / "rebalance_reps.csv").is_file()
    assert "3 account(s) move: 2 vacated by departing reps, 1 forced" in capsys.readouterr().out
    # everybody but R3 leaves: 200 hours of work for 100 hours of capacity
    changes.write_text("rep_id,change\nR1,leave\nR2,leave\n")
    assert cli_main(["rebalance", str(path), "--changes", str(changes)]) == 1
    assert capsys.readouterr().err.startswith("infeasible:")
    changes.write_text("rep_id,change\nR7,leave\n")
    assert cli_main(["rebalance", str(path), "--changes", str(changes)]) == 2
    assert "changes.csv: row 2: column 'rep_id': 'R7': expected an active rep" in (
        capsys.readouterr().err
    )

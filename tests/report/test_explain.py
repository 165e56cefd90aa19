"""Explanations: next-best rep and cost differences on a hand instance, words, constraints.

The hand instance (``hand_plan``) lies on the equator, where the great-circle distance between
longitudes ``x`` and ``y`` is exactly ``KM * |x - y|`` (``KM`` = 6371 pi / 180 km per degree):

====  =====  ====  ====  ==========  =====  ===========
rep   name   lon   exp   skills      ramp   capacity
====  =====  ====  ====  ==========  =====  ===========
R1    Li     0     5     P1;P2       1      35
R2    Zhang  1     1     P1          1      100
R3    Meyer  2     5     P1;P2       0.5    100
====  =====  ====  ====  ==========  =====  ===========

Accounts (workload 10 each, visits 1): A1 lon 0.2 pot 100 (incumbent R1, kept), A2 lon 0.6 pot 200
(incumbent R1, moved to R2), A3 lon 1.5 pot 250 segment A (R3 kept), A4 lon 1.9 pot 100 needs
skill P2, no incumbent, given to R1; A5 lon 0.1 pot 0 locked to R1.
Objective weights: travel 1, balance 2, disruption 10; experience A: 3; skills on; balance on
(potential, fair share by ramp, tolerance 1.0); capacity on; continuity on (locks).
Totals: R1 200, R2 200, R3 250 of 650; fair shares 260, 260, 130 (ramps 1, 1, 0.5); deviations
23.0769, 23.0769, 92.3077 percentage points.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from itertools import product
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from allocator.demo import demo_settings, generate_company
from allocator.exceptions import InfeasibleError, InputError
from allocator.io.data import make_tables
from allocator.io.scenario import scenario_from_dict
from allocator.plan import Plan, solve_scenario
from allocator.report.explain import (
    conflicting_constraints,
    constraint_text,
    explain_accounts,
    explain_constraints,
    why_not,
)
from allocator.report.format import number
from allocator.solver import SolveReport, Status
from allocator.territory.check import check_assignment
from allocator.territory.result import ASSIGNMENT_COLUMNS

KM = 6371.0 * math.pi / 180.0
WEIGHTS = {"travel": 1.0, "balance": 2.0, "disruption": 10.0}

REPS = pd.DataFrame(
    {
        "rep_id": ["R1", "R2", "R3"],
        "name": ["Li", "Zhang", "Meyer"],
        "lat": [0.0, 0.0, 0.0],
        "lon": [0.0, 1.0, 2.0],
        "region_id": ["G1", "G1", "G1"],
        "experience": [5, 1, 5],
        "capacity": [35.0, 100.0, 100.0],
        "skills": ["P1;P2", "P1", "P1;P2"],
        "ramp": [1.0, 1.0, 0.5],
    }
)
ACCOUNTS = pd.DataFrame(
    {
        "account_id": ["A1", "A2", "A3", "A4", "A5"],
        "name": ["Acme", "Bolt", "Cargo", "Delta", "Echo"],
        "lat": [0.0] * 5,
        "lon": [0.2, 0.6, 1.5, 1.9, 0.1],
        "region_id": ["G1"] * 5,
        "segment": ["B", "B", "A", "B", "B"],
        "potential": [100.0, 200.0, 250.0, 100.0, 0.0],
        "workload": [10.0] * 5,
        "incumbent_rep_id": ["R1", "R1", "R3", "", "R1"],
        "locked": [False, False, False, False, True],
        "required_skills": ["", "", "", "P2", ""],
    }
)
OWNERS = {"A1": "R1", "A2": "R2", "A3": "R3", "A4": "R1", "A5": "R1"}
LON = dict(zip(REPS["rep_id"], REPS["lon"], strict=True))
FAIR = {"R1": 260.0, "R2": 260.0, "R3": 130.0}


def hand_scenario(name: str = "hand", **changes: object) -> object:
    raw = {
        "name": name,
        "assignment": {
            "objective": WEIGHTS,
            "constraints": {
                "capacity": {},
                "balance": {"measure": "potential", "tolerance": 1.0, "fair_share": "ramp"},
                "experience": {"A": 3},
                "skills": {},
                "continuity": {},
            },
        },
        "quota": {"fairness": {"band": 0.1}},
    }
    scenario = scenario_from_dict(raw)
    return scenario.replace(dict(changes)) if changes else scenario


def objective(owners: dict[str, str]) -> float:
    """The assignment objective recomputed from scratch (models/assignment.md), for checks."""
    acc = ACCOUNTS.set_index("account_id")
    travel = sum(KM * abs(acc.at[a, "lon"] - LON[r]) for a, r in owners.items())
    totals = {r: sum(acc.at[a, "potential"] for a, o in owners.items() if o == r) for r in LON}
    balance = sum(abs(totals[r] - FAIR[r]) / FAIR[r] * 100 for r in LON)
    moved = sum(
        acc.at[a, "potential"]
        for a, r in owners.items()
        if acc.at[a, "incumbent_rep_id"] not in ("", r)
    )
    return WEIGHTS["travel"] * travel + WEIGHTS["balance"] * balance + moved * 10 / 1000


def hand_quotas() -> SimpleNamespace:
    """P1 split exactly by ramp x potential except R1 +10 / R2 -10; P2 all with R1."""
    rep_product = pd.DataFrame(
        {
            "rep_id": ["R1", "R1", "R2", "R2", "R3", "R3"],
            "product_id": ["P1", "P2", "P1", "P2", "P1", "P2"],
            "potential": [100.0, 100.0, 200.0, 0.0, 250.0, 0.0],
            "quota": [110.0, 60.0, 190.0, 0.0, 125.0, 0.0],
        }
    )
    rep_product["ratio"] = (rep_product["quota"] / rep_product["potential"]).fillna(0.0)
    rep_product["deviation"] = [0.1, 0.0, 0.05, 0.0, 0.0, 0.0]
    months = ["2027-01", "2027-02"]
    quotas = pd.DataFrame(
        [
            (r, p, m, 0.9 * q / 2, q / 2, 1.15 * q / 2)
            for r, p, q in rep_product[["rep_id", "product_id", "quota"]].itertuples(index=False)
            for m in months
        ],
        columns=["rep_id", "product_id", "period", "base", "target", "stretch"],
    )
    constraints = pd.DataFrame(
        {
            "name": [
                "target_total[P1]",
                "fairness_hi[R1,P1]",
                "fairness_lo[R2,P1]",
                "max_dev[R1,P1]",
            ],
            "slack": [0.0, 0.0, 0.0, 0.0],
            "dual": [0.0001, 0.001, -0.0005, 1.0],
            "binding": [True, True, True, True],
        }
    )
    report = SolveReport(Status.OPTIMAL, "highs", 0.1, 0.1, 0.0, 0.01, True)
    return SimpleNamespace(
        rep_product=rep_product,
        quotas=quotas,
        constraints=constraints,
        report=report,
        reconciliation=None,
        expenses=None,
        summary=lambda: "quota: optimal",
    )


def hand_target() -> SimpleNamespace:
    references = pd.DataFrame(
        {
            "period": ["2027-01", "2027-02"],
            "plan": [250.0, 250.0],
            "history": [230.0, 240.0],
            "industry": [240.0, 250.0],
            "competitor": [245.0, 255.0],
            "target": [240.0, 245.0],
        }
    )
    by_product = pd.DataFrame(
        {
            "period": ["2027-01", "2027-01", "2027-02", "2027-02"],
            "product_id": ["P1", "P2", "P1", "P2"],
            "target": [210.0, 30.0, 215.0, 30.0],
        }
    )
    mix = pd.DataFrame(
        {
            "product_id": ["P1", "P2"],
            "category": ["volume", "profit"],
            "share": [0.876, 0.124],
            "margin": [0.2, 0.4],
            "band_min": [0.0, 0.0],
            "band_max": [1.0, 1.0],
        }
    )
    return SimpleNamespace(references=references, by_product=by_product, mix=mix, total=485.0)


def hand_plan(
    owners: dict[str, str] | None = None,
    *,
    quotas: bool = True,
    name: str = "hand",
    **changes: object,
) -> Plan:
    """The hand instance as a Plan: the assignment part as the model would report it."""
    owners = dict(OWNERS if owners is None else owners)
    tables = make_tables(reps=REPS, accounts=ACCOUNTS)
    acc = tables.accounts.set_index("account_id")
    rows = []
    for a, r in owners.items():
        inc = acc.at[a, "incumbent_rep_id"]
        moved = inc not in ("", r)
        reason = (
            "locked"
            if acc.at[a, "locked"]
            else ("moved for balance" if moved else "incumbent kept")
        )
        km = KM * abs(acc.at[a, "lon"] - LON[r])
        rows.append((a, r, inc, moved, km, 10.0, acc.at[a, "potential"], reason))
    assignments = pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)
    grouped = assignments.groupby("rep_id")
    reps = pd.DataFrame(
        {
            "rep_id": REPS["rep_id"],
            "accounts": REPS["rep_id"].map(grouped.size()).fillna(0).astype(int),
            "potential": REPS["rep_id"].map(grouped["potential"].sum()).fillna(0.0),
            "workload": REPS["rep_id"].map(grouped["workload"].sum()).fillna(0.0),
            "capacity": REPS["capacity"],
            "travel_km": REPS["rep_id"].map(grouped["travel_km"].sum()).fillna(0.0),
        }
    )
    reps.insert(5, "utilization", reps["workload"] / reps["capacity"])
    constraints = pd.DataFrame(
        {
            "name": ["capacity[R1]", "capacity[R2]", "balance_hi[R3,potential]", "assign_once[A1]"],
            "family": ["capacity", "capacity", "balance_hi", "assign_once"],
            "slack": [5.0, 80.0, 10.0, 0.0],
            "binding": [False, False, False, True],
        }
    )
    obj = objective(owners)
    report = SolveReport(Status.OPTIMAL, "highs", obj, obj, 0.0, 0.05, True)
    assignment = SimpleNamespace(
        assignments=assignments.sort_values("account_id").reset_index(drop=True),
        reps=reps,
        constraints=constraints,
        report=report,
        terms={"travel": 0.0, "balance": 0.0, "disruption": 0.0, "penalty": 0.0},
        arcs=15,
        summary=lambda: "assignment: optimal",
    )
    owner_series = pd.Series(owners, name="rep_id").rename_axis("account_id")
    return Plan(
        scenario=hand_scenario(name, **changes),
        tables=tables,
        owners=owner_series,
        assignment=assignment,
        target=hand_target() if quotas else None,
        quotas=hand_quotas() if quotas else None,
        seconds=0.2,
    )


@cache
def plan_with(**changes: object) -> Plan:
    """A real solve of a small generated company (80 accounts, 6 reps), proven optimal (gap 0)."""
    tables = generate_company(accounts=80, reps=6, regions=6, seed=1)
    raw = {**demo_settings(tables), "name": "small"}
    raw["solver"] = {"gap": 0.0, "threads": 1, "time_limit": 30}
    scenario = scenario_from_dict(raw)
    return solve_scenario(scenario.replace(dict(changes)) if changes else scenario, tables=tables)


# ---------------------------------------------------------------- accounts


#: The hand instance without capacity and balance rows (the balance term stays in the
#: objective): every eligible move is allowed, so next best = cheapest eligible rep.
FREE = {"assignment.constraints.capacity": None, "assignment.constraints.balance": None}


@pytest.fixture(scope="module")
def explained() -> pd.DataFrame:
    return explain_accounts(hand_plan()).set_index("account_id")


@pytest.fixture(scope="module")
def explained_free() -> pd.DataFrame:
    return explain_accounts(hand_plan(**FREE)).set_index("account_id")


@pytest.mark.parametrize(
    ("account", "rep", "travel", "balance", "disruption"),
    [
        # A1 R1 -> R2: 0.8 - 0.2 degrees; R1 200->100 (61.5385 - 23.0769), R2 200->300
        # (15.3846 - 23.0769): 30.7692 points x 2; newly moved 100 potential x 10 / 1000
        ("A1", "R2", 0.6 * KM, 2 * 30.769231, 1.0),
        # A2 R2 -> R1 (back to the incumbent): 0.6 - 0.4 degrees; R2 200->0 (+76.9231),
        # R1 200->400 (+30.7692); no longer moved: -200 x 10 / 1000
        ("A2", "R1", 0.2 * KM, 2 * 107.692308, -2.0),
        # A3 R3 -> R1 (R2 lacks experience): 1.5 - 0.5; R3 250->0 (+7.6923), R1 ->450 (+50)
        ("A3", "R1", 1.0 * KM, 2 * 57.692308, 2.5),
        # A4 R1 -> R3 (R2 lacks skill P2): 0.1 - 1.9; R1 200->100 (+38.4615), R3 ->350 (+76.9231)
        ("A4", "R3", -1.8 * KM, 2 * 115.384615, 0.0),
    ],
)
def test_next_best_rep_and_cost_difference_by_hand(
    explained_free: pd.DataFrame,
    account: str,
    rep: str,
    travel: float,
    balance: float,
    disruption: float,
) -> None:
    row = explained_free.loc[account]
    assert row["next_rep_id"] == rep
    assert row["delta_travel"] == pytest.approx(travel, abs=1e-6)
    assert row["delta_balance"] == pytest.approx(balance, abs=1e-5)
    assert row["delta_disruption"] == pytest.approx(disruption, abs=1e-9)
    assert row["delta"] == pytest.approx(travel + balance + disruption, abs=1e-5)


def test_cost_difference_equals_objective_difference_for_every_move() -> None:
    """Independent check: delta = objective(plan with the move) - objective(plan)."""
    plan = hand_plan(**FREE)
    table = explain_accounts(plan).set_index("account_id")
    base = objective(OWNERS)
    for account, rep in product(OWNERS, LON):
        if rep == OWNERS[account] or rep != table.at[account, "next_rep_id"]:
            continue
        moved = {**OWNERS, account: rep}
        assert table.at[account, "delta"] == pytest.approx(objective(moved) - base, abs=1e-6)


def test_real_plan_cost_differences_match_the_independent_checker() -> None:
    """On a solved plan: delta = checker objective with the move - checker objective without."""
    plan = plan_with()
    assert plan.assignment is not None and plan.assignment.report.gap == pytest.approx(0, abs=1e-9)
    settings = plan.scenario.assignment
    table = explain_accounts(plan)
    base = plan.assignment.assignments
    assert check_assignment(plan.tables, settings, base).objective == pytest.approx(
        plan.assignment.report.objective, rel=1e-9
    )
    reference = check_assignment(plan.tables, settings, base).objective
    rows = table[table["next_rep_id"] != ""].iloc[::4]  # every 4th account: 20 checker runs
    for account, rep, delta in rows[["account_id", "next_rep_id", "delta"]].itertuples(index=False):
        moved = base.assign(rep_id=base["rep_id"].where(base["account_id"] != account, rep))
        check = check_assignment(plan.tables, settings, moved)
        assert check.objective - reference == pytest.approx(delta, rel=1e-6, abs=1e-6)


def test_real_optimal_plan_has_no_free_improving_move() -> None:
    """Optimality (gap 0): no move that every rule allows lowers the objective, and every
    cheaper rep is forbidden by a rule it names (explanations and the model agree)."""
    table = explain_accounts(plan_with())
    assert (table["delta"].dropna() >= -1e-6).all(), table[table["delta"] < -1e-6].to_string()
    assert (table["next_rule"] == "").all()
    cheaper = table[table["cheaper_rep_id"] != ""]
    assert len(cheaper) and (cheaper["next_breaks"] != "").all()
    assert len(table) == 80 and table["next_rep_id"].ne("").sum() > 60


def test_next_best_is_the_cheapest_eligible_rep() -> None:
    """Brute force over all reps with the hand eligibility rules (no row families)."""
    table = explain_accounts(hand_plan(**FREE)).set_index("account_id")
    eligible = {"A1": ["R2", "R3"], "A2": ["R1", "R3"], "A3": ["R1"], "A4": ["R3"], "A5": []}
    base = objective(OWNERS)
    for account, reps in eligible.items():
        if not reps:
            assert table.at[account, "next_rep_id"] == ""
            assert np.isnan(table.at[account, "delta"])
            continue
        costs = {r: objective({**OWNERS, account: r}) - base for r in reps}
        assert table.at[account, "next_rep_id"] == min(costs, key=costs.__getitem__)


def test_accounts_table_columns_and_moves(explained: pd.DataFrame) -> None:
    assert explained.loc["A2", "moved"]
    assert explained["moved"].sum() == 1
    assert explained.loc["A2", "reason"] == "moved for balance"
    assert list(explained.reset_index().columns[:6]) == [
        "account_id",
        "rep_id",
        "incumbent_rep_id",
        "moved",
        "reason",
        "next_rep_id",
    ]


def test_next_best_obeys_the_rules_and_names_the_cheaper_forbidden_rep(
    explained: pd.DataFrame,
) -> None:
    # A2 back to R1: R1 holds 30 of 35 hours, one more account of 10 hours breaks its capacity;
    # to R3: 250 + 200 = 450 is above (1 + 1.0) x 130 = 260. No rep may take it.
    a2 = explained.loc["A2"]
    assert a2["next_rep_id"] == "" and np.isnan(a2["delta"])
    assert a2["cheaper_rep_id"] == "R1"
    assert a2["next_breaks"] == "capacity[R1] (40 > 35 hours)"
    # A4 (needs P2): only R3 is eligible, and R3 at 250 + 100 = 350 breaks its balance limit
    assert explained.loc["A4", "cheaper_rep_id"] == "R3"
    assert explained.loc["A4", "next_breaks"] == "balance_hi[R3,potential] (350 > 260 potential)"
    # A1 to R2 breaks nothing: it is the next best, and nothing cheaper is forbidden
    a1 = explained.loc["A1"]
    assert a1["next_rep_id"] == "R2" and a1["cheaper_rep_id"] == "" and a1["next_breaks"] == ""


# ---------------------------------------------------------------- why not


def test_why_not_spells_out_the_terms() -> None:
    text = why_not(hand_plan(), "A1", "R2")
    total = 0.6 * KM + 2 * 30.769231 + 1.0
    assert text.startswith("Acme (A1) is served by Li (R1). Moving it to Zhang (R2)")
    assert f"raise the objective by {total:,.2f}" in text
    assert f"travel +{0.6 * KM:,.2f}" in text
    assert f"drive {number(0.6 * KM)} km more" in text
    assert "disruption +1.00" in text


@pytest.mark.parametrize(
    ("account", "rep", "words"),
    [
        (
            "A3",
            "R2",
            "Zhang (R2) may not serve Cargo (A3): segment A needs experience 3+, the rep has 1",
        ),
        ("A4", "R2", "requires skill(s) P2 the rep lacks"),
        ("A5", "R3", "locked to its incumbent Li (R1)"),
        ("A2", "R2", "Zhang (R2) already serves Bolt (A2) (reason: moved for balance)"),
        ("A2", "R1", "It would break capacity[R1] (40 > 35 hours)."),
    ],
)
def test_why_not_rules(account: str, rep: str, words: str) -> None:
    assert words in why_not(hand_plan(), account, rep)


@pytest.mark.parametrize(("account", "rep", "bad"), [("A9", "R1", "A9"), ("A1", "R9", "R9")])
def test_why_not_unknown_ids(account: str, rep: str, bad: str) -> None:
    with pytest.raises(InputError, match=f"'{bad}'"):
        why_not(hand_plan(), account, rep)


def test_explain_without_locks_frees_the_locked_account() -> None:
    plan = hand_plan(**{"assignment.constraints.continuity.respect_locked": False})
    table = explain_accounts(plan).set_index("account_id")
    # A5 has no potential: to R2 costs only the travel (1.0 - 0.1) - 0.1 degrees, + 0 disruption
    assert table.at["A5", "next_rep_id"] == "R2"
    assert table.at["A5", "delta"] == pytest.approx(0.8 * KM)


# ---------------------------------------------------------------- constraints


def test_constraint_text_shadow_prices() -> None:
    assert (
        constraint_text("capacity[R017]", "capacity", 0.0, -12.4, True, objective="{} km of travel")
        == "capacity[R017] binds: one more hour of capacity for R017 would cut 12.4 km of travel."
    )
    # d(largest deviation)/d(target) = 3e-6: +1,000 of target -> +0.003 = 0.3%
    text = constraint_text(
        "target_total[P1]",
        "target_total",
        0.0,
        3e-6,
        True,
        objective="the largest fairness deviation by {}%",
    )
    assert text == (
        "target_total[P1] binds: raising the target of P1 by 1,000 would raise the largest "
        "fairness deviation by 0.3%."
    )
    assert constraint_text("capacity[R1]", "capacity", 5.0, float("nan"), False, objective="x") == (
        "capacity[R1] has slack 5 hours."
    )
    assert "is used up" in constraint_text(
        "capacity[R1]", "capacity", 0, float("nan"), True, objective="x"
    )


def test_explain_constraints_of_both_models() -> None:
    table = explain_constraints(hand_plan())
    assert list(table.columns) == [
        "model",
        "name",
        "family",
        "slack",
        "dual",
        "binding",
        "internal",
        "text",
    ]
    assert set(table["model"]) == {"assignment", "quota"}
    quota = table[table["model"] == "quota"].set_index("name")
    assert quota.at["target_total[P1]", "family"] == "target_total"
    assert quota.at["target_total[P1]", "text"].endswith("by 10%.")  # 1e-4 x 1,000 = 0.1
    assert quota.at["fairness_lo[R2,P1]", "text"].startswith(
        "fairness_lo[R2,P1] binds: raising the lower fairness bound of R2,P1 by 1,000 would cut"
    )
    assert quota.at["max_dev[R1,P1]", "internal"]
    assignment = table[table["model"] == "assignment"].set_index("name")
    assert assignment.at["capacity[R1]", "text"] == "capacity[R1] has slack 5 hours."
    assert np.isnan(assignment.at["capacity[R1]", "dual"])


def test_conflicting_constraints_from_a_diagnosis() -> None:
    error = InfeasibleError(
        "no territory fits",
        diagnosis=[
            "capacity[R017] needs +12.5 hours (limit 1,600)",
            "balance_lo[R003,potential] needs +4,000 (limit 120,000)",
            "accounts A1, A2 have no eligible rep",
        ],
    )
    table = conflicting_constraints(error)
    assert list(table["name"]) == ["capacity[R017]", "balance_lo[R003,potential]"]
    assert list(table["family"]) == ["capacity", "balance_lo"]


# ---------------------------------------------------------------- explanations and the model


def _moved(base: pd.DataFrame, account: str, rep: str) -> pd.DataFrame:
    return base.assign(rep_id=base["rep_id"].where(base["account_id"] != account, rep))


@cache
def contiguous_plan() -> Plan:
    """A company with many regions per rep (100 accounts, 3 reps, 16 regions), contiguity on,
    solved to proven optimality: contiguity holds some accounts where they are."""
    tables = generate_company(accounts=100, reps=3, regions=16, seed=2)
    raw = {**demo_settings(tables), "name": "contiguous"}
    raw["solver"] = {"gap": 0.0, "threads": 1, "time_limit": 30}
    raw["assignment"]["constraints"]["contiguity"] = {"include_home": True}
    return solve_scenario(scenario_from_dict(raw), tables=tables)


def test_explanations_under_contiguity_agree_with_the_checker() -> None:
    """With contiguity on, every next-best move passes the independent checker (no rule
    broken) and every cheaper rep it names instead fails it: "next best" knows contiguity."""
    plan = contiguous_plan()
    settings = plan.scenario.assignment
    assert settings.constraints.contiguity is not None
    table = explain_accounts(plan)
    base = plan.assignment.assignments[["account_id", "rep_id"]]
    nxt = table[table["next_rep_id"] != ""]
    assert len(nxt) > 20
    for account, rep in nxt[["account_id", "next_rep_id"]].itertuples(index=False):
        violations = check_assignment(plan.tables, settings, _moved(base, account, rep)).violations
        assert not violations, (account, rep, violations)
    cheaper = table[table["cheaper_rep_id"] != ""]
    contiguity = cheaper[cheaper["next_breaks"].str.contains("contiguity")]
    assert len(contiguity) > 0, "some cheaper move must be held by contiguity alone"
    for account, rep in cheaper[["account_id", "cheaper_rep_id"]].itertuples(index=False):
        violations = check_assignment(plan.tables, settings, _moved(base, account, rep)).violations
        assert violations, (account, rep)


def _worse_plan(gap_known: bool) -> tuple[Plan, str, float]:
    """The optimal small plan with one account moved to its next-best rep: a feasible plan whose
    objective is higher by that delta; the report claims a bound (the optimum) or none."""
    plan = plan_with()
    table = explain_accounts(plan)
    row = table[(table["next_rep_id"] != "") & (table["delta"] > 1)].iloc[0]
    a = plan.assignment
    moved = _moved(a.assignments, row["account_id"], row["next_rep_id"])
    objective = a.report.objective + row["delta"]
    report = dataclasses.replace(
        a.report, objective=objective, bound=a.report.objective if gap_known else objective
    )
    worse = dataclasses.replace(a, assignments=moved, report=report)
    owners = moved.set_index("account_id")["rep_id"]
    return (
        dataclasses.replace(plan, assignment=worse, owners=owners),
        row["account_id"],
        row["delta"],
    )


def test_negative_delta_under_a_non_zero_gap_names_the_gap() -> None:
    plan, account, delta = _worse_plan(gap_known=True)
    table = explain_accounts(plan).set_index("account_id")
    improving = table[table["delta"] < -1e-9]
    assert account in improving.index  # moving it back saves delta (or another rep saves more)
    assert table.at[account, "delta"] <= -delta + 1e-6
    assert improving["next_rule"].str.startswith("gap: the plan is proven within").all()
    words = why_not(plan, account, plan_with().owners[account])
    assert "No rule forbids it" in words and "gap: the plan is proven within" in words


def test_a_saving_beyond_the_proven_gap_is_not_hidden() -> None:
    """A report claiming gap 0 for a plan that can be improved: the words say so."""
    plan, account, _ = _worse_plan(gap_known=False)
    table = explain_accounts(plan).set_index("account_id")
    assert table.at[account, "next_rule"].startswith("not explained: saves")


def test_contiguity_cut_text_does_not_claim_the_region_is_served() -> None:
    """Binding rows named contiguity[R5,<region>,2] for a region R5 does not serve: the region
    is where the cut was found, and the words say so."""
    text = constraint_text(
        "contiguity[R5,G3,2]", "contiguity", 0.0, float("nan"), True, objective="{}"
    )
    assert text.startswith("contiguity[R5,G3,2] binds: it keeps R5's territory connected (cut 2")
    assert "G3 need not be served now" in text

"""Top-down targets per manager (``target.by_manager``): split down to the reps, every manager's
quotas summing exactly to its target (allocator/quota/managers.py, models/organisation.md).

Six reps with one account each: R1-R3 in district D1 and R4-R5 in D2 (region V1), R6 in D3
(region V2). Every plan also passes the independent checker inside ``allocate_quotas``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from allocator.exceptions import InfeasibleError, InputError
from allocator.io.data import make_tables
from allocator.io.settings import QuotaSettings, SolverSettings, TargetSettings
from allocator.io.tables import Tables
from allocator.quota.allocate import allocate_quotas
from allocator.quota.check import check_quotas
from allocator.quota.target import set_target

HIGHS = SolverSettings(name="highs")
DISTRICT = {"R1": "D1", "R2": "D1", "R3": "D1", "R4": "D2", "R5": "D2", "R6": "D3"}
# potential (P1, P2): D1 holds 60% of the potential, D2 25%, D3 15%
POTENTIAL = {
    "R1": (300, 100),
    "R2": (200, 100),
    "R3": (150, 50),
    "R4": (100, 100),
    "R5": (150, 0),
    "R6": (100, 50),
}


def company() -> Tables:
    ids = list(DISTRICT)
    reps = pd.DataFrame(
        {
            "rep_id": ids,
            "name": ids,
            "lat": 50.0,
            "lon": 4.0,
            "region_id": "G1",
            "experience": 5,
            "capacity": 1000.0,
            "manager_id": [DISTRICT[r] for r in ids],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{r}" for r in ids],
            "name": ids,
            "lat": 50.0,
            "lon": 4.0,
            "region_id": "G1",
            "segment": "A",
            "potential": [sum(POTENTIAL[r]) for r in ids],
            "workload": 1.0,
            "incumbent_rep_id": ids,
        }
    )
    products = pd.DataFrame(
        {"product_id": ["P1", "P2"], "name": ["P1", "P2"], "category": "volume", "margin": 0.5}
    )
    potential = pd.DataFrame(
        [
            (f"A{r}", p, v)
            for r, pot in POTENTIAL.items()
            for p, v in zip(("P1", "P2"), pot, strict=True)
        ],
        columns=["account_id", "product_id", "potential"],
    )
    managers = pd.DataFrame(
        {
            "manager_id": ["D1", "D2", "D3", "V1", "V2"],
            "name": ["D1", "D2", "D3", "V1", "V2"],
            "parent_id": ["V1", "V1", "V2", "", ""],
        }
    )
    return make_tables(
        reps=reps,
        accounts=accounts,
        products=products,
        account_potential=potential,
        managers=managers,
    )


def plan(by_manager: dict[str, float], amount: float | None = None):
    tables = company()
    target = set_target(
        tables, TargetSettings(months=3, amount=amount, by_manager=by_manager), HIGHS
    )
    owners = tables.accounts.set_index("account_id")["incumbent_rep_id"]
    quotas = allocate_quotas(tables, owners, target, QuotaSettings(), HIGHS)
    return tables, owners, target, quotas


def by_rep(quotas) -> pd.Series:
    return quotas.rep_product.groupby("rep_id")["quota"].sum()


def test_every_manager_sums_exactly_to_its_target() -> None:
    # D1 gets 70% of V1's target against 60/85 = 70.6% of its potential; D3 (V2) stands alone
    given = {"V1": 1_000_003, "D1": 700_001, "V2": 333_331}
    _, _, target, quotas = plan(given)
    assert target.total == 1_000_003 + 333_331  # the regions cover every rep: their sum
    q = by_rep(quotas)
    assert q[["R1", "R2", "R3"]].sum() == 700_001
    assert q[["R4", "R5"]].sum() == 1_000_003 - 700_001  # D2: V1's remainder
    assert q[["R1", "R2", "R3", "R4", "R5"]].sum() == 1_000_003
    assert q["R6"] == 333_331
    assert quotas.quotas["target"].sum() == target.total
    names = set(quotas.constraints["name"])
    assert {"manager_target[V1]", "manager_target[D1]", "manager_target[V2]"} <= names
    # within D1 the split follows potential, as the company rule does (fair quotas fitted)
    rp = quotas.rep_product.set_index(["rep_id", "product_id"])
    assert rp["deviation"].abs().max() < 1e-6 + 1 / 50_000


def test_a_company_amount_with_a_partial_split_gives_the_rest_to_the_others() -> None:
    _, _, target, quotas = plan({"D1": 500_000}, amount=900_000)
    q = by_rep(quotas)
    assert target.total == 900_000
    assert q[["R1", "R2", "R3"]].sum() == 500_000
    assert q[["R4", "R5", "R6"]].sum() == 400_000


def test_districts_above_their_region_name_the_key_and_numbers() -> None:
    with pytest.raises(InputError) as err:
        plan({"V1": 1_000_000, "D1": 700_000, "D2": 400_000, "V2": 100_000})
    text = str(err.value)
    assert "target.by_manager.V1" in text
    assert "1,000,000" in text and "1,100,000" in text and "D1 700,000 + D2 400,000" in text


def test_regions_contradicting_the_company_amount_name_the_key() -> None:
    with pytest.raises(InputError) as err:
        plan({"V1": 800_000, "V2": 300_000}, amount=1_000_000)
    assert "target.amount" in str(err.value) and "1,100,000" in str(err.value)
    with pytest.raises(InputError, match=r"target\.by_manager: without a company target"):
        plan({"V1": 800_000})  # no amount, plan or history, and R6 is under no target
    with pytest.raises(InputError, match=r"target\.by_manager\.X9: unknown manager"):
        plan({"X9": 5}, amount=10)


def test_the_least_change_of_a_setting_counts_the_manager_targets() -> None:
    # D1 holds 900 of potential and must carry 800: a cap of 0.85 x potential (765) cannot.
    # Without the manager rows the company alone fits under 0.85 (the others take up the rest),
    # so a least change computed without them would find nothing to change.
    tables = company()
    given = {"V1": 1000, "D1": 800, "V2": 120}
    target = set_target(tables, TargetSettings(months=3, by_manager=given), HIGHS)
    owners = tables.accounts.set_index("account_id")["incumbent_rep_id"]
    with pytest.raises(InfeasibleError) as err:
        allocate_quotas(tables, owners, target, QuotaSettings(cap_share=0.85), HIGHS)
    lines = err.value.diagnosis
    assert "manager_target[D1]: the bounds and caps allow only 765 of 800" in lines
    least = (
        "`quota.cap_share` >= 0.889 (now 0.85) is the least change that makes the quotas possible"
    )
    assert least in lines
    quotas = allocate_quotas(tables, owners, target, QuotaSettings(cap_share=0.889), HIGHS)
    assert by_rep(quotas)[["R1", "R2", "R3"]].sum() == 800  # the value given works


def test_a_leave_moves_quota_inside_its_managers_group() -> None:
    # R1 (D1) away for one of the three months: D1's target is fixed, so R1's fair quota goes to
    # R2 and R3 (the other groups only trade product mix); relief.csv must say what the plan did,
    # not what the company rule alone would have done (R1's quota spread over every rep)
    leaves = pd.DataFrame({"rep_id": ["R1"], "from": ["2027-02-01"], "to": ["2027-02-28"]})
    tables = company().replace(leaves=leaves)
    given = {"V1": 1_000_000, "D1": 700_000, "V2": 300_000}
    target = set_target(tables, TargetSettings(months=3, by_manager=given), HIGHS)
    owners = tables.accounts.set_index("account_id")["incumbent_rep_id"]
    quotas = allocate_quotas(tables, owners, target, QuotaSettings(), HIGHS)
    alone = allocate_quotas(company(), owners, target, QuotaSettings(), HIGHS)
    gained = (
        quotas.rep_product.groupby("rep_id")["fair"].sum()
        - alone.rep_product.groupby("rep_id")["fair"].sum()
    )
    assert quotas.relief is not None
    moved = quotas.relief.groupby("to_rep_id")["amount"].sum()
    assert moved["R2"] == pytest.approx(gained["R2"], abs=0.05) and gained["R2"] > 0
    assert moved["R3"] == pytest.approx(gained["R3"], abs=0.05) and gained["R3"] > 0
    assert moved[["R2", "R3"]].sum() == pytest.approx(-gained["R1"], abs=0.05)


def test_the_checker_rejects_quotas_off_a_manager_target() -> None:
    tables, owners, target, quotas = plan({"V1": 1_000_000, "D1": 700_000, "V2": 300_000})
    settings = QuotaSettings()
    assert check_quotas(tables, owners, target, settings, quotas).ok
    rp = quotas.rep_product.copy()
    # move 10 units of P1 from R1 (D1) to R4 (D2): products still sum, D1 and D2 do not
    for rep, step in (("R1", -10), ("R4", 10)):
        rp.loc[(rp["rep_id"] == rep) & (rp["product_id"] == "P1"), "quota"] += step
    broken = dataclasses.replace(quotas, rep_product=rp)
    found = check_quotas(tables, owners, target, settings, broken).violations
    assert any(v.startswith("manager_target[D1]: 699,990") for v in found), found
    assert not any("manager_target[V1]" in v for v in found)

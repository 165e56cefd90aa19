"""Quota allocation LP, reconciliation, phasing and expenses (allocator/quota/allocate.py,
models/quota.md).

Tiny instances use one account per rep (``A<rep>``) so potentials read directly; every result
is passed through the independent checker by ``allocate_quotas`` itself, and the tests recompute
the numbers they assert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InfeasibleError, InputError, ScenarioError
from allocator.io.data import make_tables
from allocator.io.settings import QuotaSettings, SolverSettings
from allocator.io.tables import Tables
from allocator.quota.allocate import QuotaResult, allocate_quotas
from allocator.quota.check import check_quotas
from allocator.quota.target import TargetResult

PERIODS = ["2027-01", "2027-02"]
# no ``threads``: HiGHS fixes its thread pool at the first solve of the process, and a later
# solve asking for another count fails, so every test uses the default
HIGHS = SolverSettings(name="highs")


def org(
    potential: Mapping[str, Mapping[str, float]],
    *,
    ramp: Mapping[str, float] | None = None,
    skills: Mapping[str, str] | None = None,
    regions: Mapping[str, str] | None = None,
    history: list[tuple[str, str, str, float]] | None = None,
    commitments: list[tuple[str, str, float]] | None = None,
) -> Tables:
    """Reps with one account each (``A<rep>``) holding ``potential[rep][product]``.

    ``history`` rows are (rep, product, month, sales) of that account.
    """
    rep_ids = list(potential)
    products = sorted({p for pot in potential.values() for p in pot})
    reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "name": rep_ids,
            "lat": 50.0,
            "lon": 4.0,
            "region_id": [(regions or {}).get(r, "G1") for r in rep_ids],
            "experience": 5,
            "capacity": 1000.0,
            "ramp": [(ramp or {}).get(r, 1.0) for r in rep_ids],
            "skills": [(skills or {}).get(r, "") for r in rep_ids],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{r}" for r in rep_ids],
            "name": rep_ids,
            "lat": 50.0,
            "lon": 4.0,
            "region_id": reps["region_id"],
            "segment": "A",
            "potential": [sum(potential[r].values()) for r in rep_ids],
            "workload": 1.0,
            "incumbent_rep_id": rep_ids,
        }
    )
    product_frame = pd.DataFrame(
        {"product_id": products, "name": products, "category": "volume", "margin": 0.5}
    )
    ap = pd.DataFrame(
        [(f"A{r}", p, v) for r, pot in potential.items() for p, v in pot.items()],
        columns=["account_id", "product_id", "potential"],
    )
    hist = None
    if history:
        hist = pd.DataFrame(
            [(f"A{r}", p, m, s) for r, p, m, s in history],
            columns=["account_id", "product_id", "period", "sales"],
        )
    com = None
    if commitments:
        com = pd.DataFrame(commitments, columns=["rep_id", "product_id", "amount"])
    return make_tables(
        reps=reps,
        accounts=accounts,
        products=product_frame,
        account_potential=ap,
        history=hist,
        commitments=com,
    )


def owners_of(tables: Tables) -> pd.Series:
    return tables.accounts.set_index("account_id")["incumbent_rep_id"]


def make_target(months: Mapping[str, list[int]], periods: list[str] = PERIODS) -> TargetResult:
    """A target given per product and month (whole units), as set_target would return it."""
    products = list(months)
    by_product = pd.DataFrame(
        [(m, p, months[p][i]) for i, m in enumerate(periods) for p in products],
        columns=["period", "product_id", "target"],
    )
    monthly = by_product.groupby("period", sort=False)["target"].sum()
    references = pd.DataFrame({"period": periods, "target": monthly.to_numpy()})
    for ref in ("plan", "history", "industry", "competitor"):
        references[ref] = np.nan
    total = float(by_product["target"].sum())
    shares = by_product.groupby("product_id", sort=False)["target"].sum() / total
    mix = pd.DataFrame(
        {
            "product_id": products,
            "category": "volume",
            "share": shares.to_numpy(),
            "margin": 0.5,
            "band_min": 0.0,
            "band_max": 1.0,
        }
    )
    return TargetResult(references, by_product, mix, total)


def quotas(result: QuotaResult) -> dict[tuple[str, str], int]:
    rp = result.rep_product
    return {
        (r, p): int(q) for r, p, q in zip(rp["rep_id"], rp["product_id"], rp["quota"], strict=True)
    }


def dual(result: QuotaResult, name: str) -> float:
    rows = result.constraints.set_index("name")
    return float(rows.loc[name, "dual"])


def largest_lp_deviation(result: QuotaResult) -> float:
    """The stage-1 objective recomputed from the unrounded LP quotas and the fair quotas."""
    rp = result.rep_product[result.rep_product["fair"] > 0]
    return float(((rp["quota_lp"] - rp["fair"]).abs() / rp["fair"]).max())


# ---------------------------------------------------------------- the LP by hand


def test_two_reps_split_in_proportion_to_potential() -> None:
    """Potentials 100 and 300, target 200 (120 + 80 over two months): quotas 50 and 150."""
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}})
    target = make_target({"P1": [120, 80]})
    result = allocate_quotas(tables, owners_of(tables), target, QuotaSettings(), HIGHS)
    assert quotas(result) == {("R1", "P1"): 50, ("R2", "P1"): 150}
    assert result.rep_product["ratio"].tolist() == [0.5, 0.5]
    assert result.report.objective == pytest.approx(0.0, abs=1e-9)
    # months follow the product's 60/40 profile: 30/20 and 90/60
    months = result.quotas.set_index(["rep_id", "period"])["target"].to_dict()
    assert months == {
        ("R1", "2027-01"): 30,
        ("R1", "2027-02"): 20,
        ("R2", "2027-01"): 90,
        ("R2", "2027-02"): 60,
    }
    # fixed tiers 0.9 / 1.15, rounded month by month
    assert result.quotas["base"].tolist() == [27, 18, 81, 54]
    assert result.quotas["stretch"].tolist() == [35, 23, 104, 69]
    assert result.reconciliation is None and result.expenses is None


def test_ramp_scales_the_ratio_and_totals_still_meet_the_target() -> None:
    """R1 at ramp 0.5: weights 50 and 300, fair quotas 200 x 50/350 = 28.57 and 171.43."""
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, ramp={"R1": 0.5})
    target = make_target({"P1": [100, 100]})
    result = allocate_quotas(tables, owners_of(tables), target, QuotaSettings(), HIGHS)
    assert quotas(result) == {("R1", "P1"): 29, ("R2", "P1"): 171}
    fair = result.rep_product.set_index("rep_id")["fair"]
    assert fair.to_dict() == pytest.approx({"R1": 200 * 50 / 350, "R2": 200 * 300 / 350})
    # R1's ratio is half of R2's
    ratio = result.rep_product.set_index("rep_id")["quota_lp"] / pd.Series({"R1": 100, "R2": 300})
    assert ratio["R1"] / ratio["R2"] == pytest.approx(0.5)


def test_skills_send_the_product_to_skilled_reps() -> None:
    tables = org({"R1": {"P1": 100, "P2": 100}, "R2": {"P1": 300, "P2": 100}}, skills={"R1": "P2"})
    target = make_target({"P1": [100, 100], "P2": [50, 50]})
    result = allocate_quotas(tables, owners_of(tables), target, QuotaSettings(), HIGHS)
    assert quotas(result) == {
        ("R1", "P1"): 0,
        ("R1", "P2"): 50,
        ("R2", "P1"): 200,
        ("R2", "P2"): 50,
    }
    assert not ((result.quotas["rep_id"] == "R1") & (result.quotas["product_id"] == "P1")).any()


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_cap_forces_a_shift_with_the_smallest_largest_deviation(solver: str) -> None:
    """Fair quotas R1 (75, 100), R2 (75, 300); cap 0.92 x 400 = 368 makes R2 shed 7 units.

    Moving d1 of P1 and d2 of P2 from R2 to R1 (d1 + d2 = 7), the largest deviation is
    max(d1/75, d2/100), least at d1 = 3, d2 = 4: D = 4%. Raising R2's cap by one unit cuts the
    shift by one, so D falls by 1/175: the dual of cap[R2] is -1/175.
    """
    tables = org({"R1": {"P1": 100, "P2": 100}, "R2": {"P1": 100, "P2": 300}})
    target = make_target({"P1": [75, 75], "P2": [200, 200]})
    settings = QuotaSettings(cap_share=0.92)
    result = allocate_quotas(
        tables, owners_of(tables), target, settings, SolverSettings(name=solver)
    )
    assert quotas(result) == {
        ("R1", "P1"): 78,
        ("R1", "P2"): 104,
        ("R2", "P1"): 72,
        ("R2", "P2"): 296,
    }
    assert result.report.objective == pytest.approx(0.04, abs=1e-7)
    assert largest_lp_deviation(result) == pytest.approx(0.04, abs=1e-7)
    assert dual(result, "cap[R2]") == pytest.approx(-1 / 175, abs=1e-7)
    rows = result.constraints.set_index("name")
    assert bool(rows.loc["cap[R2]", "binding"]) and not bool(rows.loc["cap[R1]", "binding"])
    assert rows.loc["cap[R1]", "slack"] == pytest.approx(0.92 * 200 - 182, abs=1e-6)
    assert "cap[R2]" in result.summary()


def test_history_floor_lifts_a_rep_and_the_band_limits_it() -> None:
    """R1 sold 60 last year; floor 0% growth: R1 >= 60 against a fair 50 (deviation 20%)."""
    history = [("R1", "P1", "2026-06", 60.0), ("R2", "P1", "2026-06", 100.0)]
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, history=history)
    target = make_target({"P1": [100, 100]})
    # months=2: last year's actual is scaled by 2/12, so floor at 0% growth needs 12 x
    settings = QuotaSettings.model_validate(
        {"fairness": {"band": 0.5}, "history": {"min_growth": 5.0}}
    )
    # floor = (1 + 5) x 60 x 2/12 = 60
    result = allocate_quotas(tables, owners_of(tables), target, settings, HIGHS)
    assert quotas(result) == {("R1", "P1"): 60, ("R2", "P1"): 140}
    assert result.report.objective == pytest.approx(0.2, abs=1e-7)
    assert result.history is not None and result.history_relaxed.empty
    floors = result.history.set_index(["rep_id", "product_id"])
    assert bool(floors.loc[("R1", "P1"), "binds"]) and not bool(floors.loc[("R2", "P1"), "binds"])


def test_a_history_floor_the_band_cannot_reach_gives_way_and_is_reported() -> None:
    """Soft floors (models/quota.md): with a 15% band R1 may have at most 57.5 of a floor of 60.

    The quota LP does not fail: R1 gets the band's top, 57 or 58 after rounding, and the
    history table reports the shortfall; R2's floor (6 x 100 x 2/12 = 100) holds.
    """
    history = [("R1", "P1", "2026-06", 60.0), ("R2", "P1", "2026-06", 100.0)]
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, history=history)
    target = make_target({"P1": [100, 100]})
    tight = QuotaSettings.model_validate({"history": {"min_growth": 5.0}})  # band 15%: <= 57.5
    result = allocate_quotas(tables, owners_of(tables), target, tight, HIGHS)
    got = quotas(result)
    assert got[("R1", "P1")] in (57, 58) and sum(got.values()) == 200
    relaxed = result.history_relaxed.set_index(["rep_id", "product_id"])
    assert list(relaxed.index) == [("R1", "P1")]
    assert relaxed.loc[("R1", "P1"), "shortfall"] in (2, 3)  # 60 - 57.5, in whole units
    assert relaxed.loc[("R1", "P1"), "limit"] == pytest.approx(60)


def test_the_checker_catches_an_unreported_or_needless_give_way() -> None:
    """The checker recomputes the floors from the inputs: a shortfall must be reported, and
    only where the hard rows leave no room (models/quota.md)."""
    history = [("R1", "P1", "2026-06", 60.0), ("R2", "P1", "2026-06", 100.0)]
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, history=history)
    target = make_target({"P1": [100, 100]})
    tight = QuotaSettings.model_validate({"history": {"min_growth": 5.0}})
    result = allocate_quotas(tables, owners_of(tables), target, tight, HIGHS)
    assert check_quotas(tables, owners_of(tables), target, tight, result).ok
    assert result.history is not None
    hidden = dataclasses.replace(result, history=result.history.assign(shortfall=0))
    found = check_quotas(tables, owners_of(tables), target, tight, hidden).violations
    assert "quota below the history floor: R1,P1" in found
    # with a 50% band R1 could have met its floor of 60 by taking from R2 (above its own floor)
    wide = QuotaSettings.model_validate({"fairness": {"band": 0.5}, "history": {"min_growth": 5.0}})
    rp = result.rep_product.copy()
    rp["quota"] = [55, 145]
    needless = dataclasses.replace(result, rep_product=rp)
    found = check_quotas(tables, owners_of(tables), target, wide, needless).violations
    assert "history floor given way with room to meet it: R1,P1" in found


# ---------------------------------------------------------------- reconciliation


def test_commitments_that_meet_totals_and_band_come_back_untouched() -> None:
    commitments = [("R1", "P1", 53.0), ("R2", "P1", 147.0)]
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, commitments=commitments)
    target = make_target({"P1": [100, 100]})
    result = allocate_quotas(tables, owners_of(tables), target, QuotaSettings(), HIGHS)
    assert quotas(result) == {("R1", "P1"): 53, ("R2", "P1"): 147}
    assert result.reconciliation is not None
    assert result.reconciliation["gap"].tolist() == [0, 0]


def test_commitments_outside_the_band_move_to_its_edge() -> None:
    """R1 commits 70 (band 10% allows at most 55), R2 130: quotas 55 / 145, gaps -15 / +15."""
    commitments = [("R1", "P1", 70.0), ("R2", "P1", 130.0)]
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, commitments=commitments)
    target = make_target({"P1": [100, 100]})
    settings = QuotaSettings.model_validate({"fairness": {"band": 0.1}})
    result = allocate_quotas(tables, owners_of(tables), target, settings, HIGHS)
    assert quotas(result) == {("R1", "P1"): 55, ("R2", "P1"): 145}
    rec = result.reconciliation
    assert rec is not None
    assert rec.set_index("rep_id")["gap"].to_dict() == {"R1": -15, "R2": 15}
    # weight 0 ignores the commitments: back to the fair 50 / 150, gaps still reported
    ignore = settings.model_copy(update={"commitment_weight": 0.0})
    result = allocate_quotas(tables, owners_of(tables), target, ignore, HIGHS)
    assert quotas(result) == {("R1", "P1"): 50, ("R2", "P1"): 150}
    assert result.reconciliation is not None
    assert result.reconciliation["gap"].tolist() == [-20, 20]


# ---------------------------------------------------------------- bad input and infeasibility


def test_bad_owners_and_commitments() -> None:
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}})
    target = make_target({"P1": [100, 100]})
    owners = owners_of(tables).copy()
    owners["AR1"] = "R9"
    with pytest.raises(
        InputError, match="owners: account AR1 belongs to rep 'R9', which is not an active rep"
    ):
        allocate_quotas(tables, owners, target, QuotaSettings(), HIGHS)
    twice = pd.concat([owners_of(tables), owners_of(tables).head(1)])
    with pytest.raises(InputError, match="owners: account AR1 is given twice"):
        allocate_quotas(tables, twice, target, QuotaSettings(), HIGHS)
    bad = tables.replace(
        commitments=pd.DataFrame({"rep_id": ["R7"], "product_id": ["P1"], "amount": [5.0]})
    )
    with pytest.raises(InputError, match="commitments: row 1: rep_id 'R7' is not an active rep"):
        allocate_quotas(bad, owners_of(tables), target, QuotaSettings(), HIGHS)


def test_product_without_skilled_rep_is_infeasible() -> None:
    tables = org(
        {"R1": {"P1": 100, "P2": 10}, "R2": {"P1": 300, "P2": 10}}, skills={"R1": "P1", "R2": "P1"}
    )
    target = make_target({"P1": [100, 100], "P2": [5, 5]})
    with pytest.raises(
        InfeasibleError, match=r"target_total\[P2\]: target 10 but no active rep skilled in P2"
    ):
        allocate_quotas(tables, owners_of(tables), target, QuotaSettings(), HIGHS)


def test_caps_coupling_products_get_an_elastic_diagnosis() -> None:
    """Caps 0.9 x 200 + 0.9 x 400 = 540 < 550 of target: only the LP sees it (caps x products)."""
    tables = org({"R1": {"P1": 100, "P2": 100}, "R2": {"P1": 100, "P2": 300}})
    target = make_target({"P1": [75, 75], "P2": [200, 200]})
    with pytest.raises(InfeasibleError, match="cannot hold together") as info:
        allocate_quotas(tables, owners_of(tables), target, QuotaSettings(cap_share=0.9), HIGHS)
    assert any("allow only" in line and "target_total[" in line for line in info.value.diagnosis)
    short = sum(
        float(line.split(" of ")[1].replace(",", ""))
        - float(line.split("only ")[1].split(" of")[0].replace(",", ""))
        for line in info.value.diagnosis
        if "allow only" in line
    )
    assert short == pytest.approx(10)
    # the least cap that works is 550 / 600 = 0.91667, computed, and shown rounded up
    assert "`quota.cap_share` >= 0.917 (now 0.9) is the least change" in "\n".join(
        info.value.diagnosis
    )
    allocate_quotas(tables, owners_of(tables), target, QuotaSettings(cap_share=0.917), HIGHS)
    with pytest.raises(InfeasibleError):
        allocate_quotas(tables, owners_of(tables), target, QuotaSettings(cap_share=0.916), HIGHS)


def test_month_without_working_day() -> None:
    tables = org({"R1": {"P1": 100}})
    settings = QuotaSettings.model_validate({"calendar": {"weekend": [0, 1, 2, 3, 4, 5, 6]}})
    with pytest.raises(ScenarioError, match=r"quota\.calendar: month"):
        allocate_quotas(tables, owners_of(tables), make_target({"P1": [5, 5]}), settings, HIGHS)


# ---------------------------------------------------------------- expenses


def test_expenses_follow_quota_and_respect_region_ceilings() -> None:
    """Quotas 50 / 150 with equal margins, budget 40: the reference split 10 / 30 is optimal.

    With R1's region at 10% (ceiling 5), R1 gets 5 and R2 the other 35 (ceiling 30% of 150).
    """
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, regions={"R1": "G1", "R2": "G2"})
    target = make_target({"P1": [100, 100]})
    plain = QuotaSettings.model_validate({"expense": {"budget": 40, "max_ratio": 0.3}})
    result = allocate_quotas(tables, owners_of(tables), target, plain, HIGHS)
    assert result.expenses is not None
    assert result.expenses["expense"].tolist() == [10, 30]
    assert result.expenses["expected_sales"].tolist() == pytest.approx([50, 150])
    capped = QuotaSettings.model_validate(
        {"expense": {"budget": 40, "max_ratio": 0.3, "region_max_ratio": {"G1": 0.1}}}
    )
    result = allocate_quotas(tables, owners_of(tables), target, capped, HIGHS)
    assert result.expenses is not None
    assert result.expenses["expense"].tolist() == [5, 35]
    assert dual(result, "expense_budget") > 0
    assert dual(result, "expense_ratio[R1]") > 0
    with pytest.raises(ScenarioError, match=r"region_max_ratio\.G9: unknown region"):
        bad = QuotaSettings.model_validate(
            {"expense": {"budget": 4, "region_max_ratio": {"G9": 0.1}}}
        )
        allocate_quotas(tables, owners_of(tables), target, bad, HIGHS)


def test_expense_split_matches_a_brute_force_of_the_linearised_response() -> None:
    """Different margins: the LP's expected margin equals the best of a fine grid of splits."""
    tables = org({"R1": {"P1": 100}, "R2": {"P2": 300}})
    tables = tables.replace(products=tables.products.assign(margin=[0.6, 0.2]))
    target = make_target({"P1": [50, 50], "P2": [150, 150]})
    settings = QuotaSettings.model_validate({"expense": {"budget": 40, "max_ratio": 0.5}})
    result = allocate_quotas(tables, owners_of(tables), target, settings, HIGHS)
    assert result.expenses is not None
    grid = np.array([0.0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4, 6, 8, 12, 16])

    def response(e: float, quota: float, margin: float, ref: float) -> float:
        return margin * quota * float(np.interp(e / ref, grid, grid**0.3))

    def value(e1: float) -> float:
        return response(e1, 100, 0.6, 10) + response(40 - e1, 300, 0.2, 30)

    best = max(value(e1) for e1 in np.linspace(0, 40, 4001))
    e1 = float(result.expenses["expense"].iloc[0])
    assert value(e1) == pytest.approx(best, abs=0.05)  # whole units cost at most one unit's slope
    assert result.expenses["expense"].sum() == 40


# ---------------------------------------------------------------- generated companies


def generated(seed: int) -> tuple[Tables, pd.Series]:
    from allocator.demo import generate_company

    tables = generate_company(accounts=120, reps=6, regions=4, products=3, seed=seed)
    owners = tables.active_accounts.set_index("account_id")["incumbent_rep_id"]
    return tables, owners[owners != ""]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_company_every_level_sums_and_checks(seed: int) -> None:
    from allocator.io.settings import TargetSettings
    from allocator.quota.target import set_target

    tables, owners = generated(seed)
    target = set_target(tables, TargetSettings(start="2027-01", plan=2_000_000))
    rng = np.random.default_rng(seed)
    settings = QuotaSettings.model_validate(
        {
            "cap_share": float(rng.uniform(0.5, 0.9)),
            "tiers": {"method": "probability"},
            "calendar": {"holidays": ["2027-01-01", "2027-12-24"]},
            "expense": {"budget": 50_000},
        }
    )
    result = allocate_quotas(tables, owners, target, settings, HIGHS)
    assert check_quotas(tables, owners, target, settings, result).ok
    # the same sums, computed here once more
    product_total = target.by_product.groupby("product_id")["target"].sum()
    assert result.rep_product.groupby("product_id")["quota"].sum().equals(product_total)
    assert result.days["target"].sum() == result.weeks["target"].sum() == target.total
    assert result.accounts["target"].sum() == target.total
    assert (result.quotas["base"] <= result.quotas["target"]).all()
    assert (result.quotas["stretch"] >= result.quotas["target"]).all()
    # the reported objective is the recomputed largest deviation of the LP quotas
    assert result.report.objective == pytest.approx(largest_lp_deviation(result), abs=1e-6)
    # same input, same output
    again = allocate_quotas(tables, owners, target, settings, HIGHS)
    assert again.days.equals(result.days) and again.accounts.equals(result.accounts)


def test_checker_catches_a_broken_result() -> None:
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}})
    target = make_target({"P1": [120, 80]})
    settings = QuotaSettings()
    result = allocate_quotas(tables, owners_of(tables), target, settings, HIGHS)
    days = result.days.copy()
    days.loc[0, "target"] += 1
    broken = QuotaResult(**{**result.__dict__, "days": days})
    found = check_quotas(tables, owners_of(tables), target, settings, broken).violations
    assert any("days do not sum to the week" in v for v in found)
    rp = result.rep_product.copy()
    rp.loc[0, "quota"], rp.loc[1, "quota"] = 80, 120  # R1 at 80 against a fair 50
    broken = QuotaResult(**{**result.__dict__, "rep_product": rp})
    found = check_quotas(tables, owners_of(tables), target, settings, broken).violations
    assert any("outside the fairness band" in v and "R1,P1" in v for v in found)
    assert any("months do not sum to the quota" in v for v in found)


def test_stage_two_declared_infeasible_by_round_off_is_retried_with_a_looser_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HiGHS may call the 1e-9 hold of stage 2 infeasible (its tolerance is 1e-7): the solve
    retries at 1e-6 instead of failing, and the cap case keeps its answer (D = 4%)."""
    import allocator.quota.allocate as quota_module
    from allocator.solver import SolveReport, Status

    real_solve = quota_module.solve
    holds: list[float] = []

    def flaky(prob, settings=None, **kwargs):  # type: ignore[no-untyped-def]
        hold = prob.get_constraint_by_name("stage1")
        if hold is not None:
            holds.append(-hold.constant)
            if len(holds) == 1:
                return SolveReport(Status.INFEASIBLE, "highs", None, None, None, 0.0, False)
        return real_solve(prob, settings, **kwargs)

    monkeypatch.setattr(quota_module, "solve", flaky)
    tables = org({"R1": {"P1": 100, "P2": 100}, "R2": {"P1": 100, "P2": 300}})
    target = make_target({"P1": [75, 75], "P2": [200, 200]})
    result = allocate_quotas(tables, owners_of(tables), target, QuotaSettings(cap_share=0.92))
    assert len(holds) == 2
    assert holds[0] == pytest.approx(0.04 + 1e-9, abs=1e-12)
    assert holds[1] == pytest.approx(0.04 + 1e-6, abs=1e-12)
    assert result.report.objective == pytest.approx(0.04, abs=1e-7)
    assert largest_lp_deviation(result) <= 0.04 + 1e-6 + 1e-9

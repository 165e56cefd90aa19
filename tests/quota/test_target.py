"""Target setting and product mix (allocator/quota/target.py, models/target.md)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InfeasibleError, ScenarioError
from allocator.io.data import make_tables
from allocator.io.settings import SolverSettings, TargetSettings
from allocator.io.tables import Tables
from allocator.quota.target import set_target

JAN = {"2024-01": 90.0, "2025-01": 100.0, "2026-01": 110.0}
FEB = {"2024-02": 290.0, "2025-02": 300.0, "2026-02": 310.0}


def company(
    sales: dict[str, float] | None = None,
    *,
    products: pd.DataFrame | None = None,
    mix: dict[str, float] | None = None,
) -> Tables:
    """One rep and one account; history gives ``sales`` per month, split by ``mix`` shares."""
    reps = pd.DataFrame(
        {"rep_id": ["R1"], "name": ["Ann"], "lat": [50.0], "lon": [4.0], "region_id": ["G1"]}
    ).assign(experience=5, capacity=1000.0)
    accounts = pd.DataFrame(
        {"account_id": ["A1"], "name": ["Acme"], "lat": [50.1], "lon": [4.1], "region_id": ["G1"]}
    ).assign(segment="A", potential=1000.0, workload=10.0, incumbent_rep_id="R1")
    history = None
    if sales:
        mix = mix or {"ALL": 1.0}
        history = pd.DataFrame(
            [
                {"account_id": "A1", "product_id": p, "period": m, "sales": s * share}
                for m, s in sales.items()
                for p, share in mix.items()
            ]
        )
    return make_tables(reps=reps, accounts=accounts, products=products, history=history)


def products3() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["P1", "P2", "P3"],
            "name": ["Nova", "Core", "Prime"],
            "category": ["attack", "volume", "profit"],
            "margin": [0.5, 0.2, 0.3],
        }
    )


def target_settings(**changes: object) -> TargetSettings:
    return TargetSettings.model_validate({"start": "2027-01", "months": 2, **changes})


# ---------------------------------------------------------------- references


def test_four_references_by_hand() -> None:
    """History 100 (Jan) and 300 (Feb); plan 400 spread 1:3; growth 10% and 20%.

    Jan: plan 100, history 100, industry 110, competitor 110 x 1.2 = 132 -> mean 110.5
    Feb: plan 300, history 300, industry 330, competitor 310 x 1.2 = 372 -> mean 325.5
    Total 436; the two halves tie, the earlier month takes the unit: 111 + 325.
    """
    result = set_target(
        company(JAN | FEB),
        target_settings(plan=400, industry_growth=0.1, competitor_growth=0.2),
    )
    refs = result.references.set_index("period")
    assert refs.loc["2027-01", ["plan", "history", "industry", "competitor"]].tolist() == (
        pytest.approx([100, 100, 110, 132])
    )
    assert refs.loc["2027-02", ["plan", "history", "industry", "competitor"]].tolist() == (
        pytest.approx([300, 300, 330, 372])
    )
    assert refs["target"].tolist() == [111, 325]
    assert result.total == 436
    assert result.by_product["target"].tolist() == [111, 325]  # one product ALL


def test_missing_plan_redistributes_its_weight() -> None:
    # no plan: the three history references share the weight equally
    result = set_target(
        company(JAN | FEB), target_settings(industry_growth=0.1, competitor_growth=0.2)
    )
    assert np.isnan(result.references["plan"]).all()
    # Jan (100 + 110 + 132) / 3 = 114; Feb (300 + 330 + 372) / 3 = 334
    assert result.references["target"].tolist() == [114, 334]


def test_plan_only_is_flat_without_history_and_amount_follows_seasonality() -> None:
    flat = set_target(company(), target_settings(plan=1001))
    assert flat.references["target"].tolist() == [501, 500]
    assert flat.references["history"].isna().all()
    amount = set_target(company(JAN | FEB), target_settings(amount=800, plan=5))
    assert amount.references["target"].tolist() == [200, 600]  # 1:3 like the history


def test_partial_history_and_second_year_growth() -> None:
    # only two years of January: history is their mean (105); month 13 compounds two years
    sales = {"2025-01": 100.0, "2026-01": 110.0, **FEB}
    settings = TargetSettings(start="2027-01", months=13, industry_growth=0.1, plan=1300)
    refs = set_target(company(sales), settings).references.set_index("period")
    assert refs.loc["2027-01", "history"] == pytest.approx(105)
    assert refs.loc["2027-01", "industry"] == pytest.approx(105 * 1.1)
    assert refs.loc["2028-01", "industry"] == pytest.approx(105 * 1.1**2)
    assert refs.loc["2028-01", "competitor"] == pytest.approx(110)  # growth 0
    assert np.isnan(refs.loc["2027-03", "history"])  # no March in history


@pytest.mark.parametrize(
    ("tables", "changes", "match"),
    [
        (company(), {}, "target: needs a plan, an amount, or history"),
        (company(JAN), {}, "target: month 2027-02 has no reference"),
        (
            company(JAN | FEB),
            {"weights": {"plan": 1, "history": 0, "industry": 0, "competitor": 0}},
            r"target.weights: month 2027-01: the available references \(history, industry, "
            r"competitor\) all have weight 0",
        ),
        (company(JAN), {"start": "2027-1"}, "target.start: expected a month YYYY-MM"),
    ],
)
def test_bad_target_settings(tables: Tables, changes: dict, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        set_target(tables, target_settings(**changes))


def test_partial_month_without_history_is_renormalised_per_month() -> None:
    # January has history, February not: February takes the plan alone
    result = set_target(company(JAN), target_settings(plan=200))
    refs = result.references
    assert np.isnan(refs.loc[1, "history"]) and refs.loc[1, "plan"] == pytest.approx(100)
    # January (100 + 100 + 100 + 110) / 4 = 102.5, total 202.5 rounds to even: 202
    assert refs["target"].tolist() == [102, 100]


# ---------------------------------------------------------------- product mix


def test_mix_without_bands_follows_history_shares() -> None:
    tables = company(JAN | FEB, products=products3(), mix={"P1": 0.5, "P2": 0.3, "P3": 0.2})
    result = set_target(tables, target_settings(plan=1000))
    assert result.mix["share"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    by = result.by_product
    assert (
        by.groupby("period", sort=False)["target"].sum().tolist()
        == result.references["target"].tolist()
    )
    assert by["target"].sum() == result.total


def brute_force_mix(margins: list[float], ok: object, step: float = 0.05) -> float:
    """Best margin over every split of the target in steps of ``step`` that ``ok`` accepts."""
    n = round(1 / step)
    best = -1.0
    for a, b in itertools.product(range(n + 1), repeat=2):
        if a + b <= n:
            x = (a * step, b * step, (n - a - b) * step)
            if ok(x):  # type: ignore[operator]
                best = max(best, sum(m * s for m, s in zip(margins, x, strict=True)))
    return best


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_mix_bands_maximise_margin(solver: str) -> None:
    """attack <= 35%, volume >= 40%: the best margin puts 35% in P1, 40% in P2, 25% in P3."""
    tables = company(JAN | FEB, products=products3(), mix={"P1": 0.2, "P2": 0.6, "P3": 0.2})
    mix = {"categories": {"attack": {"max": 0.35}, "volume": {"min": 0.4}}}
    result = set_target(tables, target_settings(plan=1000, mix=mix), SolverSettings(name=solver))
    shares = result.mix["share"].to_numpy()
    assert shares == pytest.approx([0.35, 0.4, 0.25], abs=1e-7)
    margin = float(result.mix["margin"] @ shares)
    best = brute_force_mix([0.5, 0.2, 0.3], lambda x: x[0] <= 0.35 + 1e-9 and x[1] >= 0.4 - 1e-9)
    assert margin == pytest.approx(best)
    assert result.mix["band_max"].tolist() == [0.35, 1.0, 1.0]
    # the category minimum reaches its one product (band_min was always 0 before)
    assert result.mix["band_min"].tolist() == [0.0, 0.4, 0.0]
    # the monthly split is exact
    assert result.by_product.groupby("period", sort=False)["target"].sum().tolist() == (
        result.references["target"].tolist()
    )


def test_mix_ties_go_to_reference_shares() -> None:
    # P1 and P3 have the same margin: after P2's minimum the LP is free between them; the
    # second stage keeps them closest to history (P1 0.3, P3 0.1 -> scaled into the freedom)
    products = products3().assign(margin=[0.4, 0.2, 0.4])
    tables = company(JAN | FEB, products=products, mix={"P1": 0.3, "P2": 0.6, "P3": 0.1})
    mix = {"products": {"P2": {"min": 0.6, "max": 0.6}}}
    shares = set_target(tables, target_settings(plan=1000, mix=mix)).mix["share"].tolist()
    assert shares == pytest.approx([0.3, 0.6, 0.1], abs=1e-7)


def test_band_min_folds_in_the_category_minimum() -> None:
    """mix.csv showed band_min 0 even with a category minimum (only the maximum was folded in).

    Two products share category "volume" (min 0.5, max 0.7) and P2 may hold at most 0.2 of it:
    P1 needs at least 0.5 - 0.2 = 0.3 whatever the LP does; P3 (profit, min 0.1) takes 0.1.
    """
    products = products3().assign(category=["volume", "volume", "profit"])
    tables = company(JAN | FEB, products=products, mix={"P1": 0.3, "P2": 0.4, "P3": 0.3})
    mix = {
        "products": {"P2": {"max": 0.2}},
        "categories": {"volume": {"min": 0.5, "max": 0.7}, "profit": {"min": 0.1}},
    }
    result = set_target(tables, target_settings(plan=1000, mix=mix)).mix.set_index("product_id")
    assert result["band_min"].tolist() == pytest.approx([0.3, 0.0, 0.1])
    assert result["band_max"].tolist() == pytest.approx([0.7, 0.2, 1.0])
    # every share the LP chose lies inside its band
    assert (result["share"] >= result["band_min"] - 1e-9).all()
    assert (result["share"] <= result["band_max"] + 1e-9).all()


@pytest.mark.parametrize(
    ("mix", "match"),
    [
        (
            {"categories": {"attack": {"min": 0.6}, "volume": {"min": 0.6}}},
            r"the minimum shares sum to 1.2 > 1",
        ),
        ({"categories": {"image": {"min": 0.1}}}, r"categories.image: min 0.1 but no product"),
        (
            {"products": {"P1": {"max": 0.2}}, "categories": {"attack": {"min": 0.3}}},
            r"categories.attack: needs at least 0.3 of the target, its products allow 0.2",
        ),
        (
            {"products": {"P1": {"max": 0.2}, "P2": {"max": 0.3}, "P3": {"max": 0.4}}},
            r"the maximum shares sum to 0.9 < 1",
        ),
    ],
)
def test_infeasible_bands_name_the_keys(mix: dict, match: str) -> None:
    tables = company(JAN | FEB, products=products3(), mix={"P1": 1.0})
    with pytest.raises(InfeasibleError, match=match):
        set_target(tables, target_settings(plan=1000, mix=mix))


def test_bad_band_keys() -> None:
    tables = company(JAN | FEB, products=products3(), mix={"P1": 1.0})
    with pytest.raises(ScenarioError, match=r"target.mix.products.P9: unknown product"):
        set_target(tables, target_settings(plan=1, mix={"products": {"P9": {"max": 0.5}}}))
    with pytest.raises(ScenarioError, match="share bands need a products table"):
        set_target(company(JAN), target_settings(plan=1, mix={"products": {"P1": {"max": 0.5}}}))

"""Quota tiers: fixed factors and attainment probabilities (allocator/quota/tiers.py)."""

from __future__ import annotations

import statistics

import pandas as pd
import pytest
from pydantic import ValidationError

from allocator.io.data import make_tables
from allocator.io.settings import TierSettings
from allocator.io.tables import Tables
from allocator.quota.tiers import apply_tiers, tier_factors, volatility

START = "2027-01"
MONTHS36 = [str(pd.Period("2024-01", freq="M") + i) for i in range(36)]


def org(history: dict[str, list[float]]) -> Tables:
    """Reps R1, R2 with one account each; ``history[rep]`` gives 36 monthly sales of P1."""
    reps = pd.DataFrame(
        {"rep_id": ["R1", "R2"], "name": ["a", "b"], "lat": 50.0, "lon": 4.0, "region_id": "G1"}
    ).assign(experience=3, capacity=100.0)
    accounts = pd.DataFrame(
        {"account_id": ["A1", "A2"], "name": ["x", "y"], "lat": 50.0, "lon": 4.0, "region_id": "G1"}
    ).assign(segment="A", potential=100.0, workload=1.0, incumbent_rep_id=["R1", "R2"])
    rows = [
        (f"A{rep[1]}", "P1", month, sales)
        for rep, series in history.items()
        for month, sales in zip(MONTHS36, series, strict=True)
    ]
    hist = pd.DataFrame(rows, columns=["account_id", "product_id", "period", "sales"])
    products = pd.DataFrame(
        {"product_id": ["P1"], "name": ["p"], "category": ["volume"], "margin": [0.3]}
    )
    return make_tables(
        reps=reps, accounts=accounts, products=products, history=hist if rows else None
    )


OWNERS = pd.Series({"A1": "R1", "A2": "R2"})
PAIRS = pd.DataFrame({"rep_id": ["R1", "R2"], "product_id": ["P1", "P1"]})


def test_fixed_factors_round_month_by_month() -> None:
    factors = tier_factors(org({}), OWNERS, PAIRS, TierSettings(), start=START, months=12)
    assert factors["base_factor"].tolist() == [0.9, 0.9]
    assert factors["stretch_factor"].tolist() == [1.15, 1.15]
    quotas = pd.DataFrame(
        {
            "rep_id": ["R1", "R1"],
            "product_id": "P1",
            "period": ["2027-01", "2027-02"],
            "target": [90, 7],
        }
    )
    out = apply_tiers(quotas, factors)
    # 0.9 x 90 = 81, 0.9 x 7 = 6.3 -> 6; 1.15 x 90 = 103.5 -> 104 (half up), 1.15 x 7 = 8.05 -> 8
    assert out["base"].tolist() == [81, 6]
    assert out["stretch"].tolist() == [104, 8]
    assert list(out.columns) == ["rep_id", "product_id", "period", "base", "target", "stretch"]


def test_probability_tiers_from_volatility_by_hand() -> None:
    """R1 alternates 80 / 120 (CV = 20 x sqrt(36/35) / 100); R2 is flat (CV 0).

    Normal model over 12 independent months: sd = q x CV / sqrt(12). Base is reached with
    probability 0.8, stretch with 0.2; checked with the standard library's NormalDist.
    """
    r1 = [80.0, 120.0] * 18
    tables = org({"R1": r1, "R2": [50.0] * 36})
    settings = TierSettings(method="probability")
    factors = tier_factors(tables, OWNERS, PAIRS, settings, start=START, months=12).set_index(
        "rep_id"
    )
    cv = statistics.stdev(r1) / statistics.mean(r1)
    assert factors.loc["R1", "volatility"] == pytest.approx(cv)
    attainment = statistics.NormalDist(mu=1.0, sigma=cv / 12**0.5)
    assert 1 - attainment.cdf(factors.loc["R1", "base_factor"]) == pytest.approx(0.8)
    assert 1 - attainment.cdf(factors.loc["R1", "stretch_factor"]) == pytest.approx(0.2)
    assert factors.loc["R2", "volatility"] == 0
    assert factors.loc["R2", ["base_factor", "stretch_factor"]].tolist() == [1.0, 1.0]


def test_rep_without_history_takes_the_company_volatility_and_no_history_the_fixed() -> None:
    r1 = [80.0, 120.0] * 18
    tables = org({"R1": r1})
    owners = pd.Series({"A1": "R1", "A2": "R2"})
    settings = TierSettings(method="probability")
    factors = tier_factors(tables, owners, PAIRS, settings, start=START, months=12)
    by_rep, company = volatility(tables, owners, start=START)
    assert company["P1"] == pytest.approx(statistics.stdev(r1) / statistics.mean(r1))
    assert ("R2", "P1") not in by_rep.index
    assert factors["volatility"].tolist() == pytest.approx([company["P1"]] * 2)
    none = tier_factors(org({}), owners, PAIRS, settings, start=START, months=12)
    assert none["base_factor"].tolist() == [0.9, 0.9]
    assert none["stretch_factor"].tolist() == [1.15, 1.15]


@pytest.mark.parametrize(
    "changes", [{"base_probability": 0.4}, {"stretch_probability": 0.6}, {"stretch": 0.8}]
)
def test_bad_tier_settings(changes: dict) -> None:
    with pytest.raises(ValidationError):
        TierSettings.model_validate(changes)

"""Quota tiers: base, target and stretch for every quota, fixed or from attainment probability.

``fixed`` uses the factors ``tiers.base`` and ``tiers.stretch``. ``probability`` reads the
volatility of the rep's territory (coefficient of variation of its monthly sales) and sets base and
stretch at the levels reached with the given probabilities under a normal model; the formula and
its assumptions are in ``models/quota.md`` ("Tiers").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from allocator.io.settings import TierSettings
from allocator.io.tables import Tables
from allocator.quota.phasing import before

__all__ = ["apply_tiers", "tier_factors", "volatility"]

WINDOW = 36  # months of history before the start that the volatility looks at


def volatility(tables: Tables, owners: pd.Series, *, start: str) -> tuple[pd.Series, pd.Series]:
    """Coefficient of variation of monthly sales, per (rep, product) and per product.

    Over the months of the 36 before ``start`` that appear in history; a month without a row
    counts as zero sales. A series is NaN where there are fewer than two months or the mean is 0.

    Returns
    -------
    tuple of pandas.Series
        CV indexed by (rep_id, product_id), and the company CV indexed by product_id.
    """
    history = tables.history
    empty_rep = pd.Series(
        dtype=float, index=pd.MultiIndex.from_tuples([], names=["rep_id", "product_id"])
    )
    if history is None or history.empty:
        return empty_rep, pd.Series(dtype=float)
    window = before(history, start, WINDOW)
    months = sorted(set(window["period"]))
    company = _cv(window.groupby(["product_id", "period"])["sales"].sum().unstack(), months)
    owned = window.assign(rep_id=window["account_id"].map(owners))
    owned = owned[owned["rep_id"].notna()]
    if owned.empty:
        return empty_rep, company
    by_rep = owned.groupby(["rep_id", "product_id", "period"])["sales"].sum().unstack()
    return _cv(by_rep, months), company


def _cv(wide: pd.DataFrame, months: list[str]) -> pd.Series:
    values = wide.reindex(columns=months).fillna(0.0).to_numpy(float)
    if values.shape[1] < 2:
        return pd.Series(np.nan, index=wide.index)
    mean = values.mean(axis=1)
    std = values.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean > 0, std / mean, np.nan)
    return pd.Series(cv, index=wide.index)


def tier_factors(
    tables: Tables,
    owners: pd.Series,
    pairs: pd.DataFrame,
    settings: TierSettings,
    *,
    start: str,
    months: int,
) -> pd.DataFrame:
    """Base and stretch factors of each (rep, product) pair.

    Parameters
    ----------
    pairs
        Columns ``rep_id``, ``product_id``: the quotas that need tiers.
    start, months
        The target horizon (volatility window ends before ``start``; ``months`` scales it).

    Returns
    -------
    pandas.DataFrame
        ``rep_id``, ``product_id``, ``volatility`` (NaN for fixed), ``base_factor`` (<= 1),
        ``stretch_factor`` (>= 1).
    """
    out = pairs[["rep_id", "product_id"]].reset_index(drop=True)
    if settings.method == "fixed":
        return out.assign(
            volatility=np.nan, base_factor=settings.base, stretch_factor=settings.stretch
        )
    by_rep, company = volatility(tables, owners, start=start)
    keys = pd.MultiIndex.from_frame(out)
    cv = by_rep.reindex(keys).to_numpy(float)
    fallback = company.reindex(out["product_id"]).to_numpy(float)
    cv = np.where(np.isnan(cv), fallback, cv)
    spread = cv / np.sqrt(months)
    base = np.maximum(0.0, 1.0 + norm.ppf(1.0 - settings.base_probability) * spread)
    stretch = 1.0 + norm.ppf(1.0 - settings.stretch_probability) * spread
    return out.assign(
        volatility=cv,
        base_factor=np.where(np.isnan(cv), settings.base, base),
        stretch_factor=np.where(np.isnan(cv), settings.stretch, stretch),
    )


def apply_tiers(quotas: pd.DataFrame, factors: pd.DataFrame) -> pd.DataFrame:
    """Add whole ``base`` and ``stretch`` columns: each month's target times its pair's factor.

    Rounded half up month by month, so base <= target <= stretch holds in every month (factors
    are <= 1 and >= 1); the horizon's tiers are the sums of the months.
    """
    merged = quotas.merge(factors, on=["rep_id", "product_id"], how="left", validate="many_to_one")
    target = merged["target"].to_numpy(float)
    # cleaned to 1e-9 first: 1.15 x 90 is 103.49999999999999 in floating point
    base = np.floor(np.round(merged["base_factor"].to_numpy(float) * target, 9) + 0.5)
    stretch = np.floor(np.round(merged["stretch_factor"].to_numpy(float) * target, 9) + 0.5)
    out = quotas.copy()
    out["base"] = np.minimum(base, target).astype(np.int64)
    out["stretch"] = np.maximum(stretch, target).astype(np.int64)
    return out[["rep_id", "product_id", "period", "base", "target", "stretch"]]

"""Re-phasing a tracked plan: what is left of each quota, spread over the working days left.

:func:`rephase` keeps each rep's total by default (remaining = quota - actual to date) or, with
``reallocate``, allocates the remaining company target again with the quota LP; either way the
remaining amount is spread over the days after the as-of date by the plan's daily profile, in
whole units (``docs/tracking.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.io.settings import HistoryBounds, QuotaSettings, SolverSettings
from allocator.quota.phasing import round_groups
from allocator.quota.target import TargetResult
from allocator.solver import SolveReport
from allocator.track.actuals import to_date
from allocator.track.tracked_plan import KEYS, TrackedPlan, check_as_of

__all__ = ["Rephased", "rephase"]


@dataclass(frozen=True)
class Rephased:
    """What is left of each quota, spread over the working days after ``as_of``.

    ``pairs`` (-> rephase.csv): rep_id, product_id, quota, actual_to_date, plan_remaining (the
    plan's quota after as_of), remaining (the new quota after as_of) and new_total (actual +
    remaining). ``days`` (rep_id, product_id, date, period, week, target) and ``months`` sum
    exactly to ``remaining``. ``method`` is ``keep_totals`` or ``reallocate``.
    """

    as_of: pd.Timestamp
    method: str
    pairs: pd.DataFrame
    days: pd.DataFrame
    months: pd.DataFrame
    report: SolveReport | None = None

    def summary(self) -> str:
        p = self.pairs
        return (
            f"re-phased ({self.method}) after {self.as_of:%Y-%m-%d}: remaining "
            f"{p['remaining'].sum():,} (plan {p['plan_remaining'].sum():,}) over "
            f"{self.days['date'].nunique()} working days"
        )


def rephase(
    tracked: TrackedPlan,
    actuals: pd.DataFrame,
    as_of: str | date | pd.Timestamp,
    *,
    reallocate: bool = False,
    solver: SolverSettings | None = None,
) -> Rephased:
    """Spread the rest of every quota over the working days left after ``as_of``.

    By default each rep keeps their period total: remaining = max(0, quota - actual to date),
    rounded to whole units. With ``reallocate``, the remaining company target of each product
    (its target - all actuals to date) is allocated again across reps with the quota LP
    (:func:`allocator.quota.allocate.allocate_quotas` over the remaining months; the past stays as
    sold).
    Either way the remaining amount is spread over the days left in proportion to the plan's
    daily quota of the pair (of the product when the pair had none), by largest remainder.

    Raises
    ------
    ScenarioError
        No quotas, ``as_of`` outside the plan, or no working day left after it.
    InfeasibleError
        ``reallocate`` and the quota LP has no solution for the remaining target.
    """
    _, days, calendar = tracked.quota_tables()
    as_of = check_as_of(as_of, calendar)
    ahead = calendar[calendar["date"] > as_of]
    if ahead.empty:
        raise ScenarioError(f"as-of date {as_of:%Y-%m-%d}: no working day of the plan is left")
    status = to_date(days, actuals, as_of)
    plan_rest = days[days["date"] > as_of]
    report = None
    if reallocate:
        remaining, report = _reallocate(tracked, status, plan_rest, ahead, solver)
    else:
        rest = (status["quota"] - status["actual_to_date"]).round().clip(lower=0)
        remaining = status[KEYS].assign(remaining=rest.astype("int64"))
    new_days = _spread(remaining, plan_rest, ahead)
    pairs = status.drop(columns="quota_to_date").merge(remaining, on=KEYS, how="outer")
    planned = plan_rest.groupby(KEYS)["target"].sum().reset_index()
    pairs = pairs.merge(planned.rename(columns={"target": "plan_remaining"}), on=KEYS, how="left")
    pairs = pairs.fillna({"quota": 0, "actual_to_date": 0.0, "remaining": 0, "plan_remaining": 0})
    pairs[["quota", "remaining", "plan_remaining"]] = pairs[
        ["quota", "remaining", "plan_remaining"]
    ].astype("int64")
    pairs["new_total"] = pairs["actual_to_date"] + pairs["remaining"]
    columns = [*KEYS, "quota", "actual_to_date", "plan_remaining", "remaining", "new_total"]
    months = new_days.groupby([*KEYS, "period"])["target"].sum().reset_index()
    method = "reallocate" if reallocate else "keep_totals"
    return Rephased(as_of, method, pairs[columns], new_days, months, report)


def _spread(remaining: pd.DataFrame, plan_rest: pd.DataFrame, ahead: pd.DataFrame) -> pd.DataFrame:
    """Whole ``remaining`` of each pair over the days ``ahead``, by the plan's daily weights."""
    live = remaining[remaining["remaining"] > 0].sort_values(KEYS).reset_index(drop=True)
    grid = live[KEYS].merge(ahead[["date", "period", "week"]], how="cross")
    own = plan_rest[[*KEYS, "date", "target"]].rename(columns={"target": "own"})
    profile = plan_rest.groupby(["product_id", "date"])["target"].sum().reset_index()
    grid = grid.merge(own, on=[*KEYS, "date"], how="left")
    grid = grid.merge(
        profile.rename(columns={"target": "profile"}), on=["product_id", "date"], how="left"
    )
    grid = grid.fillna({"own": 0, "profile": 0})
    pair = np.repeat(np.arange(len(live)), len(ahead))
    own_sum = np.bincount(pair, weights=grid["own"].to_numpy(float), minlength=len(live))
    weight = np.where(own_sum[pair] > 0, grid["own"], grid["profile"])
    target = round_groups(weight, pair, live["remaining"].to_numpy(float))
    return grid[[*KEYS, "date", "period", "week"]].assign(target=target)


def _reallocate(
    tracked: TrackedPlan,
    status: pd.DataFrame,
    plan_rest: pd.DataFrame,
    ahead: pd.DataFrame,
    solver: SolverSettings | None,
) -> tuple[pd.DataFrame, SolveReport | None]:
    """The quota LP over the remaining target of each product: (rep_id, product_id, remaining)."""
    from allocator.quota.allocate import allocate_quotas  # the LP stack only when asked for

    assert tracked.target is not None
    by_product = status.groupby("product_id")[["quota", "actual_to_date"]].sum()
    rest = (by_product["quota"] - by_product["actual_to_date"]).round().clip(lower=0)
    rest = rest.reindex(tracked.products, fill_value=0).astype("int64")
    if rest.sum() == 0:
        return status[KEYS].assign(remaining=0), None
    target = _remaining_target(tracked.target, rest, plan_rest, ahead)
    base = tracked.scenario.quota or QuotaSettings()
    # the history bounds and the expense budget are set for the whole horizon: not for the rest
    settings = base.model_copy(update={"history": HistoryBounds(), "expense": None})
    tables = tracked.tables.replace(commitments=None)
    result = allocate_quotas(
        tables,
        tracked.owners,
        target,
        settings,
        solver or tracked.scenario.solver,
        tracked.scenario.staffing,
    )
    remaining = result.rep_product[[*KEYS, "quota"]].rename(columns={"quota": "remaining"})
    return remaining.astype({"remaining": "int64"}), result.report


def _remaining_target(
    target: TargetResult, rest: pd.Series, plan_rest: pd.DataFrame, ahead: pd.DataFrame
) -> TargetResult:
    """A target of ``rest`` per product over the months left, shaped like the plan's rest."""
    periods = list(pd.unique(ahead["period"]))
    shape = plan_rest.assign(period=plan_rest["date"].dt.strftime("%Y-%m"))
    grid = pd.MultiIndex.from_product([rest.index, periods], names=["product_id", "period"])
    summed = shape.groupby(["product_id", "period"])["target"].sum()
    weights = summed.reindex(grid, fill_value=0).reset_index()
    codes = pd.Categorical(weights["product_id"], categories=list(rest.index)).codes
    weights["target"] = round_groups(weights["target"].to_numpy(float), codes, rest.to_numpy(float))
    by_product = weights[["period", "product_id", "target"]]
    monthly = by_product.groupby("period", sort=False)["target"].sum().reindex(periods)
    references = pd.DataFrame({"period": periods})
    for name in ("plan", "history", "industry", "competitor"):
        references[name] = np.nan
    references["target"] = monthly.to_numpy()
    mix = target.mix.copy()
    mix["share"] = mix["product_id"].map(rest / rest.sum()).fillna(0.0)
    return TargetResult(references, by_product, mix, float(rest.sum()))

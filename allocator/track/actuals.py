"""Actual sales during a plan's period: reading and checking them, simulating them, summing them.

An ``actuals`` table has ``account_id`` or ``rep_id``, ``product_id``, ``date`` and ``sales``.
:func:`load_actuals` and :func:`check_actuals` read and check one against a
:class:`~allocator.track.tracked_plan.TrackedPlan` and credit each row to a rep;
:func:`generate_actuals` simulates one from the plan's daily quotas; :func:`to_date` sums the
quota and the actuals of each rep and product up to a day. The rules are in ``docs/tracking.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from allocator.exceptions import InputError
from allocator.io.rows import RowProblems, read_rows
from allocator.io.tables import blank_cells, convert_cells, potential_by_product
from allocator.plan import Plan
from allocator.track.tracked_plan import KEYS, TrackedPlan, cell_dates, check_as_of, horizon

__all__ = ["check_actuals", "generate_actuals", "load_actuals"]

ACTUALS_COLUMNS = ["rep_id", "account_id", "product_id", "date", "sales"]


def load_actuals(path: str | Path, tracked: TrackedPlan) -> pd.DataFrame:
    """Read and check an actuals file against the plan (see :func:`check_actuals`).

    Raises
    ------
    InputError
        The file is unreadable, or rows break the rules (each named with file, row, column).
    """
    frame, rows = read_rows(path)
    return check_actuals(frame, tracked, where=str(path), rows=rows)


def check_actuals(
    frame: pd.DataFrame,
    tracked: TrackedPlan,
    *,
    where: str = "actuals table",
    rows: list[str] | None = None,
) -> pd.DataFrame:
    """Check an actuals table and credit each row to a rep.

    A row names an ``account_id`` (credited to the account's owner in the plan) or a ``rep_id``
    (which wins when both are given), a ``product_id`` (optional when the plan has one product),
    a ``date`` within the plan's months and a finite ``sales`` amount (returns may be negative).

    Returns
    -------
    pandas.DataFrame
        rep_id, account_id ('' when not given), product_id, date, sales.

    Raises
    ------
    InputError
        Missing columns, or rows with a bad date or amount, an unknown account, rep or product,
        or a date outside the plan: ``<where>: row <n>: column '<col>': <value>: expected ...``.
    """
    _, _, calendar = tracked.quota_tables()
    rows = rows or [f"index {label}" for label in frame.index]
    frame = frame.reset_index(drop=True)
    products = tracked.products
    _check_actual_columns(frame, where, len(products))
    out = pd.DataFrame(index=frame.index)
    for column in ("account_id", "rep_id", "product_id"):
        given = column in frame.columns
        out[column] = convert_cells(frame[column], "id")[0].astype(str) if given else ""
    if "product_id" not in frame.columns:
        out["product_id"] = products[0]
    out["date"] = cell_dates(frame["date"])
    sales, bad_sales = convert_cells(frame["sales"], "float")
    out["sales"] = sales.astype(float)
    found = RowProblems(frame, where, rows)
    first, last = horizon(calendar)
    found.cells(out["date"].isna(), "date", "a date YYYY-MM-DD")
    within = f"a date within the plan ({first:%Y-%m-%d} to {last:%Y-%m-%d})"
    found.cells(out["date"].notna() & ~out["date"].between(first, last), "date", within)
    found.cells(bad_sales | blank_cells(frame["sales"]), "sales", "a number")
    no_id = (out["account_id"] == "") & (out["rep_id"] == "")
    found.rows(no_id, "expected an account_id or a rep_id")
    _reference_problems(found, out, tracked, products)
    found.raise_if_any()
    credited = out["account_id"].map(tracked.owners).fillna("").astype(str)
    out["rep_id"] = out["rep_id"].where(out["rep_id"] != "", credited)
    return out[ACTUALS_COLUMNS]


def _reference_problems(
    found: RowProblems, out: pd.DataFrame, tracked: TrackedPlan, products: list[str]
) -> None:
    """Accounts, reps and products the plan does not know."""
    given = found.frame.columns
    if "account_id" in given:
        unknown = (out["account_id"] != "") & ~out["account_id"].isin(tracked.owners.index)
        found.cells(unknown, "account_id", "an account of the plan")
    if "rep_id" in given:
        reps = set(tracked.tables.active_reps["rep_id"])
        unknown = (out["rep_id"] != "") & ~out["rep_id"].isin(reps)
        found.cells(unknown, "rep_id", "an active rep of the plan")
    if "product_id" in given:
        unknown = ~out["product_id"].isin(products)
        found.cells(unknown, "product_id", f"a product of the plan ({', '.join(products)})")


def _check_actual_columns(frame: pd.DataFrame, where: str, n_products: int) -> None:
    problems = [
        f"{where}: missing required column '{c}'"
        for c in ("date", "sales")
        if c not in frame.columns
    ]
    if "account_id" not in frame.columns and "rep_id" not in frame.columns:
        problems.append(f"{where}: needs an 'account_id' or a 'rep_id' column")
    if "product_id" not in frame.columns and n_products > 1:
        problems.append(
            f"{where}: missing column 'product_id' (the plan has {n_products} products)"
        )
    if problems:
        raise InputError(problems)


def generate_actuals(
    plan: Plan | TrackedPlan,
    *,
    through: str | date | pd.Timestamp,
    seed: int = 0,
    performance: float | Mapping[str, float] = 0.15,
    noise: float = 0.5,
) -> pd.DataFrame:
    """Simulated daily sales of every rep from the plan's start to ``through``.

    Each rep sells their daily quota times a performance factor (drawn once per rep around 1
    with standard deviation ``performance``, or given per rep id; missing reps get 1) times a
    gamma noise of mean 1 and coefficient of variation ``noise`` (0: none), rounded to whole
    units. Each day's sale is booked on one of the rep's accounts, drawn by potential.

    Returns
    -------
    pandas.DataFrame
        account_id, product_id, date, sales: an actuals table for :func:`check_actuals`.

    Raises
    ------
    ScenarioError
        No quotas in the plan, or ``through`` outside the plan.
    """
    tracked = plan if isinstance(plan, TrackedPlan) else TrackedPlan.from_plan(plan)
    _, days, calendar = tracked.quota_tables()
    through = check_as_of(through, calendar)
    rng = np.random.default_rng(seed)
    reps = sorted(days["rep_id"].unique())
    if isinstance(performance, Mapping):
        factor = {r: float(performance.get(r, 1.0)) for r in reps}
    else:
        draws = rng.normal(1.0, performance, len(reps)).clip(0.2, None)
        factor = dict(zip(reps, draws, strict=True))
    past = days[days["date"] <= through].sort_values([*KEYS, "date"]).reset_index(drop=True)
    mean = past["target"].to_numpy(float) * past["rep_id"].map(factor).to_numpy(float)
    if noise > 0:
        shape = 1.0 / noise**2
        mean = mean * rng.gamma(shape, 1.0 / shape, len(past))
    past = past.assign(sales=np.rint(mean), account_id="")
    potential = potential_by_product(tracked.tables).reindex(tracked.owners.index, fill_value=0.0)
    for key, idx in past.groupby(KEYS, sort=True).groups.items():
        rep, product = cast(tuple[str, str], key)
        own = potential[product].reindex(tracked.owners.index[tracked.owners == rep])
        own = own[own > 0]
        if len(own):
            drawn = rng.choice(own.index.to_numpy(str), size=len(idx), p=own / own.sum())
            past.loc[idx, "account_id"] = drawn
    past["rep_id"] = past["rep_id"].where(past["account_id"] == "", "")
    past = past[past["sales"] != 0]
    columns = ["account_id", "rep_id", "product_id", "date", "sales"]
    return (
        past[columns]
        .sort_values(["date", "account_id", "rep_id", "product_id"])
        .reset_index(drop=True)
    )


def to_date(days: pd.DataFrame, actuals: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """rep_id, product_id, quota (horizon), quota_to_date and actual_to_date (days <= as_of)."""
    quota = days.groupby(KEYS)["target"].sum()
    quota_to_date = days[days["date"] <= as_of].groupby(KEYS)["target"].sum()
    actual = actuals[actuals["date"] <= as_of].groupby(KEYS)["sales"].sum()
    frame = pd.concat(
        {"quota": quota, "quota_to_date": quota_to_date, "actual_to_date": actual}, axis=1
    ).fillna(0.0)
    frame[["quota", "quota_to_date"]] = frame[["quota", "quota_to_date"]].astype("int64")
    return frame.sort_index().reset_index()

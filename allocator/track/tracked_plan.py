"""The plan being tracked: a solved plan's owners and quotas, and the days it covers.

:class:`TrackedPlan` holds what tracking needs from a solved plan (a :class:`~allocator.plan.Plan`
or an output folder): the owners and the whole-unit quotas per month, working day and account,
with the plan's working-day calendar. :func:`parse_date` and :func:`check_as_of` turn a user's
date into a day inside the plan's months. Reading actuals is :mod:`allocator.track.actuals`;
attainment is :mod:`allocator.track.attainment`, re-phasing :mod:`allocator.track.rephase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.exceptions import InputError, ScenarioError
from allocator.io.files import read_output_csv
from allocator.io.organisation import credits
from allocator.io.scenario import Scenario
from allocator.io.settings import CalendarSettings, QuotaSettings, SolverSettings
from allocator.io.staffing import build_staffing
from allocator.io.tables import Tables, potential_by_product
from allocator.plan import Plan, owners_from_incumbents
from allocator.quota.phasing import spread_over_accounts, spread_over_days, working_days
from allocator.quota.target import TargetResult, set_target

__all__ = ["TrackedPlan", "check_as_of", "parse_date"]

KEYS = ["rep_id", "product_id"]


@dataclass(frozen=True)
class TrackedPlan:
    """What tracking needs from a solved plan; the quota tables are ``None`` without quotas.

    ``months`` (rep_id, product_id, period, target), ``days`` (rep_id, product_id, date,
    target) and ``accounts`` (rep_id, account_id, product_id, period, target) are the plan's
    whole-unit quotas; ``calendar`` its working days (period, date, week).
    """

    scenario: Scenario
    tables: Tables
    owners: pd.Series
    target: TargetResult | None = None
    months: pd.DataFrame | None = None
    days: pd.DataFrame | None = None
    accounts: pd.DataFrame | None = None
    calendar: pd.DataFrame | None = None

    @classmethod
    def from_plan(cls, plan: Plan) -> TrackedPlan:
        """The tracked view of a solved :class:`~allocator.plan.Plan`."""
        q, target = plan.quotas, plan.target
        if q is None or target is None:
            return cls(plan.scenario, plan.tables, plan.owners, target)
        calendar = working_days(target.periods, _calendar(plan.scenario))
        months = q.quotas[["rep_id", "product_id", "period", "target"]]
        return cls(
            plan.scenario, plan.tables, plan.owners, target, months, q.days, q.accounts, calendar
        )

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        scenario: Scenario,
        *,
        tables: Tables,
        solver: SolverSettings | None = None,
    ) -> TrackedPlan:
        """The tracked view of an output folder written by ``allocator solve`` for ``scenario``.

        The owners come from ``assignments.csv`` (else the incumbents), the monthly quotas from
        ``quotas.csv``; the target is set again from the tables (a small LP) and the days and
        accounts are phased again exactly as the solve phased them.

        Raises
        ------
        InputError
            A file is unreadable or lacks a column, or the quotas do not add up to the target
            (the folder was solved from other inputs: solve again).
        """
        folder = Path(folder)
        assignments = read_output_csv(folder / "assignments.csv", ["account_id", "rep_id"])
        if assignments is not None:
            owners = assignments.set_index("account_id")["rep_id"]
        else:
            owners = owners_from_incumbents(tables)
        quotas = read_output_csv(
            folder / "quotas.csv", ["rep_id", "product_id", "period", "target"]
        )
        if scenario.target is None or quotas is None:
            return cls(scenario, tables, owners)
        target = set_target(tables, scenario.target, solver or scenario.solver)
        months = quotas[["rep_id", "product_id", "period"]].assign(
            target=pd.to_numeric(quotas["target"]).astype("int64")
        )
        sums = months.groupby("product_id")["target"].sum()
        if not sums.reindex(target.product_totals().index, fill_value=0).equals(
            target.product_totals()
        ):
            raise InputError(
                [
                    f"{folder / 'quotas.csv'}: the quotas do not add up to the scenario's target; "
                    "solve the scenario again"
                ]
            )
        calendar = working_days(target.periods, _calendar(scenario))
        calendar_settings = _calendar(scenario)
        off = build_staffing(tables, target.periods, calendar_settings, scenario.staffing).off
        days = spread_over_days(months, calendar, KEYS, off)[[*KEYS, "date", "target"]]
        credited = credits(tables, owners)  # a split account: each rep by share
        owned = potential_by_product(tables).reindex(credited["account_id"], fill_value=0.0)
        owned = owned.mul(credited["share"].to_numpy(float), axis=0)
        accounts = spread_over_accounts(months, owned.assign(rep_id=credited["rep_id"].to_numpy()))
        return cls(scenario, tables, owners, target, months, days, accounts, calendar)

    def quota_tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """``(months, days, calendar)``.

        Raises
        ------
        ScenarioError
            When the plan has no quotas (no ``target:`` block, or ``quota.enabled: false``).
        """
        if self.months is None or self.days is None or self.calendar is None:
            raise ScenarioError(
                f"scenario '{self.scenario.name}': tracking needs quotas; add a target: block "
                "(and keep quota.enabled: true)"
            )
        return self.months, self.days, self.calendar

    @property
    def products(self) -> list[str]:
        if self.target is None:
            return self.tables.product_ids
        return list(self.target.mix["product_id"])


def _calendar(scenario: Scenario) -> CalendarSettings:
    return (scenario.quota or QuotaSettings()).calendar


# ---------------------------------------------------------------- dates


def _date_text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def cell_dates(cells: pd.Series) -> pd.Series:
    """Cells as dates (``YYYY-MM-DD`` text or spreadsheet dates); NaT where unusable."""
    text = cells.map(_date_text).astype(str).str.strip()
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def parse_date(value: str | date | pd.Timestamp, *, key: str = "as_of") -> pd.Timestamp:
    """A day as a :class:`pandas.Timestamp` at midnight.

    Raises
    ------
    ScenarioError
        When ``value`` is not a date ``YYYY-MM-DD``; the message names ``key``.
    """
    parsed = cell_dates(pd.Series([value], dtype=object)).iloc[0]
    if pd.isna(parsed):
        raise ScenarioError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")
    return pd.Timestamp(parsed).normalize()


def horizon(calendar: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last calendar day of the plan's months."""
    periods = calendar["period"]
    first = pd.Period(periods.iloc[0], freq="M").start_time
    return first, pd.Period(periods.iloc[-1], freq="M").end_time.normalize()


def check_as_of(as_of: str | date | pd.Timestamp, calendar: pd.DataFrame) -> pd.Timestamp:
    """``as_of`` as a day inside the plan's months.

    Raises
    ------
    ScenarioError
        When it is not a date, or falls before the plan starts or after it ends.
    """
    day = parse_date(as_of, key="as-of date")
    first, last = horizon(calendar)
    if day < first:
        raise ScenarioError(
            f"as-of date {day:%Y-%m-%d} is before the plan starts ({first:%Y-%m-%d}): "
            "there is nothing to track yet"
        )
    if day > last:
        raise ScenarioError(f"as-of date {day:%Y-%m-%d} is after the plan ends ({last:%Y-%m-%d})")
    return day

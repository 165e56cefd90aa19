"""Tracking a plan during its period: actuals, attainment, pace, and re-phasing what is left.

A plan is set once and managed every week. :class:`TrackedPlan` holds what tracking needs from a
solved plan (a :class:`~allocator.plan.Plan` or an output folder): the owners and the quotas per
month, working day and account. :func:`load_actuals` reads and checks an ``actuals`` table
(``account_id`` or ``rep_id``, ``product_id``, ``date``, ``sales``); :func:`track_attainment`
compares it with the quota to date (attainment, pace, reps behind); :func:`rephase` spreads what
is left of each quota over the working days that are left, keeping each rep's total or
re-allocating the remaining company target with the quota LP. The definitions are in
``docs/tracking.md``; the report and its burn-up chart are written by :mod:`allocator.track_cli`.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from allocator.exceptions import InputError, ScenarioError
from allocator.phasing import round_groups, spread_over_accounts, spread_over_days, working_days
from allocator.plan import Plan, owners_from_incumbents
from allocator.scenario import Scenario
from allocator.settings import (
    CalendarSettings,
    HistoryBounds,
    QuotaSettings,
    SolverSettings,
    TrackSettings,
)
from allocator.solve import SolveReport
from allocator.tables import Tables, blank_cells, convert_cells, potential_by_product
from allocator.target import TargetResult, set_target

__all__ = [
    "Attainment",
    "Rephased",
    "RowProblems",
    "TrackedPlan",
    "check_actuals",
    "check_as_of",
    "generate_actuals",
    "load_actuals",
    "parse_date",
    "read_rows",
    "rephase",
    "track_attainment",
]

log = logging.getLogger("allocator")

KEYS = ["rep_id", "product_id"]
ACTUALS_COLUMNS = ["rep_id", "account_id", "product_id", "date", "sales"]
MAX_PROBLEMS = 50


# ---------------------------------------------------------------- the plan being tracked


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
        assignments = _read_output(folder / "assignments.csv", ["account_id", "rep_id"])
        if assignments is not None:
            owners = assignments.set_index("account_id")["rep_id"]
        else:
            owners = owners_from_incumbents(tables)
        quotas = _read_output(folder / "quotas.csv", ["rep_id", "product_id", "period", "target"])
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
        days = spread_over_days(months, calendar, KEYS)[[*KEYS, "date", "target"]]
        owned = potential_by_product(tables).reindex(owners.index, fill_value=0.0)
        accounts = spread_over_accounts(months, owned.assign(rep_id=owners.to_numpy()))
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


def _read_output(path: Path, columns: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError([f"{path}: cannot read it ({exc})"]) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError([f"{path}: missing column(s) {', '.join(missing)}"])
    return frame


# ---------------------------------------------------------------- reading tables and dates


def read_rows(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A CSV, Excel or Parquet table's cells (text kept as text) and each row's label.

    Labels are ``row <n>`` as a spreadsheet numbers them (the header is row 1), or ``index <n>``
    for Parquet. Fully blank rows are dropped; the others keep their labels.

    Raises
    ------
    InputError
        When the file is missing, of another type, empty or unreadable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".parquet"):
        shown = f"'{path.suffix}'" if path.suffix else "none"
        raise InputError(
            [f"{path}: unsupported file type {shown} (expected .csv, .parquet or .xlsx)"]
        )
    if not path.is_file():
        raise InputError([f"{path}: file not found"])
    try:
        if suffix == ".csv":
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig"
            )
        elif suffix == ".xlsx":
            frame = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise InputError([f"{path}: the file is empty (expected a header row)"]) from None
    except UnicodeDecodeError:
        raise InputError([f"{path}: not UTF-8 text (save the CSV as UTF-8)"]) from None
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError([f"{path}: cannot read it ({str(exc).strip()})"]) from None
    frame.columns = pd.Index([str(c).strip() for c in frame.columns], dtype=object)
    label, offset = ("index {}", 0) if suffix == ".parquet" else ("row {}", 2)
    keep = np.ones(len(frame), bool)
    if len(frame.columns):
        keep = ~frame.apply(blank_cells).all(axis=1).to_numpy()
    rows = [label.format(i + offset) for i in np.flatnonzero(keep)]
    return frame[keep].reset_index(drop=True), rows


def _date_text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _dates(cells: pd.Series) -> pd.Series:
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
    parsed = _dates(pd.Series([value], dtype=object)).iloc[0]
    if pd.isna(parsed):
        raise ScenarioError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")
    return pd.Timestamp(parsed).normalize()


def _horizon(calendar: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
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
    first, last = _horizon(calendar)
    if day < first:
        raise ScenarioError(
            f"as-of date {day:%Y-%m-%d} is before the plan starts ({first:%Y-%m-%d}): "
            "there is nothing to track yet"
        )
    if day > last:
        raise ScenarioError(f"as-of date {day:%Y-%m-%d} is after the plan ends ({last:%Y-%m-%d})")
    return day


# ---------------------------------------------------------------- actuals


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
    out["date"] = _dates(frame["date"])
    sales, bad_sales = convert_cells(frame["sales"], "float")
    out["sales"] = sales.astype(float)
    found = RowProblems(frame, where, rows)
    first, last = _horizon(calendar)
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


class RowProblems:
    """Collects one line per bad cell or row of a table: ``<where>: <row>: column ...``."""

    def __init__(self, frame: pd.DataFrame, where: str, rows: list[str]) -> None:
        self.frame, self.where, self.labels = frame, where, rows
        self.problems: list[str] = []

    def cells(self, mask: Any, column: str, expected: str) -> None:
        """``<where>: <row>: column '<column>': <value>: expected <expected>`` where ``mask``."""
        for pos in np.flatnonzero(np.asarray(mask, bool)):
            value = self.frame[column].iloc[pos]
            shown = value.item() if hasattr(value, "item") else value
            self.problems.append(
                f"{self.where}: {self.labels[pos]}: column '{column}': {shown!r}: "
                f"expected {expected}"
            )

    def rows(self, mask: Any, text: str) -> None:
        """``<where>: <row>: <text>`` where ``mask``."""
        for pos in np.flatnonzero(np.asarray(mask, bool)):
            self.problems.append(f"{self.where}: {self.labels[pos]}: {text}")

    def raise_if_any(self) -> None:
        """Raise :class:`InputError` with the first lines and the count of all.

        Raises
        ------
        InputError
            When any problem was found.
        """
        if self.problems:
            raise InputError(self.problems[:MAX_PROBLEMS], total=len(self.problems))


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


# ---------------------------------------------------------------- attainment and pace


@dataclass(frozen=True)
class Attainment:
    """Attainment and pace as of a day, per rep and product and per rep (``docs/tracking.md``).

    ``rep_product`` (-> attainment.csv) and ``reps`` (-> attainment_reps.csv) hold quota,
    quota_to_date, actual_to_date, attainment, pace, pace_attainment, gap_to_date and behind;
    ``burnup`` holds per team and day the cumulative quota, actual and projected sales.
    """

    as_of: pd.Timestamp
    rep_product: pd.DataFrame
    reps: pd.DataFrame
    burnup: pd.DataFrame
    days_elapsed: int
    days_total: int
    behind_margin: float
    ignored_rows: int = 0

    def summary(self) -> str:
        totals = self.reps[["quota", "quota_to_date", "actual_to_date", "pace"]].sum()
        att = _ratio(totals["actual_to_date"], totals["quota_to_date"])
        behind = self.reps[self.reps["behind"]].sort_values("pace_attainment")
        top = behind.head(8)
        lines = [
            f"as of {self.as_of:%Y-%m-%d}: {self.days_elapsed} of {self.days_total} working days",
            f"  actual {totals['actual_to_date']:,.0f} of quota to date "
            f"{totals['quota_to_date']:,.0f} ({att:.1%}); pace {totals['pace']:,.0f} of "
            f"{totals['quota']:,.0f}",
            f"  {len(behind)} of {len(self.reps)} reps behind pace by more than "
            f"{self.behind_margin:.0%}"
            + (": " if len(behind) else "")
            + ", ".join(
                f"{r} ({p:.0%})" for r, p in zip(top["rep_id"], top["pace_attainment"], strict=True)
            )
            + (", ..." if len(behind) > 8 else ""),
        ]
        return "\n".join(lines)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def track_attainment(
    tracked: TrackedPlan,
    actuals: pd.DataFrame,
    as_of: str | date | pd.Timestamp,
    *,
    settings: TrackSettings | None = None,
) -> Attainment:
    """Quota to date, actual to date, attainment and pace of every rep (and product).

    ``actuals`` is a checked table (:func:`check_actuals`); rows after ``as_of`` are ignored.
    Pace is the actual to date / working days elapsed x working days of the plan; a rep is
    ``behind`` when pace / quota < 1 - ``settings.behind_margin``.

    Raises
    ------
    ScenarioError
        No quotas in the plan, or ``as_of`` outside the plan.
    """
    settings = settings or tracked.scenario.track
    _, days, calendar = tracked.quota_tables()
    as_of = check_as_of(as_of, calendar)
    past = actuals[actuals["date"] <= as_of]
    if len(past) < len(actuals):
        log.info(
            "track: %d actuals rows after %s are ignored", len(actuals) - len(past), as_of.date()
        )
    elapsed, total = int((calendar["date"] <= as_of).sum()), len(calendar)
    status = to_date(days, past, as_of)
    margin = settings.behind_margin
    rep_product = _measures(status, elapsed, total, margin)
    reps = _measures(status.groupby("rep_id", as_index=False)[_SUMS].sum(), elapsed, total, margin)
    info = _rep_info(tracked.tables)
    reps = reps.merge(info, on="rep_id", how="left")
    rep_product = rep_product.merge(info[["rep_id", "team"]], on="rep_id", how="left")
    burnup = _burnup(days, past, calendar, as_of, info)
    columns = ["rep_id", "name", "team", *(c for c in reps.columns if c not in info.columns)]
    return Attainment(
        as_of,
        rep_product[
            ["rep_id", "team", *(c for c in rep_product.columns if c not in ("rep_id", "team"))]
        ],
        reps[columns],
        burnup,
        elapsed,
        total,
        margin,
        len(actuals) - len(past),
    )


_SUMS = ["quota", "quota_to_date", "actual_to_date"]


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


def _measures(frame: pd.DataFrame, elapsed: int, total: int, margin: float) -> pd.DataFrame:
    out = frame.copy()
    actual = out["actual_to_date"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["attainment"] = np.where(
            out["quota_to_date"] > 0, actual / out["quota_to_date"], np.nan
        )
        out["pace"] = actual / elapsed * total if elapsed else np.nan
        out["pace_attainment"] = np.where(out["quota"] > 0, out["pace"] / out["quota"], np.nan)
    out["gap_to_date"] = actual - out["quota_to_date"]
    out["behind"] = (out["pace_attainment"] < 1 - margin).fillna(False).astype(bool)
    return out


def _rep_info(tables: Tables) -> pd.DataFrame:
    """rep_id, name and team (the reps' ``team`` column when given, else their region)."""
    reps = tables.reps
    team = reps["region_id"].astype(str)
    if "team" in reps.columns:
        given = reps["team"].fillna("").astype(str).str.strip()
        team = given.where(given != "", team)
    return pd.DataFrame({"rep_id": reps["rep_id"], "name": reps["name"], "team": team})


def _burnup(
    days: pd.DataFrame,
    actuals: pd.DataFrame,
    calendar: pd.DataFrame,
    as_of: pd.Timestamp,
    info: pd.DataFrame,
) -> pd.DataFrame:
    """Per team and calendar day: cumulative quota, actual (to as_of) and projection (after)."""
    team = info.set_index("rep_id")["team"]
    first, last = _horizon(calendar)
    span = pd.date_range(first, last, freq="D")
    working = np.cumsum(span.isin(calendar["date"]))
    done = working[span <= as_of][-1]
    frames = []
    for name, quota, sales in _by_team(days, actuals, team):
        q = quota.groupby("date")["target"].sum().reindex(span, fill_value=0).cumsum()
        a = sales.groupby("date")["sales"].sum().reindex(span, fill_value=0.0).cumsum()
        reached = float(a[as_of])
        projected = reached * working / done if done else np.full(len(span), np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "team": name,
                    "date": span,
                    "quota_cum": q.to_numpy(),
                    "actual_cum": np.where(span <= as_of, a.to_numpy(), np.nan),
                    "projected_cum": np.where(span >= as_of, projected, np.nan),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _by_team(
    days: pd.DataFrame, actuals: pd.DataFrame, team: pd.Series
) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """('all', everything) then each team's days and actuals, teams sorted."""
    day_team = days["rep_id"].map(team)
    sale_team = actuals["rep_id"].map(team)
    out = [("all", days, actuals)]
    for name in sorted(set(day_team.dropna()) | set(sale_team.dropna())):
        out.append((str(name), days[day_team == name], actuals[sale_team == name]))
    return out


# ---------------------------------------------------------------- re-phasing


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
    (:func:`allocator.quota.allocate_quotas` over the remaining months; the past stays as sold).
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
    from allocator.quota import allocate_quotas  # the LP stack only when asked for

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
        tables, tracked.owners, target, settings, solver or tracked.scenario.solver
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

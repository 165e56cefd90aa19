"""Dated staffing: how much of each plan month a rep can sell (``models/organisation.md``).

A rep's *share* of a month is the product of three factors:

- ``present``: the share of the month's working days on which the rep is employed (on or after
  ``start``, on or before ``end``) and not on leave (the ``leaves`` table);
- the ramp schedule (``ramp_schedule``: a curve named under ``staffing.ramp_schedules`` or written
  in the cell, e.g. ``25/50/75/100``): month 0 is the start month, after the last value the share
  is 1; a rep without ``start`` counts the schedule from the plan's first month;
- ``ramp``: the rep's flat factor (1 by default; 0.5 for half time).

:func:`build_staffing` turns tables and settings into a :class:`Staffing` (rep x month frames).
Capacity follows ``present``; fair shares, quotas and their phasing follow ``share``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.exceptions import InputError
from allocator.io.organisation import day_bounds
from allocator.io.settings import CalendarSettings, StaffingSettings
from allocator.io.tables import Tables

__all__ = [
    "Staffing",
    "build_staffing",
    "effective_reps",
    "horizon_capacity",
    "parse_schedule",
    "territory_view",
    "unit_warnings",
    "workdays",
]

_SPLIT = re.compile(r"[/;,\s]+")


@dataclass(frozen=True)
class Staffing:
    """Rep x month availability (index ``rep_id`` of the active reps, columns ``YYYY-MM``).

    ``share`` in [0, 1] weighs fair shares and quotas; ``present`` in [0, 1] is the share of the
    month's working days the rep is there and scales capacity. ``off`` lists the working days
    (``rep_id``, ``date``) on which a dated rep is absent, for the daily phasing. ``dated`` is
    true when a rep has a start, an end, a schedule or a leave.
    """

    periods: tuple[str, ...]
    share: pd.DataFrame
    present: pd.DataFrame
    off: pd.DataFrame
    dated: bool = False

    def mean_share(self) -> pd.Series:
        """Each rep's share averaged over the months: the effective ramp of the horizon."""
        return self.share.mean(axis=1)

    def mean_present(self) -> pd.Series:
        """Each rep's share of the horizon's months present (by working days)."""
        return self.present.mean(axis=1)


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"25/50/75/100"`` or ``"0.25;0.5;0.75;1"`` -> shares (percent when a value exceeds 1).

    Raises
    ------
    ValueError
        When a part is not a number, or a share is below 0 or above 100%.
    """
    parts = [p for p in _SPLIT.split(str(text).strip()) if p]
    values = [float(p.rstrip("%")) for p in parts]
    if any(v > 1 for v in values) or any(p.endswith("%") for p in parts):
        values = [v / 100 for v in values]
    if not values or any(not 0 <= v <= 1 for v in values):
        raise ValueError(text)
    return tuple(values)


def workdays(periods: tuple[str, ...] | list[str], calendar: CalendarSettings) -> pd.DatetimeIndex:
    """The working days of the months: not a weekend day, not a holiday."""
    first = pd.Period(periods[0], freq="M").start_time
    last = pd.Period(periods[-1], freq="M").end_time.normalize()
    dates = pd.date_range(first, last, freq="D")
    holidays = pd.DatetimeIndex(pd.to_datetime(list(calendar.holidays))).normalize()
    keep = ~dates.day_of_week.isin(list(calendar.weekend)) & ~dates.isin(holidays)
    return dates[keep]


def build_staffing(
    tables: Tables,
    periods: tuple[str, ...] | list[str],
    calendar: CalendarSettings | None = None,
    settings: StaffingSettings | None = None,
) -> Staffing:
    """Availability of every active rep in every month of ``periods`` (``YYYY-MM``).

    Raises
    ------
    InputError
        A ``ramp_schedule`` that is neither a curve named under ``staffing.ramp_schedules`` nor
        shares such as ``25/50/75/100`` (naming the reps file and the rep).
    """
    calendar, settings = calendar or CalendarSettings(), settings or StaffingSettings()
    periods = tuple(periods)
    days = workdays(periods, calendar)
    codes = pd.Categorical(np.asarray(days.strftime("%Y-%m")), categories=list(periods)).codes
    per_month = np.maximum(np.bincount(codes, minlength=len(periods)), 1).astype(float)
    reps = tables.active_reps.reset_index(drop=True)
    leaves = _leaves(tables)
    curves = _schedules(reps, settings, tables.sources.get("reps", "reps table"))
    first = pd.Period(periods[0], freq="M")
    share = np.zeros((len(reps), len(periods)))
    present = np.zeros((len(reps), len(periods)))
    off, dated = [], False
    for pos, (rep, begin, end, ramp) in enumerate(
        zip(reps["rep_id"], reps["start"], reps["end"], reps["ramp"], strict=True)
    ):
        here = _here(days, day_bounds(begin), day_bounds(end, last=True), leaves.get(rep, []))
        present[pos] = np.bincount(codes, weights=here, minlength=len(periods)) / per_month
        origin = pd.Period(begin[:7], freq="M") if begin else first
        offsets = [(first - origin).n + k for k in range(len(periods))]
        share[pos] = float(ramp) * _curve_factor(curves[pos], offsets) * present[pos]
        dated |= bool(begin or end or curves[pos]) or not here.all()
        if not here.all():
            off.append(pd.DataFrame({"rep_id": rep, "date": days[~here]}))
    index = pd.Index(reps["rep_id"], name="rep_id")
    empty = pd.DataFrame({"rep_id": pd.Series(dtype=str), "date": pd.Series(dtype="M8[ns]")})
    return Staffing(
        periods=periods,
        share=pd.DataFrame(share, index=index, columns=list(periods)),
        present=pd.DataFrame(present, index=index, columns=list(periods)),
        off=pd.concat(off, ignore_index=True) if off else empty,
        dated=dated,
    )


def _here(
    days: pd.DatetimeIndex,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    leaves: list[tuple[pd.Timestamp, pd.Timestamp]],
) -> np.ndarray:
    """Mask of the working days a rep is employed and not on leave."""
    here = np.ones(len(days), bool)
    if start is not None:
        here &= days >= start
    if end is not None:
        here &= days <= end
    for a, b in leaves:
        here &= ~((days >= a) & (days <= b))
    return here


def horizon_capacity(reps: pd.DataFrame, staffing: Staffing, period: str = "year") -> pd.Series:
    """Hours each rep can work over the plan horizon (index rep_id).

    ``period: year``: ``capacity`` is hours per plan year, scaled by the share of the horizon's
    months the rep is present; ``month``: hours per month, summed over the months present.
    """
    capacity = reps.set_index("rep_id")["capacity"].astype(float)
    present = staffing.present.reindex(capacity.index).fillna(0.0)
    if period == "month":
        return capacity * present.sum(axis=1)
    return capacity * present.mean(axis=1)


def effective_reps(reps: pd.DataFrame, staffing: Staffing, period: str = "year") -> pd.DataFrame:
    """The reps as the territory model sees the horizon: ``ramp`` = mean share, ``capacity`` =
    :func:`horizon_capacity`. Other columns are kept; the caller's frame is not modified."""
    out = reps.copy()
    ids = out["rep_id"]
    out["ramp"] = ids.map(staffing.mean_share()).fillna(out["ramp"]).to_numpy(float)
    hours = horizon_capacity(reps[ids.isin(staffing.share.index)], staffing, period)
    out["capacity"] = ids.map(hours).fillna(out["capacity"]).to_numpy(float)
    return out


def territory_view(
    tables: Tables,
    periods: tuple[str, ...] | list[str],
    calendar: CalendarSettings | None = None,
    settings: StaffingSettings | None = None,
) -> Tables:
    """The tables the territory model reads: reps with their horizon ``ramp`` and ``capacity``
    (:func:`effective_reps`); the same tables when nothing is dated and capacity is yearly."""
    settings = settings or StaffingSettings()
    staffing = build_staffing(tables, periods, calendar, settings)
    if not staffing.dated and settings.capacity_period == "year":
        return tables
    return tables.replace(reps=effective_reps(tables.reps, staffing, settings.capacity_period))


def unit_warnings(tables: Tables, period: str = "year", months: int = 12) -> list[str]:
    """A warning when the hours look mixed up: most reps' yearly workload above their capacity.

    Workload per rep is that of the accounts they hold today (``incumbent_rep_id``), or the
    average when there are no incumbents; both are hours over the plan's ``months`` (capacity x
    ``months`` for ``capacity_period: month``).
    """
    reps = tables.active_reps.set_index("rep_id")
    if reps.empty:
        return []
    yearly = reps["capacity"].astype(float) * (months if period == "month" else 1)
    accounts = tables.active_accounts
    held = accounts[accounts["incumbent_rep_id"].isin(reps.index)]
    if held.empty:
        work = pd.Series(float(accounts["workload"].sum()) / len(reps), index=reps.index)
    else:
        work = held.groupby("incumbent_rep_id")["workload"].sum().reindex(reps.index).fillna(0)
    over = int((work > yearly).sum())
    if over * 2 <= len(reps):
        return []
    monthly = "hours per month" if period == "month" else "hours per plan year"
    return [
        f"units: {over} of {len(reps)} reps have more yearly workload than capacity (capacity "
        f"read as {monthly}, accounts.workload as hours per plan year); if capacity is monthly, "
        "set staffing.capacity_period: month (docs/scenario.md, 'Units')"
    ]


def _curve_factor(curve: tuple[float, ...], offsets: list[int]) -> np.ndarray:
    """Schedule share per month from month offsets since the start (1 after the curve)."""
    out = np.ones(len(offsets))
    for k, n in enumerate(offsets):
        if n < 0:
            out[k] = 0.0
        elif n < len(curve):
            out[k] = curve[n]
    return out


def _schedules(
    reps: pd.DataFrame, settings: StaffingSettings, where: str
) -> list[tuple[float, ...]]:
    """Each rep's ramp curve: its own cell, else the default for reps with a start, else none."""
    named = {name: tuple(values) for name, values in settings.ramp_schedules.items()}
    out: list[tuple[float, ...]] = []
    problems: list[str] = []
    for _, rep in reps.iterrows():
        cell = str(rep.get("ramp_schedule", "")).strip()
        if not cell and settings.default_schedule and str(rep.get("start", "")).strip():
            cell = settings.default_schedule
        if not cell:
            out.append(())
            continue
        if cell in named:
            out.append(named[cell])
            continue
        try:
            out.append(parse_schedule(cell))
        except ValueError:
            known = ", ".join(sorted(named)) or "none defined"
            problems.append(
                f"{where}: rep {rep['rep_id']}: column 'ramp_schedule': {cell!r}: expected a "
                f"curve named under staffing.ramp_schedules ({known}) or shares such as "
                "'25/50/75/100'"
            )
            out.append(())
    if problems:
        raise InputError(problems[:20], total=len(problems))
    return out


def _leaves(tables: Tables) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """rep_id -> [(first day, last day)] of its leaves (dates checked by the data layer)."""
    frame = getattr(tables, "leaves", None)
    out: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    if frame is None:
        return out
    for rep, a, b in zip(frame["rep_id"], frame["from"], frame["to"], strict=True):
        out.setdefault(rep, []).append((day_bounds(a), day_bounds(b, last=True)))
    return out

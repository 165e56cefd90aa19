"""Activity plans: each rep's monthly quota as opportunities, meetings and calls per week.

The quota of every rep, month and account segment (from the plan's account-level quotas) goes
through the segment's funnel (``activities.segments``)::

    opportunities = quota / deal_size / win_rate
    meetings      = opportunities x meetings_per_deal
    calls         = meetings x calls_per_meeting
    hours         = meetings x hours_per_meeting + calls x hours_per_call

so ``opportunities x win_rate x deal_size == quota`` (no rounding: a plan of 2.4 meetings a week
is a rate, not a count). Per week: divided by the month's working weeks (its working days / the
working days of a full week). A rep's plan fits a month when its hours are at most the rep's
``capacity x capacity_share`` pro rata of the month's working days in the plan's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.io.folder import Claim, Owner, claim
from allocator.io.settings import ActivitySettings, FunnelSettings
from allocator.io.tables import Tables
from allocator.track.attainment import TrackedPlan

__all__ = ["ActivityPlan", "activities_for", "plan_activities", "write_activities"]

log = logging.getLogger("allocator")

FUNNEL = ("deal_size", "win_rate", "meetings_per_deal", "calls_per_meeting")
COUNTS = ("opportunities", "deals", "meetings", "calls", "hours")


@dataclass(frozen=True)
class ActivityPlan:
    """Activities per rep, month and segment (-> activities.csv) and the capacity check.

    ``activities``: rep_id, period, segment, quota, the funnel parameters, opportunities,
    deals (won), meetings, calls, hours, weeks and each count per week. ``reps``
    (-> activities_reps.csv): rep_id, period, quota, hours, available_hours, utilization, fits.
    """

    activities: pd.DataFrame
    reps: pd.DataFrame

    @property
    def not_fitting(self) -> pd.DataFrame:
        """The rep-months whose activities need more hours than the rep has."""
        return self.reps[~self.reps["fits"]]

    def summary(self) -> str:
        a, over = self.activities, self.not_fitting
        lines = [
            f"activities: {a['opportunities'].sum():,.0f} opportunities, "
            f"{a['meetings'].sum():,.0f} meetings, {a['calls'].sum():,.0f} calls, "
            f"{a['hours'].sum():,.0f} hours for a quota of {a['quota'].sum():,.0f}",
            f"  {over['rep_id'].nunique()} of {self.reps['rep_id'].nunique()} reps do not fit "
            f"their capacity in at least one month ({len(over)} rep-months)",
        ]
        worst = over.sort_values("utilization", ascending=False).drop_duplicates("rep_id")
        lines += [
            f"  {r.rep_id} {r.period}: {r.hours:,.0f} h needed, "
            f"{r.available_hours:,.0f} h available"
            for r in worst.head(5).itertuples()
        ]
        return "\n".join(lines)


def activities_for(tracked: TrackedPlan, settings: ActivitySettings | None = None) -> ActivityPlan:
    """:func:`plan_activities` on a plan's account quotas and calendar.

    Raises
    ------
    ScenarioError
        No ``activities:`` block (and no ``settings``), no quotas, or a segment without funnel.
    """
    settings = settings or tracked.scenario.activities
    if settings is None:
        raise ScenarioError(
            f"scenario '{tracked.scenario.name}': activities: missing; add the block with a "
            "funnel per segment (see docs/tracking.md)"
        )
    if tracked.accounts is None or tracked.calendar is None:
        raise ScenarioError(
            f"scenario '{tracked.scenario.name}': activities need quotas; add a target: block "
            "(and keep quota.enabled: true)"
        )
    return plan_activities(tracked.accounts, tracked.tables, tracked.calendar, settings)


def plan_activities(
    accounts: pd.DataFrame, tables: Tables, calendar: pd.DataFrame, settings: ActivitySettings
) -> ActivityPlan:
    """Turn account quotas into activities through the funnel of each account's segment.

    Parameters
    ----------
    accounts
        rep_id, account_id, product_id, period, target: whole quotas per account and month.
    tables
        The plan's tables (segments of accounts, capacity of reps).
    calendar
        The plan's working days (period, date, week).
    settings
        The funnels and the hours per meeting and call.

    Raises
    ------
    ScenarioError
        An account segment with quota has no funnel and no ``activities.default`` is given.
    """
    segment = tables.accounts.set_index("account_id")["segment"].astype(str)
    quota = accounts.assign(segment=accounts["account_id"].map(segment).fillna(""))
    grouped = quota.groupby(["rep_id", "period", "segment"])["target"].sum().reset_index()
    frame = grouped.rename(columns={"target": "quota"})
    funnels = _funnels(sorted(frame["segment"].unique()), settings)
    for name in FUNNEL:
        frame[name] = frame["segment"].map({s: getattr(f, name) for s, f in funnels.items()})
    frame["opportunities"] = frame["quota"] / frame["deal_size"] / frame["win_rate"]
    frame["deals"] = frame["quota"] / frame["deal_size"]
    frame["meetings"] = frame["opportunities"] * frame["meetings_per_deal"]
    frame["calls"] = frame["meetings"] * frame["calls_per_meeting"]
    frame["hours"] = (
        frame["meetings"] * settings.hours_per_meeting + frame["calls"] * settings.hours_per_call
    )
    days = calendar.groupby("period")["date"].size()
    per_week = calendar["date"].dt.day_of_week.nunique()  # the weekdays that are working days
    frame["weeks"] = frame["period"].map(days) / per_week
    for name in ("opportunities", "meetings", "calls", "hours"):
        frame[f"{name}_per_week"] = frame[name] / frame["weeks"]
    frame = frame.sort_values(["rep_id", "period", "segment"]).reset_index(drop=True)
    return ActivityPlan(frame, _capacity_check(frame, tables, days, settings))


def _funnels(segments: list[str], settings: ActivitySettings) -> dict[str, FunnelSettings]:
    missing = [s for s in segments if s not in settings.segments]
    if missing and settings.default is None:
        shown = ", ".join(repr(s) for s in missing)
        raise ScenarioError(
            f"activities.segments: no funnel for segment(s) {shown} (accounts with quota have "
            f"them); add them or an activities.default funnel"
        )
    return {s: settings.segments.get(s) or settings.default for s in segments}  # type: ignore[misc]


def _capacity_check(
    frame: pd.DataFrame, tables: Tables, days: pd.Series, settings: ActivitySettings
) -> pd.DataFrame:
    """Hours needed per rep and month against the rep's capacity share of that month."""
    reps = frame.groupby(["rep_id", "period"], as_index=False)[["quota", "hours"]].sum()
    capacity = tables.reps.set_index("rep_id")["capacity"].astype(float)
    share = reps["period"].map(days) / days.sum()
    reps["available_hours"] = reps["rep_id"].map(capacity) * settings.capacity_share * share
    with np.errstate(divide="ignore", invalid="ignore"):
        reps["utilization"] = reps["hours"] / reps["available_hours"]
    reps["fits"] = reps["hours"] <= reps["available_hours"] * (1 + 1e-9)
    return reps


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def write_activities(plan: ActivityPlan, outdir: str | Path | Claim) -> list[Path]:
    """Write ``activities.csv``, ``activities_reps.csv`` and the folder's manifest.

    ``outdir`` is a folder (claimed here, see :func:`allocator.io.folder.claim`) or a
    :class:`~allocator.io.folder.Claim` taken before solving.

    Raises
    ------
    OutputError
        The folder cannot be used or written.
    """
    if not isinstance(outdir, Claim):
        with claim(outdir, Owner("activities", None, "activities")) as folder:
            return write_activities(plan, folder)
    written = [
        outdir.write(f"{stem}.csv", partial(_csv, frame))
        for stem, frame in (("activities", plan.activities), ("activities_reps", plan.reps))
    ]
    written.append(outdir.commit())
    log.info("activities: wrote %s", ", ".join(p.name for p in written))
    return written

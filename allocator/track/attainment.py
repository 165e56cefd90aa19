"""Tracking a plan during its period: attainment and pace as of a day, per rep and team.

A plan is set once and managed every week. :func:`track_attainment` compares the actual sales
of a :class:`TrackedPlan` (checked by :func:`check_actuals`) with its quota to date: attainment,
pace, the reps behind and a burn-up per team. The rest of the tracking API is re-exported here:
the tracked plan and its dates (:mod:`allocator.track.tracked_plan`), the actuals
(:mod:`allocator.track.actuals`) and re-phasing what is left (:mod:`allocator.track.rephase`). The
definitions are in ``docs/tracking.md``; the report and its burn-up chart are written by
:mod:`allocator.track.report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from allocator.io.rows import RowProblems, read_rows
from allocator.io.settings import TrackSettings
from allocator.io.tables import Tables
from allocator.track.actuals import check_actuals, generate_actuals, load_actuals, to_date
from allocator.track.rephase import Rephased, rephase
from allocator.track.tracked_plan import TrackedPlan, check_as_of, horizon, parse_date

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
    # a rep with no quota yet (starts later, on leave) cannot be behind it
    started = out["quota_to_date"] > 0
    out["behind"] = ((out["pace_attainment"] < 1 - margin) & started).fillna(False).astype(bool)
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
    first, last = horizon(calendar)
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

"""Overlay quotas: specialists who carry quota on their product lines over other reps' accounts.

A rep with ``role: overlay`` owns no account and takes no share of the target. Their quota is the
quota of the geographic reps they ``covers`` (rep ids, or manager ids standing for every rep
below that manager) on the product lines of their ``skills`` (every product when blank), month by
month, times their own availability (start, ramp schedule, leaves: ``models/organisation.md``,
"Overlays")::

    overlay[o,p,m] = round(a[o,m] * sum_{r covered by o} q[r,p,m])

Overlay quota double-counts by design (the geographic rep keeps the full quota); it is reported
apart, in ``overlay_quotas.csv``, and never counted in the company's target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.io.settings import CalendarSettings, StaffingSettings
from allocator.io.staffing import build_staffing
from allocator.io.tables import Tables, parse_ids

__all__ = ["OVERLAY_COLUMNS", "covered_reps", "overlay_quotas"]

OVERLAY_COLUMNS = ["rep_id", "product_id", "period", "covered_quota", "availability", "target"]


def covered_reps(tables: Tables, covers: str) -> list[str]:
    """The geographic reps a ``covers`` cell names: rep ids, and every rep below a manager id."""
    reps = tables.active_reps
    parent = {}
    if tables.managers is not None:
        parent = dict(zip(tables.managers["manager_id"], tables.managers["parent_id"], strict=True))
    wanted = parse_ids(covers)
    out = []
    for rep, manager in zip(reps["rep_id"], reps["manager_id"], strict=True):
        chain, current = set(), manager
        while current and current not in chain:
            chain.add(current)
            current = parent.get(current, "")
        if rep in wanted or chain & wanted:
            out.append(rep)
    return out


def overlay_quotas(
    tables: Tables,
    quotas: pd.DataFrame,
    periods: list[str] | tuple[str, ...],
    calendar: CalendarSettings | None = None,
    staffing: StaffingSettings | None = None,
) -> pd.DataFrame | None:
    """Monthly quota of every active overlay rep (:data:`OVERLAY_COLUMNS`); None without any.

    ``quotas`` is the geographic reps' monthly quota (``rep_id``, ``product_id``, ``period``,
    ``target``); ``covered_quota`` is its sum over the covered reps, ``availability`` the overlay
    rep's share of the month, ``target`` their whole quota (rounded half up).
    """
    overlays = tables.overlay_reps
    if overlays.empty:
        return None
    as_reps = tables.replace(reps=overlays.assign(role=""))
    share = build_staffing(as_reps, periods, calendar, staffing).share
    frames = []
    for rep, covers, skills in zip(
        overlays["rep_id"], overlays["covers"], overlays["skills"], strict=True
    ):
        covered = quotas[quotas["rep_id"].isin(covered_reps(tables, covers))]
        products = parse_ids(skills)
        if products:
            covered = covered[covered["product_id"].isin(products)]
        sums = covered.groupby(["product_id", "period"])["target"].sum().reset_index()
        availability = sums["period"].map(share.loc[rep]).fillna(0.0).to_numpy(float)
        target = np.floor(np.round(availability * sums["target"].to_numpy(float), 9) + 0.5)
        frames.append(
            sums.rename(columns={"target": "covered_quota"}).assign(
                rep_id=rep, availability=availability, target=target.astype(np.int64)
            )
        )
    return pd.concat(frames, ignore_index=True)[OVERLAY_COLUMNS]

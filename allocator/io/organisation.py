"""Checks of the organisation tables across rows: dates in order, split shares, manager cycles.

Called by :mod:`allocator.io.data` after the per-cell checks; every problem is one line naming
the file and row, like the rest of the data layer (``models/organisation.md``):

- ``reps``: ``end`` is not before ``start``; a ``ramp_schedule`` written as shares parses;
  ``role`` is territory or overlay, and an overlay rep ``covers`` known reps or managers;
- ``leaves``: ``to`` is not before ``from``;
- ``account_splits``: each account's shares sum to 1 and an account has two reps or more;
- ``managers``: no manager is its own manager, directly or through others.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from allocator.io.readers import Problems, Raw
from allocator.io.tables import OVERLAY, ROLES, Tables, parse_ids

__all__ = ["SHARE_TOLERANCE", "check_organisation", "credits", "day_bounds", "split_accounts"]

#: How far an account's split shares may be from 1 (shares are typed by people: 0.333...).
SHARE_TOLERANCE = 1e-6


def day_bounds(text: str, *, last: bool = False) -> pd.Timestamp | None:
    """``YYYY-MM-DD`` -> that day; ``YYYY-MM`` -> its first (``last``: its last) day; "" -> None."""
    text = str(text).strip()
    if not text:
        return None
    if len(text) == 7:
        month = pd.Period(text, freq="M")
        return (month.end_time if last else month.start_time).normalize()
    return pd.Timestamp(text)


def split_accounts(tables: Tables) -> pd.DataFrame:
    """The ``account_splits`` rows in force (``account_id``, ``rep_id``, ``share``).

    Rows of inactive accounts and reps are left out and the remaining shares of an account are
    scaled to sum to 1 (a rep who left hands their share to the others); an account left with one
    rep is an ordinary account again.
    """
    splits = tables.account_splits
    if splits is None or splits.empty:
        return pd.DataFrame(
            {"account_id": pd.Series(dtype=str), "rep_id": pd.Series(dtype=str), "share": []}
        )
    active = set(tables.active_accounts["account_id"])
    reps = set(tables.active_reps["rep_id"])
    rows = splits[splits["account_id"].isin(active) & splits["rep_id"].isin(reps)]
    rows = rows[["account_id", "rep_id", "share"]].copy()
    rows["share"] = rows["share"] / rows.groupby("account_id")["share"].transform("sum")
    return rows[rows.groupby("account_id")["rep_id"].transform("size") >= 2]


def credits(tables: Tables, owners: pd.Series) -> pd.DataFrame:
    """Who is credited with each owned account: ``account_id``, ``rep_id``, ``share``.

    An account of ``owners`` (account_id -> rep_id) is credited to its owner with share 1,
    unless it is split: then to each rep of ``account_splits`` with its share.
    """
    splits = split_accounts(tables)
    split = owners.index.isin(splits["account_id"])
    whole = pd.DataFrame(
        {"account_id": owners.index[~split], "rep_id": owners.to_numpy()[~split], "share": 1.0}
    )
    shared = splits[splits["account_id"].isin(owners.index)]
    return pd.concat([whole, shared], ignore_index=True)


def check_organisation(
    raws: Mapping[str, Raw], frames: Mapping[str, pd.DataFrame], problems: Problems
) -> None:
    """Add a problem line for every cross-row rule of the organisation tables that breaks.

    A table missing a column these rules read is skipped: the missing column is reported on its
    own by the column checks.
    """

    def has(name: str, *columns: str) -> bool:
        return name in frames and set(columns) <= set(frames[name].columns)

    if has("reps", "rep_id", "start", "end", "ramp_schedule", "manager_id", "role", "covers"):
        _ordered(raws["reps"], frames["reps"], "start", "end", problems)
        _schedules(raws["reps"], frames["reps"], problems)
        managers = frames["managers"] if has("managers", "manager_id") else None
        known = set(managers["manager_id"]) if managers is not None else set()
        _roles(raws["reps"], frames["reps"], known, problems)
    if has("leaves", "from", "to"):
        _ordered(raws["leaves"], frames["leaves"], "from", "to", problems)
    if has("account_splits", "account_id", "rep_id", "share"):
        _splits(raws["account_splits"], frames["account_splits"], problems)
    if has("managers", "manager_id", "parent_id"):
        _cycles(raws["managers"], frames["managers"], problems)


def _ordered(raw: Raw, frame: pd.DataFrame, first: str, last: str, problems: Problems) -> None:
    for pos, (a, b) in enumerate(zip(frame[first], frame[last], strict=True)):
        if not a or not b:
            continue
        if day_bounds(b, last=True) < day_bounds(a):
            problems.cell(raw, pos, last, f"a date on or after {first} ({a})")


def _schedules(raw: Raw, frame: pd.DataFrame, problems: Problems) -> None:
    """A schedule cell with digits must parse as shares (a word is a curve name)."""
    from allocator.io.staffing import parse_schedule  # staffing imports this module's helpers

    if "ramp_schedule" not in frame.columns:
        return
    for pos, cell in enumerate(frame["ramp_schedule"]):
        if not cell or not any(ch.isdigit() for ch in cell) or cell[0].isalpha():
            continue
        try:
            parse_schedule(cell)
        except ValueError:
            problems.cell(
                raw, pos, "ramp_schedule", "monthly shares such as '25/50/75/100' or a curve name"
            )


def _roles(raw: Raw, frame: pd.DataFrame, managers: set[str], problems: Problems) -> None:
    """``role`` is blank, territory or overlay; an overlay ``covers`` reps or managers."""
    if "role" not in frame.columns:
        return
    role = frame["role"].str.lower()
    overlay = role == OVERLAY
    geographic = set(frame.loc[~overlay, "rep_id"]) | set(frame.loc[~overlay, "manager_id"]) - {""}
    for pos in [int(i) for i in np.flatnonzero(~role.isin(ROLES).to_numpy())]:
        problems.cell(raw, pos, "role", "territory or overlay (blank: territory)")
    for pos in [int(i) for i in np.flatnonzero(overlay.to_numpy())]:
        cell = frame["covers"].iloc[pos]
        unknown = sorted(set(parse_ids(cell)) - geographic - managers)
        if not cell:
            problems.cell(raw, pos, "covers", "the reps or managers an overlay rep covers")
        elif unknown:
            problems.cell(
                raw, pos, "covers", f"rep or manager ids, ';'-separated ('{unknown[0]}' is not one)"
            )


def _splits(raw: Raw, frame: pd.DataFrame, problems: Problems) -> None:
    if frame.empty or frame["share"].isna().any():
        return  # the share cells are reported one by one
    for account, group in frame.groupby("account_id", sort=False):
        total = float(group["share"].sum())
        pos = int(group.index[-1])
        if len(group) < 2:
            problems.cell(raw, pos, "rep_id", "a split over two reps or more", account)
        elif abs(total - 1.0) > SHARE_TOLERANCE:
            problems.cell(
                raw,
                pos,
                "share",
                f"shares of account {account} summing to 1 (they sum to {total:g})",
            )


def _cycles(raw: Raw, frame: pd.DataFrame, problems: Problems) -> None:
    parent = dict(zip(frame["manager_id"], frame["parent_id"], strict=True))
    for pos, manager in enumerate(frame["manager_id"]):
        seen, current = {manager}, parent.get(manager, "")
        while current:
            if current in seen:
                problems.cell(raw, pos, "parent_id", "a manager above, not a cycle back to itself")
                break
            seen.add(current)
            current = parent.get(current, "")

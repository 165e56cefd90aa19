"""Split accounts in the territory model: fixed shares counted in each split rep's rows.

An account of ``account_splits`` is credited to several reps by share and is not a variable of
the assignment MIP (``models/organisation.md``, "Shared accounts"). :func:`fixed_shares` turns the
splits into per-rep constants that the capacity, balance and max_accounts rows add to the rep's
assigned accounts, and into the rows ``assignments.csv`` shows for split accounts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from allocator.exceptions import InputError
from allocator.geography.distance import haversine_km
from allocator.io.tables import Tables

__all__ = ["fixed_shares", "split_rows"]

FloatArray = npt.NDArray[np.float64]


def fixed_shares(
    tables: Tables, reps: pd.DataFrame, splits: pd.DataFrame, hours_per_km: float
) -> tuple[dict[str, FloatArray], pd.DataFrame | None]:
    """Per-rep constants of the split accounts, and one row per (split account, rep).

    Returns
    -------
    tuple
        ``{"load", "potential", "workload", "travel", "count"}`` -> array over ``reps`` (hours,
        potential, hours, km x visits, accounts), each the sum of ``share x`` the account's value
        (``count``: 1 per split the rep is in); and the split rows (``account_id``, ``rep_id``,
        ``share``, ``km``, ``workload``, ``potential``, ``incumbent_rep_id``), None without splits.

    Raises
    ------
    InputError
        A split names a rep that is not active.
    """
    if splits.empty:
        return {}, None
    index = {rep: k for k, rep in enumerate(reps["rep_id"])}
    inactive = sorted(set(splits["rep_id"]) - set(index))
    if inactive:
        where = tables.sources.get("account_splits", "account_splits")
        raise InputError(
            [f"{where}: rep {r} is not an active rep (a split needs active reps)" for r in inactive]
        )
    acc = tables.accounts.set_index("account_id").loc[splits["account_id"]]
    pos = splits["rep_id"].map(index).to_numpy(np.int64)
    km = haversine_km(
        acc["lat"].to_numpy(float),
        acc["lon"].to_numpy(float),
        reps["lat"].to_numpy(float)[pos],
        reps["lon"].to_numpy(float)[pos],
    )
    share = splits["share"].to_numpy(float)
    visits = acc["visits"].to_numpy(float)
    work = acc["workload"].to_numpy(float)
    values = {
        "load": share * (work + hours_per_km * visits * km),
        "potential": share * acc["potential"].to_numpy(float),
        "workload": share * work,
        "travel": share * visits * km,
        "count": np.ones(len(share)),
    }
    m = len(reps)
    fixed = {k: np.bincount(pos, weights=v, minlength=m).astype(float) for k, v in values.items()}
    rows = splits[["account_id", "rep_id", "share"]].reset_index(drop=True)
    rows = rows.assign(
        km=km,
        visits=visits,
        workload=work,
        potential=acc["potential"].to_numpy(float),
        incumbent_rep_id=acc["incumbent_rep_id"].to_numpy(str),
    )
    return fixed, rows


def split_rows(rows: pd.DataFrame | None) -> pd.DataFrame:
    """One ``assignments.csv`` row per split account: its largest share's rep (ties: the first),
    that rep's travel to it, and the reason ``split: R001 60% / R007 40%``."""
    columns = ["account_id", "rep_id", "incumbent_rep_id", "moved", "travel_km", "workload"]
    if rows is None or rows.empty:
        return pd.DataFrame(columns=[*columns, "potential", "reason"])
    out = []
    for account, group in rows.groupby("account_id", sort=True):
        group = group.sort_values("share", ascending=False, kind="stable")
        incumbent = str(group["incumbent_rep_id"].iloc[0])
        reason = " / ".join(
            f"{r} {s:.0%}" for r, s in zip(group["rep_id"], group["share"], strict=True)
        )
        out.append(
            {
                "account_id": account,
                "rep_id": group["rep_id"].iloc[0],
                "incumbent_rep_id": incumbent,
                "moved": False,  # fixed by the input: never a move of the plan
                # the row's rep: its distance (reps.csv counts each split rep's share instead)
                "travel_km": float(group["visits"].iloc[0] * group["km"].iloc[0]),
                "workload": float(group["workload"].iloc[0]),
                "potential": float(group["potential"].iloc[0]),
                "reason": f"split: {reason}",
            }
        )
    return pd.DataFrame(out)

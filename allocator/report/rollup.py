"""The manager hierarchy's roll-up: territory metrics and quotas per district and region.

``reps.manager_id`` names a manager; the optional ``managers`` table gives each manager a name,
a ``parent_id`` (their own manager) and a ``level``. :func:`rollup` sums, for every manager, the
reps below them at any depth (``models/organisation.md``, "Hierarchy"); it is ``rollup.csv`` and
the report's "District roll-up" section (:func:`rollup_section`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from allocator.report.document import Section, Table, Text

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = ["ROLLUP_COLUMNS", "managers_above", "rollup", "rollup_section"]

ROLLUP_COLUMNS = [
    "level",
    "manager_id",
    "name",
    "parent_id",
    "reps",
    "accounts",
    "potential",
    "workload",
    "capacity",
    "utilization",
    "travel_km",
    "fair_share",
    "quota",
    "given_target",
    "target_gap",
    "potential_share",
    "quota_share",
]
_SUMMED = ["accounts", "potential", "workload", "capacity", "travel_km", "fair_share", "quota"]


def _managers(plan: Plan) -> pd.DataFrame:
    """manager_id -> name, parent_id, level (from the managers table, else from the reps)."""
    given = plan.tables.managers
    named = set(plan.tables.reps["manager_id"]) - {""}
    if given is not None:
        frame = given.set_index("manager_id")[["name", "parent_id", "level"]].copy()
    else:
        frame = pd.DataFrame(index=pd.Index(sorted(named), name="manager_id"))
        frame = frame.assign(name=frame.index, parent_id="", level="")
    parents = set(frame["parent_id"]) - {""}
    default = [
        "district" if m in named else "region" if m in parents else "manager" for m in frame.index
    ]
    frame["level"] = frame["level"].where(
        frame["level"] != "", pd.Series(default, index=frame.index)
    )
    return frame


def managers_above(rep_manager: str, parents: pd.Series) -> list[str]:
    """The chain of managers from a rep's manager to the top (cycles are refused on input)."""
    chain, current = [], rep_manager
    while current and current not in chain:
        chain.append(current)
        current = str(parents.get(current, ""))
    return chain


def rollup(plan: Plan) -> pd.DataFrame | None:
    """One row per manager (:data:`ROLLUP_COLUMNS`), top levels first; None without managers.

    ``utilization`` is workload / capacity of the reps below (hours over the horizon); the shares
    are of the whole company's potential and quota. ``given_target`` is the manager's top-down
    target (``target.by_manager``, NaN when none) and ``target_gap`` the reps' quota minus it
    (0 when the plan met it, as the quota checker verifies).
    """
    reps = plan.tables.reps.set_index("rep_id")["manager_id"]
    if (reps == "").all():
        return None
    managers = _managers(plan)
    frame = plan.reps_frame().copy()
    frame["fair_share"] = frame["fair_share"] if "fair_share" in frame else float("nan")
    links = [
        (manager, rep)
        for rep in frame["rep_id"]
        for manager in managers_above(str(reps.get(rep, "")), managers["parent_id"])
    ]
    pairs = pd.DataFrame(links, columns=["manager_id", "rep_id"])
    merged = pairs.merge(frame, on="rep_id", how="left")
    grouped = merged.groupby("manager_id")
    out = grouped[_SUMMED].sum(min_count=1).assign(reps=grouped.size())
    out = out.reindex(managers.index).fillna({"reps": 0}).join(managers)
    out["utilization"] = out["workload"] / out["capacity"]
    out["potential_share"] = out["potential"] / frame["potential"].sum()
    total_quota = frame["quota"].sum()
    out["quota_share"] = out["quota"] / total_quota if total_quota else float("nan")
    given = plan.target.by_manager if plan.target is not None else None
    if given is not None:
        out["given_target"] = out.index.map(given.set_index("manager_id")["target"]).astype(float)
    else:
        out["given_target"] = float("nan")
    out["target_gap"] = out["quota"] - out["given_target"]
    depth = {m: len(managers_above(m, managers["parent_id"])) for m in out.index}
    out = out.assign(_depth=pd.Series(depth)).sort_values(["_depth", "parent_id"], kind="stable")
    out = out.sort_values("_depth", kind="stable").rename_axis("manager_id").reset_index()
    return out[ROLLUP_COLUMNS]


def rollup_section(plan: Plan) -> Section | None:
    """The report's "District roll-up": the roll-up table with a line saying how to read it."""
    table = rollup(plan)
    if table is None:
        return None
    shown = table.drop(columns=["parent_id"]).copy()
    for column in ("utilization", "potential_share", "quota_share"):
        shown[column] = shown[column] * 100
    shown = shown.rename(
        columns={
            "utilization": "utilization %",
            "potential_share": "potential %",
            "quota_share": "quota %",
        }
    )
    levels = ", ".join(pd.unique(table["level"]))
    text = (
        f"Every manager's reps at any depth ({levels}), summed: a region includes its districts. "
        "Utilisation is workload over capacity for the plan horizon; the shares are of the whole "
        "company (rollup.csv)."
    )
    if table["given_target"].notna().any():
        text += (
            " Given target is the manager's top-down target (target.by_manager); gap is the "
            "reps' quota minus it."
        )
    else:
        shown = shown.drop(columns=["given_target", "target_gap"])
    return Section("District roll-up", (Text(text), Table(shown)))

"""Rebalancing a territory when reps leave, join or change capacity, with the fewest moves.

A ``changes`` table (:mod:`allocator.track.changes`: one row per rep, ``rep_id``, ``change`` as
``leave``, ``join`` or ``capacity``, and the new rep's fields) says what changed.
:func:`rebalance` applies it and solves the territory model again with the plan's owners as
incumbents, a high disruption weight and continuity on: the accounts of a departed rep have no
incumbent (they must move, at no disruption cost), every other move costs its potential, so only
the moves that a hard constraint forces happen. Each move is reported with the reason: the rep
who left, or the constraint (with its numbers) that taking the account back would break. The
model is ``models/rebalance.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from allocator.geography.distance import haversine_km
from allocator.io.settings import (
    AssignmentSettings,
    ContinuitySettings,
    QuotaSettings,
    RebalanceSettings,
    SolverSettings,
)
from allocator.io.tables import Tables
from allocator.plan import territory_tables, territory_totals
from allocator.quota.allocate import QuotaResult, allocate_quotas
from allocator.territory.assignment import AssignmentResult, solve_assignment
from allocator.track.changes import apply_changes, check_changes, load_changes
from allocator.track.tracked_plan import TrackedPlan

__all__ = [
    "MOVE_COLUMNS",
    "Rebalance",
    "apply_changes",
    "check_changes",
    "load_changes",
    "rebalance",
]

log = logging.getLogger("allocator")

MOVE_COLUMNS = [
    "account_id",
    "from_rep",
    "to_rep",
    "potential",
    "workload",
    "quota_before",
    "quota_after",
    "reason",
]


# ---------------------------------------------------------------- solving


@dataclass(frozen=True)
class Rebalance:
    """A rebalanced territory: the moves (-> rebalance.csv), the reps before and after.

    ``moves``: account_id, from_rep, to_rep, potential, workload, quota_before, quota_after,
    reason. ``reps``: per rep the change and accounts, potential, workload, capacity and quota
    before and after, with the accounts gained and lost.
    """

    moves: pd.DataFrame
    reps: pd.DataFrame
    owners: pd.Series
    tables: Tables
    assignment: AssignmentResult
    quotas: QuotaResult | None

    def summary(self) -> str:
        m, r = self.moves, self.reps
        vacated = m["reason"].str.startswith("vacated").sum()
        lines = [
            f"rebalance: {len(m)} account(s) move: {vacated} vacated by departing reps, "
            f"{len(m) - vacated} forced by a constraint",
            f"  {self.assignment.report.summary()}",
        ]
        for row in r[(r["gained"] > 0) | (r["lost"] > 0) | (r["change"] != "")].itertuples():
            lines.append(
                f"  {row.rep_id!s} {row.change or 'kept'!s:8s} +{row.gained} -{row.lost} accounts, "
                f"potential {row.potential_before:,.0f} -> {row.potential_after:,.0f}, "
                f"quota {row.quota_before:,.0f} -> {row.quota_after:,.0f}"
            )
        return "\n".join(lines)


def rebalance(
    tracked: TrackedPlan,
    changes: pd.DataFrame,
    *,
    settings: RebalanceSettings | None = None,
    solver: SolverSettings | None = None,
) -> Rebalance:
    """Apply checked ``changes`` and re-solve territory and quotas with the fewest moves.

    The scenario's assignment model is solved with the plan's owners as incumbents, the
    disruption weight raised to ``settings.disruption`` (weighted mode), continuity on and the
    MIP gap at most ``settings.gap``; quotas are allocated again on the plan's target.

    Raises
    ------
    InfeasibleError
        The changed team cannot hold the territory (e.g. too little capacity left), with the
        diagnosis of the assignment model.
    """
    scenario = tracked.scenario
    settings = settings or scenario.track.rebalance
    solver = solver or scenario.solver
    solver = solver.model_copy(update={"gap": min(solver.gap, settings.gap)})
    tables = apply_changes(
        tracked.tables, tracked.owners, changes, new_hire_ramp=settings.new_hire_ramp
    )
    assignment = rebalance_settings(scenario.assignment, settings)
    result = solve_assignment(territory_tables(scenario, tables), assignment, solver)
    owners = result.assignments.set_index("account_id")["rep_id"]
    quotas = None
    quota_settings = scenario.quota or QuotaSettings()
    if tracked.target is not None and quota_settings.enabled:
        quotas = allocate_quotas(
            tables, owners, tracked.target, quota_settings, solver, scenario.staffing
        )
    moves = _moves(tracked, tables, result, assignment, quotas)
    reps = _rep_table(tracked, tables, owners, quotas, changes)
    log.info("rebalance: %d account(s) move", len(moves))
    return Rebalance(moves, reps, owners, tables, result, quotas)


def rebalance_settings(base: AssignmentSettings, settings: RebalanceSettings) -> AssignmentSettings:
    """``base`` with the disruption weight raised, weighted mode and continuity on."""
    objective = base.objective.model_copy(
        update={
            "disruption": max(base.objective.disruption, settings.disruption),
            "mode": "weighted",
        }
    )
    constraints = base.constraints
    if constraints.continuity is None:
        constraints = constraints.model_copy(update={"continuity": ContinuitySettings()})
    return base.model_copy(update={"objective": objective, "constraints": constraints})


def _account_quota(accounts: pd.DataFrame | None) -> pd.Series:
    if accounts is None:
        return pd.Series(dtype=float)
    return accounts.groupby("account_id")["target"].sum().astype(float)


def _moves(
    tracked: TrackedPlan,
    tables: Tables,
    result: AssignmentResult,
    settings: AssignmentSettings,
    quotas: QuotaResult | None,
) -> pd.DataFrame:
    a = result.assignments
    before = a["account_id"].map(tracked.owners)
    moved = a[before.notna() & (before != a["rep_id"])].assign(from_rep=before)
    left = set(tables.reps.loc[~tables.reps["active"], "rep_id"])
    explain = _Explainer(tables, result, settings)
    reasons = [
        f"vacated: {row.from_rep} left" if row.from_rep in left else explain(row)
        for row in moved.itertuples(index=False)
    ]
    out = pd.DataFrame(
        {
            "account_id": moved["account_id"],
            "from_rep": moved["from_rep"],
            "to_rep": moved["rep_id"],
            "potential": moved["potential"],
            "workload": moved["workload"],
            "quota_before": moved["account_id"].map(_account_quota(tracked.accounts)),
            "quota_after": moved["account_id"].map(
                _account_quota(quotas.accounts if quotas is not None else None)
            ),
            "reason": reasons,
        }
    )
    return out[MOVE_COLUMNS].reset_index(drop=True)


class _Explainer:
    """The hard constraint that taking a moved account back to its former rep would break."""

    def __init__(self, tables: Tables, result: AssignmentResult, settings: AssignmentSettings):
        rows = result.constraints
        self.rows = {
            str(n): (float(v), float(lim))
            for n, v, lim in zip(rows["name"], rows["value"], rows["limit"], strict=True)
        }
        self.accounts = tables.accounts.set_index("account_id")
        self.reps = tables.reps.set_index("rep_id")
        self.settings = settings
        self.reason = result.assignments.set_index("account_id")["reason"]

    def __call__(self, row: Any) -> str:
        c = self.settings.constraints
        acc = self.accounts.loc[row.account_id]
        checks: list[tuple[str, float]] = []
        if c.capacity is not None:
            home = self.reps.loc[row.from_rep]
            km = float(haversine_km(acc["lat"], acc["lon"], home["lat"], home["lon"]))
            load = acc["workload"] + c.capacity.travel_hours_per_km * acc["visits"] * km
            checks.append((f"capacity[{row.from_rep}]", load))
        if c.balance is not None:
            measures = (
                ("potential", "workload") if c.balance.measure == "both" else (c.balance.measure,)
            )
            for m in measures:
                checks.append((f"balance_hi[{row.from_rep},{m}]", float(acc[m])))
                checks.append((f"balance_lo[{row.rep_id},{m}]", -float(acc[m])))
        if c.max_accounts is not None:
            checks.append((f"max_accounts[{row.from_rep}]", 1.0))
        for name, change in checks:
            found = self._broken(name, change)
            if found is not None:
                return found
        return f"objective: {self.reason.get(row.account_id, 'lower total cost')}"

    def _broken(self, name: str, change: float) -> str | None:
        if name not in self.rows:
            return None
        value, limit = self.rows[name]
        after = value + change
        eps = 1e-9 * max(1.0, abs(limit))
        if name.startswith("balance_lo"):
            if after < limit - eps:
                return f"{name}: taking it back leaves {after:,.1f} < {limit:,.1f}"
        elif after > limit + eps:
            return f"{name}: taking it back makes {after:,.1f} > {limit:,.1f}"
        return None


# ---------------------------------------------------------------- the reps before and after


def _rep_table(
    tracked: TrackedPlan,
    tables: Tables,
    owners: pd.Series,
    quotas: QuotaResult | None,
    changes: pd.DataFrame,
) -> pd.DataFrame:
    before = _totals(tracked.tables, tracked.owners, _rep_quota(tracked.months, "target"))
    after = _totals(tables, owners, _rep_quota(quotas.rep_product if quotas else None, "quota"))
    out = before.add_suffix("_before").join(after.add_suffix("_after"), how="outer")
    previous = owners.index.to_series().map(tracked.owners)
    changed = previous != owners
    out["gained"] = owners[changed].value_counts().reindex(out.index, fill_value=0)
    out["lost"] = previous[changed].value_counts().reindex(out.index, fill_value=0)
    filled = ["accounts", "potential", "workload", "capacity"]
    filled += ["quota"] if tracked.months is not None and quotas is not None else []
    for measure in filled:  # a rep who left has nothing after, a new hire nothing before
        for side in ("before", "after"):
            out[f"{measure}_{side}"] = out[f"{measure}_{side}"].fillna(0)
    kind = changes.set_index("rep_id")["change"]
    out["change"] = out.index.to_series().map(kind).fillna("").astype(str)
    out["name"] = out.index.to_series().map(tables.reps.set_index("rep_id")["name"])
    counts = [c for c in out.columns if c.startswith("accounts_")]
    out[[*counts, "gained", "lost"]] = out[[*counts, "gained", "lost"]].fillna(0).astype("int64")
    columns = ["name", "change", "accounts_before", "accounts_after", "gained", "lost"]
    for measure in ("potential", "workload", "capacity", "quota"):
        columns += [f"{measure}_before", f"{measure}_after"]
    return out.rename_axis("rep_id").reset_index()[["rep_id", *columns]]


def _rep_quota(frame: pd.DataFrame | None, column: str) -> pd.Series:
    if frame is None:
        return pd.Series(dtype=float)
    return frame.groupby("rep_id")[column].sum().astype(float)


def _totals(tables: Tables, owners: pd.Series, quota: pd.Series) -> pd.DataFrame:
    """accounts, potential, workload, capacity and quota of every active rep."""
    out = territory_totals(tables, owners).set_index("rep_id")
    out = out[["accounts", "potential", "workload", "capacity"]]
    return out.assign(quota=quota.reindex(out.index))

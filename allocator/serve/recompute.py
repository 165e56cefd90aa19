"""What an edit changes, recomputed without a solver: rep totals, fairness, objective, violations.

:func:`evaluate` is a pure function of a :class:`Context` (the plan's fixed tables, built once
when a plan is opened) and the current owners. It reuses the project's own measures rather than
rewriting them: the independent checker (:func:`allocator.territory.check.check_assignment`) for
every hard rule and the objective terms, :func:`allocator.report.metrics.fairness` for the
inequality measures and the model's fair shares. On the demo (2,000 accounts, 40 reps) one call
takes a few tens of milliseconds (``benchmarks/serve.py`` measures it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.geography.distance import haversine_km
from allocator.io.settings import AssignmentSettings, BalanceSettings
from allocator.io.tables import Tables
from allocator.report.metrics import fair_share_weights, fairness
from allocator.territory.check import check_assignment

__all__ = ["KINDS", "Context", "Evaluation", "Violation", "evaluate", "make_context"]

#: Checker rule families by the kind the page shows them under.
KINDS: dict[str, str] = {
    "capacity": "capacity",
    "balance_lo": "balance",
    "balance_hi": "balance",
    "contiguity": "contiguity",
    "home": "contiguity",
    "region": "contiguity",
    "experience": "eligibility",
    "skills": "eligibility",
    "locked": "eligibility",
    "max_accounts": "capacity",
    "max_moved": "continuity",
    "assign_once": "coverage",
}
_RULE = re.compile(r"^(?P<family>\w+)(?:\[(?P<subject>[^\]]*)\])?:\s*(?P<detail>.*)$", re.S)


@dataclass(frozen=True)
class Violation:
    """One broken hard rule, as the checker names it (``capacity[R01]: 812.0 hours > 800.0``).

    ``kind`` groups the families for the page (capacity, balance, contiguity, eligibility,
    continuity, coverage); ``rep`` and ``account`` are the subjects it is drawn on (or "").
    """

    text: str
    family: str
    kind: str
    rep: str = ""
    account: str = ""


@dataclass(frozen=True)
class Context:
    """The fixed part of a plan under edit: its tables, settings and per-account constants.

    ``accounts`` is indexed by account_id (active accounts only) with lat, lon, region_id,
    potential, workload, visits, incumbent_rep_id and ``plan_quota`` (the account's share of
    its rep's quota in the opened plan: potential-weighted). ``reps`` is indexed by rep_id
    (active reps) with lat, lon, capacity, name and ``fair_weight`` (sums to 1).
    """

    tables: Tables
    settings: AssignmentSettings
    accounts: pd.DataFrame
    reps: pd.DataFrame
    data_locked: frozenset[str]
    splits: pd.DataFrame | None = None


@dataclass(frozen=True)
class Evaluation:
    """Everything the side panel shows for one set of owners.

    ``reps``: one row per active rep (rep_id, name, accounts, potential, workload, load hours,
    capacity, utilization = load / capacity, fair_potential, fair_ratio = potential /
    fair_potential, quota, travel_km, violations). ``headline``: plain numbers for the top of
    the panel. ``fairness``: :func:`~allocator.report.metrics.fairness` per measure.
    ``terms``/``objective``: the checker's recomputed objective (weighted like the model).
    """

    reps: pd.DataFrame
    headline: Mapping[str, float | int | None]
    fairness: Mapping[str, Mapping[str, object]]
    terms: Mapping[str, float]
    objective: float
    violations: tuple[Violation, ...]


def make_context(
    tables: Tables,
    settings: AssignmentSettings,
    owners: pd.Series,
    rep_quota: pd.Series | None = None,
) -> Context:
    """Build the :class:`Context` of a plan whose owners (account_id -> rep_id) are ``owners``.

    ``rep_quota`` (rep_id -> yearly quota of the opened plan) is spread over each rep's
    accounts by potential, so a moved account carries its quota until the quota LP runs again
    on save.
    """
    acc = tables.active_accounts.set_index("account_id")
    reps = tables.active_reps.set_index("rep_id")
    rule = settings.constraints.balance or BalanceSettings()
    weights = fair_share_weights(tables.active_reps, rule.fair_share)
    keep = ["lat", "lon", "region_id", "segment", "potential", "workload", "visits"]
    accounts = acc[[*keep, "incumbent_rep_id"]].copy()
    owner = owners.reindex(accounts.index)
    if rep_quota is not None and len(rep_quota):
        held = accounts["potential"].groupby(owner).transform("sum")
        share = (accounts["potential"] / held).where(held > 0, 0.0)
        accounts["plan_quota"] = share * owner.map(rep_quota).fillna(0.0).to_numpy()
    else:
        accounts["plan_quota"] = np.nan
    rep_frame = reps[["name", "lat", "lon", "capacity", "region_id"]].assign(
        fair_weight=weights.reindex(reps.index).to_numpy()
    )
    locked = acc.index[acc["locked"].to_numpy(bool) & (acc["incumbent_rep_id"] != "").to_numpy()]
    splits = _splits(tables, accounts.index, rep_frame.index)
    return Context(tables, settings, accounts, rep_frame, frozenset(locked), splits)


def _splits(tables: Tables, accounts: pd.Index, reps: pd.Index) -> pd.DataFrame | None:
    """Split accounts in force (account_id, rep_id, share), shares rescaled to 1, as the
    checker credits them (``models/organisation.md``); None without splits."""
    given = tables.account_splits
    if given is None or given.empty:
        return None
    rows = given[given["account_id"].isin(accounts) & given["rep_id"].isin(reps)]
    rows = rows.assign(share=rows["share"] / rows.groupby("account_id")["share"].transform("sum"))
    rows = rows[rows.groupby("account_id")["rep_id"].transform("size") >= 2]
    return rows[["account_id", "rep_id", "share"]].reset_index(drop=True) if len(rows) else None


def evaluate(ctx: Context, owners: pd.Series, unlocked: frozenset[str] = frozenset()) -> Evaluation:
    """Recompute the rep totals, fairness, objective terms and violations of ``owners``.

    ``owners`` maps every active account_id to an active rep_id; ``unlocked`` are accounts
    locked in the data whose lock the planner lifted (the checker then lets them move).
    Pure: nothing in ``ctx`` changes. No solver is called.
    """
    check = check_assignment(
        _check_tables(ctx, unlocked),
        ctx.settings,
        pd.DataFrame({"account_id": owners.index, "rep_id": owners.to_numpy()}),
    )
    violations = tuple(_violation(text) for text in check.violations)
    reps = _rep_totals(ctx, owners, violations)
    return Evaluation(
        reps=reps,
        headline=_headline(ctx, owners, reps, check.objective, violations),
        fairness=_fairness(ctx, reps),
        terms=dict(check.terms),
        objective=float(check.objective),
        violations=violations,
    )


def _check_tables(ctx: Context, unlocked: frozenset[str]) -> Tables:
    if not unlocked:
        return ctx.tables
    accounts = ctx.tables.accounts
    lifted = accounts["account_id"].isin(unlocked).to_numpy()
    return ctx.tables.replace(accounts=accounts.assign(locked=accounts["locked"] & ~lifted))


def _violation(text: str) -> Violation:
    m = _RULE.match(text)
    if m is None:
        return Violation(text, "other", "other")
    family, subject = m["family"], (m["subject"] or "").split(",")[0]
    kind = KINDS.get(family, "other")
    on_account = family in ("experience", "skills", "locked", "assign_once")
    on_rep = family in (
        "capacity",
        "balance_lo",
        "balance_hi",
        "contiguity",
        "home",
        "max_accounts",
    )
    return Violation(
        text,
        family,
        kind,
        rep=subject if on_rep else "",
        account=subject if on_account else "",
    )


def _rep_totals(ctx: Context, owners: pd.Series, violations: tuple[Violation, ...]) -> pd.DataFrame:
    acc, reps = ctx.accounts, ctx.reps
    owner = owners.reindex(acc.index).to_numpy()
    share = np.ones(len(acc))
    if ctx.splits is not None:  # a split account is credited to each of its reps by share
        whole = ~acc.index.isin(ctx.splits["account_id"])
        parts = ctx.splits.set_index("account_id")
        acc = pd.concat([acc[whole], acc.loc[parts.index]])
        owner = np.concatenate([owner[whole], parts["rep_id"].to_numpy()])
        share = np.concatenate([share[whole], parts["share"].to_numpy(float)])
    home = reps.reindex(owner)
    km = haversine_km(
        acc["lat"].to_numpy(float),
        acc["lon"].to_numpy(float),
        home["lat"].to_numpy(float),
        home["lon"].to_numpy(float),
    )
    travel = acc["visits"].to_numpy(float) * km
    rule = ctx.settings.constraints.capacity
    per_km = rule.travel_hours_per_km if rule is not None else 0.0
    frame = pd.DataFrame(
        {
            "rep_id": owner,
            "accounts": 1,
            "potential": share * acc["potential"].to_numpy(float),
            "workload": share * acc["workload"].to_numpy(float),
            "load": share * (acc["workload"].to_numpy(float) + per_km * travel),
            "quota": share * acc["plan_quota"].to_numpy(float),
            "travel_km": share * travel,
        }
    )
    sums = frame.groupby("rep_id").sum(min_count=1).reindex(reps.index)
    sums[["accounts", "potential", "workload", "load", "travel_km"]] = sums[
        ["accounts", "potential", "workload", "load", "travel_km"]
    ].fillna(0.0)
    out = pd.DataFrame(index=reps.index)
    out["name"] = reps["name"]
    out["accounts"] = sums["accounts"].astype(int)
    for column in ("potential", "workload", "load"):
        out[column] = sums[column]
    out["capacity"] = reps["capacity"].astype(float)
    out["utilization"] = out["load"] / out["capacity"]
    out["fair_potential"] = reps["fair_weight"] * float(acc["potential"].sum())
    out["fair_ratio"] = (out["potential"] / out["fair_potential"]).where(out["fair_potential"] > 0)
    out["quota"] = sums["quota"]
    out["travel_km"] = sums["travel_km"]
    broken: dict[str, list[str]] = {}
    for v in violations:
        if v.rep:
            broken.setdefault(v.rep, []).append(v.kind)
    out["violations"] = [sorted(set(broken.get(r, []))) for r in out.index]
    return out.rename_axis("rep_id").reset_index()


def _fairness(ctx: Context, reps: pd.DataFrame) -> dict[str, Mapping[str, object]]:
    rule = ctx.settings.constraints.balance or BalanceSettings()
    frame = reps.set_index("rep_id")
    weights = ctx.reps["fair_weight"]
    out: dict[str, Mapping[str, object]] = {
        "potential": fairness(frame["potential"], weights, band=rule.tolerance),
        "utilization": fairness(frame["load"], frame["capacity"], band=rule.tolerance),
        "travel_km": fairness(frame["travel_km"], weights, band=rule.tolerance),
    }
    if frame["quota"].notna().any():
        out["quota"] = fairness(frame["quota"].fillna(0.0), weights, band=rule.tolerance)
    return out


def _headline(
    ctx: Context,
    owners: pd.Series,
    reps: pd.DataFrame,
    objective: float,
    violations: tuple[Violation, ...],
) -> dict[str, float | int | None]:
    acc = ctx.accounts
    incumbent = acc["incumbent_rep_id"]
    moved = (incumbent != "") & (incumbent != owners.reindex(acc.index))
    total = float(acc["potential"].sum())
    counts: dict[str, int] = {}
    for v in violations:
        counts[v.kind] = counts.get(v.kind, 0) + 1
    return {
        "objective": objective,
        "accounts": len(acc),
        "reps": len(reps),
        "accounts_moved": int(moved.sum()),
        "potential_moved_share": float(acc.loc[moved, "potential"].sum()) / total if total else 0.0,
        "max_utilization": float(reps["utilization"].max()) if len(reps) else None,
        "reps_over_capacity": sum(v.family == "capacity" for v in violations),
        "travel_km": float(reps["travel_km"].sum()),
        "violations": len(violations),
        **{f"violations_{k}": n for k, n in sorted(counts.items())},
    }

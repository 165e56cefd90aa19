"""Bottom-up reconciliation of a signed-off plan: commitments in, quotas re-allocated, explained.

:func:`reconcile` keeps the plan's territory (its owners) and target, adds the reps'
commitments (the ``commitments`` table of ``models/quota.md``, term (8)) and allocates the
quotas again with the same settings. With ``quota.commitment_weight`` above 1 (the default 2), a
set of commitments that meets every product's target and stays inside the fairness band comes
back exactly; otherwise the LP moves as little as it can, within the band. :func:`explain_changes`
gives one line per rep and product whose quota changed or whose commitment differed from the
quota, with the reason: the quota follows the commitment, the band caps it, or it absorbs what
the other commitments leave open of the product's target.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.connect.folder import PlanFolder
from allocator.io.settings import QuotaSettings, SolverSettings
from allocator.plan import Plan
from allocator.quota.allocate import allocate_quotas
from allocator.quota.target import set_target

__all__ = [
    "Reconciled",
    "explain_changes",
    "reconcile",
    "reconcile_markdown",
    "write_reconciled",
]

log = logging.getLogger("allocator")

CHANGE_COLUMNS = [
    "rep_id",
    "product_id",
    "quota_before",
    "committed",
    "quota_after",
    "change",
    "reason",
]


@dataclass(frozen=True)
class Reconciled:
    """The re-allocated plan and one explained row per changed or disputed quota."""

    plan: Plan
    changes: pd.DataFrame

    def summary(self) -> str:
        changed = self.changes[self.changes["change"] != 0]
        followed = (self.changes["quota_after"] == self.changes["committed"]) & (
            self.changes["committed"] != self.changes["quota_before"]
        )
        lines = [
            f"reconciliation: {len(changed)} quota(s) changed, {int(followed.sum())} follow a "
            f"commitment, {len(self.changes) - len(changed)} commitment(s) not taken"
        ]
        lines += [
            f"  {r.rep_id} {r.product_id}: {r.quota_before:,.0f} -> {r.quota_after:,.0f}: "
            f"{r.reason}"
            for r in self.changes.head(20).itertuples()
        ]
        if len(self.changes) > 20:
            lines.append(f"  ... {len(self.changes) - 20} more in reconcile.csv")
        return "\n".join(lines)


def reconcile(
    plan: PlanFolder, commitments: pd.DataFrame, *, solver: SolverSettings | None = None
) -> Reconciled:
    """Re-allocate ``plan``'s quotas with ``commitments`` (rep_id, product_id, amount).

    Raises
    ------
    ScenarioError
        The plan has no target (nothing to reconcile).
    InfeasibleError
        The commitments cannot be met together with the other quota rules (with a diagnosis).
    """
    from allocator.exceptions import ScenarioError

    scenario = plan.scenario
    if scenario.target is None or plan.rep_product is None:
        raise ScenarioError(
            f"{plan.folder}: the plan has no target and quotas: nothing to reconcile"
        )
    start = time.perf_counter()
    solver = solver or scenario.solver
    table = _accept_the_rest(plan.rep_product, commitments)
    tables = plan.tables.replace(commitments=table)
    target = set_target(tables, scenario.target, solver)
    settings = scenario.quota or QuotaSettings()
    quotas = allocate_quotas(tables, plan.owners, target, settings, solver, scenario.staffing)
    new = Plan(scenario, tables, plan.owners, None, target, quotas, time.perf_counter() - start)
    changes = explain_changes(
        plan.rep_product,
        table,
        quotas.rep_product,
        settings.fairness.band,
        weight=settings.commitment_weight,
    )
    return Reconciled(new, changes)


def _accept_the_rest(quotas: pd.DataFrame, commitments: pd.DataFrame) -> pd.DataFrame:
    """``commitments`` (rep_id, product_id, amount) plus the plan's quota as the commitment of
    every rep and product the workbook left out (a manager who sent back only their sheet):
    like an empty ``committed`` cell, a missing row accepts the quota, so its quota stays."""
    given = commitments[["rep_id", "product_id", "amount"]]
    plan = quotas[["rep_id", "product_id", "quota"]].rename(columns={"quota": "amount"})
    keys = pd.MultiIndex.from_frame(given[["rep_id", "product_id"]])
    rest = plan[~pd.MultiIndex.from_frame(plan[["rep_id", "product_id"]]).isin(keys)]
    if len(rest):
        log.info("reconcile: %d rep-product(s) not in the commitments keep their quota", len(rest))
    out = pd.concat([given, rest.astype({"amount": float})], ignore_index=True)
    return out.sort_values(["rep_id", "product_id"], kind="stable").reset_index(drop=True)


def explain_changes(
    before: pd.DataFrame,
    commitments: pd.DataFrame,
    after: pd.DataFrame,
    band: float,
    *,
    weight: float = 2.0,
) -> pd.DataFrame:
    """One row (``CHANGE_COLUMNS``) per rep and product whose quota moved or was disputed.

    The reason names what the quota LP (models/quota.md) held: the commitment itself, the edge
    of the fairness band, the plan's largest fairness deviation together with the other
    committed quotas (stage 1 weighs each commitment gap ``weight`` times its share of the fair
    quota against the largest deviation), or the product's target.
    """
    old = before.set_index(["rep_id", "product_id"])["quota"].astype(float)
    new = after.set_index(["rep_id", "product_id"])
    committed = commitments.groupby(["rep_id", "product_id"])["amount"].sum()
    frame = pd.DataFrame({"quota_before": old, "quota_after": new["quota"].astype(float)})
    frame["committed"] = committed.reindex(frame.index)
    frame["committed"] = frame["committed"].fillna(frame["quota_before"])
    frame["fair"] = new["fair"].reindex(frame.index)
    frame["change"] = frame["quota_after"] - frame["quota_before"]
    product = frame.groupby(level="product_id")
    open_gap = product["committed"].transform("sum") - product["quota_before"].transform("sum")
    keep = (frame["change"] != 0) | (frame["committed"] != frame["quota_before"])
    rows = frame[keep].assign(gap=open_gap[keep])
    dev = (new["quota"] - new["fair"]).abs() / new["fair"].where(new["fair"] > 0)
    top = float(dev.max()) if dev.notna().any() else 0.0
    rows["reason"] = [_reason(r, band, top, weight) for r in rows.reset_index().itertuples()]
    out = rows.reset_index()[CHANGE_COLUMNS]
    return out.sort_values(["product_id", "rep_id"]).reset_index(drop=True)


def _reason(r: Any, band: float, top: float, weight: float) -> str:
    before, after, c, fair, gap = r.quota_before, r.quota_after, r.committed, r.fair, r.gap
    low, high = (1 - band) * fair, (1 + band) * fair
    edge = f"the fairness band (+-{band:.0%} of the fair quota {fair:,.0f})"
    if c != before:
        said = f"committed {c:,.0f} against a quota of {before:,.0f}"
        if after == c:
            return f"{said}: the quota follows the commitment"
        if c > high and after >= high - 1:
            why = f"{edge} allows at most {high:,.0f}"
        elif c < low and after <= low + 1:
            why = f"{edge} needs at least {low:,.0f}"
        else:
            why = (
                f"going further would widen the plan's largest fairness deviation "
                f"({top:.1%}) or move other reps' committed {r.product_id} quotas, and the "
                f"{r.product_id} target is kept (each commitment gap weighs {weight:g} x its "
                "share of the fair quota against the largest deviation; models/quota.md)"
            )
        return f"{said}: the quota is {after:,.0f} because {why}"
    side = "short of" if gap < 0 else "above"
    return (
        f"no change committed; the quota moves by {after - before:+,.0f} because the commitments "
        f"for {r.product_id} are {abs(gap):,.0f} {side} its target, and the target is kept"
    )


#: Territory files of the signed-off plan that the reconciled plan keeps as they are.
TERRITORY_FILES = ("assignments.csv", "owners.csv", "constraints.csv")


def reconcile_markdown(rec: Reconciled, source: Path) -> str:
    """``reconcile.md``: what changed against the signed-off plan, one line per quota, and why."""
    lines = [
        f"# Reconciliation of {rec.plan.scenario.name}",
        "",
        f"Signed-off plan: `{source}`. The territory and the product targets are kept; the quotas "
        "are allocated again with the reps' commitments (`models/quota.md`, commitments).",
        "",
        rec.summary().splitlines()[0],
        "",
        "| rep | product | quota before | committed | quota after | change | why |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.rep_id} | {r.product_id} | {r.quota_before:,.0f} | {r.committed:,.0f} | "
        f"{r.quota_after:,.0f} | {r.change:+,.0f} | {r.reason} |"
        for r in rec.changes.itertuples()
    ]
    if rec.changes.empty:
        lines.append("| | | | | | | every commitment equals its quota: nothing changed |")
    return "\n".join(lines) + "\n"


def write_reconciled(rec: Reconciled, source: Path, out: Path) -> list[Path]:
    """Write the reconciled plan into the NEW folder ``out`` (claimed like every plan folder).

    The commitments become an input of their own, ``<out>.inputs/commitments.csv`` (the
    scenario's ``data.commitments`` from now on): a plan folder never holds its inputs. Into
    ``out`` go the signed-off plan's territory files, ``reconcile.csv``, ``reconcile.md``,
    ``reconciled_from.json`` (the folder and manifest hash of the plan it came from) and every
    file :func:`allocator.report.output.write_plan` writes; the manifest lists them all.

    Raises
    ------
    OutputError
        ``out`` cannot take the plan (:func:`allocator.io.folder.claim`).
    """
    import json

    from allocator.io.files import atomic_write, sha256
    from allocator.io.folder import claim
    from allocator.report.output import MANIFEST, input_paths, plan_owner, write_plan

    inputs = out.parent / f"{out.name}.inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    commitments = inputs / "commitments.csv"
    table = rec.plan.tables.commitments
    assert table is not None
    atomic_write(commitments, lambda p: table.to_csv(p, index=False, lineterminator="\n"))
    scenario = rec.plan.scenario.replace({"data.commitments": str(commitments.resolve())})
    tables = rec.plan.tables.replace(
        sources={**rec.plan.tables.sources, "commitments": str(commitments.resolve())}
    )
    plan = dataclasses.replace(rec.plan, scenario=scenario, tables=tables)
    origin = {"folder": str(source.resolve()), "manifest": sha256(source / MANIFEST)}
    with claim(out, plan_owner(plan), inputs=input_paths(scenario)) as folder:
        extra = [
            folder.write_bytes(name, (source / name).read_bytes())
            for name in TERRITORY_FILES
            if (source / name).exists()
        ]
        extra.append(folder.write_text("reconcile.csv", rec.changes.to_csv(index=False)))
        extra.append(folder.write_text("reconcile.md", reconcile_markdown(rec, source)))
        extra.append(folder.write_text("reconciled_from.json", json.dumps(origin, indent=2)))
        written = write_plan(plan, folder)
    return [commitments, *extra, *written]

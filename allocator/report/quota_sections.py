"""The quota parts of the plan report: tiers, expenses and the bottom-up reconciliation.

:func:`reconciliation_reasons` says, for every commitment the quota differs from, which
constraint of the quota LP (``models/quota.md``) set the quota instead, and for which rep:
the fairness band around the LP's fair quota, a history floor or ceiling, the rep's cap, or the
product's target that the commitments of all reps over- or under-shoot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from allocator.report.document import Block, Section, Table, Text
from allocator.report.format import number, percent

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = ["history_section", "quota_sections", "reconciliation_reasons"]

#: Quota rows that can hold a rep-product quota away from its commitment, and their words.
_HOLDS = {
    "fairness_hi": "the fairness band caps it at {limit} (fair quota {fair} x (1 + {band}))",
    "fairness_lo": "the fairness band needs at least {limit} (fair quota {fair} x (1 - {band}))",
    "hist_ceiling": "the history ceiling caps it at {limit} (last year x (1 + max_growth))",
    "hist_floor": "the history floor needs at least {limit} (last year x (1 + min_growth))",
}


def quota_sections(plan: Plan) -> list[Section]:
    """Tiers, then expenses and reconciliation when the scenario has them."""
    if plan.quotas is None:
        return []
    out = [_tiers(plan)]
    if plan.quotas.expenses is not None:
        out.append(
            Section(
                "Expenses",
                (
                    Text(
                        "The expense budget spread over reps to maximise the expected margin, "
                        "each rep's sales responding to spend with diminishing returns "
                        "(models/quota.md, expense budget)."
                    ),
                    Table(plan.quotas.expenses),
                ),
            )
        )
    if plan.quotas.reconciliation is not None:
        out.append(_reconciliation(plan))
    return out


def _tiers(plan: Plan) -> Section:
    assert plan.quotas is not None
    tiers = plan.scenario.quota.tiers if plan.scenario.quota else None
    frame = plan.quotas.quotas.groupby("rep_id")[["base", "target", "stretch"]].sum()
    frame = frame.reset_index()
    if tiers is None or tiers.method == "fixed":
        base = tiers.base if tiers else 0.9
        stretch = tiers.stretch if tiers else 1.15
        how = f"fixed factors: base = {percent(base, 0)}, stretch = {percent(stretch, 0)} of target"
    else:
        how = (
            f"attainment probabilities: base is reached with {percent(tiers.base_probability, 0)}"
            f", stretch with {percent(tiers.stretch_probability, 0)} probability"
        )
    blocks: list[Block] = [
        Text(f"Each rep's quota over the horizon in three tiers ({how})."),
        Table(frame),
    ]
    return Section("Quota tiers", tuple(blocks))


def _reconciliation(plan: Plan) -> Section:
    table = reconciliation_reasons(plan)
    differ = table[table["gap"].abs() >= 1]
    text = (
        f"{len(table)} commitment(s) from the reps (bottom-up) against the quota the LP allocated "
        f"(top-down); {len(differ)} differ, each with the constraint that set the quota instead."
    )
    return Section("Reconciliation: commitments against quotas", (Text(text), Table(table)))


def reconciliation_reasons(plan: Plan) -> pd.DataFrame:
    """rep_id, product_id, commitment, quota, gap and ``why``: the constraint that holds the
    quota away from the commitment ("" where they agree).

    Raises
    ------
    ValueError
        When the plan has no quotas or no commitments.
    """
    quotas = plan.quotas
    if quotas is None or quotas.reconciliation is None:
        raise ValueError("reconciliation_reasons: the plan has no commitments")
    rec = quotas.reconciliation.copy()
    rows = quotas.constraints.set_index("name")
    rp = quotas.rep_product.set_index(["rep_id", "product_id"])
    settings = plan.scenario.quota
    band = settings.fairness.band if settings else 0.15
    committed = rec.groupby("product_id")["commitment"].sum()
    totals = quotas.rep_product.groupby("product_id")["quota"].sum()
    why = []
    for r, p, c, q, gap in rec[["rep_id", "product_id", "commitment", "quota", "gap"]].itertuples(
        index=False
    ):
        why.append(_why(r, p, c, q, gap, rows, rp, band, committed, totals))
    return rec.assign(why=why)


def _why(r, p, c, q, gap, rows, rp, band, committed, totals) -> str:
    if abs(gap) < 1:
        return ""
    key = f"{r},{p}"
    fair = float(rp.loc[(r, p), "fair"]) if (r, p) in rp.index else 0.0
    if fair <= 0:
        return f"{r} gets no {p} quota: it lacks the skill or owns no {p} potential"
    wanted = ("fairness_hi", "hist_ceiling") if gap < 0 else ("fairness_lo", "hist_floor")
    for family in wanted:
        name = f"{family}[{key}]"
        if name in rows.index and bool(rows.loc[name, "binding"]):
            limit = q
            return f"{name}: " + _HOLDS[family].format(
                limit=number(limit), fair=number(fair), band=number(band)
            )
    cap = f"cap[{r}]"
    if gap < 0 and cap in rows.index and bool(rows.loc[cap, "binding"]):
        return f"{cap}: the rep's quotas are capped at cap_share x its territory's potential"
    total, asked = float(totals.get(p, 0)), float(committed.get(p, 0))
    if abs(asked - total) >= 1:
        side = "more" if asked > total else "less"
        return (
            f"target_total[{p}]: the commitments for {p} add up to {number(asked)}, {side} than "
            f"the product's target {number(total)}; the LP spreads the difference by fair share"
        )
    return (
        f"target_total[{p}]: the {p} quotas must add up to its target {number(total)}; what "
        f"other reps' bounds keep from their commitments lands with {r}"
    )


def history_section(plan: Plan) -> Section | None:
    """Every rep-product whose history floor or ceiling binds or had to give way."""
    quotas = plan.quotas
    assert quotas is not None
    table = quotas.history
    if table is None or not len(table):
        return None
    shown = table[table["binds"] | (table["shortfall"] > 0) | (table["excess"] > 0)]
    relaxed = int(((shown["shortfall"] > 0) | (shown["excess"] > 0)).sum())
    text = (
        "History floors and ceilings (quota.history) are soft rows: the quota LP first meets as "
        "many of them as the fairness band, the caps and the product targets allow, then "
        f"balances. {relaxed} of {len(table):,} had to give way (shortfall or excess below); "
        "the others listed bind exactly. See quota_history.csv and models/quota.md."
    )
    if not len(shown):
        return Section("History floors and ceilings", (Text("No history bound binds."),))
    return Section("History floors and ceilings", (Text(text), Table(shown)))

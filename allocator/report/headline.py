"""The headline of a plan: what a sales VP reads in thirty seconds, in words and a few numbers.

:func:`plan_headline` gathers status and proven gap, balance against the band, disruption,
quota fairness against the fair quota the quota LP itself used, the three things that most
constrain the plan (:mod:`allocator.report.relax`: the value of relaxing each family of the
assignment, measured by its LP relaxation, and the quota LP's shadow prices) and warnings
(:func:`plan_warnings`: skills that do not match the accounts kept, ramping reps, reps above 95%
utilisation, a plan not proven optimal).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocator.io.tables import parse_ids
from allocator.quota.phasing import before
from allocator.report.document import Html, Section
from allocator.report.format import number, percent
from allocator.report.metrics import largest_quota_deviation

if TYPE_CHECKING:
    from allocator.plan import Plan
    from allocator.report.relax import Relaxation

__all__ = ["Headline", "headline_section", "plan_headline", "plan_warnings", "skill_mismatches"]

#: Utilisation above which a rep is flagged (workload / capacity).
BUSY = 0.95


@dataclass(frozen=True)
class Headline:
    """Key figures (label, value, detail), the constraining things and warnings, all in words."""

    figures: tuple[tuple[str, str, str], ...]
    constraining: tuple[str, ...]
    warnings: tuple[str, ...]


def plan_headline(plan: Plan, metrics: dict[str, Any], relaxation: Relaxation | None) -> Headline:
    """The :class:`Headline` of ``plan``; ``metrics`` is :func:`plan_metrics` of it."""
    figures = [_status(plan), *_balance(plan, metrics)]
    if "disruption" in metrics:
        figures.append(_disruption(plan, metrics["disruption"]))
    if plan.quotas is not None:
        figures.append(_quota_fairness(plan, metrics["fairness"]["quota"]))
    return Headline(
        tuple(figures), tuple(constraining(plan, relaxation)), tuple(plan_warnings(plan))
    )


def _status(plan: Plan) -> tuple[str, str, str]:
    if plan.assignment is None:
        return ("Status", plan.status, "territory as given (assignment off)")
    r = plan.assignment.report
    limit = plan.scenario.solver.gap
    if r.gap is None:
        proven = "no bound proven"
    else:
        proven = (
            f"proven within {percent(r.gap, 2)} of the best possible "
            f"(target gap {percent(limit, 2)})"
        )
    detail = f"objective {number(r.objective)}, bound {number(r.bound)}; {proven}"
    return (
        "Status",
        f"{plan.status}, gap {percent(r.gap, 2)}" if r.gap is not None else plan.status,
        detail,
    )


def _balance(plan: Plan, metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    fair = metrics["fairness"]
    out = []
    pot = fair["potential"]
    if pot["n"]:
        inside = round((pot["in_band"] or 0) * pot["n"])
        out.append(
            (
                "Balance",
                f"{inside} of {pot['n']} reps in the ±{percent(pot['band'], 0)} band",
                f"potential from {percent(pot['min_rel'], 0)} to {percent(pot['max_rel'], 0)} of "
                "the fair share",
            )
        )
    reps = plan.reps_frame()
    util = reps["utilization"].astype(float)
    if len(util):
        busy = int((util > BUSY).sum())
        out.append(
            (
                "Workload",
                f"{percent(util.min())}–{percent(util.max())} of capacity",
                f"{busy} rep{'s' if busy != 1 else ''} above {percent(BUSY, 0)}",
            )
        )
    return out


def _disruption(plan: Plan, d: dict[str, Any]) -> tuple[str, str, str]:
    continuity = plan.scenario.assignment.constraints.continuity
    budget = ""
    if continuity is not None and continuity.max_moved_share is not None:
        budget = f"; the continuity budget allows {percent(continuity.max_moved_share, 0)}"
    return (
        "Disruption",
        f"{number(d['accounts_moved'])} account{'' if d['accounts_moved'] == 1 else 's'} move"
        f" ({percent(d['accounts_moved_share'])})",
        f"{percent(d['potential_moved_share'])} of the potential ({number(d['potential_moved'])}), "
        f"{d['reps_affected']} reps affected{budget}",
    )


def _quota_fairness(plan: Plan, quota: dict[str, Any]) -> tuple[str, str, str]:
    assert plan.quotas is not None
    inside = round((quota["in_band"] or 0) * quota["n"])
    largest = largest_quota_deviation(plan)
    return (
        "Quota fairness",
        f"{inside} of {quota['n']} reps in the ±{percent(quota['band'], 0)} band",
        f"against the fair quota the quota LP used (ramp x potential share per product); "
        f"largest deviation {percent(largest, 2)}",
    )


# ---------------------------------------------------------------- what constrains the plan


def constraining(plan: Plan, relaxation: Relaxation | None) -> list[str]:
    """Up to three sentences: the families that hold the plan's cost up most, then the quota
    LP's binding rows with non-zero shadow prices; a sentence saying so when nothing binds."""
    out: list[str] = []
    if relaxation is not None:
        fam = relaxation.families.dropna(subset=["value"])
        said = False
        for row in fam[fam["value"] > 1e-6].sort_values("value", ascending=False).itertuples():
            first = str(row.family).startswith("balance") and not said
            said = said or first
            out.append(_family_words(plan, row, relaxation, tolerance=first))
    if plan.quotas is not None:
        out += _quota_words(plan)
    if not out:
        out.append("Nothing binds: no constraint family holds the plan's cost up (LP relaxation).")
    return out[:3]


def _family_words(plan: Plan, row: Any, relaxation: Relaxation, *, tolerance: bool) -> str:
    """One sentence on a family: what relaxing it is worth, its tightest row's shadow price."""
    from allocator.report.explain import constraint_text

    what = {
        "capacity": "Capacity (hours per rep)",
        "balance_lo": "The lower edge of the balance band",
        "balance_hi": "The upper edge of the balance band",
        "max_accounts": "The account limit per rep",
        "max_moved": "The continuity budget (moves allowed)",
        "contiguity": "Contiguity (connected territories)",
    }.get(row.family, row.family)
    measured = (
        "of the plan's objective, by a re-solve without it"
        if row.family == "contiguity"
        else "of the LP relaxation's optimum"
    )
    text = (
        f"{what}: without it the plan could cost {number(row.value)} less "
        f"({percent(row.value_share, 2)} {measured})."
    )
    if row.top_row and row.top_dual and abs(row.top_dual) > 1e-9:
        objective = "the objective by {}"
        text += " " + constraint_text(
            row.top_row, row.family, 0.0, row.top_dual, True, objective=objective
        )
    if tolerance and relaxation.tolerance_point:
        verb = "save" if relaxation.tolerance_point < 0 else "cost"
        text += (
            f" One more point of balance tolerance (±1% on every rep's band) would {verb} "
            f"{number(abs(relaxation.tolerance_point))}."
        )
    return text


def _quota_words(plan: Plan) -> list[str]:
    """The quota LP's binding rows with the largest shadow prices, in the words of explain."""
    from allocator.report.explain import explain_constraints

    rows = explain_constraints(plan)
    rows = rows[(rows["model"] == "quota") & rows["binding"] & ~rows["internal"]]
    rows = rows[rows["dual"].abs() > 1e-9]
    top = rows.reindex(rows["dual"].abs().sort_values(ascending=False).index).head(2)
    return [f"Quota: {text}" for text in top["text"]]


# ---------------------------------------------------------------- warnings


def _ramping(plan: Plan) -> list[str]:
    """Reps below a full ramp: ``R007 at 50%``, and dated new hires who start in or after the
    plan's first month or follow a schedule: ``R025 from 2027-04 on 25/50/75/100``."""
    reps = plan.tables.active_reps
    periods = getattr(plan.target, "periods", None) or [""]
    first = periods[0]
    start = reps["start"].astype(str) if "start" in reps else pd.Series("", index=reps.index)
    schedule = reps.get("ramp_schedule", pd.Series("", index=reps.index)).astype(str)
    out = []
    for rep, ramp, begins, curve in zip(
        reps["rep_id"], reps["ramp"].astype(float), start, schedule, strict=True
    ):
        dated = bool(curve) or (bool(begins) and begins[:7] >= first)
        if dated:
            out.append(f"{rep} from {begins or 'the start'}" + (f" on {curve}" if curve else ""))
        elif ramp < 1:
            out.append(f"{rep} at {percent(ramp, 0)}")
    return out


def plan_warnings(plan: Plan) -> list[str]:
    """Skill/quota mismatches, ramping reps, reps above 95% utilisation, an unproven plan."""
    out = [m["text"] for m in skill_mismatches(plan).to_dict("records")]
    ramping = _ramping(plan)
    if ramping:
        out.append(
            f"{len(ramping)} rep(s) ramping up ({', '.join(ramping)}): fair shares and quotas "
            "are scaled by the ramp (a dated hire has none before the start, then follows the "
            "schedule)."
        )
    frame = plan.reps_frame()
    busy = frame[frame["utilization"] > BUSY].sort_values("utilization", ascending=False)
    if len(busy):
        shown = ", ".join(
            f"{r} {percent(u, 0)}" for r, u in zip(busy["rep_id"], busy["utilization"], strict=True)
        )
        out.append(f"{len(busy)} rep(s) above {percent(BUSY, 0)} utilisation: {shown}.")
    if plan.assignment is not None and plan.assignment.report.status.value != "optimal":
        out.append(f"The territory is not proven optimal (status {plan.status}).")
    return out


def skill_mismatches(plan: Plan) -> pd.DataFrame:
    """Reps that keep potential (or last year's sales) of a product they lack the skill for.

    Columns: rep_id, product_id, potential, last_year, quota, text. The quota LP gives such a
    pair no quota (it is not eligible), so the sales are planned nowhere: a planner must act.
    """
    columns = ["rep_id", "product_id", "potential", "last_year", "quota", "text"]
    if plan.quotas is None:
        return pd.DataFrame(columns=columns)
    rp = plan.quotas.rep_product
    skills = plan.tables.active_reps.set_index("rep_id")["skills"].map(parse_ids)
    lacks = np.array(
        [
            bool(skills.get(r)) and p not in skills.get(r, set())
            for r, p in zip(rp["rep_id"], rp["product_id"], strict=True)
        ]
    )
    sales = _last_year(plan).reindex(pd.MultiIndex.from_frame(rp[["rep_id", "product_id"]]))
    frame = rp.assign(last_year=sales.fillna(0.0).to_numpy())
    frame = frame[lacks & ((frame["potential"] > 0) | (frame["last_year"] > 0))]
    frame = frame.assign(
        text=[
            f"{_who(plan, r)} lacks skill {p} but keeps accounts with {number(s)} of last "
            f"year's {p} sales "
            f"(potential {number(v)}); its {p} quota is {number(q)}: reassign them or add the "
            "skill."
            for r, p, s, v, q in zip(
                frame["rep_id"],
                frame["product_id"],
                frame["last_year"],
                frame["potential"],
                frame["quota"],
                strict=True,
            )
        ]
    )
    return frame[columns].reset_index(drop=True)


def _who(plan: Plan, rep_id: str) -> str:
    """``R002 (Zhang Wei)``, or the id alone when the rep has no other name."""
    names = plan.tables.reps.set_index("rep_id")["name"]
    name = str(names.get(rep_id, "") or "")
    return f"{rep_id} ({name})" if name and name != rep_id else rep_id


def _last_year(plan: Plan) -> pd.Series:
    """Sales of each rep's (new) accounts per product in the 12 months before the target."""
    history = plan.tables.history
    if history is None or plan.target is None:
        return pd.Series(dtype=float)
    hist = before(history, plan.target.periods[0], 12)
    hist = hist.assign(rep_id=hist["account_id"].map(plan.owners)).dropna(subset=["rep_id"])
    return hist.groupby(["rep_id", "product_id"])["sales"].sum()


def headline_section(head: Headline) -> Section:
    """The key figures as cards, the three constraining things and the warnings."""
    cards = "".join(
        f'<div class="figure-card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>'
        f'<div class="detail">{html.escape(detail)}</div></div>'
        for label, value, detail in head.figures
    )
    parts = [f'<div class="headline"><div class="figures">{cards}</div>']
    parts.append("<h3>What constrains the plan most</h3><ol>")
    parts += [f"<li>{html.escape(c)}</li>" for c in head.constraining]
    parts.append("</ol>")
    if head.warnings:
        parts.append('<h3>Warnings</h3><ul class="warnings">')
        parts += [f"<li>{html.escape(w)}</li>" for w in head.warnings]
        parts.append("</ul>")
    parts.append("</div>")
    md = [f"- **{label}**: {value} ({detail})" for label, value, detail in head.figures]
    md += ["", "What constrains the plan most:", ""]
    md += [f"{i}. {c}" for i, c in enumerate(head.constraining, 1)]
    if head.warnings:
        md += ["", "Warnings:", "", *(f"- {w}" for w in head.warnings)]
    return Section("Headline", (Html("".join(parts), "\n".join(md)),))

"""The plan report: ``report.html`` (self-contained) and ``report.md`` (with PNG files beside it).

:func:`write_report` writes the sections of :func:`plan_sections` (summary, target build-up,
reps, fairness, map, binding constraints, moved accounts, monthly phasing) as a document of
:mod:`allocator.report.document`, whose blocks are re-exported here; :func:`infeasible_report`
writes
the report of a scenario without a feasible plan. :mod:`allocator.report.comparison` and the
tracking
reports reuse the same document rendering.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from allocator.exceptions import InfeasibleError
from allocator.report.document import Block, Bullets, Image, Section, Table, Text, write_document
from allocator.report.explain import conflicting_constraints, explain_accounts, explain_constraints
from allocator.report.metrics import plan_metrics
from allocator.report.plots import (
    fairness_figures,
    png,
    stacked_periods,
    target_plot,
    territory_map,
)
from allocator.report.rollup import rollup_section

if TYPE_CHECKING:
    from allocator.io.scenario import Scenario
    from allocator.plan import Plan

__all__ = [
    "Bullets",
    "Image",
    "Section",
    "Table",
    "Text",
    "infeasible_report",
    "plan_sections",
    "write_document",
    "write_report",
]


# ---------------------------------------------------------------- the plan report


def write_report(plan: Plan, outdir: str | Path) -> list[Path]:
    """Write ``report.html`` and ``report.md`` (+ its PNG figures) for ``plan`` into ``outdir``."""
    title = f"Plan report: {plan.scenario.name}"
    subtitle = plan.scenario.description or f"scenario hash {plan.scenario.hash()[:12]}"
    return write_document(outdir, "report", title, plan_sections(plan), subtitle=subtitle)


def plan_sections(plan: Plan) -> list[Section]:
    """Every section of the plan report, in reading order."""
    metrics = plan_metrics(plan)
    reps = plan.reps_frame()
    sections = [_summary(plan, metrics)]
    if plan.target is not None:
        sections.append(_target(plan))
    sections.append(_reps(plan, reps))
    sections += [s for s in (rollup_section(plan),) if s is not None]
    sections += [_fairness(plan, metrics, reps), _map(plan)]
    constraints = explain_constraints(plan)
    if len(constraints):
        sections.append(_constraints(constraints))
    if plan.assignment is not None:
        sections.append(_moved(plan))
    if plan.quotas is not None:
        sections.append(_phasing(plan))
    return sections


def _num(value: Any, spec: str = ",.2f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def _fact(value: Any) -> str:
    if not isinstance(value, float):
        return "-" if value is None else str(value)
    return _num(value, ",.0f" if abs(value) >= 1000 else ".3f")


def _summary(plan: Plan, metrics: dict[str, Any]) -> Section:
    items = [f"status: {plan.status}", f"total time: {plan.seconds:.1f} s"]
    if plan.assignment is not None:
        r = plan.assignment.report
        gap = "-" if r.gap is None else f"{100 * r.gap:.3f}%"
        terms = ", ".join(f"{k} {_num(v)}" for k, v in plan.assignment.terms.items())
        d = metrics["disruption"]
        items += [
            f"assignment ({r.solver}): objective {_num(r.objective)}, bound {_num(r.bound)}, "
            f"gap {gap}, {r.seconds:.1f} s",
            f"objective terms: {terms}",
            f"moves: {d['accounts_moved']:,} accounts ({d['accounts_moved_share']:.1%}), "
            f"{d['potential_moved_share']:.1%} of the potential, {d['reps_affected']} reps "
            "affected",
        ]
    else:
        items.append("territory: as given (assignment off), every account with its incumbent")
    if plan.target is not None:
        items.append(f"target: {plan.target.total:,.0f}")
    if plan.quotas is not None:
        q = plan.quotas.report
        items.append(f"quotas ({q.solver}): {q.status.value}, objective {_num(q.objective, '.4f')}")
    t = plan.tables
    items.append(
        f"data: {len(t.active_accounts):,} active accounts, {len(t.active_reps):,} active reps, "
        f"{len(t.product_ids)} product(s)"
    )
    return Section("Summary", (Bullets(tuple(items)),))


def _target(plan: Plan) -> Section:
    target = plan.target
    assert target is not None
    return Section(
        "Target build-up",
        (
            Text(
                "Each month's target weighs the plan, the three-year history, the history grown "
                "by the industry rate and last year grown by the competitor's rate "
                "(models/target.md)."
            ),
            _image("target", "References and the weighted target", target_plot(target.references)),
            Table(target.references),
            Text("Product mix (share of the target per product, with its band):"),
            Table(target.mix),
        ),
    )


def _reps(plan: Plan, reps: pd.DataFrame) -> Section:
    names = plan.tables.reps.set_index("rep_id")["name"]
    frame = reps.copy()
    frame.insert(1, "name", frame["rep_id"].map(names))
    frame["utilization"] = frame["utilization"] * 100
    frame = frame.rename(columns={"utilization": "utilization %"})
    return Section("Reps", (Table(frame),))


def _image(name: str, caption: str, figure: Figure) -> Image:
    return Image(name, caption, png(figure))


def _fairness(plan: Plan, metrics: dict[str, Any], reps: pd.DataFrame) -> Section:
    table = pd.DataFrame(metrics["fairness"]).T.rename_axis("measure").reset_index()
    columns = ["n", "gini", "cv", "max_min", "jain", "min_rel", "max_rel", "band", "in_band"]
    facts = {**metrics.get("disruption", {}), **metrics["coverage"]}
    shown = [f"{k}: {_fact(v)}" for k, v in facts.items()]
    blocks: list[Block] = [
        Text(
            "Each rep's value is divided by its fair-share weight before measuring inequality "
            "(docs/metrics.md): 1 = exactly the fair share; in_band = share of reps inside the "
            "band."
        ),
        Table(table[["measure", *columns]].astype(dict.fromkeys(columns, float))),
        Bullets(tuple(shown)),
    ]
    blocks += [_image(*f) for f in fairness_figures(plan, metrics["fairness"], reps)]
    return Section("Fairness", tuple(blocks))


def _map(plan: Plan) -> Section:
    figure = territory_map(plan.tables.active_accounts, plan.owners, plan.tables.active_reps)
    return Section("Map", (_image("map", "Accounts coloured by rep; home bases as stars", figure),))


def _constraints(table: pd.DataFrame) -> Section:
    rows = table[~table["internal"]]
    binding = rows[rows["binding"]]
    binding = binding.iloc[binding["dual"].abs().fillna(0.0).argsort()[::-1]]
    free = rows[~rows["binding"]].sort_values("slack")
    closest = free.groupby(["model", "family"], sort=False).head(1)
    note = f"{len(binding):,} binding of {len(table):,} constraint rows (auxiliary rows left out)"
    columns = ["model", "name", "slack", "dual", "text"]
    return Section(
        "Binding constraints",
        (
            Table(binding[columns], note=note) if len(binding) else Text("No constraint binds."),
            Text("Closest to binding, the tightest row of each family:"),
            Table(closest[columns]),
        ),
    )


def _moved(plan: Plan) -> Section:
    table = explain_accounts(plan)
    names = plan.tables.accounts.set_index("account_id")["name"]
    moved = table[table["moved"]].copy()
    moved.insert(1, "name", moved["account_id"].map(names))
    columns = [
        "account_id",
        "name",
        "incumbent_rep_id",
        "rep_id",
        "reason",
        "next_rep_id",
        "delta",
        "next_breaks",
    ]
    text = (
        "Accounts that change owner, why, and the next-best eligible rep: delta is how much the "
        "objective would rise if the account went there instead (everything else fixed); a "
        "negative delta comes with the constraint that move would break."
    )
    if not len(moved):
        return Section("Moved accounts", (Text("No account changes owner."),))
    return Section(
        "Moved accounts", (Text(text), Table(moved[columns], note=f"{len(moved):,} accounts move"))
    )


def _phasing(plan: Plan) -> Section:
    quotas = plan.quotas
    assert quotas is not None
    frame = quotas.quotas
    wide = frame.pivot_table(index="period", columns="product_id", values="target", aggfunc="sum")
    wide["total"] = wide.sum(axis=1)
    figure = stacked_periods(frame, value="target", title="Monthly quota by product")
    return Section(
        "Monthly phasing",
        (
            Image("phasing", "Monthly quota by product (all reps)", png(figure)),
            Table(wide.reset_index()),
        ),
    )


# ---------------------------------------------------------------- infeasible


def infeasible_report(scenario: Scenario, error: InfeasibleError, outdir: str | Path) -> list[Path]:
    """Write ``report.html``/``report.md`` for a scenario that has no feasible plan.

    The report shows the error, each diagnosis line (``error.diagnosis``) and the constraints
    the diagnosis names, so a planner sees which settings to relax.
    """
    message = str(error).splitlines()[0] if str(error) else "infeasible"
    conflicts = conflicting_constraints(error)
    blocks: list[Block] = [
        Bullets((f"scenario: {scenario.name}", "status: infeasible", f"message: {message}"))
    ]
    sections = [Section("Summary", tuple(blocks))]
    lines = error.diagnosis or ("(the solver gave no diagnosis)",)
    sections.append(Section("Diagnosis", (Bullets(tuple(lines)),)))
    if len(conflicts):
        families = ", ".join(sorted(set(conflicts["family"])))
        sections.append(
            Section(
                "Conflicting constraints",
                (
                    Text(f"Relax one of these families in the scenario: {families}."),
                    Table(conflicts),
                ),
            )
        )
    title = f"Infeasible: {scenario.name}"
    return write_document(outdir, "report", title, sections, subtitle=scenario.description)

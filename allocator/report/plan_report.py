"""The plan report: ``report.html`` (self-contained, interactive map) and ``report.md``.

:func:`write_report` writes the sections of :func:`plan_sections`: the headline a sales VP
reads in thirty seconds (:mod:`allocator.report.headline`), the interactive territory map
(:mod:`allocator.report.map`), then the details (summary, target build-up, reps, fairness, what
constrains the plan, moved accounts, quota tiers, expenses, reconciliation, monthly phasing) as a
document of :mod:`allocator.report.document`, whose blocks are re-exported here;
:func:`infeasible_report` writes the report of a scenario without a feasible plan.
:mod:`allocator.report.comparison` and the tracking reports reuse the same rendering.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure
from plotly.utils import PlotlyJSONEncoder

from allocator.exceptions import InfeasibleError
from allocator.io.folder import Claim, claim
from allocator.report.document import (
    Block,
    Bullets,
    Html,
    Image,
    Section,
    Table,
    Text,
    write_document,
)
from allocator.report.explain import (
    conflicting_constraints,
    explain_accounts,
    explain_constraints,
)
from allocator.report.format import number, percent
from allocator.report.headline import headline_section, plan_headline
from allocator.report.map import map_html, territory_map
from allocator.report.metrics import largest_quota_deviation, plan_metrics
from allocator.report.output import input_paths, plan_owner, scenario_owner, scenario_record
from allocator.report.plots import fairness_figures, png, stacked_periods, target_plot
from allocator.report.plots import territory_map as static_map
from allocator.report.quota_sections import history_section, quota_sections
from allocator.report.relax import Relaxation, assignment_relaxation
from allocator.report.rollup import rollup_section

if TYPE_CHECKING:
    from allocator.io.scenario import Scenario
    from allocator.plan import Plan

__all__ = [
    "Bullets",
    "Html",
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


def write_report(plan: Plan, outdir: str | Path | Claim) -> list[Path]:
    """Write ``report.html`` and ``report.md`` (+ its PNG figures) for ``plan`` into ``outdir``,
    and ``map.json``: the territory map as Plotly JSON, which ``compare`` draws side by side.

    Staged into a :class:`~allocator.io.folder.Claim` (committed by its owner), or into a
    folder claimed for the plan's scenario and committed here.

    Raises
    ------
    OutputError
        The folder cannot be used or written (:func:`allocator.io.folder.claim`).
    """
    if not isinstance(outdir, Claim):
        with claim(outdir, plan_owner(plan), inputs=input_paths(plan.scenario)) as folder:
            written = write_report(plan, folder)
            folder.commit({**scenario_record(plan.scenario, {}), "status": plan.status})
            return written
    title = f"Plan report: {plan.scenario.name}"
    subtitle = plan.scenario.description or f"scenario hash {plan.scenario.hash()[:12]}"
    accounts = explain_accounts(plan) if plan.assignment is not None else None
    figure = territory_map(plan, explanations=accounts)
    sections = plan_sections(plan, accounts=accounts, figure=figure)
    written = write_document(outdir, "report", title, sections, subtitle=subtitle)
    text = json.dumps(figure.to_plotly_json(), cls=PlotlyJSONEncoder, ensure_ascii=False)
    return [*written, outdir.write_text("map.json", text)]


def plan_sections(
    plan: Plan, *, accounts: pd.DataFrame | None = None, figure: go.Figure | None = None
) -> list[Section]:
    """Every section of the plan report, in reading order (``accounts``: the plan's
    :func:`explain_accounts`, ``figure``: its :func:`territory_map`, computed when None)."""
    metrics = plan_metrics(plan)
    reps = plan.reps_frame()
    relaxation = assignment_relaxation(plan)
    if accounts is None and plan.assignment is not None:
        accounts = explain_accounts(plan)
    if figure is None:
        figure = territory_map(plan, explanations=accounts)
    sections = [
        headline_section(plan_headline(plan, metrics, relaxation)),
        _map(plan, figure),
        _summary(plan, metrics),
    ]
    if plan.failed is not None:
        sections.append(_failed(plan))
    if plan.target is not None:
        sections.append(_target(plan))
    sections.append(_reps(plan, reps))
    sections += [s for s in (rollup_section(plan),) if s is not None]
    sections.append(_fairness(plan, metrics, reps))
    sections.append(_constraints(explain_constraints(plan), relaxation))
    if accounts is not None:
        sections.append(_moved(plan, accounts))
    sections += quota_sections(plan)
    if plan.quotas is not None:
        history = history_section(plan)
        if history is not None:
            sections.append(history)
        sections.append(_phasing(plan))
    return sections


def _failed(plan: Plan) -> Section:
    """What failed after the territory solved, with its diagnosis."""
    failed = plan.failed
    assert failed is not None
    error = failed.error
    head = str(error).splitlines()[0] if str(error) else type(error).__name__
    lines = getattr(error, "diagnosis", ()) or ()
    text = (
        f"The territory solved and is complete (assignments.csv, owners.csv, reps.csv), but the "
        f"{failed.stage} stage failed, so this plan has no quotas: {head}"
    )
    blocks: list[Block] = [Text(text)]
    if lines:
        blocks.append(Bullets(tuple(lines)))
    return Section(f"The {failed.stage} stage failed", tuple(blocks))


def _num(value: Any) -> str:
    return number(value)


def _fact(value: Any) -> str:
    return number(value) if isinstance(value, int | float) else "-" if value is None else str(value)


def _summary(plan: Plan, metrics: dict[str, Any]) -> Section:
    items = [f"status: {plan.status}", f"total time: {number(plan.seconds)} s"]
    if plan.assignment is not None:
        r = plan.assignment.report
        gap = percent(r.gap, 3)
        terms = ", ".join(f"{k} {_num(v)}" for k, v in plan.assignment.terms.items())
        d = metrics["disruption"]
        items += [
            f"assignment ({r.solver}): objective {_num(r.objective)}, bound {_num(r.bound)}, "
            f"gap {gap}, {number(r.seconds)} s",
            f"objective terms: {terms}",
            f"moves: {number(d['accounts_moved'])} accounts "
            f"({percent(d['accounts_moved_share'])}), "
            f"{percent(d['potential_moved_share'])} of the potential, {d['reps_affected']} reps "
            "affected",
        ]
    else:
        items.append("territory: as given (assignment off), every account with its incumbent")
    if plan.target is not None:
        items.append(f"target: {number(plan.target.total)}")
    if plan.quotas is not None:
        q = plan.quotas.report
        items.append(f"quotas ({q.solver}): {q.status.value}, objective {_num(q.objective)}")
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
    fair = {k: v for k, v in metrics["fairness"].items() if k != "quota_ratio"}  # same as quota
    table = pd.DataFrame(fair).T.rename_axis("measure").reset_index()
    columns = ["n", "gini", "cv", "max_min", "jain", "min_rel", "max_rel", "band", "in_band"]
    facts = {**metrics.get("disruption", {}), **metrics["coverage"]}
    shown = [f"{k}: {_fact(v)}" for k, v in facts.items()]
    blocks: list[Block] = [
        Text(
            "Each rep's value is divided by its fair share before measuring inequality "
            "(docs/metrics.md): 1 = exactly the fair share; in_band = share of reps inside the "
            "band. The fair shares are the models' own: potential and travel against the "
            "assignment's fair share (its balance band), utilisation against capacity, and quota "
            "against the fair quota the quota LP used (ramp x potential share of each product; "
            "its band quota.fairness.band), so in_band is the share of reps each model held "
            "inside its band."
        ),
        Table(table[["measure", *columns]].astype(dict.fromkeys(columns, float))),
        Bullets(tuple(shown)),
    ]
    figures = fairness_figures(plan, metrics["fairness"], reps)
    blocks += [_image(*f) for f in figures]
    if plan.quotas is not None and not any(f[0] == "quota_ratio" for f in figures):
        blocks.append(
            Text(
                "Quota against the fair quota: every rep's quota is within "
                f"{percent(largest_quota_deviation(plan), 2)} of its fair quota (no chart: "
                "the bars would all read 1)."
            )
        )
    return Section("Fairness", tuple(blocks))


def _map(plan: Plan, figure: go.Figure) -> Section:
    still = static_map(plan.tables.active_accounts, plan.owners, plan.tables.active_reps)
    caption = (
        "Regions filled in the colour of the territory holding most of their potential "
        "(neighbouring territories never share a colour); points are accounts sized by "
        "potential in their owner's colour, ringed when they change owner; stars are home "
        "bases. Hover for details, search an account or rep id, double-click for the whole plan."
    )
    return Section(
        "Map",
        (
            Html(
                f'<div class="map">{map_html(figure)}</div>',
                "The interactive map is in report.html.",
                Image("map", "Accounts by rep (report.html has the interactive map)", png(still)),
            ),
            Text(caption),
        ),
    )


def _constraints(table: pd.DataFrame, relaxation: Relaxation | None) -> Section:
    """What constrains the plan: the value of relaxing each assignment family (LP), the rows
    that truly bind (at their limit with a non-zero shadow price, or at their limit in the MIP),
    and the tightest free row of each family."""
    table = _with_lp_duals(table, relaxation)
    rows = table[~table["internal"].astype(bool)]  # (bool: an empty table has object columns)
    rows = rows.astype({"dual": float, "slack": float, "binding": bool})
    priced = rows["dual"].abs() > 1e-9
    truly = rows[rows["binding"] & (priced | rows["dual"].isna())]
    truly = truly.iloc[truly["dual"].abs().fillna(0.0).argsort()[::-1]]
    idle = rows[rows["binding"] & ~priced & rows["dual"].notna()]
    lp_only = rows[~rows["binding"] & priced & (rows["model"] == "assignment")]
    free = rows[~rows["binding"] & ~priced].sort_values("slack")
    closest = free.groupby(["model", "family"], sort=False).head(1)
    columns = ["model", "name", "slack", "dual", "text"]
    blocks: list[Block] = []
    if relaxation is not None:
        blocks += [
            Text(
                "Value of relaxing each family of the territory model: how much lower the LP "
                "relaxation's optimum is without it (objective units), and the row with the "
                "largest shadow price (d objective / d right-hand side, sign as for the quota LP)."
            ),
            Table(relaxation.families),
        ]
    note = f"{len(truly):,} of {len(table):,} constraint rows truly bind (auxiliary rows left out)"
    none = "No row binds with a shadow price: relaxing any one alone would change nothing."
    blocks.append(Table(truly[columns], note=note) if len(truly) else Text(none))
    if len(idle):
        families = ", ".join(sorted(set(idle["family"])))
        blocks.append(
            Text(
                f"{len(idle):,} more rows sit exactly at their limit ({families}) but have a "
                "shadow price of 0: relaxing them alone would change nothing."
            )
        )
    if len(lp_only):
        blocks += [
            Text("Rows with slack in the plan that the LP relaxation prices (they bind there):"),
            Table(lp_only[columns].iloc[lp_only["dual"].abs().argsort()[::-1]]),
        ]
    blocks += [
        Text("Closest to binding, the tightest free row of each family:"),
        Table(closest[columns]),
    ]
    return Section("What constrains the plan", tuple(blocks))


def _with_lp_duals(table: pd.DataFrame, relaxation: Relaxation | None) -> pd.DataFrame:
    """The assignment rows with the LP relaxation's shadow prices and their sentences."""
    if relaxation is None or not len(table):
        return table
    from allocator.report.explain import constraint_text

    duals = relaxation.duals.set_index("name")["dual"]
    mine = table["model"] == "assignment"
    out = table.copy()
    out.loc[mine, "dual"] = out.loc[mine, "name"].map(duals)
    objective = "the objective (LP relaxation) by {}"
    out.loc[mine, "text"] = [
        constraint_text(n, f, s, d, b or abs(d) > 1e-9 if d == d else b, objective=objective)
        for n, f, s, d, b in out.loc[
            mine, ["name", "family", "slack", "dual", "binding"]
        ].itertuples(index=False)
    ]
    return out


def _moved(plan: Plan, table: pd.DataFrame) -> Section:
    names = plan.tables.accounts.set_index("account_id")["name"]
    moved = table[table["moved"]].copy()
    moved.insert(1, "name", moved["account_id"].map(names))
    columns = [
        *("account_id", "name", "incumbent_rep_id", "rep_id", "reason", "next_rep_id", "delta"),
        *("next_rule", "cheaper_rep_id", "cheaper_delta", "next_breaks"),
    ]
    text = (
        "Accounts that change owner, why, and the next-best rep: the rep that could take the "
        "account with every hard rule of the model still holding (eligibility, capacity, "
        "balance, account limit, continuity budget, contiguity). delta is how much the "
        "objective would change if the account went there instead (everything else fixed); a "
        "negative delta always comes with next_rule, the proven gap of the solve that allows "
        "it. cheaper_rep_id is a rep that would cost less but a rule forbids: next_breaks "
        "names the rule, with its numbers."
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


def infeasible_report(
    scenario: Scenario, error: InfeasibleError, outdir: str | Path | Claim, *, force: bool = False
) -> list[Path]:
    """Write ``report.html``/``report.md``, ``metrics.json`` and the manifest of a scenario that
    has no feasible plan.

    The report shows the error, each diagnosis line (``error.diagnosis``) and the constraints
    the diagnosis names, so a planner sees which settings to relax. The folder is claimed for
    the scenario like a plan's (:func:`allocator.io.folder.claim`): it never lands among the
    inputs nor over another scenario's plan; the next run of a scenario of the same name (the
    fixed YAML) may replace it.

    Raises
    ------
    OutputError
        The folder cannot be used or written.
    """
    if not isinstance(outdir, Claim):
        owner, inputs = scenario_owner(scenario), input_paths(scenario)
        with claim(outdir, owner, force=force, inputs=inputs) as folder:
            return infeasible_report(scenario, error, folder)
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
    written = write_document(outdir, "report", title, sections, subtitle=scenario.description)
    metrics = {"status": "infeasible", "message": message, "diagnosis": list(error.diagnosis)}
    written.append(outdir.write_text("metrics.json", json.dumps(metrics, indent=2) + "\n"))
    sources = {k: v for k, v in scenario.data.model_dump().items() if isinstance(v, str)}
    record = {**scenario_record(scenario, sources), "status": "infeasible"}
    return [*written, outdir.commit(record)]

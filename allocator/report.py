"""The plan report: ``report.html`` (self-contained) and ``report.md`` (with PNG files beside it).

A report is a list of :class:`Section` made of blocks (text, bullets, tables, images). The same
blocks render to one HTML page (inline CSS, images as base64 ``<img>``, opens offline) and to
Markdown (images as ``<stem>_<name>.png`` files next to it). :mod:`allocator.compare` and the
infeasibility report reuse the rendering. Every file is written atomically.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from allocator.exceptions import InfeasibleError
from allocator.explain import conflicting_constraints, explain_accounts, explain_constraints
from allocator.files import atomic_write
from allocator.metrics import plan_metrics
from allocator.plots import fairness_figures, png, stacked_periods, target_plot, territory_map

if TYPE_CHECKING:
    from allocator.plan import Plan
    from allocator.scenario import Scenario

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

log = logging.getLogger("allocator")

MAX_ROWS = 200  # longer tables are cut in the report; the CSV outputs hold every row


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped in HTML)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A frame shown as a table (numbers formatted per column, cut at MAX_ROWS)."""

    frame: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG: inline base64 in HTML, the file ``<stem>_<name>.png`` in Markdown."""

    name: str
    caption: str
    data: bytes


Block = Text | Bullets | Table | Image


@dataclass(frozen=True)
class Section:
    """A titled part of a document."""

    title: str
    blocks: tuple[Block, ...]


# ---------------------------------------------------------------- rendering


def _format_column(column: pd.Series) -> list[str]:
    if column.dtype == bool:
        return ["yes" if v else "" for v in column]
    if not pd.api.types.is_numeric_dtype(column):
        return ["" if pd.isna(v) else str(v) for v in column]
    values = column.astype(float)
    finite = values.dropna().abs()
    top = float(finite.max()) if len(finite) else 0.0
    if (len(finite) and (finite % 1 == 0).all()) or top >= 1000:
        spec = ",.0f"
    else:
        spec = ",.1f" if top >= 10 else ".3f"
    return ["" if pd.isna(v) else format(v, spec) for v in values]


def _cells(frame: pd.DataFrame) -> list[list[str]]:
    columns = [_format_column(frame[c]) for c in frame.columns]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _cut(table: Table) -> tuple[pd.DataFrame, str]:
    frame, note = table.frame, table.note
    if len(frame) > MAX_ROWS:
        more = f"first {MAX_ROWS} of {len(frame):,} rows"
        frame, note = frame.head(MAX_ROWS), f"{note} ({more})" if note else more
    return frame, note


def _html_block(block: Block) -> str:
    if isinstance(block, Text):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Image):
        data = base64.b64encode(block.data).decode("ascii")
        alt = html.escape(block.caption)
        image = f'<img src="data:image/png;base64,{data}" alt="{alt}">'
        return f"<figure>{image}<figcaption>{alt}</figcaption></figure>"
    frame, note = _cut(block)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool for c in frame.columns
    ]
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if n else ""}">{html.escape(v)}</td>'
            for v, n in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in _cells(frame)
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    caption = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f'<div class="scroll">{table}</div>{caption}'


_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
       margin: 0 auto; max-width: 1180px; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin-top: 36px;
     border-bottom: 2px solid #e3e7ef; padding-bottom: 4px; }
.subtitle { color: #5b6475; margin: 0 0 16px; } nav { background: #f5f7fb; padding: 8px 14px;
     border-radius: 6px; } nav a { margin-right: 14px; color: #2856b6; text-decoration: none; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #dde2ea; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f8; position: sticky; top: 0; } td.num { text-align: right;
     font-variant-numeric: tabular-nums; } tr:nth-child(even) td { background: #fafbfd; }
.scroll { max-height: 520px; overflow: auto; display: inline-block; max-width: 100%; }
figure { margin: 12px 0; } img { max-width: 100%; border: 1px solid #e3e7ef; }
figcaption, .note { color: #5b6475; font-size: 13px; }
</style></head>
<body>
<h1>$title</h1>
<p class="subtitle">$subtitle</p>
<nav>$toc</nav>
$body
</body></html>
"""
)


def render_html(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """One self-contained HTML page: inline CSS, images as data URIs, no external resource."""
    toc = "".join(f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(sections))
    body = "\n".join(
        f'<section id="s{i}"><h2>{html.escape(s.title)}</h2>\n'
        + "\n".join(_html_block(b) for b in s.blocks)
        + "</section>"
        for i, s in enumerate(sections)
    )
    return _PAGE.substitute(
        title=html.escape(title), subtitle=html.escape(subtitle), toc=toc, body=body
    )


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block, stem: str) -> str:
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {i}" for i in block.items)
    if isinstance(block, Image):
        return f"![{block.caption}]({stem}_{block.name}.png)"
    frame, note = _cut(block)
    lines = [
        "| " + " | ".join(_md_cell(str(c)) for c in frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
        *("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in _cells(frame)),
    ]
    return "\n".join(lines) + (f"\n\n_{note}_" if note else "")


def render_markdown(title: str, subtitle: str, sections: Sequence[Section], *, stem: str) -> str:
    """Markdown; an image ``name`` is linked as the file ``<stem>_<name>.png``."""
    parts = [f"# {title}", "", subtitle]
    for s in sections:
        parts += ["", f"## {s.title}", ""]
        parts += ["\n\n".join(_md_block(b, stem) for b in s.blocks)]
    return "\n".join(parts) + "\n"


def write_document(
    outdir: str | Path, stem: str, title: str, sections: Sequence[Section], *, subtitle: str = ""
) -> list[Path]:
    """Write ``<stem>.html``, ``<stem>.md`` and the Markdown's PNG files atomically."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for image in (b for s in sections for b in s.blocks if isinstance(b, Image)):
        path = outdir / f"{stem}_{image.name}.png"
        atomic_write(path, partial(Path.write_bytes, data=image.data))
        written.append(path)
    for suffix, text in (
        ("md", render_markdown(title, subtitle, sections, stem=stem)),
        ("html", render_html(title, subtitle, sections)),
    ):
        path = outdir / f"{stem}.{suffix}"
        atomic_write(path, partial(Path.write_text, data=text, encoding="utf-8"))
        written.append(path)
    log.info("report: wrote %s", ", ".join(p.name for p in written))
    return written


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
    sections += [_reps(plan, reps), _fairness(plan, metrics, reps), _map(plan)]
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

"""``sweep.csv`` and ``sweep.html``: the comparison table and the trade-off plot of a sweep.

The plot puts disruption on the x axis and imbalance (Gini of the fair-share-weighted potential
per rep, or the first fairness measure there is) on the y axis, both lower-is-better, and
highlights the non-dominated variants: those no other solved variant beats on both axes at
once. The PNG is embedded in the HTML (base64), so ``sweep.html`` is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.io.scenario import Scenario
from allocator.report.format import number
from allocator.sweep.grid import Variant

__all__ = [
    "flatten",
    "non_dominated",
    "results_frame",
    "sweep_html",
    "trade_off_axes",
    "with_front",
    "write_sweep_report",
]

SOLVED = ("optimal", "feasible", "time_limit")
FIRST_COLUMNS = ("variant_id", "variant")
RESULT_COLUMNS = (
    "status",
    "objective",
    "bound",
    "gap",
    "solve_seconds",
    "seconds",
    "resumed",
    "message",
    "diagnosis",
)
X_AXES = ("disruption.potential_moved_share", "disruption.accounts_moved", "disruption.")
Y_AXES = ("fairness.potential.gini", ".gini", ".cv", "fairness.")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to one level with dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def results_frame(
    base: Scenario, items: Sequence[Variant], rows: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per variant in sweep order; unfinished variants have status ``not_run``."""
    params = list(dict.fromkeys(k for v in items for k in v.params))
    named = any(v.name for v in items)
    base_values = base.model_dump(mode="json")
    records = []
    for v in items:
        record: dict[str, Any] = {"variant_id": v.id, **({"variant": v.name} if named else {})}
        record.update({p: v.params.get(p, _value_at(base_values, p)) for p in params})
        record.update(rows.get(v.id, {"status": "not_run"}))
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    for column in ("message", "diagnosis"):
        frame[column] = frame[column].fillna("") if column in frame else ""
    lead = [c for c in (*FIRST_COLUMNS, *params, *RESULT_COLUMNS) if c in frame]
    rest = sorted(c for c in frame.columns if c not in lead and c != "hash")
    tail = ["hash"] if "hash" in frame else []
    return with_front(frame[lead + rest + tail])


def _value_at(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def trade_off_axes(frame: pd.DataFrame) -> tuple[str, str] | None:
    """The (x, y) columns of the trade-off plot, or None when the frame has too few metrics.

    x: the share of potential moved (else another disruption measure, else the objective);
    y: the Gini of potential per rep (else another inequality measure, else the objective).
    """
    usable = [c for c in frame.columns if _numeric(frame, c)]
    x = _first(usable, X_AXES) or ("objective" if "objective" in usable else None)
    rest = [c for c in usable if c != x]
    y = _first(rest, Y_AXES) or ("objective" if "objective" in rest else None)
    return (x, y) if x and y else None


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    values = pd.to_numeric(frame[column], errors="coerce")
    return frame[column].dtype != bool and bool(values.notna().any())


def _first(columns: list[str], patterns: tuple[str, ...]) -> str | None:
    for pattern in patterns:
        for column in columns:
            exact = column == pattern
            partial = pattern.endswith(".") and column.startswith(pattern)
            if exact or partial or (pattern.startswith(".") and column.endswith(pattern)):
                return column
    return None


def non_dominated(frame: pd.DataFrame, x: str, y: str) -> pd.Series:
    """True for the solved rows that no other solved row beats on both ``x`` and ``y`` (minimised).

    A row is dominated when another is at least as good on both and strictly better on one.
    """
    xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
    ok = frame["status"].isin(SOLVED).to_numpy() & np.isfinite(xs) & np.isfinite(ys)
    front = np.zeros(len(frame), dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok & (xs <= xs[i]) & (ys <= ys[i]) & ((xs < xs[i]) | (ys < ys[i]))
        front[i] = not others.any()
    return pd.Series(front, index=frame.index, name="non_dominated")


def _plot_png(frame: pd.DataFrame, x: str, y: str, front: pd.Series) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display needed; also safe inside worker processes
    import matplotlib.pyplot as plt

    solved = frame[frame["status"].isin(SOLVED)]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ax.scatter(solved[x], solved[y], color="#9aa5b1", label="variant")
    best = frame[front].sort_values(x)
    ax.step(best[x], best[y], where="post", color="#c0392b", linewidth=1, alpha=0.6)
    ax.scatter(best[x], best[y], color="#c0392b", label="non-dominated", zorder=3)
    for _, row in best.iterrows():
        ax.annotate(
            str(row["variant_id"]),
            (row[x], row[y]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel(f"{x} (lower is better)")
    ax.set_ylabel(f"{y} (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else number(value)
    return "" if value is None or value is pd.NA else html.escape(str(value))


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        css = ' class="front"' if bool(row.get("non_dominated", False)) else ""
        failed = ' class="failed"' if row.get("status") in ("infeasible", "error") else css
        cells = "".join(f"<td>{_cell(v)}</td>" for v in row)
        rows.append(f"<tr{failed}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;"
    "text-align:right}th{background:#f3f4f6}tr.front td{background:#fdecea;font-weight:600}"
    "tr.failed td{color:#999}.wide{overflow-x:auto;max-width:100%}img{max-width:100%}"
    # print: the whole table on the page, narrow columns wrap instead of running off it
    "@media print{body{margin:0}.wide{overflow:visible}table{font-size:8px;width:100%;"
    "table-layout:fixed}td,th{padding:1px 2px;word-break:break-word}tr{break-inside:avoid}"
    "thead{display:table-header-group}}"
)


def html_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of the HTML table: id and parameters, results, disruption, Gini per measure."""
    lead = list(frame.columns[: list(frame.columns).index("status")])
    keep = ["status", "objective", "gap", "seconds", "resumed", "non_dominated"]
    metrics = [c for c in frame.columns if c.startswith("disruption.") or c.endswith(".gini")]
    tail = ["message", "diagnosis"]
    return [c for c in [*lead, *keep, *metrics, *tail] if c in frame.columns]


def sweep_html(frame: pd.DataFrame, *, title: str) -> str:
    """The sweep page: counts, the trade-off plot (when there are metrics) and the table."""
    axes = trade_off_axes(frame)
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(frame)} variants: {summary}.</p>"]
    if axes is not None and "non_dominated" in frame and frame["non_dominated"].any():
        png = base64.b64encode(_plot_png(frame, *axes, frame["non_dominated"])).decode()
        parts.append(
            f"<p>Trade-off: {html.escape(axes[0])} against {html.escape(axes[1])}; the "
            "non-dominated variants (no other variant is better on both) are in red and "
            "highlighted in the table.</p>"
            f'<img alt="trade-off plot" src="data:image/png;base64,{png}">'
        )
    else:
        parts.append("<p>No trade-off plot: no solved variant with metrics.</p>")
    parts.append("<p>The main columns; every column is in <code>sweep.csv</code>.</p>")
    parts.append(f'<div class="wide">{_table(frame[html_columns(frame)])}</div>')
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def with_front(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``non_dominated`` column on the trade-off axes (all false without them)."""
    axes = trade_off_axes(frame) if len(frame) else None
    front = non_dominated(frame, *axes) if axes else pd.Series(False, index=frame.index)
    return frame.assign(non_dominated=front.astype(bool))


def write_sweep_report(frame: pd.DataFrame, out: Path, *, title: str) -> list[Path]:
    """Write ``sweep.csv`` and ``sweep.html`` into ``out`` (each atomically)."""
    csv, page = out / "sweep.csv", out / "sweep.html"
    _atomic(csv, lambda p: frame.to_csv(p, index=False, lineterminator="\n"))
    _atomic(page, lambda p: p.write_text(sweep_html(frame, title=title), encoding="utf-8"))
    return [csv, page]


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # not mkstemp: keep umask permissions
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

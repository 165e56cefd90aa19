"""The comparison's views: its headline words, the chart of the largest metric changes and the
territory maps side by side with the accounts that change owner ringed.

Each function takes a :class:`~allocator.report.comparison.Comparison`; the comparison's
sections (:meth:`Comparison.sections`) and terminal digest place them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocator.report.document import Html, Image
from allocator.report.format import number, percent

if TYPE_CHECKING:
    from allocator.report.comparison import Comparison

__all__ = ["delta_chart", "largest_words", "quota_words", "relative_changes", "side_by_side_maps"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def quota_words(comparison: Comparison, name: str) -> str:
    column = f"change {name}"
    quotas = comparison.quotas
    if not len(quotas) or column not in quotas.columns:
        return "no quota changes"
    changed = quotas[quotas[column].abs() >= 1]
    if not len(changed):
        return "no quota changes"
    top = changed.iloc[int(np.argmax(changed[column].abs().to_numpy()))]
    return (
        f"{len(changed)} reps' quotas change (largest: {top['rep_id']} "
        f"{'+' if top[column] > 0 else ''}{number(top[column])})"
    )


def _echo(metric: str) -> bool:
    """Metrics that repeat a setting or another metric, not an outcome of the plan."""
    last = metric.rsplit(".", 1)[-1]
    return last in ("band", "n", "excluded") or ".quota_ratio." in metric


def relative_changes(comparison: Comparison) -> pd.DataFrame:
    """metric, plan, change, relative (change over |baseline|) of every numeric differing metric."""
    rows = []
    base = comparison.names[0]
    for _, row in comparison.differing().iterrows():
        if _echo(str(row["metric"])):
            continue
        a = _number(row[base])
        for name in comparison.names[1:]:
            b = _number(row[name])
            if a is None or b is None or a == b or max(abs(a), abs(b)) < 1e-3:
                continue
            rel = (b - a) / abs(a) if a else np.inf
            rows.append((row["metric"], name, b - a, rel))
    frame = pd.DataFrame(rows, columns=["metric", "plan", "change", "relative"])
    return frame.reindex(frame["relative"].abs().sort_values(ascending=False).index)


def largest_words(comparison: Comparison) -> str:
    frame = relative_changes(comparison).head(3)
    if not len(frame):
        return "none"
    return "; ".join(
        f"{m} {'+' if c > 0 else ''}{number(c)}"
        + (f" ({'+' if r > 0 else ''}{percent(r)})" if np.isfinite(r) else "")
        for m, c, r in zip(frame["metric"], frame["change"], frame["relative"], strict=True)
    )


def delta_chart(comparison: Comparison) -> Image | None:
    """Horizontal bars: the 12 largest relative changes of a metric against the baseline."""
    from allocator.report.plots import delta_bars, png

    frame = relative_changes(comparison)
    frame = frame[np.isfinite(frame["relative"])].head(12)
    if not len(frame):
        return None
    labels = [
        f"{m} ({p})" if len(comparison.names) > 2 else m
        for m, p in zip(frame["metric"], frame["plan"], strict=True)
    ]
    figure = delta_bars(
        labels,
        frame["relative"].to_numpy(float),
        title=(f"Largest metric changes against {comparison.names[0]} (relative)"),
    )
    return Image(
        "deltas", "The largest relative changes of a metric against the baseline", png(figure)
    )


def side_by_side_maps(comparison: Comparison) -> Html | None:
    """The plans' maps side by side, accounts that change owner between them ringed."""
    from allocator.report.map import highlight_accounts, map_html, recolour, rep_colours

    figures = [f for f in comparison.figures if f is not None]
    if len(figures) < 2 or len(figures) != len(comparison.names):
        return None
    moved = list(comparison.owners["account_id"]) if len(comparison.owners) else []
    colours = rep_colours(figures[0])  # each rep in the baseline's colour on every map
    cells = []
    for i, (name, figure) in enumerate(zip(comparison.names, figures, strict=True)):
        shown = highlight_accounts(recolour(figure, colours), moved, title=name)
        fragment = map_html(shown, div_id=f"map-{i}", include_plotlyjs=i == 0, height=520)
        cells.append(f'<div class="map">{fragment}</div>')
    html = '<div class="side-by-side">' + "".join(cells) + "</div>"
    words = (
        f"{len(moved)} account(s) change owner between the plans: they are ringed in black on "
        "every map."
    )
    return Html(f"<p>{words}</p>{html}", words + " The maps are in comparison.html.")

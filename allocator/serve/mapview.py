"""The map of the plan under edit: accounts coloured by rep, locks, violations, rep homes.

:func:`edit_map` draws with Plotly (the report's map library): every active account is a point
(``customdata`` = account_id, so a click or a lasso in the page selects accounts), diamonds are
locked accounts, red rings mark accounts that break a rule or belong to a rep who does, stars
are the reps' homes. Above 5,000 accounts the points use WebGL (``scattergl``), which keeps
lasso selection fast on a 20,000-account plan. The figure is a plain dict in Plotly's JSON
schema, drawn by the plotly.js that the ``plotly`` package ships.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from allocator.serve.recompute import Context, Evaluation

__all__ = ["PALETTE", "edit_map", "rep_colours"]

#: 20 distinguishable colours (Plotly's D3 + Dark24 heads); reps cycle through them.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#2e91e5", "#e15f99", "#1ca71c", "#fb0d0d", "#da16ff", "#222a2a", "#b68100",
    "#750d86", "#eb663b", "#511cfb", "#00a08b",
)  # fmt: skip


def rep_colours(rep_ids: list[str]) -> dict[str, str]:
    """A colour per rep, stable for a plan (reps in their table order)."""
    return {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(rep_ids)}


def edit_map(
    ctx: Context,
    owners: pd.Series,
    locked: frozenset[str],
    evaluation: Evaluation,
    *,
    title: str = "",
    height: int = 640,
) -> dict[str, Any]:
    """The plan's accounts and reps as a Plotly figure dict (lon/lat axes, equal scale).

    A plain dict (``{"data": [...], "layout": {...}}``), built without plotly's validation:
    on 20,000 accounts validating the figure would take seconds per edit.
    """
    acc = ctx.accounts
    owner = owners.reindex(acc.index).astype(str)
    colours = rep_colours(list(ctx.reps.index))
    flagged_reps = {v.rep for v in evaluation.violations if v.rep}
    flagged = {v.account for v in evaluation.violations if v.account}
    bad = owner.isin(flagged_reps).to_numpy() | acc.index.isin(list(flagged))
    is_locked = acc.index.isin(list(locked))
    big = len(acc) > 5000
    names = ctx.reps["name"].reindex(owner.to_numpy()).to_numpy()
    hover = [
        f"{a} ({seg}) · {r} {n}<br>potential {p:,.0f} · workload {w:,.0f} h"
        + (" · locked" if k else "")
        for a, seg, r, n, p, w, k in zip(
            acc.index,
            acc["segment"],
            owner,
            names,
            acc["potential"],
            acc["workload"],
            is_locked,
            strict=True,
        )
    ]
    accounts = {
        "type": "scattergl" if big else "scatter",
        "x": acc["lon"].to_numpy(float).tolist(),
        "y": acc["lat"].to_numpy(float).tolist(),
        "mode": "markers",
        "name": "accounts",
        "customdata": [[a] for a in acc.index],
        "hovertext": hover,
        "hoverinfo": "text",
        "marker": {
            "color": owner.map(colours).tolist(),
            "size": 4 if big else 7,
            "symbol": ["diamond" if k else "circle" for k in is_locked],
            "line": {
                "color": ["#d62728" if b else "rgba(0,0,0,0.25)" for b in bad],
                "width": [2.5 if b else 0.5 for b in bad],
            },
        },
        "selected": {"marker": {"opacity": 1.0, "size": 13 if not big else 8}},
        "unselected": {"marker": {"opacity": 0.45}},
    }
    reps = ctx.reps
    homes = {
        "type": "scatter",
        "x": reps["lon"].to_numpy(float).tolist(),
        "y": reps["lat"].to_numpy(float).tolist(),
        "mode": "markers+text",
        "name": "rep homes",
        "text": list(reps.index),
        "textposition": "top center",
        "hovertext": [f"{r} {n} (home)" for r, n in zip(reps.index, reps["name"], strict=True)],
        "hoverinfo": "text",
        "marker": {
            "symbol": "star",
            "size": 14,
            "color": [colours[r] for r in reps.index],
            "line": {
                "color": ["#d62728" if r in flagged_reps else "#000" for r in reps.index],
                "width": 1.5,
            },
        },
    }
    layout = {
        "height": height,
        "margin": {"l": 40, "r": 10, "t": 40 if title else 10, "b": 30},
        "dragmode": "lasso",
        "showlegend": False,
        "clickmode": "event+select",
        "xaxis": {"title": {"text": "longitude"}},
        "yaxis": {"title": {"text": "latitude"}, "scaleanchor": "x", "scaleratio": 1.0},
        "uirevision": "keep",  # edits keep the planner's zoom and pan
        "plot_bgcolor": "#f7f7f7",
    }
    if title:
        layout["title"] = {"text": title, "x": 0.01}
    return {"data": [accounts, homes], "layout": layout}

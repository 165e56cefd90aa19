"""The interactive territory map: one self-contained Plotly figure, offline, with search.

:func:`territory_map` draws a plan: region polygons filled in the colour of the territory that
holds most of their potential (:func:`allocator.report.regions.region_polygons`), account
points sized by potential and coloured by owner (moved accounts ringed in black), and the reps'
home bases as stars. Colours come from colouring the territory adjacency graph, so neighbours
differ. Hovering an account shows owner, incumbent, potential, workload, reason and the
next-best rep with its cost; hovering a region shows its territory's totals against the fair
share. :func:`map_html` (:mod:`allocator.report.map_page`, re-exported here) wraps a figure in
an HTML fragment with plotly.js embedded (no network) and a search box for account or rep ids.

Plotly was chosen because one offline HTML file with zoom, hover and a JS API (for the search)
is what it produces out of the box; its cartesian traces need no map tiles or topojson fetched
from a CDN, unlike its geo/mapbox traces.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely

from allocator.report.format import number
from allocator.report.map_page import highlight_accounts, map_html, recolour, rep_colours
from allocator.report.regions import alpha, region_polygons, territory_colours

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = ["highlight_accounts", "map_html", "recolour", "rep_colours", "territory_map"]

#: Above this many accounts the points are drawn with WebGL (scattergl), below as SVG.
WEBGL_FROM = 8000
#: Above this many regions, the polygons of one territory are merged into one trace.
MERGE_FROM = 600
_GREY = "#9aa3b2"


def territory_map(
    plan: Plan,
    *,
    explanations: pd.DataFrame | None = None,
    moved: pd.Index | None = None,
    title: str | None = None,
    height: int = 640,
) -> go.Figure:
    """The plan's territories as an interactive Plotly figure (lon/lat axes, equal km scale).

    Parameters
    ----------
    plan
        A solved plan (its tables, owners and, when present, assignment and quotas).
    explanations
        :func:`allocator.report.explain.explain_accounts` of the plan (computed when None and the
        plan has an assignment); gives the reason and next-best rep in the account hover.
    moved
        Account ids to ring in black (default: accounts whose owner differs from the incumbent);
        a comparison passes the accounts that changed owner between two plans.
    title, height
        Figure title (default: the scenario name) and height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces, in order: one filled polygon per region (``name`` = region id, ``meta`` =
        "region"; above :data:`MERGE_FROM` regions one per territory, ``name`` "territory R1"),
        the accounts (``meta`` = "accounts", customdata = [account_id, rep_id] pairs), the home
        bases (``meta`` = "reps"), and an empty "highlight" trace the search box fills.
    """
    accounts = _accounts(plan, explanations, moved)
    reps = _reps(plan)
    colours = territory_colours(
        plan.owners, plan.tables.active_accounts, plan.tables.adjacency, list(reps["rep_id"])
    )
    lat0 = float(accounts["lat"].mean()) if len(accounts) else 0.0
    fig = go.Figure()
    for trace in _region_traces(plan, accounts, reps, colours):
        fig.add_trace(trace)
    fig.add_trace(_account_trace(accounts, colours))
    fig.add_trace(_rep_trace(reps, colours))
    fig.add_trace(
        go.Scatter(
            x=[],
            y=[],
            mode="markers",
            name="found",
            meta="highlight",
            hoverinfo="skip",
            marker={"size": 26, "symbol": "circle-open", "color": "#000", "line": {"width": 3}},
            showlegend=False,
        )
    )
    fig.update_layout(
        title={"text": title or f"Territories: {plan.scenario.name}", "x": 0.01},
        height=height,
        margin={"l": 10, "r": 10, "t": 48, "b": 10},
        plot_bgcolor="#ffffff",
        hovermode="closest",
        dragmode="pan",
        legend={"orientation": "h", "y": 1.0, "x": 1.0, "xanchor": "right", "yanchor": "bottom"},
        hoverlabel={"align": "left", "font": {"size": 12}},
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / _scale(lat0))
    return fig


def _scale(lat: float) -> float:
    return max(math.cos(math.radians(lat)), 0.1)


def _accounts(
    plan: Plan, explanations: pd.DataFrame | None, moved: pd.Index | None
) -> pd.DataFrame:
    """One row per active account with owner, lat/lon and the words of its hover."""
    acc = plan.tables.active_accounts.set_index("account_id")
    frame = acc.loc[
        plan.owners.index,
        ["name", "lat", "lon", "region_id", "potential", "workload", "incumbent_rep_id"],
    ].copy()
    frame["rep_id"] = plan.owners.astype(str).to_numpy()
    if explanations is None and plan.assignment is not None:
        from allocator.report.explain import explain_accounts

        explanations = explain_accounts(plan)
    if explanations is not None:
        info = explanations.set_index("account_id")
        for column in (
            "reason",
            "next_rep_id",
            "delta",
            "next_rule",
            "cheaper_rep_id",
            "cheaper_delta",
            "next_breaks",
        ):
            if column in info.columns:
                frame[column] = info[column].reindex(frame.index)
    if moved is None:
        incumbent = frame["incumbent_rep_id"].astype(str)
        moved = frame.index[(incumbent != "") & (incumbent != frame["rep_id"])]
    frame["moved"] = frame.index.isin(moved)
    frame["hover"] = [_account_words(str(a), row) for a, row in frame.iterrows()]
    return frame.reset_index()


def _account_words(account_id: str, row: pd.Series) -> str:
    name = _esc(row["name"]) if row["name"] and row["name"] != account_id else ""
    incumbent = row["incumbent_rep_id"] or "none"
    lines = [
        f"<b>{_esc(account_id)}</b> {name}",
        f"owner <b>{_esc(row['rep_id'])}</b>, incumbent {_esc(incumbent)}"
        + (" (moved)" if row["moved"] else ""),
        f"potential {number(row['potential'])}, workload {number(row['workload'])} h",
    ]
    if isinstance(row.get("reason"), str) and row["reason"]:
        lines.append(f"reason: {_esc(row['reason'])}")
    nxt = row.get("next_rep_id")
    if isinstance(nxt, str) and nxt:
        lines.append(f"next best: {_esc(nxt)} ({_signed(row.get('delta'))} objective)")
        if isinstance(row.get("next_rule"), str) and row["next_rule"]:
            lines.append(f"not taken: {_esc(row['next_rule'])}")
    elif "next_rep_id" in row:
        lines.append("next best: none (every move breaks a rule)")
    cheaper = row.get("cheaper_rep_id")
    if isinstance(cheaper, str) and cheaper:
        lines.append(
            f"cheaper {_esc(cheaper)} ({_signed(row.get('cheaper_delta'))}) breaks "
            f"{_esc(str(row.get('next_breaks', ''))[:140])}"
        )
    return "<br>".join(lines)


def _signed(value: Any) -> str:
    if value is None or value != value:
        return "-"
    return ("+" if float(value) > 0 else "") + number(float(value))


def _esc(value: Any) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reps(plan: Plan) -> pd.DataFrame:
    """Active reps with name, home base and totals against their fair share."""
    from allocator.report.metrics import plan_weights, quota_fair

    info = plan.tables.active_reps.set_index("rep_id")
    totals = plan.reps_frame().set_index("rep_id")
    frame = info[["name", "lat", "lon"]].join(totals, how="left")
    weights = plan_weights(plan).reindex(frame.index)
    fair = weights / weights.sum() * frame["potential"].sum() if weights.sum() > 0 else np.nan
    frame["fair_potential"] = fair
    frame["fair_quota"] = (
        quota_fair(plan).reindex(frame.index) if plan.quotas is not None else np.nan
    )
    return frame.rename_axis("rep_id").reset_index()


def _rep_words(rep: pd.Series) -> str:
    name = f" {_esc(rep['name'])}" if rep["name"] and rep["name"] != rep["rep_id"] else ""
    lines = [f"<b>{_esc(rep['rep_id'])}</b>{name}"]
    lines.append(
        f"{number(rep['accounts'])} accounts, potential {number(rep['potential'])}"
        + _versus(rep["potential"], rep["fair_potential"])
    )
    lines.append(
        f"workload {number(rep['workload'])} of {number(rep['capacity'])} h "
        f"({number(100 * rep['utilization'])}%)"
    )
    if rep.get("quota", 0) and rep["fair_quota"] == rep["fair_quota"]:
        lines.append(f"quota {number(rep['quota'])}" + _versus(rep["quota"], rep["fair_quota"]))
    return "<br>".join(lines)


def _versus(value: float, fair: float) -> str:
    if fair != fair or not fair:
        return ""
    return f" = {number(100 * value / fair)}% of its fair share {number(fair)}"


def _region_traces(
    plan: Plan, accounts: pd.DataFrame, reps: pd.DataFrame, colours: dict[str, str]
) -> list[go.Scatter]:
    """Filled region polygons coloured by the rep holding most of their potential: one trace per
    region (its own hover), or above :data:`MERGE_FROM` regions one per territory (a browser
    draws thousands of traces slowly; the hover then gives the territory)."""
    polygons = region_polygons(plan.tables)
    share = accounts.groupby(["region_id", "rep_id"])["potential"].sum()
    names = _region_names(plan)
    by_rep = reps.set_index("rep_id", drop=False)
    parts: list[tuple[str, str, Any, str]] = []
    for region_id, geometry in polygons["geometry"].items():
        held = share.get(region_id, pd.Series(dtype=float)).sort_values(ascending=False)
        top = str(held.index[0]) if len(held) else ""
        words = [f"<b>region {_esc(region_id)}</b> {_esc(names.get(region_id, ''))}"]
        if len(held):
            shares = ", ".join(f"{_esc(r)} {v / held.sum():.0%}" for r, v in held.head(5).items())
            words.append(f"potential {number(held.sum())}: {shares}")
            words.append("territory of " + _rep_words(cast(pd.Series, by_rep.loc[top])))
        parts.append((str(region_id), top, geometry, "<br>".join(words)))
    if len(parts) > MERGE_FROM:
        merged = pd.DataFrame(parts, columns=["region", "top", "geometry", "words"])
        parts = [
            (
                f"territory {top}",
                str(top),
                shapely.union_all(list(group["geometry"])),
                "territory of " + _rep_words(cast(pd.Series, by_rep.loc[top]))
                if top in by_rep.index
                else "no owner",
            )
            for top, group in merged.groupby("top", sort=False)
        ]
    return [
        _polygon_trace(name, top, geometry, words, colours) for name, top, geometry, words in parts
    ]


def _polygon_trace(
    name: str, top: str, geometry: shapely.Geometry, words: str, colours: dict[str, str]
) -> go.Scatter:
    x, y = _rings(geometry)
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        fill="toself",
        name=name,
        meta="region",
        legendgroup=top,  # the territory the polygon is coloured by (for recolouring)
        fillcolor=alpha(colours.get(top, _GREY), 0.35),
        line={"color": "#ffffff", "width": 1.2},
        hoveron="fills",
        text=words,
        hoverinfo="text",
        showlegend=False,
    )


def _region_names(plan: Plan) -> dict[str, str]:
    regions = plan.tables.regions
    if regions is None or "name" not in regions.columns:
        return {}
    return dict(zip(regions["region_id"].astype(str), regions["name"].astype(str), strict=True))


def _rings(geometry: shapely.Geometry) -> tuple[list[float | None], list[float | None]]:
    """Exterior rings of a (multi)polygon as one x/y list, parts separated by None."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    parts = getattr(geometry, "geoms", [geometry])
    for part in parts:
        if part.is_empty or not hasattr(part, "exterior"):
            continue
        x, y = part.exterior.coords.xy
        xs += [*np.round(x, 5).tolist(), None]
        ys += [*np.round(y, 5).tolist(), None]
    return xs[:-1], ys[:-1]


def _account_trace(accounts: pd.DataFrame, colours: dict[str, str]) -> go.Scatter:
    potential = accounts["potential"].astype(float).clip(lower=0)
    top = float(potential.max()) if len(potential) and potential.max() > 0 else 1.0
    size = 4 + 14 * np.sqrt(potential / top)
    kind = go.Scattergl if len(accounts) >= WEBGL_FROM else go.Scatter
    return kind(
        x=_floats(accounts["lon"]),
        y=_floats(accounts["lat"]),
        mode="markers",
        name="accounts (size: potential)",
        meta="accounts",
        customdata=[
            [str(a), str(r)]
            for a, r in zip(accounts["account_id"], accounts["rep_id"], strict=True)
        ],
        text=list(accounts["hover"]),
        hoverinfo="text",
        marker={
            "size": _floats(size),
            "color": [colours.get(r, _GREY) for r in accounts["rep_id"]],
            "opacity": 0.85,
            "line": {
                "color": np.where(accounts["moved"], "#000000", "#ffffff").tolist(),
                "width": _floats(np.where(accounts["moved"], 1.6, 0.5)),
            },
        },
    )


def _floats(values: Any) -> list[float]:
    """Plain Python floats: Plotly writes numpy arrays to JSON as base64 typed arrays, which
    map.json readers (compare, the serve pages) would have to decode."""
    return [round(float(v), 6) for v in np.asarray(values, float)]


def _rep_trace(reps: pd.DataFrame, colours: dict[str, str]) -> go.Scatter:
    return go.Scatter(
        x=_floats(reps["lon"]),
        y=_floats(reps["lat"]),
        mode="markers",
        name="home bases",
        meta="reps",
        customdata=[str(r) for r in reps["rep_id"]],
        text=[_rep_words(r) for _, r in reps.iterrows()],
        hoverinfo="text",
        marker={
            "symbol": "star",
            "size": 16,
            "color": [colours.get(r, _GREY) for r in reps["rep_id"]],
            "line": {"color": "#000000", "width": 1},
        },
    )

"""The map on a page: the HTML fragment with its search box, and figure edits for comparisons.

:func:`map_html` wraps a :func:`allocator.report.map.territory_map` figure in an HTML fragment
with plotly.js embedded (no network: the page opens from a file or a mail attachment) and a
search box for account or rep ids; :func:`highlight_accounts` rings chosen accounts and
:func:`recolour` gives every rep one colour across maps (both work on figures read back from
``map.json``).
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from allocator.report.regions import alpha

__all__ = ["highlight_accounts", "map_html", "recolour", "rep_colours"]


def highlight_accounts(
    fig: go.Figure, account_ids: list[str], *, title: str | None = None
) -> go.Figure:
    """A copy of a :func:`territory_map` figure with ``account_ids`` ringed in black (and only
    those), e.g. the accounts whose owner differs between two plans; ``title`` replaces its
    title. Works on a figure read back from ``map.json``."""
    out = go.Figure(fig)
    wanted = set(map(str, account_ids))
    for trace in out.data:
        if trace.meta != "accounts":
            continue
        ids = [str(row[0]) for row in trace.customdata]
        hit = np.array([a in wanted for a in ids], bool)
        trace.marker.line.color = np.where(hit, "#000000", "#ffffff").tolist()
        trace.marker.line.width = np.where(hit, 2.0, 0.5).tolist()
    if title is not None:
        out.update_layout(title={"text": title})
    return out


def rep_colours(fig: go.Figure) -> dict[str, str]:
    """rep_id -> colour of a :func:`territory_map` figure (from its home-base trace)."""
    for trace in fig.data:
        if trace.meta == "reps":
            return {
                str(r): str(c) for r, c in zip(trace.customdata, trace.marker.color, strict=True)
            }
    return {}


def recolour(fig: go.Figure, colours: dict[str, str]) -> go.Figure:
    """A copy of a :func:`territory_map` figure with reps drawn in ``colours`` (rep_id -> colour;
    reps not named keep theirs), so two plans side by side show each rep in one colour."""
    out = go.Figure(fig)
    for trace in out.data:
        if trace.meta == "reps":
            keep = list(trace.marker.color)
            trace.marker.color = [
                colours.get(str(r), c) for r, c in zip(trace.customdata, keep, strict=True)
            ]
        elif trace.meta == "accounts":
            keep = list(trace.marker.color)
            rows = trace.customdata
            trace.marker.color = [
                colours.get(str(r[1]), c) for r, c in zip(rows, keep, strict=True)
            ]
        elif trace.meta == "region" and trace.legendgroup in colours:
            trace.fillcolor = alpha(colours[trace.legendgroup], 0.35)
    return out


def map_html(
    fig: go.Figure,
    *,
    div_id: str = "territory-map",
    include_plotlyjs: bool = True,
    height: int | None = None,
) -> str:
    """An HTML fragment: the figure with plotly.js embedded and a search box for account/rep ids.

    ``include_plotlyjs=False`` leaves plotly.js out (for a second map on a page that already
    embeds it). The search zooms to an account (ringed) or to a rep's accounts and home base,
    and says "not found" otherwise. Works offline; nothing is fetched. ``height`` (pixels)
    overrides the figure's.
    """
    if height is not None:
        fig = go.Figure(fig).update_layout(height=height)
    plot = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        div_id=div_id,
        config={
            "displaylogo": False,
            "scrollZoom": False,
            "responsive": True,
            "modeBarButtonsToRemove": ["lasso2d", "select2d"],
        },
    )
    found = _search_index(fig)
    index = json.dumps(found, ensure_ascii=False, separators=(",", ":"))
    firsts = (
        next((k for k, v in found.items() if v[0] == kind), "") for kind in ("account", "rep")
    )
    example = html.escape(" or ".join(k for k in firsts if k) or "an id")
    return (
        f'<div class="map-search"><label>Find account or rep id '
        f'<input type="search" id="{div_id}-q" placeholder="e.g. {example}"></label> '
        f'<span id="{div_id}-msg" class="note"></span></div>\n{plot}\n'
        f"<script>({_SEARCH_JS})({json.dumps(div_id)}, {index});</script>"
    )


def _search_index(fig: go.Figure) -> dict[str, list[Any]]:
    """id -> ["account", x, y, owner] or ["rep", x, y] for every account and rep of the figure."""
    out: dict[str, list[Any]] = {}
    for trace in fig.data:
        if trace.meta == "accounts":
            for (a, r), x, y in zip(trace.customdata, trace.x, trace.y, strict=True):
                out[str(a)] = ["account", float(x), float(y), str(r)]
        elif trace.meta == "reps":
            for r, x, y in zip(trace.customdata, trace.x, trace.y, strict=True):
                out[str(r)] = ["rep", float(x), float(y)]
    return out


_SEARCH_JS = """function (id, index) {
  var box = document.getElementById(id + '-q'), msg = document.getElementById(id + '-msg');
  function find(q) {
    if (index[q]) return q;
    var up = q.toUpperCase();
    for (var k in index) { if (k.toUpperCase() === up) return k; }
    return null;
  }
  box.addEventListener('change', function () {
    var plot = document.getElementById(id), key = find(box.value.trim());
    var h = plot.data.findIndex(function (t) { return t.meta === 'highlight'; });
    if (!key) {
      msg.textContent = box.value.trim() ? 'no account or rep "' + box.value.trim() + '"' : '';
      Plotly.restyle(plot, {x: [[]], y: [[]]}, [h]);
      Plotly.relayout(plot, {'xaxis.autorange': true, 'yaxis.autorange': true});
      return;
    }
    var hit = index[key], xs = [hit[1]], ys = [hit[2]];
    if (hit[0] === 'rep') {
      for (var k in index) {
        if (index[k][0] === 'account' && index[k][3] === key) {
          xs.push(index[k][1]); ys.push(index[k][2]);
        }
      }
    }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var px = Math.max(x1 - x0, 0.2) * 0.3, py = Math.max(y1 - y0, 0.2) * 0.3;
    Plotly.restyle(plot, {x: [xs], y: [ys], 'marker.size': hit[0] === 'rep' ? 14 : 26}, [h]);
    Plotly.relayout(plot, {'xaxis.range': [x0 - px, x1 + px], 'yaxis.range': [y0 - py, y1 + py]});
    var what = hit[0] === 'rep' ? ': ' + (xs.length - 1) + ' accounts ringed' : ', owner ' + hit[3];
    msg.textContent = hit[0] + ' ' + key + what + ' (double-click the map for the whole plan)';
  });
}"""

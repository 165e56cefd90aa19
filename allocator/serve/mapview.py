"""The map of the plan under edit: the report's territory map, restyled after every edit.

:class:`EditMap` draws the report's :func:`allocator.report.map.territory_map` once, when the
plan is opened (region polygons, account points, home bases, the territory colours), and keeps
it as a plain dict in Plotly's JSON schema. After an edit, :meth:`EditMap.figure` changes only
what an edit changes, without building the figure again (on the demo that takes seconds):
each account's colour (its rep's), ring (red: it breaks a rule or its rep does; black: moved
from its incumbent), symbol (diamond: locked) and hover; each region's fill (the rep holding
most of its potential); the home bases' rings and hovers. The account points keep
``customdata = [account_id, rep_id]``, so a click or a lasso in the page selects accounts, and
a click on a region selects its accounts.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from allocator.plan import Plan
from allocator.report.map import territory_map
from allocator.report.regions import territory_colours
from allocator.serve.recompute import Context, Evaluation

__all__ = ["EditMap"]

GREY = "#9aa3b2"
RED = "#d62728"


def _alpha(colour: str, alpha: float) -> str:
    if not colour.startswith("#") or len(colour) != 7:
        return colour
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


class EditMap:
    """The opened plan's territory map, restyled for each version of the plan under edit."""

    def __init__(self, plan: Plan, ctx: Context, *, title: str = "", height: int = 640) -> None:
        self.ctx = ctx
        owners = plan.owners.reindex(ctx.accounts.index)
        self.colours = territory_colours(
            owners, plan.tables.active_accounts, plan.tables.adjacency, list(ctx.reps.index)
        )
        empty = pd.DataFrame({"account_id": pd.Series(dtype=str)})  # hovers are redone per edit
        fig = territory_map(plan, explanations=empty, title=title, height=height)
        self.base: dict[str, Any] = fig.to_plotly_json()
        self.base["layout"].update(
            dragmode="lasso", clickmode="event+select", uirevision="keep", showlegend=False
        )
        metas = [t.get("meta") for t in self.base["data"]]
        self.account_trace = metas.index("accounts")
        self.rep_trace = metas.index("reps")
        self.regions = {
            i: str(t.get("name"))
            for i, t in enumerate(self.base["data"])
            if t.get("meta") == "region"
        }
        ids = [str(row[0]) for row in self.base["data"][self.account_trace]["customdata"]]
        self.order = pd.Index(ids)  # the points' order in the figure
        self.acc = ctx.accounts.reindex(self.order)

    def figure(
        self, owners: pd.Series, locked: frozenset[str], evaluation: Evaluation
    ) -> dict[str, Any]:
        """The map for ``owners`` (account_id -> rep_id): a JSON-able Plotly figure dict."""
        fig = {"data": list(self.base["data"]), "layout": self.base["layout"]}
        owner = owners.reindex(self.order).astype(str)
        flagged_reps = {v.rep for v in evaluation.violations if v.rep}
        flagged = {v.account for v in evaluation.violations if v.account}
        fig["data"][self.account_trace] = self._accounts(owner, locked, flagged_reps, flagged)
        fig["data"][self.rep_trace] = self._reps(evaluation, flagged_reps)
        top = self._top_rep(owner)
        for i, region in self.regions.items():
            trace = dict(fig["data"][i])
            trace["fillcolor"] = _alpha(self.colours.get(top.get(region, ""), GREY), 0.35)
            fig["data"][i] = trace
        return fig

    def _top_rep(self, owner: pd.Series) -> dict[str, str]:
        """Region -> the rep holding most of its potential."""
        frame = pd.DataFrame(
            {
                "region": self.acc["region_id"].astype(str).to_numpy(),
                "rep": owner.to_numpy(),
                "v": self.acc["potential"].to_numpy(float),
            }
        )
        top = frame.groupby(["region", "rep"])["v"].sum().groupby(level=0).idxmax()
        return {str(g): str(pair[1]) for g, pair in top.items()}

    def _accounts(
        self, owner: pd.Series, locked: frozenset[str], reps: set[str], accounts: set[str]
    ) -> dict[str, Any]:
        acc = self.acc
        trace = copy.copy(self.base["data"][self.account_trace])
        marker = dict(trace["marker"])
        bad = owner.isin(reps).to_numpy() | self.order.isin(list(accounts))
        incumbent = acc["incumbent_rep_id"].astype(str)
        moved = ((incumbent != "") & (incumbent != owner)).to_numpy()
        is_locked = self.order.isin(list(locked))
        marker["color"] = [self.colours.get(r, GREY) for r in owner]
        marker["symbol"] = ["diamond" if k else "circle" for k in is_locked]
        marker["line"] = {
            "color": [
                RED if b else ("#000000" if m else "#ffffff")
                for b, m in zip(bad, moved, strict=True)
            ],
            "width": [2.5 if b else (1.6 if m else 0.5) for b, m in zip(bad, moved, strict=True)],
        }
        trace["marker"] = marker
        trace["customdata"] = [[a, r] for a, r in zip(self.order, owner, strict=True)]
        names = self.ctx.reps["name"].reindex(owner.to_numpy()).to_numpy()
        trace["text"] = [
            f"<b>{a}</b> ({seg})<br>owner <b>{r}</b> {n}, incumbent {i or 'none'}"
            f"{' (moved)' if m else ''}<br>potential {p:,.0f}, workload {w:,.0f} h"
            + ("<br>locked" if k else "")
            + ("<br><b>breaks a rule</b> (see the panel)" if b else "")
            for a, seg, r, n, i, m, p, w, k, b in zip(
                self.order, acc["segment"], owner, names, incumbent, moved,
                acc["potential"], acc["workload"], is_locked, bad, strict=True,
            )
        ]  # fmt: skip
        trace["selected"] = {"marker": {"opacity": 1.0}}
        trace["unselected"] = {"marker": {"opacity": 0.35}}
        return trace

    def _reps(self, evaluation: Evaluation, flagged: set[str]) -> dict[str, Any]:
        trace = copy.copy(self.base["data"][self.rep_trace])
        ids = [str(r) for r in trace["customdata"]]
        totals = evaluation.reps.set_index("rep_id").reindex(ids)
        marker = dict(trace["marker"])
        marker["line"] = {
            "color": [RED if r in flagged else "#000000" for r in ids],
            "width": [3 if r in flagged else 1 for r in ids],
        }
        trace["marker"] = marker
        trace["text"] = [
            f"<b>{r}</b> {row['name']}<br>{row['accounts']:.0f} accounts, potential "
            f"{row['potential']:,.0f} ({row['fair_ratio']:.0%} of fair)<br>utilisation "
            f"{row['utilization']:.0%}" + (" <b>breaks a rule</b>" if r in flagged else "")
            for r, row in totals.iterrows()
        ]
        return trace

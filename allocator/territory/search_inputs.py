"""The dense data of the contiguity method, from an arc problem (``models/assignment.md``).

:func:`search_inputs` gives the region graph of the items with the home rule applied
(:class:`~allocator.territory.grow.Graph`) and the per-rep rows with their bounds, fair shares
and deviation weights (:class:`~allocator.territory.grow.Rows`), as numpy arrays that the
construction, the searches and the flow model share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from allocator.territory.contiguity import Contiguity, components, home_rules
from allocator.territory.core import ArcProblem
from allocator.territory.grow import Graph, Rows

__all__ = ["search_inputs"]


def search_inputs(problem: ArcProblem, contiguity: Contiguity) -> tuple[Graph, Rows]:
    """The dense data of the construction, the searches and the flow model.

    Rows with ``axis: rep`` become :class:`Rows` (a measure's ``balance_lo``, ``balance_hi`` and
    ``deviation`` merge into one row); rows over all items (``max_moved``) are left to the
    final check.
    """
    _n, _m = problem.shape
    size = len(contiguity.regions)
    items_in: list[list[int]] = [[] for _ in range(size)]
    for i, g in enumerate(contiguity.groups.tolist()):
        items_in[g].append(i)
    rules = home_rules(contiguity, problem.eligible)
    graph = Graph(
        region=contiguity.groups,
        component=components(contiguity),
        per_component=contiguity.per_component,
        neighbours=tuple(tuple(sorted(contiguity.graph.neighbors(g))) for g in range(size)),
        items_in=tuple(tuple(x) for x in items_in),
        root=rules.root,
        fixed=rules.fixed,
        first=rules.first,
        eligible=rules.eligible,
        cost=np.asarray(problem.cost, float),
        districts=contiguity.districts,
    )
    return graph, _rows(problem)


def _rows(problem: ArcProblem) -> Rows:
    n, m = problem.shape
    table: dict[str, dict[str, Any]] = {}
    for family in problem.families:
        if family.axis != "rep":
            continue
        key = family.key
        for prefix in ("balance_lo_", "balance_hi_", "deviation_"):
            key = key.removeprefix(prefix)
        row = table.setdefault(
            key,
            {
                "coef": np.ascontiguousarray(np.broadcast_to(family.coef, (n, m)), float),
                "lo": np.full(m, -np.inf),
                "hi": np.full(m, np.inf),
                "target": None,
                "dev": np.zeros(m),
                "spread": key != family.key,
                "name": key,
            },
        )
        rhs = np.asarray(family.rhs, float)
        if family.deviation is not None:
            row["target"] = rhs
            row["dev"] = np.asarray(family.deviation, float) * problem.balance_weight
        elif family.sense in ("<=", "=="):
            row["hi"] = rhs
        if family.deviation is None and family.sense in (">=", "=="):
            row["lo"] = rhs
    for row in table.values():
        lo, hi = row["lo"], row["hi"]
        if row["target"] is None:
            both = np.isfinite(lo) & np.isfinite(hi)
            row["target"] = np.where(both, (lo + hi) / 2, np.where(np.isfinite(hi), hi, lo))
    rows = list(table.values())
    fill = next((k for k, row in enumerate(rows) if row["spread"]), 0 if rows else None)
    return Rows(
        coef=tuple(r["coef"] for r in rows),
        lo=tuple(r["lo"] for r in rows),
        hi=tuple(r["hi"] for r in rows),
        target=tuple(r["target"] for r in rows),
        dev=tuple(r["dev"] for r in rows),
        scale=tuple(np.maximum(np.abs(np.nan_to_num(r["target"], nan=1.0)), 1.0) for r in rows),
        spread=tuple(bool(r["spread"]) for r in rows),
        names=tuple(str(r["name"]) for r in rows),
        fill=fill,
    )

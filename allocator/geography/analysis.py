"""What the region graph alone says about a territory before anything is solved.

:func:`analyse_graph` is a pure function of the input tables and a few settings. It finds the
connected components of the region graph among the regions that hold accounts (a region without
accounts belongs to no territory, so it never joins two pieces), the islands (every component
but the largest), the regions without accounts, and the components where no rep can go. With
balance bands it also proves infeasibility that needs no solver: a unit (a region at
``level: region``, else an account) whose potential exceeds every eligible rep's upper band, or
a component whose resident reps cannot carry its potential within the band; each such finding
carries the smallest tolerance that could admit it. The rules are those of
``models/assignment.md`` (rules ``home[r]`` and ``contiguity[r]``); ``allocator validate`` prints
the result and the contiguity solver calls it before solving, so that it never loops on what
the graph can decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from allocator.geography.components import (
    BalanceBands,
    Component,
    Finding,
    find_components,
    graph_inputs,
)
from allocator.geography.findings import balance_findings, graph_findings

__all__ = [
    "BalanceBands",
    "Component",
    "Finding",
    "GraphAnalysis",
    "analyse_graph",
    "format_analysis",
]


@dataclass(frozen=True)
class GraphAnalysis:
    """The result of :func:`analyse_graph` (components largest first)."""

    components: tuple[Component, ...]
    component_of: Mapping[str, int]
    empty_regions: tuple[str, ...]
    links: int
    findings: tuple[Finding, ...] = field(default=())

    @property
    def connected(self) -> bool:
        return len(self.components) <= 1

    @property
    def infeasible(self) -> tuple[Finding, ...]:
        """The findings that prove no plan exists (empty: the graph proves nothing)."""
        return tuple(f for f in self.findings if f.infeasible)

    @property
    def min_tolerance(self) -> float | None:
        """Smallest tolerance every infeasible finding needs, or None (none, or not enough)."""
        proofs = self.infeasible
        if not proofs or any(f.min_tolerance is None for f in proofs):
            return None
        return max(f.min_tolerance for f in proofs if f.min_tolerance is not None)


def analyse_graph(
    regions: pd.DataFrame | None,
    adjacency: pd.DataFrame | None,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    level: str = "account",
    include_home: bool = True,
    per_component: bool = False,
    contiguity: bool = True,
    balance: BalanceBands | None = None,
) -> GraphAnalysis:
    """Describe the region graph of a territory problem and what it proves.

    ``regions``: ``region_id``, ``name`` (optional ``lat``, ``lon``) or None; ``adjacency``:
    ``region_a``, ``region_b`` or None (no links); ``accounts``: the active accounts'
    ``account_id``, ``region_id``, ``lat``, ``lon``, ``potential`` (and ``workload`` when a band
    uses it); ``reps``: the active reps' ``rep_id``, ``region_id``. ``level``, ``include_home``
    and ``per_component`` are the scenario's (``assignment.level``,
    ``constraints.contiguity.*``); ``contiguity`` false (the rule is off) keeps only what holds
    without it (components, oversized units); ``balance`` the bands of ``constraints.balance``.
    Pure: reads its arguments only.
    """
    inputs = graph_inputs(
        regions,
        adjacency,
        accounts,
        reps,
        level=level,
        include_home=include_home,
        per_component=per_component,
        contiguity=contiguity,
    )
    components, component_of = find_components(inputs)
    serviced = set(component_of)
    known = set(inputs.graph.nodes)
    empty = tuple(sorted(known - serviced))
    findings = graph_findings(inputs, components, empty)
    if balance is not None:
        findings += balance_findings(inputs, components, component_of, balance)
    links = inputs.graph.number_of_edges()
    return GraphAnalysis(components, component_of, empty, links, tuple(findings))


# ---------------------------------------------------------------- report


def format_analysis(analysis: GraphAnalysis, *, limit: int = 12) -> str:
    """The lines ``allocator validate`` prints: at most ``limit`` components and findings."""
    comps = analysis.components
    total = sum(c.potential for c in comps)
    n_regions = sum(c.size for c in comps) + len(analysis.empty_regions)
    shape = "connected" if analysis.connected else f"{len(comps)} components"
    lines = [f"region graph: {n_regions} regions, {analysis.links} links, {shape}"]
    for c in comps[:limit]:
        kind = "island" if c.island else "component"
        names = ", ".join(c.names[:3]) + (", ..." if c.size > 3 else "")
        share = f" ({c.potential / total:.1%})" if total > 0 else ""
        reps = ", ".join(c.reps[:8]) + (", ..." if len(c.reps) > 8 else "") if c.reps else "none"
        lines.append(
            f"  {kind} {c.number}: {c.size} region{'s' if c.size > 1 else ''} ({names}), "
            f"{c.accounts} account{'s' if c.accounts != 1 else ''}, "
            f"potential {c.potential:,.0f}{share}; "
            f"reps living there: {reps}"
        )
    if len(comps) > limit:
        lines.append(f"  ... and {len(comps) - limit} more components")
    # proofs first: they are what a planner must act on
    findings = sorted(analysis.findings, key=lambda f: not f.infeasible)
    for f in findings[:limit]:
        mark = "infeasible" if f.infeasible else "note"
        lines.append(f"  {mark}: {f.message}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more findings")
    return "\n".join(lines)

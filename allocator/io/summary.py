"""A description of input tables: the numbers ``allocator validate`` prints.

:func:`describe` counts rows, active reps and accounts, capacity against workload, potential
per product, segments and whether the region graph is connected; :func:`format_description`
writes those numbers as a short readable summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allocator.io.tables import TABLE_NAMES, Tables, potential_by_product

__all__ = ["describe", "format_description"]


def describe(tables: Tables) -> dict[str, Any]:
    """The numbers ``allocator validate`` prints, as plain python values.

    Keys: ``rows`` (table -> row count, given tables only), ``active_reps``,
    ``active_accounts``, ``capacity`` (active reps), ``workload`` (active accounts),
    ``workload_ratio`` (workload / capacity, ``None`` without capacity), ``potential``
    (product -> potential of the active accounts), ``total_potential``, ``regions``,
    ``region_components`` and ``regions_connected`` (region graph of regions and adjacency;
    ``None`` without regions) and ``segments`` (segment -> number of active accounts).
    """
    reps, accounts = tables.active_reps, tables.active_accounts
    capacity, workload = float(reps["capacity"].sum()), float(accounts["workload"].sum())
    potential = potential_by_product(tables).reindex(accounts["account_id"]).fillna(0.0).sum()
    components = _region_components(tables)
    segments = accounts["segment"].value_counts().sort_index()
    return {
        "rows": {n: len(f) for n in TABLE_NAMES if (f := getattr(tables, n)) is not None},
        "active_reps": len(reps),
        "active_accounts": len(accounts),
        "capacity": capacity,
        "workload": workload,
        "workload_ratio": workload / capacity if capacity > 0 else None,
        "potential": {str(p): float(v) for p, v in potential.items()},
        "total_potential": float(potential.sum()),
        "regions": None if tables.regions is None else len(tables.regions),
        "region_components": components,
        "regions_connected": None if components is None else components == 1,
        "segments": {str(s): int(n) for s, n in segments.items()},
    }


def _region_components(tables: Tables) -> int | None:
    if tables.regions is None:
        return None
    # Imported here, not at the top: networkx is slow to import and `validate` starts often.
    import networkx as nx

    from allocator.geography.graph import region_graph

    graph = region_graph(list(tables.regions["region_id"]), tables.adjacency)
    return int(nx.number_connected_components(graph))


def format_description(d: Mapping[str, Any]) -> str:
    """A short, readable multi-line summary of :func:`describe`'s numbers."""
    rows = ", ".join(f"{name} {n}" for name, n in d["rows"].items())
    ratio = d["workload_ratio"]
    load = f"{ratio:.1%} of capacity" if ratio is not None else "no capacity"
    total = d["total_potential"]
    shares = ", ".join(
        f"{p} {v:,.0f} ({v / total:.0%})" if total else f"{p} {v:,.0f}"
        for p, v in d["potential"].items()
    )
    lines = [
        f"tables:    {rows}",
        f"reps:      {d['active_reps']} active, capacity {d['capacity']:,.0f}",
        f"accounts:  {d['active_accounts']} active, workload {d['workload']:,.0f} ({load})",
        f"potential: {total:,.0f} in total: {shares}",
        f"segments:  {', '.join(f'{s} {n}' for s, n in d['segments'].items()) or 'none'}",
    ]
    if d["regions"] is not None:
        parts = d["region_components"]
        shape = "connected" if d["regions_connected"] else f"NOT connected ({parts} components)"
        lines.append(f"regions:   {d['regions']}, region graph {shape}")
    return "\n".join(lines)

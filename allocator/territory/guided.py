"""LP-guided contiguous plans for large account-level maps: bridge the LP's pieces, keep its arcs.

At account level the relaxation without contiguity (the priced LP) is nearly integral and nearly
connected: a rep's plan is its main territory plus a few outlying pieces (a large account it
picks up for balance). :func:`bridge` joins each rep's pieces by the cheapest chain of regions
between them, taking one item per region on the chain (a rep serves a region as soon as it holds
one of its accounts), so the LP's plan stays almost as it is instead of being cut back and
regrown. :func:`guided_graph` keeps each item's arcs whose LP reduced cost is small, plus the
arcs of given plans; the flow model of every rep over those arcs is small enough to solve
(reduced-cost arc fixing as a heuristic, not a proof: Nemhauser & Wolsey 1988, II.2.3; the LP
bound stays the bound).

Shapes: ``n`` items, ``m`` reps, ``G`` regions; costs in objective units.
"""

from __future__ import annotations

import heapq
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from allocator.territory.grow import Graph, PlanState, Rows, pieces

__all__ = ["bridge", "guided_graph"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Most chains laid per rep (each joins at least one piece).
MAX_CHAINS = 50


def bridge(graph: Graph, rows: Rows, assign: IntArray) -> IntArray:
    """``assign`` (complete, (n,)) with each rep's pieces joined to its main piece by chains.

    The main piece holds the rep's root (else the most items). A chain is a cheapest path of
    regions from the main piece to another piece, a region's price being the smallest extra
    cost (``cost[i, r] - cost[i, owner]``, floored at 0) of an item there that its owner can give
    up without splitting its own territory (:meth:`PlanState.can_leave`). Pieces no chain reaches
    stay (the caller cuts them back). Rows are not looked at: the result may violate them.
    With ``per_component`` only pieces in a component of a main piece are joined.
    """
    state = PlanState(graph, rows, assign)
    for r in range(graph.cost.shape[1]):
        for _ in range(MAX_CHAINS):
            chain = _chain(state, r)
            if not chain:
                break
            for i in chain:
                state.move(i, r)
    return state.assign


def _chain(state: PlanState, r: int) -> list[int]:
    """Items of the cheapest chain joining a piece of rep ``r`` to its main piece ([]: none)."""
    graph = state.g
    parts = pieces(graph, set(state.count[r]))
    if len(parts) <= 1:
        return []
    root = int(graph.root[r])
    main = next(
        (p for p in parts if root in p),
        max(parts, key=lambda p: sum(state.count[r][g] for g in p)),
    )
    comps = {int(graph.component[g]) for g in main}
    others = {
        g
        for p in parts
        if p is not main and (not graph.per_component or graph.component[next(iter(p))] in comps)
        for g in p
    }
    return _cheapest_path(state, r, main, others) if others else []


def _cheapest_path(state: PlanState, r: int, main: set[int], targets: set[int]) -> list[int]:
    """Dijkstra over regions with non-negative region prices (:func:`_entry`)."""
    graph = state.g
    dist = dict.fromkeys(main, 0.0)
    prev: dict[int, tuple[int, int]] = {}
    entry: dict[int, tuple[float, int]] = {}
    heap = [(0.0, g) for g in main]
    heapq.heapify(heap)
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        if u in targets:
            chain = []
            while u in prev:
                u, i = prev[u]
                if i >= 0:
                    chain.append(i)
            return chain
        for v in graph.neighbours[u]:
            if v in targets:
                w, i = 0.0, -1
            else:
                if v not in entry:
                    entry[v] = _entry(state, r, v)
                w, i = entry[v]
                if i < 0:
                    continue
            if d + w < dist.get(v, np.inf):
                dist[v], prev[v] = d + w, (u, i)
                heapq.heappush(heap, (d + w, v))
    return []


def _entry(state: PlanState, r: int, g: int) -> tuple[float, int]:
    """(price, item) of the cheapest item of region ``g`` rep ``r`` may take; item -1: none."""
    graph = state.g
    best, arg = np.inf, -1
    for i in graph.items_in[g]:
        owner = int(state.assign[i])
        if owner == r or not graph.eligible[i, r]:
            continue
        w = max(float(graph.cost[i, r] - graph.cost[i, owner]), 0.0) + 1e-9
        if w < best and state.can_leave(i):
            best, arg = w, i
    return best, arg


def guided_graph(
    graph: Graph, reduced: FloatArray | None, plans: list[IntArray], threshold: float
) -> Graph:
    """``graph`` keeping only the arcs with reduced cost at most ``threshold`` (objective units)
    and the arcs the ``plans`` ((n,) each, -1 = none) use.

    ``reduced`` (n, m) are the LP's reduced costs (>= 0); when None, each arc's cost above its
    item's cheapest eligible arc stands in for them. Fixed items keep their arc.
    """
    if reduced is None:
        cost = np.where(graph.eligible, graph.cost, np.inf)
        reduced = cost - cost.min(axis=1, keepdims=True)
    keep = graph.eligible & (reduced <= threshold)
    items = np.arange(len(graph.region))
    for plan in plans:
        ok = plan >= 0
        keep[items[ok], plan[ok]] = True
    fixed = graph.fixed >= 0
    keep[items[fixed], graph.fixed[fixed]] = True
    return replace(graph, eligible=keep & graph.eligible)

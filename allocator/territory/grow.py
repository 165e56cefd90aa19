"""Contiguous territories without a solver: region growing from the home bases.

:func:`grow` builds a plan in which every rep's served regions are connected: each rep starts at
its root (home) region and the rep furthest below its fair share takes its cheapest unassigned
neighbouring item, until nothing is left (as districting heuristics since Vickrey 1961 and
Mehrotra, Johnson & Nemhauser 1998 grow districts). :class:`PlanState` keeps a complete plan with
its row activities and the regions each rep serves, so that a move's effect and whether it keeps
territories connected cost O(rows) and one graph search; :mod:`allocator.territory.local_search`
uses it. :func:`allocator.territory.search_inputs.search_inputs` builds the dense data.

Shapes: ``n`` items (accounts, or regions at ``level: region``), ``m`` reps, ``G`` regions.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Graph", "PlanState", "Rows", "connected_part", "grow", "pieces"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Graph:
    """Items on the region graph: ``region[i]``, neighbours and items per region, home rule.

    ``component[g]`` numbers the connected components of the region graph; with
    ``per_component`` a rep's served regions must be connected within each component only.
    ``root[r]`` is the region rep ``r`` must serve (its home), -1 when none; ``fixed[i]`` is the
    rep item ``i`` must go to, -1 when free; ``first[i]`` a rep to start from (-1: none);
    ``eligible`` (n, m) the allowed arcs and ``cost`` (n, m) their objective coefficients.
    """

    region: IntArray
    component: IntArray
    per_component: bool
    neighbours: tuple[tuple[int, ...], ...]
    items_in: tuple[tuple[int, ...], ...]
    root: IntArray
    fixed: IntArray
    first: IntArray
    eligible: npt.NDArray[np.bool_]
    cost: FloatArray
    #: ``(manager_id, rep indices)`` whose territories must together be connected
    districts: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class Rows:
    """The per-rep rows as dense arrays: ``coef[k]`` (n, m), bounds ``lo[k]``/``hi[k]`` (m,).

    ``target[k]`` is the fair share of a balance row (else its bound); a row with a deviation
    weight ``dev[k]`` (m,) > 0 adds ``dev * |activity - target|`` to the objective; ``spread[k]``
    marks balance rows; violations are measured relative to ``scale[k]``.
    """

    coef: tuple[FloatArray, ...]
    lo: tuple[FloatArray, ...]
    hi: tuple[FloatArray, ...]
    target: tuple[FloatArray, ...]
    dev: tuple[FloatArray, ...]
    scale: tuple[FloatArray, ...]
    spread: tuple[bool, ...]
    names: tuple[str, ...]
    fill: int | None  # the row whose share of its target steers the growth


def _row_penalty(value: float, lo: float, hi: float, scale: float) -> float:
    if value > hi:
        return (value - hi) / scale
    if value < lo:
        return (lo - value) / scale
    return 0.0


class PlanState:
    """A complete assignment with its activities and the regions each rep serves."""

    def __init__(self, graph: Graph, rows: Rows, assign: IntArray, spread: float = 0.0) -> None:
        self.g, self.rows, self.spread = graph, rows, spread
        self.assign = assign.copy()
        m = graph.cost.shape[1]
        n = len(assign)
        self.count: list[dict[int, int]] = [{} for _ in range(m)]
        self.reps_in: list[dict[int, int]] = [{} for _ in range(len(graph.items_in))]
        for i, r in enumerate(self.assign.tolist()):
            if r >= 0:
                self._add(i, r)
        idx = np.arange(n)
        ok = self.assign >= 0
        self.act = [
            np.bincount(self.assign[ok], weights=c[idx[ok], self.assign[ok]], minlength=m)
            for c in rows.coef
        ]

    def _add(self, i: int, r: int) -> None:
        g = int(self.g.region[i])
        self.count[r][g] = self.count[r].get(g, 0) + 1
        self.reps_in[g][r] = self.reps_in[g].get(r, 0) + 1

    def _remove(self, i: int, r: int) -> None:
        g = int(self.g.region[i])
        for table, key in ((self.count[r], g), (self.reps_in[g], r)):
            table[key] -= 1
            if not table[key]:
                del table[key]

    def move(self, i: int, r: int) -> None:
        """Give item ``i`` to rep ``r`` (from its current rep, if any)."""
        old = int(self.assign[i])
        if old >= 0:
            self._remove(i, old)
            for c, a in zip(self.rows.coef, self.act, strict=True):
                a[old] -= c[i, old]
        self.assign[i] = r
        self._add(i, r)
        for c, a in zip(self.rows.coef, self.act, strict=True):
            a[r] += c[i, r]

    def rep_score(self, r: int, act: Sequence[float]) -> tuple[float, float]:
        """(violation, deviation objective) of rep ``r``'s rows at activities ``act``."""
        rows = self.rows
        v = z = 0.0
        for k, value in enumerate(act):
            v += _row_penalty(value, rows.lo[k][r], rows.hi[k][r], rows.scale[k][r])
            if rows.dev[k][r]:
                z += rows.dev[k][r] * abs(value - rows.target[k][r])
            if self.spread and rows.spread[k]:
                v += self.spread * ((value - rows.target[k][r]) / rows.scale[k][r]) ** 2
        return v, z

    def delta(self, i: int, b: int) -> tuple[float, float]:
        """Change of (violation, objective) when item ``i`` moves to rep ``b``."""
        a = int(self.assign[i])
        coef = self.rows.coef
        va0, za0 = self.rep_score(a, [x[a] for x in self.act])
        vb0, zb0 = self.rep_score(b, [x[b] for x in self.act])
        va1, za1 = self.rep_score(a, [x[a] - c[i, a] for x, c in zip(self.act, coef, strict=True)])
        vb1, zb1 = self.rep_score(b, [x[b] + c[i, b] for x, c in zip(self.act, coef, strict=True)])
        dz = za1 + zb1 - za0 - zb0 + self.g.cost[i, b] - self.g.cost[i, a]
        return va1 + vb1 - va0 - vb0, dz

    def totals(self) -> tuple[float, float]:
        m = self.g.cost.shape[1]
        v = z = 0.0
        for r in range(m):
            dv, dz = self.rep_score(r, [x[r] for x in self.act])
            v, z = v + dv, z + dz
        z += float(self.g.cost[np.arange(len(self.assign)), self.assign].sum())
        return v, z

    def can_leave(self, i: int) -> bool:
        """Whether item ``i`` may leave its rep without splitting the rep's served regions."""
        a, g = int(self.assign[i]), int(self.g.region[i])
        if self.g.fixed[i] >= 0:
            return False
        if self.count[a][g] > 1:
            return True
        if g == self.g.root[a]:
            return False
        return _connected_without(self.g, self.count[a], g)

    def can_join(self, i: int, b: int) -> bool:
        g = int(self.g.region[i])
        served = self.count[b]
        if not self.g.eligible[i, b]:
            return False
        if g in served or not served or any(h in served for h in self.g.neighbours[g]):
            return True
        return self.g.per_component and self.absent(b, g)

    def absent(self, b: int, g: int) -> bool:
        """Whether rep ``b`` serves nothing in the component of region ``g``."""
        comp = self.g.component
        return all(comp[h] != comp[g] for h in self.count[b])

    def candidates(self, i: int) -> set[int]:
        g = int(self.g.region[i])
        out = set(self.reps_in[g])
        for h in self.g.neighbours[g]:
            out.update(self.reps_in[h])
        if self.g.per_component:
            out.update(b for b in range(len(self.count)) if self.absent(b, g))
        out.discard(int(self.assign[i]))
        return {b for b in out if self.g.eligible[i, b]}


def _connected_without(graph: Graph, served: dict[int, int], g: int) -> bool:
    """Whether the regions ``served`` minus ``g`` stay connected (depth-first search); with
    ``per_component``, only those in the component of ``g``."""
    part = served
    if graph.per_component:
        comp = graph.component
        part = {h: 1 for h in served if comp[h] == comp[g]}
    left = len(part) - 1
    if left <= 1:
        return True
    start = next(h for h in part if h != g)
    seen = {start, g}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in graph.neighbours[u]:
            if v not in seen and v in part:
                seen.add(v)
                stack.append(v)
    return len(seen) - 1 == left


def grow(
    graph: Graph,
    rows: Rows,
    rng: np.random.Generator,
    *,
    start: IntArray | None = None,
    noise: float = 0.0,
) -> IntArray:
    """A plan grown from the roots (and from ``start``, a connected partial plan, -1 = free):
    each rep's served regions are connected.

    Items no rep can reach through the region graph (a part of the map where no rep lives) stay
    -1. ``noise`` (0: none) randomises the costs by up to that share, for restarts.
    """
    _n, m = graph.cost.shape
    if start is None:
        start = graph.first
    given = np.where(graph.fixed >= 0, graph.fixed, start)
    state = PlanState(graph, rows, given)
    cost = graph.cost * (1.0 + noise * rng.random(graph.cost.shape)) if noise else graph.cost
    heaps: list[list[tuple[float, int]]] = [[] for _ in range(m)]

    def reach(r: int, g: int) -> None:
        for h in (g, *graph.neighbours[g]):
            for i in graph.items_in[h]:
                if state.assign[i] < 0 and graph.eligible[i, r]:
                    heapq.heappush(heaps[r], (float(cost[i, r]), i))

    for r in range(m):
        for g in list(state.count[r]):
            reach(r, g)
        root = int(graph.root[r])
        if root >= 0 and root not in state.count[r]:
            mine = [i for i in graph.items_in[root] if state.assign[i] < 0 and graph.eligible[i, r]]
            if mine:
                state.move(min(mine, key=lambda i: cost[i, r]), r)
            reach(r, root)
    for r in range(m):  # reps without a root start at their cheapest free item
        free = np.flatnonzero((state.assign < 0) & graph.eligible[:, r])
        if not state.count[r] and len(free):
            i = int(free[np.argmin(cost[free, r])])
            state.move(i, r)
            reach(r, int(graph.region[i]))
    order = [(_fill(state, r), r) for r in range(m)]
    heapq.heapify(order)
    while True:
        while order:
            _, r = heapq.heappop(order)
            while heaps[r] and state.assign[heaps[r][0][1]] >= 0:
                heapq.heappop(heaps[r])
            if not heaps[r]:
                continue  # closed: nothing left next to this territory
            _, i = heapq.heappop(heaps[r])
            state.move(i, r)
            reach(r, int(graph.region[i]))
            heapq.heappush(order, (_fill(state, r), r))
        seed = _seed(state, cost)
        if seed is None:
            return state.assign
        i, r = seed
        state.move(i, r)
        reach(r, int(graph.region[i]))
        order = [(_fill(state, r), r) for r in range(m)]
        heapq.heapify(order)


def _seed(state: PlanState, cost: FloatArray) -> tuple[int, int] | None:
    """A new piece when growth stalls: the cheapest free (item, rep) where the rep may start one
    (a rep with no territory; with ``per_component``, a rep absent from the item's component)."""
    free = np.flatnonzero(state.assign < 0)
    if not len(free):
        return None
    graph = state.g
    best: tuple[float, int, int] | None = None
    for r in range(cost.shape[1]):
        for i in free.tolist():
            if not graph.eligible[i, r]:
                continue
            g = int(graph.region[i])
            if state.count[r] and not (graph.per_component and state.absent(r, g)):
                continue
            if best is None or cost[i, r] < best[0]:
                best = (float(cost[i, r]), i, r)
    return None if best is None else (best[1], best[2])


def _fill(state: PlanState, r: int) -> float:
    """How full rep ``r`` is: its steering row's activity over its target (or upper bound)."""
    k = state.rows.fill
    if k is None:
        return float(sum(state.count[r].values()))
    target = state.rows.target[k][r]
    if not math.isfinite(target) or target <= 0:
        target = state.rows.hi[k][r]
    return float(state.act[k][r] / target) if math.isfinite(target) and target > 0 else 0.0


def connected_part(graph: Graph, assign: IntArray) -> IntArray:
    """``assign`` cut back to a connected partial plan that keeps the home rule (-1 = freed).

    Each rep keeps its main piece (per component with ``per_component``): the connected piece
    of its served regions that holds its root, else the one with the most items. A rep that does
    not serve its root loses everything, and its root region is freed for it; repeated until
    nothing changes (freeing a region can split another rep).
    """
    out = np.where(graph.fixed >= 0, graph.fixed, assign)
    while True:
        before = out.copy()
        for r in range(graph.cost.shape[1]):
            items = np.flatnonzero(out == r)
            root = int(graph.root[r])
            served = set(graph.region[items].tolist())
            if root >= 0 and root not in served:
                out[items] = -1
                out[np.isin(graph.region, [root]) & (graph.fixed < 0)] = -1
                continue
            keep = _main_pieces(graph, served, items, root)
            out[items[~np.isin(graph.region[items], list(keep))]] = -1
        if np.array_equal(before, out):
            return out


def _main_pieces(graph: Graph, served: set[int], items: IntArray, root: int) -> set[int]:
    by_comp: dict[int, list[set[int]]] = {}
    for piece in pieces(graph, served):
        key = int(graph.component[next(iter(piece))]) if graph.per_component else 0
        by_comp.setdefault(key, []).append(piece)
    keep: set[int] = set()
    for group in by_comp.values():
        rooted = [p for p in group if root in p]
        size = {id(p): int(np.isin(graph.region[items], list(p)).sum()) for p in group}
        keep |= rooted[0] if rooted else max(group, key=lambda p: size[id(p)])
    return keep


def pieces(graph: Graph, regions: set[int]) -> list[set[int]]:
    """The connected pieces of a set of regions."""
    left, out = set(regions), []
    while left:
        start = left.pop()
        piece, stack = {start}, [start]
        while stack:
            u = stack.pop()
            for v in graph.neighbours[u]:
                if v in left:
                    left.discard(v)
                    piece.add(v)
                    stack.append(v)
        out.append(piece)
    return out

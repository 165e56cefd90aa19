"""Contiguity of territories on the region graph: the rule, the home rule and the cuts.

A rep's territory ``T[r]`` is the set of regions where it serves at least one item (account, or
region at ``level: region``); it must be connected in the region graph (with ``per_component``,
connected within each connected component of the graph). With ``include_home`` a rep living in
region ``h`` serves some of ``h`` (``/work/notes/home-region.md``, ``models/assignment.md``):
:func:`home_rules` turns that into roots, fixed items and restricted arcs.
:func:`find_cuts` returns, for the MIP rows (13), the minimal separator cuts that a disconnected
territory violates (Validi & Buchanan 2022; Fischetti et al. 2017).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt

__all__ = [
    "Contiguity",
    "Cut",
    "HomeRules",
    "components",
    "disconnected_reps",
    "find_cuts",
    "home_rules",
    "split_districts",
    "territories",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Contiguity:
    """Region of every item, the region graph (nodes are region indices) and each rep's home.

    ``home[r]`` is the region index of rep ``r``'s home, -1 when unknown. ``districts`` holds
    ``(manager_id, rep indices)`` of every manager whose reps' territories must together be
    connected (``assignment.constraints.managers.contiguous``; ``models/organisation.md``).
    """

    groups: IntArray
    regions: tuple[str, ...]
    graph: nx.Graph
    home: IntArray
    include_home: bool = True
    per_component: bool = False
    max_rounds: int = 50
    districts: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class Cut:
    """``sum_{g in lhs} y[rep,g] - sum_{h in rhs} y[rep,h] <= len(lhs) - 1`` (row (13))."""

    rep: int
    lhs: tuple[int, ...]
    rhs: tuple[int, ...]
    number: int

    @property
    def pulp_name(self) -> str:
        return f"contiguity_{self.number}"

    def doc_name(self, reps: Sequence[str], regions: Sequence[str]) -> str:
        return f"contiguity[{reps[self.rep]},{regions[self.lhs[0]]},{self.number}]"


@dataclass(frozen=True)
class HomeRules:
    """The home rule as data: ``root[r]`` (a region rep ``r`` must serve, -1: none), ``fixed[i]``
    (the rep item ``i`` must go to, -1: free), ``eligible`` (items x reps, arcs the rule allows)
    and ``first[i]`` (a resident to start from where several share a home, -1: none)."""

    root: IntArray
    fixed: IntArray
    eligible: BoolArray
    first: IntArray


def home_rules(contiguity: Contiguity, eligible: BoolArray) -> HomeRules:
    """The home rule of ``home-region.md`` for items grouped by region.

    With ``n(h)`` items in home region ``h`` and ``R(h)`` its residents: when ``n(h) >= |R(h)|``
    every resident serves some of ``h`` (its root; a single item is fixed to a single resident);
    when ``0 < n(h) < |R(h)|`` the items of ``h`` may only go to residents; ``n(h) = 0``: no rule.
    """
    n, m = eligible.shape
    root = np.full(m, -1, np.int64)
    fixed = np.full(n, -1, np.int64)
    first = np.full(n, -1, np.int64)
    allowed = eligible.copy()
    if not contiguity.include_home:
        return HomeRules(root, fixed, allowed, first)
    items_in: dict[int, list[int]] = {}
    for i, g in enumerate(contiguity.groups.tolist()):
        items_in.setdefault(g, []).append(i)
    residents: dict[int, list[int]] = {}
    for r, h in enumerate(contiguity.home.tolist()):
        if h >= 0:
            residents.setdefault(h, []).append(r)
    for h, reps in residents.items():
        items = items_in.get(h, [])
        if not items:
            continue
        if len(items) >= len(reps):
            root[reps] = h
            if len(items) == 1:
                fixed[items[0]] = reps[0]
                allowed[items[0]] = False
                allowed[items[0], reps[0]] = True
            continue
        mask = np.zeros(m, bool)
        mask[reps] = True
        allowed[items] &= mask[None, :]
        first[items] = reps[: len(items)]
    return HomeRules(root, fixed, allowed, first)


def components(contiguity: Contiguity) -> IntArray:
    """The connected component of every region in the graph induced by the regions that hold
    items (a region without items connects nothing); an empty region is its own component."""
    comp = np.full(len(contiguity.regions), -1, np.int64)
    held = set(contiguity.groups.tolist())
    parts = sorted(nx.connected_components(contiguity.graph.subgraph(held)), key=min)
    for k, part in enumerate(parts):
        comp[list(part)] = k
    empty = np.flatnonzero(comp < 0)
    comp[empty] = len(parts) + np.arange(len(empty))
    return comp


def territories(contiguity: Contiguity, assign: IntArray, n_reps: int) -> list[set[int]]:
    """The regions each rep serves (where it holds at least one item)."""
    out: list[set[int]] = [set() for _ in range(n_reps)]
    for g, r in zip(contiguity.groups.tolist(), assign.tolist(), strict=True):
        if r >= 0:
            out[r].add(g)
    return out


def _pieces(contiguity: Contiguity, nodes: set[int]) -> list[set[int]]:
    comps = [set(c) for c in nx.connected_components(contiguity.graph.subgraph(nodes))]
    return sorted(comps, key=min)


def _split(contiguity: Contiguity, pieces: list[set[int]]) -> bool:
    if not contiguity.per_component:
        return len(pieces) > 1
    comp = components(contiguity)
    seen = [int(comp[min(p)]) for p in pieces]
    return len(seen) != len(set(seen))


def disconnected_reps(contiguity: Contiguity, assign: IntArray, n_reps: int) -> list[int]:
    """Reps whose territory is not connected (within each component with ``per_component``)."""
    terr = territories(contiguity, assign, n_reps)
    return [r for r, t in enumerate(terr) if t and _split(contiguity, _pieces(contiguity, t))]


def split_districts(contiguity: Contiguity, assign: IntArray, n_reps: int) -> list[str]:
    """Managers whose reps' territories together are not connected (rule district_contiguity)."""
    terr = territories(contiguity, assign, n_reps)
    out = []
    for manager, reps in contiguity.districts:
        union = set().union(*(terr[r] for r in reps)) if reps else set()
        if union and _split(contiguity, _pieces(contiguity, union)):
            out.append(manager)
    return out


def find_cuts(contiguity: Contiguity, assign: IntArray, n_reps: int, *, first: int) -> list[Cut]:
    """The separator cuts that the current assignment violates, numbered from ``first``.

    For a piece ``C`` of rep ``r``'s territory cut off from its main piece ``A`` (the one with
    its root, else the largest), every region ``g`` of ``C`` gets ``y[r,g] (+ y[r,a]) - 1 <=
    sum_{h in S} y[r,h]`` with ``S`` the minimal separator: the neighbours of ``C`` that touch
    the component of ``G - N(C)`` holding ``A``.
    """
    rules = home_rules(contiguity, np.ones((len(assign), n_reps), bool))
    comp = components(contiguity)
    graph = contiguity.graph
    cuts: list[Cut] = []
    for r, territory in enumerate(territories(contiguity, assign, n_reps)):
        pieces = _pieces(contiguity, territory) if territory else []
        if not _split(contiguity, pieces):
            continue
        for group in _by_component(pieces, comp, contiguity.per_component):
            if len(group) < 2:
                continue
            root = int(rules.root[r])
            main = next((p for p in group if root in p), None)
            anchor: tuple[int, ...] = ()
            if main is None:
                main = max(group, key=len)
                anchor = (min(main),)
            for piece in group:
                if piece is main:
                    continue
                sep = _minimal_separator(graph, piece, main)
                for g in sorted(piece):
                    cuts.append(Cut(r, (g, *anchor), tuple(sorted(sep)), first + len(cuts)))
    return cuts


def _by_component(
    pieces: list[set[int]], comp: IntArray, per_component: bool
) -> list[list[set[int]]]:
    if not per_component:
        return [pieces]
    groups: dict[int, list[set[int]]] = {}
    for piece in pieces:
        groups.setdefault(int(comp[min(piece)]), []).append(piece)
    return list(groups.values())


def _minimal_separator(graph: nx.Graph, piece: set[int], main: set[int]) -> set[int]:
    """The neighbours of ``piece`` adjacent to the part of ``G - N(piece)`` that holds ``main``."""
    border = set().union(*(graph.neighbors(g) for g in piece)) - piece
    rest = graph.subgraph(set(graph.nodes) - border)
    start = next(iter(main - border), None)
    if start is None:
        return border
    side = nx.node_connected_component(rest, start)
    return {h for h in border if any(v in side for v in graph.neighbors(h))}

"""The contiguity cuts of ``models/assignment.md`` (rows (11)-(13)).

A rep's territory is the set of regions it serves (plus its home region with ``include_home``).
:func:`find_cuts` returns, for each territory that is not connected, the cuts that separate the
current solution; they are valid for every connected territory (the proof is in the model file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt

__all__ = ["Contiguity", "Cut", "disconnected_reps", "find_cuts", "territories"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Contiguity:
    """Region of every item, the region graph (nodes are region indices) and each rep's home."""

    groups: IntArray
    regions: tuple[str, ...]
    graph: nx.Graph
    home: IntArray
    include_home: bool = True
    max_rounds: int = 50


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


def territories(contiguity: Contiguity, assign: IntArray, n_reps: int) -> list[set[int]]:
    """The regions each rep serves, with its home region when ``include_home``."""
    out: list[set[int]] = [set() for _ in range(n_reps)]
    for g, r in zip(contiguity.groups.tolist(), assign.tolist(), strict=True):
        out[r].add(g)
    if contiguity.include_home:
        for r, home in enumerate(contiguity.home.tolist()):
            if home >= 0 and out[r]:
                out[r].add(home)
    return out


def _components(graph: nx.Graph, nodes: set[int]) -> list[set[int]]:
    comps = [set(c) for c in nx.connected_components(graph.subgraph(nodes))]
    return sorted(comps, key=min)


def disconnected_reps(contiguity: Contiguity, assign: IntArray, n_reps: int) -> list[int]:
    """Reps whose territory is not connected."""
    terr = territories(contiguity, assign, n_reps)
    return [r for r, t in enumerate(terr) if t and len(_components(contiguity.graph, t)) > 1]


def find_cuts(contiguity: Contiguity, assign: IntArray, n_reps: int, *, first: int) -> list[Cut]:
    """The cuts that the current assignment violates, numbered from ``first``."""
    cuts: list[Cut] = []
    graph = contiguity.graph
    for r, territory in enumerate(territories(contiguity, assign, n_reps)):
        comps = _components(graph, territory) if territory else []
        if len(comps) < 2:
            continue
        home = int(contiguity.home[r])
        rooted = contiguity.include_home and home >= 0
        root = next(c for c in comps if home in c) if rooted else max(comps, key=len)
        anchor: tuple[int, ...] = () if rooted else (min(root),)
        for comp in comps:
            if comp is root:
                continue
            border = set().union(*(graph.neighbors(g) for g in comp)) - comp
            for g in sorted(comp):
                cuts.append(Cut(r, (g, *anchor), tuple(sorted(border)), first + len(cuts)))
    return cuts

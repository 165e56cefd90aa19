"""The region graph: regions as nodes, shared borders (or links a planner adds) as edges."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import pandas as pd

__all__ = ["region_graph"]


def region_graph(regions: Sequence[str], adjacency: pd.DataFrame | None) -> nx.Graph:
    """Undirected graph over region indices; edges naming unknown regions are ignored."""
    index = {g: k for k, g in enumerate(regions)}
    graph = nx.Graph()
    graph.add_nodes_from(range(len(regions)))
    if adjacency is not None:
        for a, b in zip(adjacency["region_a"], adjacency["region_b"], strict=True):
            if a in index and b in index and a != b:
                graph.add_edge(index[a], index[b])
    return graph

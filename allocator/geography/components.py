"""The pieces of the region graph and who may serve them: the facts under the graph analysis.

:func:`graph_inputs` gathers what the analysis reads; :func:`find_components` splits the regions
that hold accounts into connected components (largest first); :func:`confined_reps` and
:func:`reach` apply rule ``home[r]`` of ``models/assignment.md``: a rep bound to its home region
stays in that region's component unless contiguity is judged per component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import pandas as pd

__all__ = [
    "BalanceBands",
    "Component",
    "Finding",
    "GraphInputs",
    "confined_reps",
    "find_components",
    "graph_inputs",
    "home_counts",
    "reach",
]


@dataclass(frozen=True)
class BalanceBands:
    """Balance bands: ``fair[measure][rep_id]`` (same units as the accounts' column) ± tolerance."""

    tolerance: float
    fair: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Component:
    """One connected piece of the region graph (regions holding active accounts).

    ``reps``: active reps whose home region lies in it; ``island``: not the largest piece.
    """

    number: int
    regions: tuple[str, ...]
    names: tuple[str, ...]
    accounts: int
    potential: float
    reps: tuple[str, ...]
    island: bool

    @property
    def size(self) -> int:
        return len(self.regions)


@dataclass(frozen=True)
class Finding:
    """One thing the graph tells: what, where, how to fix it, and whether it is a proof.

    ``kind``: ``island``, ``no_rep``, ``no_accounts``, ``home_without_accounts``, ``shared_home``,
    ``oversized_unit`` or ``component_balance``. ``infeasible``: no plan can meet the hard
    rules (the solver must stop, exit 1). ``min_tolerance``: the smallest balance tolerance that
    could admit it (a lower bound on the one that works), where a tolerance can.
    """

    kind: str
    regions: tuple[str, ...]
    message: str
    fix: str = ""
    infeasible: bool = False
    min_tolerance: float | None = None


@dataclass(frozen=True)
class GraphInputs:
    """What the analysis reads: names, points, active accounts and reps, the graph, rules."""

    names: Mapping[str, str]
    points: pd.DataFrame  # lat, lon per region (NaN when unknown)
    accounts: pd.DataFrame
    reps: pd.DataFrame
    graph: nx.Graph
    level: str
    include_home: bool
    per_component: bool
    contiguity: bool = True


def graph_inputs(
    regions: pd.DataFrame | None,
    adjacency: pd.DataFrame | None,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    level: str = "account",
    include_home: bool = True,
    per_component: bool = False,
    contiguity: bool = True,
) -> GraphInputs:
    """The analysis's inputs (arguments as :func:`allocator.geography.analysis.analyse_graph`)."""
    ids = set(accounts["region_id"].astype(str)) | set(reps["region_id"].astype(str))
    names: dict[str, str] = {}
    points = accounts.groupby("region_id")[["lat", "lon"]].mean()
    if regions is not None:
        ids |= set(regions["region_id"].astype(str))
        names = dict(
            zip(regions["region_id"].astype(str), regions["name"].astype(str), strict=True)
        )
        if {"lat", "lon"} <= set(regions.columns):
            given = regions.set_index("region_id")[["lat", "lon"]].astype(float)
            points = given.combine_first(points)
    graph = nx.Graph()
    graph.add_nodes_from(sorted(ids))
    if adjacency is not None:
        pairs = zip(
            adjacency["region_a"].astype(str), adjacency["region_b"].astype(str), strict=True
        )
        graph.add_edges_from((a, b) for a, b in pairs if a != b and a in ids and b in ids)
    rules = {"include_home": include_home, "per_component": per_component}
    return GraphInputs(names, points, accounts, reps, graph, level, **rules, contiguity=contiguity)


def find_components(inputs: GraphInputs) -> tuple[tuple[Component, ...], dict[str, int]]:
    by_region = inputs.accounts.groupby(inputs.accounts["region_id"].astype(str))
    count, potential = by_region.size(), by_region["potential"].sum()
    homes = inputs.reps.groupby(inputs.reps["region_id"].astype(str))["rep_id"].apply(list)
    pieces = list(nx.connected_components(inputs.graph.subgraph(count.index)))
    pieces.sort(key=lambda c: (-len(c), min(c)))
    components, component_of = [], {}
    for k, piece in enumerate(pieces):
        regions = tuple(sorted(piece))
        residents = tuple(sorted(r for g in regions for r in homes.get(g, [])))
        components.append(
            Component(
                number=k + 1,
                regions=regions,
                names=tuple(inputs.names.get(g, g) for g in regions),
                accounts=int(count[list(regions)].sum()),
                potential=float(potential[list(regions)].sum()),
                reps=residents,
                island=k > 0,
            )
        )
        component_of.update(dict.fromkeys(regions, k))
    return tuple(components), component_of


# ---------------------------------------------------------------- who may go where


def home_counts(inputs: GraphInputs) -> tuple[pd.Series, pd.Series]:
    """Items per region (``n(h)``) and active reps per home region (``|R(h)|``)."""
    regions = inputs.accounts["region_id"].astype(str)
    items = regions.value_counts()
    if inputs.level == "region":
        items = items.clip(upper=1)
    return items, inputs.reps["region_id"].astype(str).value_counts()


def confined_reps(inputs: GraphInputs) -> dict[str, str]:
    """Reps bound to their home region by rule home[r] (rep_id -> home region).

    A rep is bound when ``include_home`` and its home region holds at least as many items as
    reps live there (``n(h) >= |R(h)|``); the others have no home rule (see models/assignment.md).
    """
    if not (inputs.contiguity and inputs.include_home):
        return {}
    items, residents = home_counts(inputs)
    out = {}
    for rep, home in zip(
        inputs.reps["rep_id"].astype(str), inputs.reps["region_id"].astype(str), strict=True
    ):
        if items.get(home, 0) >= residents[home] > 0:
            out[rep] = home
    return out


def reach(
    inputs: GraphInputs, components: tuple[Component, ...], component_of: Mapping[str, int]
) -> list[set[str]]:
    """For each component, the reps that may serve in it."""
    everyone = set(inputs.reps["rep_id"].astype(str))
    if not (inputs.contiguity and inputs.include_home) or inputs.per_component:
        return [everyone for _ in components]
    confined = confined_reps(inputs)
    free = everyone - set(confined)
    out = [set(free) for _ in components]
    for rep, home in confined.items():
        out[component_of[home]].add(rep)
    return out

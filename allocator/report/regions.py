"""Region polygons for maps, and territory colours that tell neighbours apart.

:func:`region_polygons` gives one polygon per region: the scenario's own shapes
(``Tables.shapes``, a GeoDataFrame indexed by region_id, EPSG:4326) when it has them, else
:func:`region_cells`, the Voronoi cells of the region centroids clipped to the convex hull of
every point of the plan (the usual stand-in for generated companies, which have no borders;
computed by :mod:`allocator.geography.cells`, as the GIS export draws them).
:func:`territory_colours` colours the territory adjacency graph greedily (networkx DSATUR) so
that two reps whose territories touch never share a colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import pandas as pd

from allocator.geography import cells

if TYPE_CHECKING:
    from allocator.io.tables import Tables

__all__ = [
    "PALETTE",
    "alpha",
    "region_cells",
    "region_polygons",
    "territory_colours",
]

#: Qualitative colours (Tableau 10, then Plotly's Dark24 and Alphabet), readable on white.
PALETTE = (
    *("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7"),
    *("#9c755f", "#bab0ac", "#2e91e5", "#e15f99", "#1ca71c", "#fb0d0d", "#da16ff", "#222a2a"),
    *("#b68100", "#750d86", "#eb663b", "#511cfb", "#00a08b", "#fb00d1", "#fc0080", "#b2828d"),
    *("#6c7c32", "#778aae", "#862a16", "#a777f1", "#620042", "#1616a7", "#da60ca", "#6c4516"),
)


def region_cells(tables: Tables) -> gpd.GeoDataFrame:
    """Voronoi cells of the region centres of ``tables`` (its active accounts and reps).

    See :func:`allocator.geography.cells.region_cells`: a GeoDataFrame indexed by region_id
    with column ``geometry``, EPSG:4326.
    """
    return cells.region_cells(tables.regions, tables.active_accounts, tables.active_reps)


def region_polygons(tables: Tables) -> gpd.GeoDataFrame:
    """The scenario's region shapes (``tables.shapes``) when present, else :func:`region_cells`.

    Shapes are reprojected to EPSG:4326 when they carry another CRS.
    """
    shapes = getattr(tables, "shapes", None)
    if shapes is None or len(shapes) == 0:
        return region_cells(tables)
    return cells.lonlat(shapes)


def territory_colours(
    owners: pd.Series,
    accounts: pd.DataFrame,
    adjacency: pd.DataFrame | None,
    reps: list[str],
    *,
    share: float = 0.15,
) -> dict[str, str]:
    """A colour per rep such that reps whose territories touch get different colours.

    A rep *holds* a region when it owns at least ``share`` of the region's potential (a stray
    account does not make a territory); two reps touch when they hold the same region or
    adjacent regions (``adjacency``: region_a, region_b). The graph is coloured greedily
    (DSATUR, networkx); colours come from :data:`PALETTE` and repeat only when the graph needs
    more than it holds.
    """
    graph = nx.Graph()
    graph.add_nodes_from(reps)
    acc = accounts.set_index("account_id").reindex(owners.index)
    frame = pd.DataFrame({"region": acc["region_id"], "rep": owners, "v": acc["potential"]})
    potential = frame.groupby(["region", "rep"])["v"].sum()
    region_total = potential.groupby(level=0).transform("sum")
    held = potential[(potential >= share * region_total) & (region_total > 0)]
    holders = held.reset_index().groupby("region")["rep"].agg(lambda s: sorted(set(s)))
    for group in holders:
        graph.add_edges_from((a, b) for i, a in enumerate(group) for b in group[i + 1 :])
    if adjacency is not None:
        for a, b in zip(adjacency["region_a"], adjacency["region_b"], strict=True):
            for r in holders.get(a, []):
                graph.add_edges_from((r, s) for s in holders.get(b, []) if s != r)
    colouring = nx.greedy_color(graph, strategy="DSATUR")
    return {r: PALETTE[colouring[r] % len(PALETTE)] for r in reps}


def alpha(colour: str, alpha: float) -> str:
    """``#rrggbb`` as ``rgba(r,g,b,alpha)``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"

"""Region polygons for maps, and territory colours that tell neighbours apart.

:func:`region_polygons` gives one polygon per region: the scenario's own shapes
(``Tables.shapes``, a GeoDataFrame indexed by region_id, EPSG:4326) when it has them, else
:func:`region_cells`, the Voronoi cells of the region centroids clipped to the convex hull of
every point of the plan (the usual stand-in for generated companies, which have no borders).
:func:`territory_colours` colours the territory adjacency graph greedily (networkx DSATUR) so
that two reps whose territories touch never share a colour.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Point

if TYPE_CHECKING:
    from allocator.io.tables import Tables

__all__ = [
    "PALETTE",
    "alpha",
    "region_cells",
    "region_centroids",
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


def region_centroids(tables: Tables) -> pd.DataFrame:
    """region_id, lat, lon: the regions table's points, else the mean of each region's accounts.

    Regions without a point of their own (and without accounts) are left out.
    """
    accounts = tables.active_accounts
    mean = accounts[accounts["region_id"].astype(str) != ""].groupby("region_id")[["lat", "lon"]]
    points = mean.mean()
    regions = tables.regions
    if regions is not None and {"lat", "lon"} <= set(regions.columns):
        given = regions.set_index("region_id")[["lat", "lon"]].astype(float).dropna()
        points = pd.concat([given, points[~points.index.isin(given.index)]])
    return points.rename_axis("region_id").reset_index()


def _scale(lat: float) -> float:
    """Degrees of longitude per degree of latitude at ``lat``: an equal-distance projection."""
    return max(math.cos(math.radians(lat)), 0.1)


def region_cells(tables: Tables) -> gpd.GeoDataFrame:
    """Voronoi cells of the region centroids, clipped to the convex hull of all points.

    The hull spans the regions, the active accounts and the reps' home bases, buffered by 2% of
    its extent so points on the edge sit inside a cell. Cells are built in a local
    equirectangular projection (so they are fair in km, not in degrees) and returned in lon/lat.
    Returns a GeoDataFrame indexed by region_id (str) with column ``geometry``, EPSG:4326; with
    one region its cell is the hull itself, with none the frame is empty.
    """
    centres = region_centroids(tables)
    points = pd.concat(
        [
            centres[["lat", "lon"]],
            tables.active_accounts[["lat", "lon"]],
            tables.active_reps[["lat", "lon"]],
        ]
    ).astype(float)
    points = points.dropna()
    if centres.empty or points.empty:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs="EPSG:4326")
    k = _scale(float(points["lat"].mean()))
    hull = MultiPoint(np.c_[points["lon"] * k, points["lat"]]).convex_hull
    extent = max(hull.bounds[2] - hull.bounds[0], hull.bounds[3] - hull.bounds[1], 1e-6)
    hull = hull.buffer(0.02 * extent)
    sites = [Point(x * k, y) for x, y in zip(centres["lon"], centres["lat"], strict=True)]
    cells = _voronoi(sites, hull)
    cells = [shapely.affinity.scale(c, xfact=1 / k, yfact=1.0, origin=(0, 0)) for c in cells]
    frame = gpd.GeoDataFrame(
        {"region_id": centres["region_id"].astype(str), "geometry": cells},
        geometry="geometry",
        crs="EPSG:4326",
    )
    return frame.set_index("region_id")


def _voronoi(sites: list[Point], hull: shapely.Geometry) -> list[shapely.Geometry]:
    """One cell per site (in order), clipped to ``hull``; duplicate sites share their cell."""
    if len(sites) == 1:
        return [hull]
    diagram = shapely.voronoi_polygons(MultiPoint(sites), extend_to=hull)
    polygons = list(diagram.geoms)
    tree = shapely.STRtree(polygons)
    cells = []
    for site in sites:
        hits = [polygons[i] for i in tree.query(site, predicate="intersects")]
        cell = hits[0] if hits else hull
        cells.append(cell.intersection(hull))
    return cells


def region_polygons(tables: Tables) -> gpd.GeoDataFrame:
    """The scenario's region shapes (``tables.shapes``) when present, else :func:`region_cells`.

    Shapes are reprojected to EPSG:4326 when they carry another CRS.
    """
    shapes = getattr(tables, "shapes", None)
    if shapes is None or len(shapes) == 0:
        return region_cells(tables)
    if shapes.crs is not None and shapes.crs.to_epsg() != 4326:
        shapes = shapes.to_crs(4326)
    return shapes[["geometry"]]


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

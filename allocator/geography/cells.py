"""Region cells and territory polygons drawn from points, for companies without region polygons.

A generated company (and any scenario without a polygon file) has region centres and account
locations but no borders. :func:`region_cells` draws each region as the Voronoi cell of its
centre (the region's ``lat``/``lon`` when the regions table has them, else the mean location of
its accounts), clipped to the convex hull of every account, rep and centre grown by 2% of its
extent. :func:`territory_polygons` turns region polygons (these cells, or the real ones of
``Tables.shapes``) into one dissolved (Multi)Polygon per rep: a region whose accounts all belong
to one rep goes to that rep whole; a region shared by several reps is split into the Voronoi
cells of its accounts, each going to the account's rep. So every rep with an account gets
exactly one row, and the rows tile the map without overlaps.

Voronoi cells are computed in an equirectangular plane (longitude x cos(mean latitude)), where
distances are close to ground distances at a country's scale, and returned in EPSG:4326
(lon/lat degrees). Method: Voronoi diagram by GEOS (``shapely.voronoi_polygons``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CRS",
    "lonlat",
    "region_cells",
    "region_polygons",
    "territory_polygons",
    "voronoi_cells",
]

log = logging.getLogger("allocator")

#: Coordinate reference system of every polygon: WGS84 longitude/latitude in degrees.
CRS = "EPSG:4326"
_MARGIN = 0.02  # the hull grows by 2% of the map's extent: no point lies on the border
_GRID = 1e-7  # degrees: the precision of territory polygons

Transform = Callable[[np.ndarray], np.ndarray]


def _plane(lat0: float) -> tuple[Transform, Transform]:
    """To and from the equirectangular plane at latitude ``lat0`` (x = lon x cos lat0, y = lat)."""
    k = max(math.cos(math.radians(lat0)), 1e-6)

    def forward(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] * k, xy[:, 1]])

    def back(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] / k, xy[:, 1]])

    return forward, back


def voronoi_cells(points: np.ndarray, frame: object) -> list[object]:
    """The Voronoi cell of each point (rows x, y), clipped to the polygon ``frame``.

    Each cell goes to the first point it contains; a later point at the same place (or one
    GEOS merged with a neighbour within its tolerance) gets an empty polygon, so the cells
    never overlap.
    """
    import shapely

    if len(points) == 0:
        return []
    if len(points) == 1:
        return [frame]
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=frame)
    parts = np.asarray(shapely.get_parts(cells))
    tree = shapely.STRtree(parts)
    where = tree.query_nearest(shapely.points(points), all_matches=False)[1]
    out: list[object] = []
    used: set[int] = set()
    for cell in where:
        if cell in used:
            out.append(shapely.Polygon())
            continue
        used.add(int(cell))
        out.append(shapely.intersection(parts[cell], frame))
    return out


def _centres(regions: pd.DataFrame | None, accounts: pd.DataFrame) -> pd.DataFrame:
    """lat/lon of each region: its own columns where given, else its accounts' mean."""
    located = accounts[accounts["region_id"].astype(str) != ""]
    centres = located.groupby("region_id")[["lat", "lon"]].mean()
    if regions is not None and {"lat", "lon"} <= set(regions.columns):
        given = regions.set_index("region_id")[["lat", "lon"]]
        given = given.apply(pd.to_numeric, errors="coerce").dropna()
        centres = given.combine_first(centres)
    centres.index = centres.index.astype(str)
    return centres.dropna()


def region_cells(regions: pd.DataFrame | None, accounts: pd.DataFrame, reps: pd.DataFrame) -> Any:
    """One polygon per region: the Voronoi cell of its centre, clipped to the grown hull.

    Returns a ``geopandas.GeoDataFrame`` indexed by ``region_id`` (str) with column
    ``geometry`` (Polygon, EPSG:4326): the shape of ``Tables.shapes``. Regions with neither
    coordinates nor accounts get no cell; with no located point at all the frame is empty.
    """
    import geopandas as gpd
    import shapely

    centres = _centres(regions, accounts)
    points = np.vstack(
        [
            accounts[["lon", "lat"]].to_numpy(float),
            reps[["lon", "lat"]].to_numpy(float),
            centres[["lon", "lat"]].to_numpy(float),
        ]
    )
    points = points[np.isfinite(points).all(axis=1)]
    if centres.empty or len(points) == 0:
        empty = pd.Index([], name="region_id", dtype=str)
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", index=empty, crs=CRS)
    forward, back = _plane(float(np.mean(points[:, 1])))
    plane = forward(points)
    span = max(float(np.ptp(plane[:, 0])), float(np.ptp(plane[:, 1])), 1e-6)
    hull = shapely.convex_hull(shapely.multipoints(plane)).buffer(_MARGIN * span)
    cells = voronoi_cells(forward(centres[["lon", "lat"]].to_numpy(float)), hull)
    geometry = [shapely.transform(cell, back) for cell in cells]
    index = pd.Index(centres.index, name="region_id")
    return gpd.GeoDataFrame({"geometry": geometry}, index=index, crs=CRS)


def region_polygons(
    shapes: Any, regions: pd.DataFrame | None, accounts: pd.DataFrame, reps: pd.DataFrame
) -> Any:
    """The scenario's region shapes when it has them (reprojected to EPSG:4326), else the cells.

    ``shapes`` is ``Tables.shapes`` (a GeoDataFrame indexed by region_id, or None); without it
    the result is :func:`region_cells` of ``regions``, ``accounts`` and ``reps``. Either way a
    GeoDataFrame indexed by ``region_id`` with one ``geometry`` column, EPSG:4326.
    """
    if shapes is None or len(shapes) == 0:
        return region_cells(regions, accounts, reps)
    return lonlat(shapes)


def lonlat(shapes: Any) -> Any:
    """The ``geometry`` column of a GeoDataFrame, reprojected to EPSG:4326 when it is not."""
    if shapes.crs is not None and shapes.crs.to_epsg() != 4326:
        shapes = shapes.to_crs(4326)
    return shapes[["geometry"]]


def territory_polygons(shapes: Any, accounts: pd.DataFrame, owners: pd.Series) -> Any:
    """One dissolved (Multi)Polygon per rep from region polygons and the owners of accounts.

    Parameters
    ----------
    shapes
        Region polygons: a GeoDataFrame indexed by ``region_id`` (``Tables.shapes`` or
        :func:`region_cells`).
    accounts
        account_id, lat, lon, region_id of (at least) the owned accounts.
    owners
        account_id -> rep_id.

    Returns a GeoDataFrame indexed by ``rep_id`` with ``geometry`` (EPSG:4326). Accounts whose
    region has no polygon are left out (logged).
    """
    import geopandas as gpd
    import shapely

    owned = accounts.set_index("account_id").loc[owners.index].assign(rep_id=owners.to_numpy())
    owned["region_id"] = owned["region_id"].astype(str)
    forward, back = _plane(float(owned["lat"].mean()))
    pieces: list[object] = []
    reps: list[str] = []
    missing = sorted(set(owned["region_id"]) - set(shapes.index))
    if missing:
        log.warning(
            "no polygon for region(s) %s: their accounts are not drawn", ", ".join(missing[:10])
        )
    for region, group in owned[owned["region_id"].isin(shapes.index)].groupby("region_id"):
        cell = shapes.geometry[region]
        if group["rep_id"].nunique() == 1:
            pieces.append(cell)
            reps.append(str(group["rep_id"].iloc[0]))
            continue
        frame = shapely.transform(cell, forward)
        split = voronoi_cells(forward(group[["lon", "lat"]].to_numpy(float)), frame)
        pieces += [shapely.transform(piece, back) for piece in split]
        reps += [str(r) for r in group["rep_id"]]
    frame = gpd.GeoDataFrame({"rep_id": reps, "geometry": pieces}, crs=shapes.crs or CRS)
    dissolved = frame.dissolve(by="rep_id")
    # snap to 1e-7 degrees (about 1 cm): the floating-point slivers where pieces meet go, so
    # the layer stays valid when a GIS reprojects it
    dissolved["geometry"] = shapely.set_precision(dissolved.geometry.to_numpy(), _GRID)
    return dissolved

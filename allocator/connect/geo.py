"""A plan as GIS layers: one dissolved polygon per territory with its totals, accounts as points.

:func:`plan_layers` builds two GeoDataFrames in EPSG:4326 (lon/lat degrees, what QGIS and every
web map read without asking): ``territories``, one row per rep with the rep's totals from
``reps.csv`` as attributes, and ``accounts``, one point per owned account. Region polygons come
from ``Tables.shapes`` when the scenario has a polygon file, else from
:func:`allocator.geography.cells.region_cells` (Voronoi cells of the region centres, as the
report draws them); :func:`allocator.geography.cells.territory_polygons` dissolves them per rep.
:func:`write_layers` writes GeoJSON (two files) or one GeoPackage with two layers (pyogrio).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from allocator.connect.folder import PlanFolder
from allocator.geography import cells
from allocator.geography.cells import territory_polygons

__all__ = ["FORMATS", "plan_layers", "region_polygons", "write_layers"]

FORMATS = ("geojson", "gpkg")
_ACCOUNT_COLUMNS = ["account_id", "name", "region_id", "segment", "potential", "workload"]


def region_polygons(plan: PlanFolder) -> Any:
    """``Tables.shapes`` when the plan has region polygons, else the regions' Voronoi cells."""
    tables = plan.tables
    shapes = getattr(tables, "shapes", None)
    return cells.region_polygons(shapes, tables.regions, tables.accounts, tables.reps)


def plan_layers(plan: PlanFolder) -> tuple[Any, Any]:
    """``(territories, accounts)`` GeoDataFrames (see the module docstring)."""
    import geopandas as gpd

    polygons = territory_polygons(region_polygons(plan), plan.tables.accounts, plan.owners)
    reps = plan.reps.set_index("rep_id")
    territories = polygons.join(reps, how="left").reset_index()
    first = ["rep_id", *(c for c in ("name", "manager_id") if c in territories.columns)]
    territories = territories[first + [c for c in territories.columns if c not in first]]
    acc = plan.tables.accounts.set_index("account_id").loc[plan.owners.index].reset_index()
    points = gpd.GeoDataFrame(
        acc[_ACCOUNT_COLUMNS].assign(rep_id=plan.owners.to_numpy()),
        geometry=gpd.points_from_xy(acc["lon"], acc["lat"]),
        crs="EPSG:4326",
    )
    return gpd.GeoDataFrame(territories, geometry="geometry", crs="EPSG:4326"), points


def write_layers(
    territories: Any, accounts: Any, outdir: Path, fmt: Literal["geojson", "gpkg"]
) -> list[Path]:
    """GeoJSON: ``territories.geojson`` and ``accounts.geojson``; GeoPackage: ``plan.gpkg``
    with the layers ``territories`` and ``accounts``."""
    outdir.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        paths = [outdir / "territories.geojson", outdir / "accounts.geojson"]
        territories.to_file(paths[0], driver="GeoJSON")
        accounts.to_file(paths[1], driver="GeoJSON")
        return paths
    path = outdir / "plan.gpkg"
    territories.to_file(path, layer="territories", driver="GPKG")
    accounts.to_file(path, layer="accounts", driver="GPKG")
    return [path]

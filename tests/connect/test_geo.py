"""GIS layers: one dissolved polygon per rep, totals as properties, accounts as points."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from allocator.geography.cells import region_cells, territory_polygons
from tests.connect.conftest import run


def test_geojson_reads_back_with_one_polygon_per_rep(demo_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "geo"
    assert run("export", "geo", str(demo_plan), "--format", "geojson", "--out", str(out)) == 0
    territories = gpd.read_file(out / "territories.geojson")
    reps = pd.read_csv(demo_plan / "reps.csv", dtype={"rep_id": str})
    assert sorted(territories["rep_id"]) == sorted(reps["rep_id"])  # one row per rep
    assert territories.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert territories.is_valid.all() and territories.crs.to_epsg() == 4326
    merged = territories.merge(reps, on="rep_id", suffixes=("", "_csv"))
    assert (merged["quota"] == merged["quota_csv"]).all()
    assert (merged["accounts"] == merged["accounts_csv"]).all()
    # territories tile the map: no two overlap (planar, in the lon/lat plane they were cut in;
    # a projection bends straight edges, so it is no measure of overlap)
    flat = shapely.area(territories.geometry.to_numpy())
    assert flat.sum() == pytest.approx(
        shapely.union_all(territories.geometry.to_numpy()).area, rel=1e-7
    )
    assert territories.to_crs(3035).is_valid.all()
    points = gpd.read_file(out / "accounts.geojson")
    assert len(points) == 2000
    # every account lies in its own rep's territory
    joined = gpd.sjoin(
        points,
        territories[["rep_id", "geometry"]],
        predicate="within",
        lsuffix="account",
        rsuffix="territory",
    )
    assert (joined["rep_id_account"] == joined["rep_id_territory"]).mean() > 0.99


def test_geopackage_has_both_layers(demo_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpkg"
    assert run("export", "geo", str(demo_plan), "--format", "gpkg", "--out", str(out)) == 0
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(out / "plan.gpkg")}
    assert layers == {"territories", "accounts"}
    assert len(gpd.read_file(out / "plan.gpkg", layer="territories")) == 40


def test_a_region_shared_by_two_reps_is_split_between_them() -> None:
    regions = pd.DataFrame({"region_id": ["G1", "G2"], "lat": [50.0, 50.0], "lon": [10.0, 11.0]})
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "lat": [50.0, 50.1, 50.0, 49.9],
            "lon": [9.8, 10.2, 11.0, 11.1],
            "region_id": ["G1", "G1", "G2", "G2"],
        }
    )
    reps = pd.DataFrame({"lat": [50.0], "lon": [10.5]})
    cells = region_cells(regions, accounts, reps)
    assert (
        list(cells.index) == ["G1", "G2"]
        and cells.geometry.iloc[0].intersection(cells.geometry.iloc[1]).area < 1e-12
    )
    owners = pd.Series(["R1", "R2", "R2", "R2"], index=accounts["account_id"])
    polygons = territory_polygons(cells, accounts, owners)
    assert list(polygons.index) == ["R1", "R2"]
    assert polygons.geometry["R1"].area + polygons.geometry["R2"].area == pytest.approx(
        cells.union_all().area
    )
    points = gpd.points_from_xy(accounts["lon"], accounts["lat"])
    assert polygons.geometry["R1"].contains(points[0]) and polygons.geometry["R2"].contains(
        points[1]
    )

"""Region polygons read from files: GeoJSON, GeoPackage, Shapefile; bad files are one message."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.geography.adjacency import apply_links, polygon_links
from allocator.geography.shapes import read_shapes

GRID = Path(__file__).parent / "data" / "grid.geojson"  # 3 x 2 squares of 0.1 degree + island G7


def pairs(links: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(links["region_a"], links["region_b"], strict=True))


def test_polygons_are_read_as_regions_with_points_inside() -> None:
    read = read_shapes(GRID)
    assert list(read.attributes["region_id"]) == [f"G{k}" for k in range(1, 8)]
    assert read.attributes.loc[6, "name"] == "Island"
    assert list(read.shapes.index) == list(read.attributes["region_id"])
    assert read.shapes.crs.to_epsg() == 4326
    first = read.attributes.iloc[0]
    assert (first["lat"], first["lon"]) == pytest.approx((44.05, 10.05))
    assert read.shapes.geometry.iloc[0].contains(
        read.shapes.geometry.iloc[0].representative_point()
    )


def test_queen_rook_and_minimum_border(tmp_path: Path) -> None:
    shapes = read_shapes(GRID).shapes
    rook = polygon_links(shapes, contact="rook")
    queen = polygon_links(shapes, contact="queen")
    assert len(rook) == 7  # 2 x 2 across the rows, 3 between them
    assert len(queen) == 11  # plus the 4 diagonals meeting at a corner
    assert {("G1", "G5"), ("G2", "G4")} <= pairs(queen)
    assert "G7" not in set(queen["region_a"]) | set(queen["region_b"])  # the island
    # the vertical borders are 0.1 degree of latitude (11.1 km), the horizontal ones 8.0 km
    assert rook["border_m"].max() == pytest.approx(11_120, rel=0.01)
    assert len(polygon_links(shapes, min_border_m=9_000)) == 4


def test_snap_closes_a_gap_between_simplified_polygons(tmp_path: Path) -> None:
    doc = json.loads(GRID.read_text())
    ring = doc["features"][1]["geometry"]["coordinates"][0]  # G2: move it 0.0001 deg (~8 m) east
    doc["features"][1]["geometry"]["coordinates"][0] = [[x + 0.0001, y] for x, y in ring]
    path = tmp_path / "gap.geojson"
    path.write_text(json.dumps(doc))
    shapes = read_shapes(path).shapes
    exact = polygon_links(shapes, contact="rook", snap_m=1.0)
    snapped = polygon_links(shapes, contact="rook", snap_m=20.0)
    assert ("G1", "G2") not in pairs(exact)
    assert ("G1", "G2") in pairs(snapped)


def test_links_are_added_and_removed_by_the_table() -> None:
    edges = polygon_links(read_shapes(GRID).shapes, contact="rook")
    table = pd.DataFrame(
        {
            "region_a": ["G3", "G2", "G6"],
            "region_b": ["G7", "G1", "G5"],
            "link": ["add", "remove", ""],
        }
    )
    links = apply_links(edges, table)
    assert links is not None
    found = {frozenset(p) for p in pairs(links)}
    assert frozenset(("G3", "G7")) in found  # a ferry
    assert frozenset(("G1", "G2")) not in found  # removed, whatever the order
    assert len(links) == 7  # 7 - 1 + 1; G5-G6 again (blank = add) is not a second link
    assert set(links["source"]) == {"polygons", "table"}


def _geojson(tmp_path: Path, features: list[dict], name: str = "bad.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _square(rid: object, x: float = 0.0) -> dict:
    ring = [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]
    return {
        "type": "Feature",
        "properties": {"region_id": rid},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (
            [_square("A"), _square("A", 1)],
            "features 1, 2: property 'region_id': region id 'A' is given more than once",
        ),
        ([_square("A"), _square(None, 1)], "feature 2: property 'region_id': empty region id"),
        (
            [
                _square("A"),
                {
                    "type": "Feature",
                    "properties": {"region_id": "B"},
                    "geometry": {"type": "Point", "coordinates": [0, 0]},
                },
            ],
            "feature 2: Point geometry (expected Polygon or MultiPolygon",
        ),
        (
            [
                {
                    "type": "Feature",
                    "properties": {"GEOID": "1"},
                    "geometry": _square("x")["geometry"],
                }
            ],
            "no property 'region_id' holding the region ids",
        ),
    ],
)
def test_bad_polygon_files_are_one_clear_error(
    tmp_path: Path, features: list[dict], expected: str
) -> None:
    path = _geojson(tmp_path, features)
    with pytest.raises(InputError) as err:
        read_shapes(path)
    assert any(line.startswith(f"{path}: ") and expected in line for line in err.value.problems), (
        err.value.problems
    )


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputError, match="cannot read the region polygons"):
        read_shapes(broken)
    with pytest.raises(InputError, match="file not found"):
        read_shapes(tmp_path / "absent.geojson")
    with pytest.raises(InputError, match="no layer 'roads'"):
        read_shapes(GRID, layer="roads")


def test_numeric_ids_and_other_columns(tmp_path: Path) -> None:
    features = [_square(37001.0), _square(37003, 1)]
    features[0]["properties"] |= {"NAME": "Alamance", "pop": 5}
    read = read_shapes(_geojson(tmp_path, features), name_column="NAME")
    assert list(read.attributes["region_id"]) == ["37001", "37003"]
    assert read.attributes.loc[0, "name"] == "Alamance"
    assert "pop" in read.attributes.columns


def test_a_shapefile_and_a_geopackage_read_the_same(tmp_path: Path) -> None:
    import geopandas as gpd

    frame = gpd.read_file(GRID)
    frame.to_file(tmp_path / "grid.shp")
    frame.to_file(tmp_path / "grid.gpkg", layer="counties")
    for path in (tmp_path / "grid.shp", tmp_path / "grid.gpkg"):
        read = read_shapes(path)
        assert list(read.attributes["region_id"]) == [f"G{k}" for k in range(1, 8)]
        assert len(polygon_links(read.shapes, contact="rook")) == 7


def test_projected_coordinates_are_turned_into_degrees(tmp_path: Path) -> None:
    import geopandas as gpd

    gpd.read_file(GRID).to_crs("EPSG:32632").to_file(tmp_path / "utm.gpkg")
    read = read_shapes(tmp_path / "utm.gpkg")
    assert read.shapes.crs.to_epsg() == 4326
    assert read.attributes.loc[0, "lon"] == pytest.approx(10.05, abs=1e-6)

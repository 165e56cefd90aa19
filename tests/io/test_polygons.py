"""Polygon regions in the data layer: Tables.shapes, links from contact, the link column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.geography.shapes import read_shapes
from allocator.io.data import load_tables, make_tables
from allocator.io.settings import DataPaths, GeographySettings

GRID = Path(__file__).parents[1] / "geography" / "data" / "grid.geojson"


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "name": ["Ann"],
            "lat": [44.05],
            "lon": [10.05],
            "region_id": ["G1"],
            "experience": [1.0],
            "capacity": [10.0],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "name": ["a", "b"],
            "lat": [44.05, 44.15],
            "lon": [10.05, 10.25],
            "region_id": ["G1", "G6"],
            "segment": ["s", "s"],
            "potential": [1.0, 2.0],
            "workload": [1.0, 1.0],
        }
    )
    return reps, accounts


def write(tmp_path: Path) -> DataPaths:
    reps, accounts = frames()
    reps.to_csv(tmp_path / "reps.csv", index=False)
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    return DataPaths(
        reps=str(tmp_path / "reps.csv"), accounts=str(tmp_path / "accounts.csv"), regions=str(GRID)
    )


def test_a_polygon_file_gives_regions_shapes_and_links(tmp_path: Path) -> None:
    tables = load_tables(write(tmp_path))
    assert list(tables.regions["region_id"]) == [f"G{k}" for k in range(1, 8)]
    assert tables.regions["lat"].notna().all()  # representative points
    assert tables.shapes is not None and tables.shapes.index.name == "region_id"
    assert list(tables.shapes.index) == list(tables.regions["region_id"])
    assert tables.adjacency is not None and len(tables.adjacency) == 11
    assert set(tables.adjacency["source"]) == {"polygons"}
    assert tables.sources["regions"] == str(GRID)
    rook = load_tables(write(tmp_path), geography=GeographySettings(contact="rook"))
    assert rook.adjacency is not None and len(rook.adjacency) == 7
    none = load_tables(write(tmp_path), geography=GeographySettings(contact="none"))
    assert none.adjacency is None and none.shapes is not None


def test_the_adjacency_table_adds_and_removes_links(tmp_path: Path) -> None:
    (tmp_path / "links.csv").write_text("region_a,region_b,link\nG3,G7,add\nG4,G1,Remove\nG2,G5,\n")
    data = write(tmp_path).model_copy(update={"adjacency": str(tmp_path / "links.csv")})
    tables = load_tables(data, geography=GeographySettings(contact="rook"))
    assert tables.adjacency is not None
    pairs = {
        frozenset(p)
        for p in zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True)
    }
    assert frozenset(("G3", "G7")) in pairs and frozenset(("G1", "G4")) not in pairs
    assert len(pairs) == 7  # 7 rook links - 1 + 1 (G2-G5 is already there)


def test_a_bad_link_word_names_the_row(tmp_path: Path) -> None:
    (tmp_path / "links.csv").write_text("region_a,region_b,link\nG3,G7,bridge\n")
    data = write(tmp_path).model_copy(update={"adjacency": str(tmp_path / "links.csv")})
    with pytest.raises(InputError) as err:
        load_tables(data)
    assert any(
        "links.csv: row 2: column 'link': 'bridge': expected add or remove" in p
        for p in err.value.problems
    )


def test_make_tables_takes_shapes_too() -> None:
    reps, accounts = frames()
    read = read_shapes(GRID)
    tables = make_tables(reps=reps, accounts=accounts, regions=read.attributes, shapes=read.shapes)
    assert tables.adjacency is not None and len(tables.adjacency) == 11
    assert tables.shapes is read.shapes or tables.shapes.equals(read.shapes)


def test_a_polygon_file_problem_is_reported_with_the_other_tables(tmp_path: Path) -> None:
    data = write(tmp_path).model_copy(update={"regions": str(tmp_path / "missing.gpkg")})
    with pytest.raises(InputError) as err:
        load_tables(data)
    assert err.value.problems == (f"data.regions: {tmp_path / 'missing.gpkg'}: file not found",)


def test_accounts_without_coordinates_take_their_regions_point(tmp_path: Path) -> None:
    data = write(tmp_path)
    (tmp_path / "accounts.csv").write_text(
        "account_id,name,lat,lon,region_id,segment,potential,workload\n"
        "A1,a,,,G1,s,1,1\nA2,b,44.2,10.3,G6,s,2,1\nA3,c,,,G9,s,1,1\n"
    )
    with pytest.raises(InputError) as err:  # G9 is no region: its blank cells stay problems
        load_tables(data)
    assert any(
        "row 4: column 'lat': '': expected a number (the cell is empty)" in p
        for p in err.value.problems
    )
    (tmp_path / "accounts.csv").write_text(
        "account_id,name,lat,lon,region_id,segment,potential,workload\n"
        "A1,a,,,G1,s,1,1\nA2,b,44.2,10.3,G6,s,2,1\n"
    )
    (tmp_path / "reps.csv").write_text(
        "rep_id,name,region_id,experience,capacity\nR1,Ann,G5,1,10\n"
    )
    tables = load_tables(data)
    first = tables.accounts.iloc[0]
    assert (first["lat"], first["lon"]) == pytest.approx((44.05, 10.05))
    assert tables.accounts.iloc[1]["lat"] == 44.2  # given coordinates are kept
    assert tables.reps.iloc[0][["lat", "lon"]].tolist() == pytest.approx([44.15, 10.15])

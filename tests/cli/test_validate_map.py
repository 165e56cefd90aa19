"""``allocator validate`` on maps: polygons read, the region graph described, islands named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from allocator.demo.maps import MAPS_DIR, map_scenario

GRID = Path(__file__).parents[1] / "geography" / "data" / "grid.geojson"
HI = MAPS_DIR / "hi-tract"

REPS = """rep_id,name,lat,lon,region_id,experience,capacity
R1,Ann,44.05,10.05,G1,1,100
R2,Bob,44.15,10.25,G6,1,100
"""
ACCOUNTS = """account_id,name,lat,lon,region_id,segment,potential,workload
A1,a,44.05,10.05,G1,s,10,1
A2,b,44.05,10.15,G2,s,10,1
A3,c,44.05,10.25,G3,s,10,1
A4,d,44.15,10.05,G4,s,10,1
A5,e,44.15,10.15,G5,s,10,1
A6,f,44.15,10.25,G6,s,10,1
A7,g,44.07,10.62,G7,s,5,1
"""


def company(folder: Path, regions: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reps.csv").write_text(REPS)
    (folder / "accounts.csv").write_text(ACCOUNTS)
    path = folder / "scenario.yaml"
    path.write_text(
        f"name: grid\ndata: {{reps: reps.csv, accounts: accounts.csv, regions: {regions}}}\n"
        f"assignment: {{level: region, constraints: {{contiguity: {{}}}}}}\n{extra}"
    )
    return path


def test_polygons_give_the_graph_and_an_island_without_rep_is_named(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = company(tmp_path, GRID)
    assert cli_main(["validate", str(scenario)]) == 1
    out = capsys.readouterr().out
    assert "region graph: 7 regions, 11 links, 2 components" in out  # queen contact by default
    assert "island 2: 1 region (Island), 1 account, potential 5 (7.7%)" in out
    assert "infeasible: component 2 (1 region, 1 account, potential 5 (7.7%)): G7 'Island'" in out
    assert "region_a: G7, region_b: G3" in out
    assert "solve would exit 1" in out


def test_a_ferry_link_joins_the_island(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "links.csv").write_text("region_a,region_b,link\nG3,G7,add\nG1,G5,remove\n")
    scenario = company(tmp_path, GRID, "geography: {contact: rook}\n")
    text = scenario.read_text().replace("regions:", "adjacency: links.csv, regions:")
    scenario.write_text(text)
    assert cli_main(["validate", str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "region graph: 7 regions, 8 links, connected" in out  # 7 rook + the ferry


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"type": "FeatureCollection", "features": [', "cannot read the region polygons"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"id": "G1"},
                            "geometry": {"type": "Point", "coordinates": [10, 44]},
                        }
                    ],
                }
            ),
            "no property 'region_id' holding the region ids",
        ),
    ],
)
def test_a_bad_polygon_file_is_one_message_and_exit_2(
    tmp_path: Path,
    cli_main: Callable[[list[str]], int],
    capsys: pytest.CaptureFixture[str],
    content: str,
    expected: str,
) -> None:
    bad = tmp_path / "regions.geojson"
    bad.write_text(content)
    assert cli_main(["validate", str(company(tmp_path, bad))]) == 2
    err = capsys.readouterr().err
    assert f"data.regions: {bad}: " in err and expected in err
    assert "Traceback" not in err


def test_unknown_geography_keys_are_errors(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = company(tmp_path, GRID, "geography: {contakt: rook}\n")
    assert cli_main(["validate", str(scenario)]) == 2
    assert "geography.contakt: unknown key (did you mean 'contact'?)" in capsys.readouterr().err


def test_a_shapefile_works_like_the_geojson(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    import geopandas as gpd

    gpd.read_file(GRID).to_file(tmp_path / "grid.shp")
    assert cli_main(["validate", str(company(tmp_path, tmp_path / "grid.shp"))]) == 1
    assert "7 regions, 11 links, 2 components" in capsys.readouterr().out


@pytest.mark.skipif(not HI.is_dir(), reason="../shared/maps is not there")
def test_validate_on_hawaii_names_the_islands_and_their_populations(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    """hi-tract from its polygons: 8 islands; with 8 reps Kauai (66,921 people) has none."""
    scenario = map_scenario(HI, tmp_path / "hi", reps=8, per_component=False)
    assert cli_main(["validate", str(scenario)]) == 1
    out = capsys.readouterr().out
    assert "region graph: 351 regions" in out and "8 components" in out
    assert "component 1: 243 regions" in out and "potential 953,207 (70.1%)" in out
    for island in ("185,079 (13.6%)", "144,444 (10.6%)", "66,921 (4.9%)", "7,345 (0.5%)"):
        assert f"potential {island}" in out
    assert "15007040103 'Census Tract 401.03'" in out  # Kauai, named, with no rep
    assert "no rep lives there, and with contiguity no rep can serve it" in out
    # judged per component, reps from Oahu may serve Kauai: nothing is proved infeasible
    loose = map_scenario(HI, tmp_path / "hi2", reps=8)
    assert cli_main(["validate", str(loose)]) == 0
    assert "served from elsewhere (per_component: true)" in capsys.readouterr().out

"""Real-map instances: homes spread by population, one account per unit, scenarios that load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.demo.maps import MAPS_DIR, map_instance, map_scenario, spread_homes
from allocator.exceptions import InputError


def fake_map(folder: Path) -> Path:
    """A 6 x 6 grid of units; the east column holds half the people; an islet off the coast."""
    rows, links = [], []
    for i in range(6):
        for j in range(6):
            pop = 3000.0 if j == 5 else 500.0
            rows.append((f"U{i}{j}", f"Unit {i}{j}", 40 + 0.1 * i, -80 + 0.1 * j, pop, 100.0))
            if i < 5:
                links.append((f"U{i}{j}", f"U{i + 1}{j}"))
            if j < 5:
                links.append((f"U{i}{j}", f"U{i}{j + 1}"))
    rows.append(("ISL", "Islet", 40.0, -79.0, 200.0, 5.0))
    folder.mkdir(parents=True)
    columns = ["region_id", "name", "lat", "lon", "population", "land_km2"]
    pd.DataFrame(rows, columns=columns).to_csv(folder / "regions.csv", index=False)
    pd.DataFrame(links, columns=["region_a", "region_b"]).to_csv(
        folder / "adjacency.csv", index=False
    )
    return folder


def test_homes_are_distinct_deterministic_and_follow_the_weight() -> None:
    grid = pd.DataFrame(
        {
            "lat": np.repeat(np.arange(10.0), 10),
            "lon": np.tile(np.arange(10.0), 10),
            "weight": [9.0 if k % 10 >= 5 else 1.0 for k in range(100)],
        }
    )
    homes = spread_homes(grid, 10)
    assert homes == spread_homes(grid, 10) and len(set(homes)) == 10
    east = sum(1 for h in homes if grid.at[h, "lon"] >= 5)
    assert east >= 8  # 90% of the weight lies east (bisection in halves gives 8 or 9 of 10)
    with pytest.raises(ValueError, match="between 1 and the number of points"):
        spread_homes(grid, 101)


def test_a_map_scenario_loads_with_one_account_per_unit(tmp_path: Path) -> None:
    folder = fake_map(tmp_path / "fake")
    scenario, tables = map_instance(folder, reps=4, tolerance=0.1)
    assert len(tables.accounts) == 37 and len(tables.reps) == 4
    assert tables.accounts["potential"].sum() == pytest.approx(6 * 5 * 500 + 6 * 3000 + 200)
    assert tables.reps["region_id"].is_unique
    rule = scenario.assignment.constraints
    assert scenario.assignment.level == "region" and rule.balance is not None
    assert rule.balance.tolerance == 0.1 and rule.contiguity is not None
    assert rule.contiguity.per_component  # the islet makes two components
    assert scenario.data.adjacency is not None  # no polygons: regions.csv + adjacency.csv
    workload = tables.accounts["workload"].sum()
    assert tables.reps["capacity"].sum() == pytest.approx(1.25 * workload, rel=1e-3)


def test_accounts_can_be_spread_inside_each_unit(tmp_path: Path) -> None:
    folder = fake_map(tmp_path / "fake")
    path = map_scenario(folder, tmp_path / "out", reps=3, level="account", people_per_account=250)
    accounts = pd.read_csv(path.parent / "accounts.csv", dtype={"region_id": str})
    per_unit = accounts.groupby("region_id").size()
    assert per_unit["U00"] == 2 and per_unit["U05"] == 12 and per_unit["ISL"] == 1
    by_unit = accounts.groupby("region_id")["potential"].sum()
    assert by_unit["U05"] == pytest.approx(3000.0) and by_unit["U00"] == pytest.approx(500.0)
    assert path.read_text() == map_scenario(
        folder, tmp_path / "again", reps=3, level="account", people_per_account=250
    ).read_text().replace(str(tmp_path / "again"), str(tmp_path / "out"))


def test_bad_map_requests_are_clear(tmp_path: Path) -> None:
    folder = fake_map(tmp_path / "fake")
    with pytest.raises(InputError, match="reps must be between 1 and 37"):
        map_scenario(folder, tmp_path / "o", reps=40)
    with pytest.raises(InputError, match="has no polygons"):
        map_scenario(folder, tmp_path / "o", reps=2, polygons=True)
    with pytest.raises(InputError, match="file not found"):
        map_scenario(tmp_path / "nowhere", tmp_path / "o", reps=2)


@pytest.mark.skipif(not (MAPS_DIR / "nh-tract").is_dir(), reason="../shared/maps is not there")
def test_a_shared_map_with_polygons_loads(tmp_path: Path) -> None:
    scenario, tables = map_instance(MAPS_DIR / "nh-tract", reps=8, out_dir=tmp_path)
    assert scenario.data.regions is not None and scenario.data.regions.endswith("regions.geojson")
    assert tables.shapes is not None and len(tables.shapes) == 295
    assert tables.accounts["potential"].sum() == pytest.approx(1_316_470)
    assert tables.adjacency is not None and len(tables.adjacency) > 750

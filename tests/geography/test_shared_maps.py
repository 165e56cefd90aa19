"""Every shared real map (../shared/maps) loads, and its region graph is the published one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from allocator.demo.maps import MAPS_DIR, map_instance
from allocator.territory.regions import analyse_regions

MAPS = sorted(p.name for p in MAPS_DIR.glob("*") if (p / "regions.csv").is_file())
pytestmark = pytest.mark.skipif(not MAPS, reason="../shared/maps is not there")


def published(folder: Path) -> tuple[dict, set[frozenset[str]]]:
    info = json.loads((folder / "info.json").read_text())
    links = pd.read_csv(folder / "adjacency.csv", dtype=str)
    return info, {frozenset(p) for p in zip(links["region_a"], links["region_b"], strict=True)}


@pytest.mark.parametrize("name", MAPS)
def test_a_shared_map_loads_with_its_components(name: str, tmp_path: Path) -> None:
    """Polygons where the folder has them (links from contact, snap 100 m), else the tables."""
    folder = MAPS_DIR / name
    info, links = published(folder)
    scenario, tables = map_instance(folder, reps=2, out_dir=tmp_path, tolerance=0.5)
    assert len(tables.accounts) == info["units"]
    assert tables.accounts["potential"].sum() == pytest.approx(info["population"])
    analysis = analyse_regions(tables, scenario.assignment)
    assert len(analysis.components) == info["components"]
    assert sum(c.size for c in analysis.components) == info["units"]
    assert tables.adjacency is not None
    ours = {
        frozenset(p)
        for p in zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True)
    }
    if tables.shapes is None:
        assert ours == links
    else:  # simplified polygons: nearly every published border is found
        assert len(ours & links) >= 0.95 * len(links)

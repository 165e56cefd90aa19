"""Territory instances on real maps: the US county and census-tract maps of ``../shared/maps``.

:func:`map_scenario` writes a scenario for one map folder (``regions.csv``, ``adjacency.csv``,
``regions.geojson`` where present; described in the folder's README) and K reps: one account
per unit at the unit's point (or about ``population / people_per_account`` accounts spread
around it, lognormal potential), potential = population, workload = population / 1,000 hours,
homes spread over the population by :func:`spread_homes`, capacity 1.25 fair shares of workload.
The map's files are referenced by absolute path, never copied. The benchmarks and the tests
build their real-map instances here, so both measure the same thing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd
import yaml

from allocator.exceptions import InputError
from allocator.io.data import load_inputs
from allocator.io.scenario import Scenario, load_scenario
from allocator.io.tables import Tables

__all__ = ["MAPS_DIR", "map_instance", "map_scenario", "spread_homes"]

_ROOT = Path(__file__).resolve().parents[2]
#: The shared maps: ``$ALLOCATOR_SHARED/maps``, else ``../shared/maps`` beside the repository.
MAPS_DIR = Path(os.environ.get("ALLOCATOR_SHARED", _ROOT.parent / "shared")) / "maps"

HOURS_PER_PERSON = 1 / 1000  # workload per unit of potential
CAPACITY_SLACK = 1.25  # capacity = 1.25 x a fair share of the workload: never the binding rule


def map_scenario(
    folder: str | Path,
    out_dir: str | Path,
    *,
    reps: int,
    tolerance: float = 0.05,
    level: Literal["region", "account"] = "region",
    polygons: bool | None = None,
    per_component: bool | None = None,
    people_per_account: int | None = None,
    time_limit: float = 60.0,
    seed: int = 0,
) -> Path:
    """Write ``accounts.csv``, ``reps.csv`` and ``scenario.yaml`` for a map into ``out_dir``.

    ``folder``: a map folder (``MAPS_DIR / "hi-tract"``). ``polygons``: read
    ``regions.geojson`` (links from the polygons, ``geography: {contact: queen, snap_m: 100}``
    since the shared polygons are simplified to about 200 m); None: when the folder has one,
    else ``regions.csv`` + ``adjacency.csv``. ``per_component``: None = true when the map has
    several components (islands). Balance of potential within ``±tolerance`` of equal shares,
    contiguity with the home rule, capacity, travel objective, ``time_limit`` seconds, one
    solver thread. Returns the scenario file.

    Raises
    ------
    InputError
        When the folder lacks its files or ``reps`` is not between 1 and the number of units.
    """
    folder, out = Path(folder), Path(out_dir)
    units = _units(folder)
    if not 1 <= reps <= len(units):
        raise InputError([f"{folder}: reps must be between 1 and {len(units)}, got {reps}"])
    geojson = folder / "regions.geojson"
    use_polygons = geojson.is_file() if polygons is None else polygons
    if use_polygons and not geojson.is_file():
        raise InputError([f"{geojson}: file not found (this map has no polygons)"])
    if per_component is None:
        per_component = _components(folder, units) > 1
    accounts = _accounts(units, people_per_account, seed)
    team = _team(units, accounts, reps)
    doc: dict[str, Any] = {"name": f"{folder.name}-k{reps}", "data": _data(folder, use_polygons)}
    if use_polygons:  # the shared polygons are simplified to ~200 m: snap their gaps
        doc["geography"] = {"contact": "queen", "snap_m": 100.0}
    doc["description"] = (
        f"{folder.name}: {len(accounts)} accounts, {reps} reps, level {level}, "
        f"balance ±{tolerance:g}, contiguity"
    )
    doc["assignment"] = _assignment(level, tolerance, per_component)
    doc["solver"] = {"time_limit": float(time_limit), "threads": 1}
    out.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(out / "accounts.csv", index=False)
    team.to_csv(out / "reps.csv", index=False)
    path = out / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def map_instance(
    folder: str | Path, *, reps: int, out_dir: str | Path | None = None, **options: Any
) -> tuple[Scenario, Tables]:
    """:func:`map_scenario` (into ``out_dir``, else a temporary folder), loaded and checked."""
    if out_dir is not None:
        path = map_scenario(folder, out_dir, reps=reps, **options)
        scenario = load_scenario(path)
        return scenario, load_inputs(scenario)
    with tempfile.TemporaryDirectory(prefix="allocator-map-") as tmp:
        path = map_scenario(folder, tmp, reps=reps, **options)
        scenario = load_scenario(path)
        return scenario, load_inputs(scenario)


def spread_homes(points: pd.DataFrame, k: int) -> list[int]:
    """``k`` distinct row positions of ``points`` (``lat``, ``lon``, ``weight``), spread by weight.

    Recursive bisection (deterministic): split the points across the wider axis (longitude
    scaled by cos(mean latitude)) where the cumulative weight reaches ``k1/k`` of the total,
    with ``k1 = k // 2`` homes on one side; a part with one home takes the point nearest its
    weighted median. Each home then stands for about ``1/k`` of the weight.

    Raises
    ------
    ValueError
        When ``k`` is not between 1 and the number of points.
    """
    n = len(points)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of points ({n}), got {k}")
    lat = points["lat"].to_numpy(float)
    lon = points["lon"].to_numpy(float) * np.cos(np.radians(lat.mean()))
    xy = np.column_stack([lon, lat])
    weight = np.maximum(points["weight"].to_numpy(float), 0.0) + 1e-9
    homes: list[int] = []
    _split(np.arange(n), k, xy, weight, homes)
    return homes


def _split(idx: np.ndarray, k: int, xy: np.ndarray, w: np.ndarray, homes: list[int]) -> None:
    if k == 1:
        middle = []
        for axis in (0, 1):
            order = idx[np.argsort(xy[idx, axis], kind="stable")]
            half = int(np.searchsorted(np.cumsum(w[order]), w[idx].sum() / 2))
            middle.append(xy[order[min(half, len(order) - 1)], axis])
        dist = ((xy[idx] - np.array(middle)) ** 2).sum(1)
        dist[np.isin(idx, homes)] = np.inf
        homes.append(int(idx[np.argmin(dist)]))
        return
    axis = int(np.argmax(np.ptp(xy[idx], axis=0)))
    order = idx[np.argsort(xy[idx, axis], kind="stable")]
    k1 = k // 2
    cut = int(np.searchsorted(np.cumsum(w[order]), w[order].sum() * k1 / k))
    cut = min(max(cut, k1), len(order) - (k - k1))
    _split(order[:cut], k1, xy, w, homes)
    _split(order[cut:], k - k1, xy, w, homes)


def _data(folder: Path, polygons: bool) -> dict[str, str]:
    data = {"reps": "reps.csv", "accounts": "accounts.csv"}
    if polygons:
        data["regions"] = str((folder / "regions.geojson").resolve())
    else:
        data["regions"] = str((folder / "regions.csv").resolve())
        data["adjacency"] = str((folder / "adjacency.csv").resolve())
    return data


def _units(folder: Path) -> pd.DataFrame:
    path = folder / "regions.csv"
    if not path.is_file():
        raise InputError([f"{path}: file not found (expected a map folder of {MAPS_DIR})"])
    units = pd.read_csv(path, dtype={"region_id": str})
    units["population"] = units["population"].astype(float)
    return units


def _components(folder: Path, units: pd.DataFrame) -> int:
    links = pd.read_csv(folder / "adjacency.csv", dtype=str)
    graph = nx.Graph()
    graph.add_nodes_from(units["region_id"])
    graph.add_edges_from(zip(links["region_a"], links["region_b"], strict=True))
    return nx.number_connected_components(graph)


def _accounts(units: pd.DataFrame, people_per_account: int | None, seed: int) -> pd.DataFrame:
    if people_per_account is None:
        rows = units.assign(account_id="A" + units["region_id"], potential=units["population"])
        rows["name"] = units["name"]
    else:
        rows = _spread_accounts(units, people_per_account, np.random.default_rng(seed))
    rows["segment"] = "all"
    rows["workload"] = rows["potential"] * HOURS_PER_PERSON
    columns = ["account_id", "name", "lat", "lon", "region_id", "segment", "potential"]
    return rows[[*columns, "workload"]].reset_index(drop=True)


def _spread_accounts(
    units: pd.DataFrame, people_per_account: int, rng: np.random.Generator
) -> pd.DataFrame:
    """About population / people_per_account accounts per unit, lognormal shares of it."""
    count = np.maximum(1, np.rint(units["population"] / people_per_account)).astype(int)
    unit = np.repeat(np.arange(len(units)), count)
    share = rng.lognormal(0.0, 0.8, len(unit))
    share /= np.bincount(unit, share)[unit]
    radius_km = np.sqrt(units["land_km2"].to_numpy(float)[unit] / np.pi) * 0.5
    angle, r = (
        rng.uniform(0, 2 * np.pi, len(unit)),
        radius_km * np.sqrt(rng.uniform(0, 1, len(unit))),
    )
    lat = units["lat"].to_numpy(float)[unit] + r * np.sin(angle) / 111.2
    lon = units["lon"].to_numpy(float)[unit] + r * np.cos(angle) / (111.2 * np.cos(np.radians(lat)))
    ids = [f"A{g}-{k}" for g, n in zip(units["region_id"], count, strict=True) for k in range(n)]
    return pd.DataFrame(
        {
            "account_id": ids,
            "name": ids,
            "lat": lat,
            "lon": lon,
            "region_id": units["region_id"].to_numpy()[unit],
            "potential": units["population"].to_numpy(float)[unit] * share,
        }
    )


def _team(units: pd.DataFrame, accounts: pd.DataFrame, k: int) -> pd.DataFrame:
    homes = units.iloc[spread_homes(units.assign(weight=units["population"]), k)]
    capacity = CAPACITY_SLACK * float(accounts["workload"].sum()) / k
    return pd.DataFrame(
        {
            "rep_id": [f"R{i + 1:02d}" for i in range(k)],
            "name": [f"Rep {i + 1:02d}" for i in range(k)],
            "lat": homes["lat"].to_numpy(),
            "lon": homes["lon"].to_numpy(),
            "region_id": homes["region_id"].to_numpy(),
            "experience": 1.0,
            "capacity": round(capacity, 3),
        }
    )


def _assignment(level: str, tolerance: float, per_component: bool) -> dict[str, Any]:
    return {
        "level": level,
        "objective": {"travel": 1.0},
        "constraints": {
            "capacity": {},
            "balance": {"measure": "potential", "tolerance": tolerance, "fair_share": "equal"},
            "contiguity": {"include_home": True, "per_component": per_component},
        },
    }
